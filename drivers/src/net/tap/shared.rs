//! What a TAP port keeps in its slot's driver state ([`TapState`]), so that secondaries can
//! find it: the interface's index and name, the queue counts, and where to ask the primary
//! for the queue fds.

use ethdev::{PortSlot, SharedStr};
use std::sync::atomic::AtomicU32;

/// Bytes of an interface name with its NUL (the kernel's `IFNAMSIZ`).
pub const IFNAME_BYTES: usize = libc::IFNAMSIZ;
/// Bytes of the fd endpoint directory path with its NUL.
pub const DIR_BYTES: usize = 256;

ethdev::shared_state! {
    /// A TAP port's driver state in the port slot.
    pub struct TapState {
        /// Interface index.
        pub ifindex: AtomicU32,
        /// Queue fds the primary opened.
        pub nb_queues: AtomicU32,
        /// Queues attached (receiving); TX queue `q` writes to fd `q % attached`.
        pub attached: AtomicU32,
        /// Interface name.
        pub ifname: SharedStr<IFNAME_BYTES>,
        /// Directory of the primary's fd endpoint.
        pub fd_dir: SharedStr<DIR_BYTES>,
    }
}

/// The TAP state of the port in `slot`.
#[inline(always)]
pub fn state(slot: &PortSlot) -> &TapState {
    slot.driver_state()
}
