//! The RX queue: programming the ring (primary) around the shared Intel RX logic
//! ([`crate::net::intel::rxq`]: refill and burst, any process, through
//! [`IntelData`](crate::net::intel::data::IntelData)). Frames spanning descriptors (longer
//! than [`RX_BUF`]) and frames with receive errors are dropped and counted as errors;
//! descriptors the software has refilled are handed to the device by one RDT write per
//! batch.

use super::regs;
use super::ring::QueueMem;
use crate::net::common::RegIo;
use crate::net::intel::error::IntelError;
use crate::net::intel::rxq::{self, RxParams};
use eal::{Memory, PktMbufPool};

/// Buffer size the device is told (RCTL.BSIZE) and that every RX mbuf must have after the
/// headroom.
pub const RX_BUF: u16 = 2048;

/// The RX burst parameters of queue `q` of port `port` (legacy descriptors).
pub fn params(port: u16, q: usize) -> RxParams {
    RxParams {
        tail_reg: regs::queue_reg(regs::RDT, q),
        frame_errors: super::desc::RXD_ERR_FRAME as u32,
        buf_len: RX_BUF,
        port,
        cksum: None,
        scatter: false,
        vlan_strip: false,
    }
}

/// Fills every descriptor of RX queue `n` with an mbuf of `pool` and programs the ring
/// registers (RDT one behind the head: all but one descriptor belong to the device).
pub fn start<R: RegIo + ?Sized>(
    bar: &R,
    n: usize,
    q: &QueueMem,
    iova: u64,
    pool: &PktMbufPool,
    pa: Option<&Memory>,
) -> Result<(), IntelError> {
    rxq::fill(q, &params(0, n), pool, pa)?;
    let reg = |r| regs::queue_reg(r, n);
    bar.write32(reg(regs::RDBAL), iova as u32);
    bar.write32(reg(regs::RDBAH), (iova >> 32) as u32);
    bar.write32(reg(regs::RDLEN), (q.nb() * 16) as u32);
    bar.write32(reg(regs::RDH), 0);
    bar.write32(reg(regs::RDT), rxq::initial_tail(q));
    bar.write32(regs::RDTR, 0);
    Ok(())
}

/// Takes RX queue `n`'s ring from the device (RDLEN 0: QEMU's e1000e then delivers nothing
/// to it).
pub fn unprogram<R: RegIo + ?Sized>(bar: &R, n: usize) {
    bar.write32(regs::queue_reg(regs::RDLEN, n), 0);
}

/// RCTL for a running receiver.
pub fn rctl(promisc: bool, jumbo: bool) -> u32 {
    let mut v = regs::RCTL_EN | regs::RCTL_BAM | regs::RCTL_SECRC | regs::RCTL_BSIZE_2048 | regs::RCTL_RDMTS_HALF;
    if promisc {
        v |= regs::RCTL_UPE | regs::RCTL_MPE;
    }
    if jumbo {
        v |= regs::RCTL_LPE;
    }
    v
}

/// Stops the receiver and frees the mbufs of the rings.
pub fn stop<R: RegIo + ?Sized>(bar: &R, queues: &[Option<QueueMem>]) {
    bar.write32(regs::RCTL, bar.read32(regs::RCTL) & !regs::RCTL_EN);
    for q in queues.iter().flatten() {
        q.release_all();
    }
}
