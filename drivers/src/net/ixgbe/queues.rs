//! The 82599's side of the shared advanced-descriptor queues (`crate::net::intel::adv`,
//! the same code the igb PMD runs): where each queue's registers are, SRRCTL/RXDCTL/TXDCTL
//! programming and the enable/disable handshakes of the datasheet (4.6.7 receive, 4.6.8
//! transmit initialisation), and where a queue's memory is recorded in the port slot.

use super::data::IxgbeQueues;
use super::hw::{self, clear_bits, poll_until, set_bits};
use super::regs;
use crate::net::intel::adv::{ring, rx, tx, QueueMem, RingRegs, RxParams};
use crate::net::intel::data::QueueMap;
use crate::net::intel::error::IntelError;
use crate::net::intel::RegIo;
use eal::{Memory, PktMbufPool};
use ethdev::PortSlot;

/// Receive buffer size (SRRCTL.BSIZEPACKET in KiB units): one 2 KiB buffer per frame.
pub const RX_BUF: u16 = 2048;

/// 82599 extended errors that make a received frame unusable: RXE (bit 29, any MAC error:
/// CRC, length, undersize, oversize...). Checksum errors (bits 30/31) are not among them.
pub const RX_FRAME_ERRORS_82599: u32 = 1 << 29;

/// The ring registers of RX queue `q`.
pub fn rx_ring_regs(q: usize) -> RingRegs {
    RingRegs::block(regs::rdbal(q))
}

/// The ring registers of TX queue `q`.
pub fn tx_ring_regs(q: usize) -> RingRegs {
    RingRegs::block(regs::tdbal(q))
}

/// What the shared RX burst needs for queue `q` of `port`.
pub fn rx_params(port: u16, q: usize) -> RxParams {
    RxParams {
        tail_reg: regs::rdt(q),
        frame_errors: RX_FRAME_ERRORS_82599,
        buf_len: RX_BUF,
        port,
        cksum: None,
        scatter: false,
        vlan_strip: false,
    }
}

/// RX queue `q` of the port in `slot`, if set up.
#[inline]
pub fn rx_mem(slot: &PortSlot, q: usize) -> Option<QueueMem> {
    IxgbeQueues::rx_mem(slot, q)
}

/// TX queue `q` of the port in `slot`, if set up.
#[inline]
pub fn tx_mem(slot: &PortSlot, q: usize) -> Option<QueueMem> {
    IxgbeQueues::tx_mem(slot, q)
}

/// Brings up RX queue `q` (4.6.7, per queue): SRRCTL for advanced one-buffer descriptors
/// of [`RX_BUF`] bytes (dropping frames when the queue is full, so one slow queue does not
/// stall the shared packet buffer), the ring filled with mbufs of `pool`, RDBAL/RDBAH/
/// RDLEN, head and tail 0, descriptor write-back ordering strict, RXDCTL.ENABLE set and
/// polled until it reads back set, then RDT handing all but one descriptor to the device.
pub fn rx_start<R: RegIo + ?Sized>(
    r: &R,
    q: usize,
    mem: &QueueMem,
    iova: u64,
    pool: &PktMbufPool,
    pa: Option<&Memory>,
    port: u16,
) -> Result<(), IntelError> {
    let srrctl = r.read32(regs::srrctl(q)) & !(regs::SRRCTL_DESCTYPE_MASK | regs::SRRCTL_BSIZEPKT_MASK | 0x3f00);
    r.write32(
        regs::srrctl(q),
        srrctl | regs::SRRCTL_DESCTYPE_ADV_ONEBUF | regs::SRRCTL_DROP_EN | u32::from(RX_BUF / 1024),
    );
    rx::fill(mem, &rx_params(port, q), pool, pa)?;
    ring::program(r, &rx_ring_regs(q), mem, iova);
    clear_bits(r, regs::dca_rxctrl(q), regs::DCA_RXCTRL_DESC_WRO_EN);
    set_bits(r, regs::rxdctl(q), regs::RXDCTL_ENABLE);
    poll_until(
        r,
        regs::rxdctl(q),
        regs::RXDCTL_ENABLE,
        regs::RXDCTL_ENABLE,
        hw::QUEUE_ENABLE_TIMEOUT,
        "RX queue enable",
    )
    .map_err(|source| IntelError::Queue { dir: "RX", q, source })?;
    r.write32(regs::rdt(q), rx::initial_tail(mem));
    Ok(())
}

