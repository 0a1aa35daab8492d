//! The RX queue: setup of its shared memory, programming the ring (primary), and the burst
//! (any process). Descriptors the software has refilled are handed to the device by one
//! RDT write per burst.

use super::init::{rd, wr};
use super::regs;
use super::ring::QueueMem;
use eal::vfio::MmioRegion;
use eal::{Mbuf, PktMbufPool};
use ethdev::QueueCounters;
use std::sync::atomic::{fence, Ordering};

/// Header word: the next descriptor to look at.
pub const H_NEXT: usize = 0;
/// Header word: 1 while dropping the rest of a frame that spans several descriptors.
pub const H_DISCARD: usize = 1;
/// Buffer size the device is told (RCTL.BSIZE) and that every RX mbuf must have after the
/// headroom.
pub const RX_BUF: u16 = 2048;

/// Fills every descriptor with an mbuf of `pool` and programs the ring registers (RDT
/// one behind the head: all but one descriptor belong to the device).
pub fn start(bar: &MmioRegion, q: &QueueMem, iova: u64, pool: &PktMbufPool) -> Result<(), String> {
    q.release_all();
    for i in 0..q.nb() {
        let m = pool.alloc().ok_or_else(|| {
            format!(
                "mempool '{}' ran out filling the RX ring ({} descriptors): make the pool larger than the ring",
                pool.mempool().name(),
                q.nb()
            )
        })?;
        q.ring.rx_arm(i, m.buf_iova_default());
        q.put(i, m);
    }
    q.set(H_NEXT, 0);
    q.set(H_DISCARD, 0);
    fence(Ordering::Release);
    wr(bar, regs::RDBAL, iova as u32);
    wr(bar, regs::RDBAH, (iova >> 32) as u32);
    wr(bar, regs::RDLEN, (q.nb() * 16) as u32);
    wr(bar, regs::RDH, 0);
    wr(bar, regs::RDT, (q.nb() - 1) as u32);
    wr(bar, regs::RDTR, 0);
    Ok(())
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

/// Stops the receiver and frees the mbufs of the ring.
pub fn stop(bar: &MmioRegion, q: Option<&QueueMem>) {
    wr(bar, regs::RCTL, rd(bar, regs::RCTL) & !regs::RCTL_EN);
    if let Some(q) = q {
        q.release_all();
    }
}

/// Receives up to `max` frames into `bufs`; refills each used descriptor with a new mbuf
/// from `pool`. Frames spanning descriptors (longer than [`RX_BUF`]) and frames with
/// receive errors are dropped and counted as errors; a failed allocation stops the burst
/// (the frame stays in the ring) and is counted as `nombuf`.
#[inline]
pub fn burst(
    bar: &MmioRegion,
    q: &QueueMem,
    pool: &PktMbufPool,
    port: u16,
    c: &QueueCounters,
    bufs: &mut Vec<Mbuf>,
    max: usize,
) -> usize {
    let nb = q.nb();
    let mut next = q.get(H_NEXT) as usize;
    let mut discard = q.get(H_DISCARD) != 0;
    let (mut got, mut bytes, mut errors, mut used) = (0usize, 0u64, 0u64, 0usize);
    while got < max {
        let wb = q.ring.rx_read(next);
        if !wb.done() {
            break;
        }
        let Some(fresh) = pool.alloc() else {
            c.add_nombuf(1);
            break;
        };
        q.ring.rx_arm(next, fresh.buf_iova_default());
        let old = q.take(next);
        q.put(next, fresh);
        used += 1;
        next = if next + 1 == nb { 0 } else { next + 1 };
        let Some(mut m) = old else { continue };
        if discard || !wb.eop() || wb.bad() {
            // The tail of a multi-descriptor frame ends the discarding.
            discard = !wb.eop();
            errors += 1;
            drop(m);
            continue;
        }
        m.set_len(wb.len);
        m.set_port(port);
        bytes += u64::from(wb.len);
        bufs.push(m);
        got += 1;
    }
    if used > 0 {
        q.set(H_NEXT, next as u64);
        q.set(H_DISCARD, u64::from(discard));
        fence(Ordering::Release);
        wr(bar, regs::RDT, (if next == 0 { nb - 1 } else { next - 1 }) as u32);
        c.add(got as u64, bytes);
        if errors > 0 {
            c.add_errors(errors);
        }
    }
    got
}
