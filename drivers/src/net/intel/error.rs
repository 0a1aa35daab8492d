//! What can go wrong bringing up an Intel NIC (e1000, igb, ixgbe) or its queues: each
//! variant names the problem and, where there is one, what to do about it.

use crate::net::common::reg_io::PollTimeout;

/// An error of the MAC bring-up or of a queue start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntelError {
    /// A register did not reach the wanted value in time.
    #[error(transparent)]
    Poll(#[from] PollTimeout),
    /// The device did not come out of reset.
    #[error("{0}: the device did not come out of reset; reset it (unbind and rebind, or power-cycle the host)")]
    ResetStuck(#[source] PollTimeout),
    /// The EEPROM auto-read did not finish.
    #[error("{0}: is the NVM image valid?")]
    NvmAutoRead(#[source] PollTimeout),
    /// A queue's enable bit did not read back as written.
    #[error("{dir} queue {q}: {source}")]
    Queue {
        /// "RX" or "TX".
        dir: &'static str,
        /// The queue.
        q: usize,
        /// The register wait that failed.
        #[source]
        source: PollTimeout,
    },
    /// Receive address 0 holds no valid address after the NVM load.
    #[error("receive address 0 is not valid after the EEPROM load (RAH0 = {rah:#010x}): the NVM holds no MAC address; set one with set_mac")]
    NoMacAddress {
        /// RAH0 as read.
        rah: u32,
    },
    /// Neither RAH0 nor the EEPROM gives a MAC address.
    #[error("RAH0 has no valid address and the EEPROM does not answer (EERD)")]
    EepromSilent,
    /// The PHY refused a register write.
    #[error("PHY register {reg} write failed (MDIC {mdic:#010x})")]
    PhyWrite {
        /// The PHY register.
        reg: u32,
        /// MDIC as read.
        mdic: u32,
    },
    /// Mbufs of the pool are too small for the receive buffer.
    #[error(
        "mbufs of pool '{pool}' have {room} bytes of data room; the queue needs {need} (headroom {headroom} + a \
         {buf_len}-byte buffer): create the pool with a larger data room (eal::mbuf::DEFAULT_BUF_SIZE for 2048)"
    )]
    PoolTooSmall {
        /// Pool name.
        pool: String,
        /// Its data room.
        room: u16,
        /// What the queue needs.
        need: u32,
        /// The mbuf headroom.
        headroom: u16,
        /// The receive buffer size.
        buf_len: u16,
    },
    /// The pool ran out filling an RX ring.
    #[error(
        "mempool '{pool}' ran out filling an RX ring of {nb} descriptors: make the pool larger than the sum of the \
         RX rings (plus the mbufs in flight)"
    )]
    PoolExhausted {
        /// Pool name.
        pool: String,
        /// Ring size.
        nb: usize,
    },
}