/// Brings up TX queue `q` (4.6.8, per queue): the ring emptied, TDBAL/TDBAH/TDLEN, head
/// and tail 0, thresholds 0 (every descriptor asks for a write-back), TXDCTL.ENABLE set
/// and polled until it reads back set. DMATXCTL.TE must be set before ([`tx_enable`]).
pub fn tx_start<R: RegIo + ?Sized>(r: &R, q: usize, mem: &QueueMem, iova: u64) -> Result<(), IntelError> {
    tx::reset(mem);
    ring::program(r, &tx_ring_regs(q), mem, iova);
    r.write32(regs::txdctl(q), 0);
    set_bits(r, regs::txdctl(q), regs::TXDCTL_ENABLE);
    poll_until(
        r,
        regs::txdctl(q),
        regs::TXDCTL_ENABLE,
        regs::TXDCTL_ENABLE,
        hw::QUEUE_ENABLE_TIMEOUT,
        "TX queue enable",
    )
    .map_err(|source| IntelError::Queue { dir: "TX", q, source })?;
    Ok(())
}

/// The global part of transmit initialisation (4.6.8): MTQC (64 queues, no DCB, no
/// virtualisation) changed with the descriptor arbiter halted (RTTDCS.ARBDIS), then the
/// transmit DMA enabled (DMATXCTL.TE), before the first queue is enabled.
pub fn tx_enable<R: RegIo + ?Sized>(r: &R) {
    set_bits(r, regs::RTTDCS, regs::RTTDCS_ARBDIS);
    r.write32(regs::MTQC, 0);
    clear_bits(r, regs::RTTDCS, regs::RTTDCS_ARBDIS);
    set_bits(r, regs::DMATXCTL, regs::DMATXCTL_TE);
}

/// Enables the receive path (4.6.7, last step): with the security RX path halted
/// (SECRXCTRL.RX_DIS, then SECRXSTAT.SECRX_RDY), RXCTRL.RXEN set, then the path resumed.
pub fn rx_enable<R: RegIo + ?Sized>(r: &R) -> Result<(), IntelError> {
    set_bits(r, regs::SECRXCTRL, regs::SECRXCTRL_RX_DIS);
    let ready = poll_until(
        r,
        regs::SECRXSTAT,
        regs::SECRXSTAT_SECRX_RDY,
        regs::SECRXSTAT_SECRX_RDY,
        hw::QUEUE_ENABLE_TIMEOUT,
        "security RX path drain (SECRXSTAT.SECRX_RDY)",
    );
    set_bits(r, regs::RXCTRL, regs::RXCTRL_RXEN);
    clear_bits(r, regs::SECRXCTRL, regs::SECRXCTRL_RX_DIS);
    ready.map(|_| ()).map_err(IntelError::from)
}

/// Disables RX queue `q` (4.6.7.1): RXDCTL.ENABLE cleared and polled until it reads back
/// clear; then frees the mbufs of its ring.
pub fn rx_stop<R: RegIo + ?Sized>(r: &R, q: usize, mem: Option<&QueueMem>) {
    clear_bits(r, regs::rxdctl(q), regs::RXDCTL_ENABLE);
    if let Err(e) = poll_until(r, regs::rxdctl(q), regs::RXDCTL_ENABLE, 0, hw::QUEUE_ENABLE_TIMEOUT, "RX queue disable")
    {
        tracing::warn!("RX queue {q}: {e}");
    }
    if let Some(m) = mem {
        m.release_all();
    }
}

/// Disables TX queue `q` (4.6.8.1): waits a little for the head to reach the tail, clears
/// TXDCTL.ENABLE, polls it clear; then frees the mbufs of its ring.
pub fn tx_stop<R: RegIo + ?Sized>(r: &R, q: usize, mem: Option<&QueueMem>) {
    let _ = poll_until(r, regs::tdh(q), u32::MAX, r.read32(regs::tdt(q)), hw::QUEUE_ENABLE_TIMEOUT, "TX queue drain");
    clear_bits(r, regs::txdctl(q), regs::TXDCTL_ENABLE);
    if let Err(e) = poll_until(r, regs::txdctl(q), regs::TXDCTL_ENABLE, 0, hw::QUEUE_ENABLE_TIMEOUT, "TX queue disable")
    {
        tracing::warn!("TX queue {q}: {e}");
    }
    if let Some(m) = mem {
        m.release_all();
    }
}
