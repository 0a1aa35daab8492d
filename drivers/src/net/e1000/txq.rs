//! The TX queue: programming the ring (primary) and the burst (any process). Every
//! descriptor asks for a write-back (RS); a burst first frees the mbufs of descriptors the
//! device is done with, then fills free descriptors and bumps TDT once.

use super::desc::{TXD_CMD_EOP, TXD_CMD_IFCS, TXD_CMD_RS};
use super::init::{rd, wr};
use super::regs;
use super::ring::QueueMem;
use eal::vfio::MmioRegion;
use eal::Mbuf;
use ethdev::QueueCounters;
use std::sync::atomic::{fence, Ordering};

/// Header word: the next descriptor to fill.
pub const H_TAIL: usize = 0;
/// Header word: the oldest descriptor not yet reclaimed.
pub const H_CLEAN: usize = 1;

/// Empties the ring and programs its registers and the transmitter.
pub fn start(bar: &MmioRegion, q: &QueueMem, iova: u64, tarc_enable: bool) {
    q.release_all();
    fence(Ordering::Release);
    wr(bar, regs::TDBAL, iova as u32);
    wr(bar, regs::TDBAH, (iova >> 32) as u32);
    wr(bar, regs::TDLEN, (q.nb() * 16) as u32);
    wr(bar, regs::TDH, 0);
    wr(bar, regs::TDT, 0);
    wr(bar, regs::TIPG, regs::TIPG_COPPER);
    if tarc_enable {
        wr(bar, regs::TARC0, rd(bar, regs::TARC0) | regs::TARC0_ENABLE);
    }
    wr(bar, regs::TCTL, regs::TCTL_EN | regs::TCTL_PSP | regs::TCTL_CT | regs::TCTL_COLD_FD);
}

/// Stops the transmitter and frees the mbufs still in the ring.
pub fn stop(bar: &MmioRegion, q: Option<&QueueMem>) {
    wr(bar, regs::TCTL, rd(bar, regs::TCTL) & !regs::TCTL_EN);
    if let Some(q) = q {
        q.release_all();
    }
}

/// Frees the mbufs of the descriptors the device has written back; returns how many.
#[inline]
fn reclaim(q: &QueueMem) -> usize {
    let nb = q.nb();
    let (tail, mut clean) = (q.get(H_TAIL) as usize, q.get(H_CLEAN) as usize);
    let mut n = 0;
    while clean != tail && q.ring.tx_done(clean) {
        drop(q.take(clean));
        clean = if clean + 1 == nb { 0 } else { clean + 1 };
        n += 1;
    }
    if n > 0 {
        q.set(H_CLEAN, clean as u64);
    }
    n
}

/// Sends from the front of `bufs`: as many as there are free descriptors. Sent mbufs leave
/// `bufs` (the ring frees them once transmitted). A chained (multi-segment) mbuf is not
/// supported by this queue: it is dropped and counted as an error.
#[inline]
pub fn burst(bar: &MmioRegion, q: &QueueMem, c: &QueueCounters, bufs: &mut Vec<Mbuf>) -> usize {
    reclaim(q);
    let nb = q.nb();
    let (mut tail, clean) = (q.get(H_TAIL) as usize, q.get(H_CLEAN) as usize);
    let in_flight = (tail + nb - clean) % nb;
    let free = nb - 1 - in_flight;
    let take = bufs.len().min(free);
    if take == 0 {
        return 0;
    }
    let (mut sent, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    for m in bufs.drain(..take) {
        if m.nb_segs() != 1 {
            errors += 1;
            drop(m);
            continue;
        }
        let len = m.data_len();
        q.ring.tx_fill(tail, m.data_iova(), len, TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS);
        q.put(tail, m);
        tail = if tail + 1 == nb { 0 } else { tail + 1 };
        sent += 1;
        bytes += u64::from(len);
    }
    q.set(H_TAIL, tail as u64);
    fence(Ordering::Release);
    wr(bar, regs::TDT, tail as u32);
    c.add(sent, bytes);
    if errors > 0 {
        c.add_errors(errors);
    }
    take
}
