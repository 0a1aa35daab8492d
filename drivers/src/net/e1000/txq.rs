//! The TX queue: programming the ring and the transmitter (primary) around the shared Intel
//! TX logic ([`crate::net::intel::txq`]: reclaim and burst, any process, through
//! [`IntelData`](crate::net::intel::data::IntelData)); a buffer that crosses a page of the
//! heap takes two descriptors.

use super::regs;
use super::ring::QueueMem;
use crate::net::common::RegIo;
use crate::net::intel::txq;

/// Empties the ring and programs its registers and the transmitter.
pub fn start<R: RegIo + ?Sized>(bar: &R, q: &QueueMem, iova: u64, tarc_enable: bool) {
    txq::reset(q);
    bar.write32(regs::TDBAL, iova as u32);
    bar.write32(regs::TDBAH, (iova >> 32) as u32);
    bar.write32(regs::TDLEN, (q.nb() * 16) as u32);
    bar.write32(regs::TDH, 0);
    bar.write32(regs::TDT, 0);
    bar.write32(regs::TIPG, regs::TIPG_COPPER);
    if tarc_enable {
        bar.write32(regs::TARC0, bar.read32(regs::TARC0) | regs::TARC0_ENABLE);
    }
    bar.write32(regs::TCTL, regs::TCTL_EN | regs::TCTL_PSP | regs::TCTL_CT | regs::TCTL_COLD);
}

/// Stops the transmitter and frees the mbufs still in the ring.
pub fn stop<R: RegIo + ?Sized>(bar: &R, q: Option<&QueueMem>) {
    bar.write32(regs::TCTL, bar.read32(regs::TCTL) & !regs::TCTL_EN);
    if let Some(q) = q {
        q.release_all();
    }
}
