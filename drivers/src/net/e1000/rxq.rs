//! The RX queue: setup of its shared memory, programming the ring (primary), and the burst
//! (any process). Descriptors the software has refilled are handed to the device by one
//! RDT write per burst.

use super::init::{rd, wr};
use super::iova;
use super::regs;
use super::ring::QueueMem;
use eal::vfio::MmioRegion;
use eal::{Mbuf, Memory, PktMbufPool};
use ethdev::QueueCounters;
use std::sync::atomic::{fence, Ordering};

/// Header word: the next descriptor to look at.
pub const H_NEXT: usize = 0;
/// Header word: 1 while dropping the rest of a frame that spans several descriptors.
pub const H_DISCARD: usize = 1;
/// Header word: descriptors refilled but not yet handed back to the device (RDT).
pub const H_HOLD: usize = 2;
/// Header word: mbufs retired because their buffer is not contiguous for the device.
pub const H_RETIRED: usize = 3;

/// Refilled descriptors go back to the device in batches of at least this many (a quarter
/// of the ring, at least 32), or as soon as the burst has caught up with the device. Few
/// RDT writes save MMIO exits; and every RDT write frees a large block, which matters on
/// QEMU: it hands all the frames it holds to the NIC at each RDT write and drops those that
/// find no free descriptor.
pub fn free_threshold(nb: usize) -> usize {
    (nb / 4).max(32).min(nb - 1)
}
/// Buffer size the device is told (RCTL.BSIZE) and that every RX mbuf must have after the
/// headroom.
pub const RX_BUF: u16 = 2048;

/// Most buffers one allocation may retire before it gives up.
const MAX_RETIRE: usize = 8;

/// An mbuf whose receive buffer the device can write: in IOVA-as-PA mode (`pa`) buffers
/// that are not contiguous for the device are retired (leaked on purpose: each such mbuf
/// once, a handful per pool) and counted in `retired`.
/// Returns the mbuf and the device address of its receive buffer.
#[inline]
fn alloc_rx(pool: &PktMbufPool, pa: Option<&Memory>, retired: &mut u64) -> Option<(Mbuf, u64)> {
    let Some(mem) = pa else {
        return pool.alloc().map(|m| {
            let iova = m.buf_iova_default();
            (m, iova)
        });
    };
    for _ in 0..MAX_RETIRE {
        let m = pool.alloc()?;
        let va = m.data().as_ptr() as u64;
        let (iova, n) = iova::contiguous_prefix(mem, va, u64::from(RX_BUF));
        if n == u64::from(RX_BUF) {
            return Some((m, iova));
        }
        *retired += 1;
        tracing::debug!(mbuf = format_args!("{:#x}", m.addr()), "RX buffer crosses a physical page boundary: retired");
        let _ = m.into_raw();
    }
    None
}

/// Fills every descriptor with an mbuf of `pool` and programs the ring registers (RDT
/// one behind the head: all but one descriptor belong to the device).
pub fn start(bar: &MmioRegion, q: &QueueMem, iova: u64, pool: &PktMbufPool, pa: Option<&Memory>) -> Result<(), String> {
    q.release_all();
    let mut retired = 0;
    for i in 0..q.nb() {
        let (m, buf) = alloc_rx(pool, pa, &mut retired).ok_or_else(|| {
            format!(
                "mempool '{}' ran out filling the RX ring ({} descriptors): make the pool larger than the ring",
                pool.mempool().name(),
                q.nb()
            )
        })?;
        q.ring.rx_arm(i, buf);
        q.put(i, m);
    }
    q.set(H_RETIRED, retired);
    q.set(H_NEXT, 0);
    q.set(H_DISCARD, 0);
    q.set(H_HOLD, 0);
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
/// from `pool` and hands refilled descriptors back per [`free_threshold`]. Frames spanning
/// descriptors (longer than [`RX_BUF`]) and frames with receive errors are dropped and
/// counted as errors; a failed allocation stops the burst (the frame stays in the ring)
/// and is counted as `nombuf`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn burst(
    bar: &MmioRegion,
    q: &QueueMem,
    pool: &PktMbufPool,
    pa: Option<&Memory>,
    port: u16,
    c: &QueueCounters,
    bufs: &mut Vec<Mbuf>,
    max: usize,
) -> usize {
    let nb = q.nb();
    let mut next = q.get(H_NEXT) as usize;
    let mut discard = q.get(H_DISCARD) != 0;
    let (mut got, mut bytes, mut errors, mut used) = (0usize, 0u64, 0u64, 0usize);
    let mut caught_up = false;
    while got < max {
        let wb = q.ring.rx_read(next);
        if !wb.done() {
            caught_up = true;
            break;
        }
        let mut retired = 0;
        let fresh = alloc_rx(pool, pa, &mut retired);
        if retired > 0 {
            q.set(H_RETIRED, q.get(H_RETIRED) + retired);
        }
        let Some((fresh, buf)) = fresh else {
            c.add_nombuf(1);
            break;
        };
        q.ring.rx_arm(next, buf);
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
    let hold = q.get(H_HOLD) as usize + used;
    if used > 0 {
        q.set(H_NEXT, next as u64);
        q.set(H_DISCARD, u64::from(discard));
        c.add(got as u64, bytes);
        if errors > 0 {
            c.add_errors(errors);
        }
    }
    if hold > 0 && (hold >= free_threshold(nb) || caught_up) {
        q.set(H_HOLD, 0);
        fence(Ordering::Release);
        wr(bar, regs::RDT, (if next == 0 { nb - 1 } else { next - 1 }) as u32);
    } else if used > 0 {
        q.set(H_HOLD, hold as u64);
    }
    got
}
