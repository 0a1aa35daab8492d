//! The TX queue: programming the ring and the transmitter (primary) around the shared Intel
//! TX logic ([`crate::net::intel::txq`]: reclaim and burst, any process, through
//! [`IntelData`](crate::net::intel::data::IntelData)); a buffer that crosses a page of the
//! heap takes two descriptors.

use super::init::{rd, wr};
use super::regs;
use super::ring::QueueMem;
use crate::net::intel::txq;
use eal::vfio::MmioRegion;

/// Empties the ring and programs its registers and the transmitter.
pub fn start(bar: &MmioRegion, q: &QueueMem, iova: u64, tarc_enable: bool) {
    txq::reset(q);
    wr(bar, regs::TDBAL, iova as u32);
    wr(bar, regs::TDBAH, (iova >> 32) as u32);
    wr(bar, regs::TDLEN, (q.nb() * 16) as u32);
    wr(bar, regs::TDH, 0);
    wr(bar, regs::TDT, 0);
    wr(bar, regs::TIPG, regs::TIPG_COPPER);
    if tarc_enable {
        wr(bar, regs::TARC0, rd(bar, regs::TARC0) | regs::TARC0_ENABLE);
    }
    wr(bar, regs::TCTL, regs::TCTL_EN | regs::TCTL_PSP | regs::TCTL_CT | regs::TCTL_COLD);
}

/// Stops the transmitter and frees the mbufs still in the ring.
pub fn stop(bar: &MmioRegion, q: Option<&QueueMem>) {
    wr(bar, regs::TCTL, rd(bar, regs::TCTL) & !regs::TCTL_EN);
    if let Some(q) = q {
        q.release_all();
    }
}
