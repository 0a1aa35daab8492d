//! The TX queue: programming the ring and the transmitter (primary) around the shared Intel
//! TX logic ([`crate::net::intel::txq`]: reclaim and burst, any process, through
//! [`IntelData`](crate::net::intel::data::IntelData)); a buffer that crosses a page of the
//! heap takes two descriptors.

use super::regs;
use super::ring::QueueMem;
use crate::net::common::RegIo;
use crate::net::intel::txq;

/// Empties TX ring `n` and programs its registers (and, on the 82574L, `tarc_enable`, its
/// TARC queue enable bit).
pub fn program<R: RegIo + ?Sized>(bar: &R, n: usize, q: &QueueMem, iova: u64, tarc_enable: bool) {
    txq::reset(q);
    let reg = |r| regs::queue_reg(r, n);
    bar.write32(reg(regs::TDBAL), iova as u32);
    bar.write32(reg(regs::TDBAH), (iova >> 32) as u32);
    bar.write32(reg(regs::TDLEN), (q.nb() * 16) as u32);
    bar.write32(reg(regs::TDH), 0);
    bar.write32(reg(regs::TDT), 0);
    if tarc_enable {
        let tarc = if n == 0 { regs::TARC0 } else { regs::TARC1 };
        bar.write32(tarc, bar.read32(tarc) | regs::TARC0_ENABLE);
    }
}

/// Starts the transmitter (after [`program`] for every queue).
pub fn enable<R: RegIo + ?Sized>(bar: &R) {
    bar.write32(regs::TIPG, regs::TIPG_COPPER);
    bar.write32(regs::TCTL, regs::TCTL_EN | regs::TCTL_PSP | regs::TCTL_CT | regs::TCTL_COLD);
}

/// Stops the transmitter and frees the mbufs still in the rings.
pub fn stop<R: RegIo + ?Sized>(bar: &R, queues: &[Option<QueueMem>]) {
    bar.write32(regs::TCTL, bar.read32(regs::TCTL) & !regs::TCTL_EN);
    for q in queues.iter().flatten() {
        q.release_all();
    }
}
