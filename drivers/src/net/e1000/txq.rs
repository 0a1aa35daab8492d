//! The TX queue: programming the ring (primary) and the burst (any process). Every
//! descriptor asks for a write-back (RS); a burst first frees the mbufs of descriptors the
//! device is done with, then fills free descriptors and bumps TDT once.

use super::desc::{TXD_CMD_EOP, TXD_CMD_IFCS, TXD_CMD_RS};
use super::init::{rd, wr};
use super::iova;
use super::regs;
use super::ring::QueueMem;
use eal::vfio::MmioRegion;
use eal::{Mbuf, Memory};
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

/// Descriptors `m` needs: one per heap page its data touches (see [`iova`]); 0 for a
/// chained mbuf, which this queue does not send.
#[inline(always)]
fn descs_for(m: &Mbuf, page: u64) -> usize {
    if m.nb_segs() != 1 {
        return 0;
    }
    let len = u64::from(m.data_len());
    if iova::in_page(page, m.data().as_ptr() as u64, len) < len {
        2
    } else {
        1
    }
}

/// Sends from the front of `bufs`: as many as there are free descriptors. Sent mbufs leave
/// `bufs` (the ring frees them once transmitted). A buffer that crosses a page boundary of
/// the heap takes two descriptors, split at the boundary. A chained (multi-segment) mbuf is
/// not supported by this queue: it is dropped and counted as an error.
#[inline]
pub fn burst(bar: &MmioRegion, q: &QueueMem, mem: &Memory, c: &QueueCounters, bufs: &mut Vec<Mbuf>) -> usize {
    reclaim(q);
    let nb = q.nb();
    let page = mem.page_size();
    let (mut tail, clean) = (q.get(H_TAIL) as usize, q.get(H_CLEAN) as usize);
    let free = nb - 1 - (tail + nb - clean) % nb;
    let next = |i: usize| if i + 1 == nb { 0 } else { i + 1 };
    let (mut taken, mut used) = (0usize, 0usize);
    for m in bufs.iter() {
        let need = descs_for(m, page);
        if used + need > free {
            break;
        }
        used += need;
        taken += 1;
    }
    if taken == 0 {
        return 0;
    }
    let (mut sent, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    for m in bufs.drain(..taken) {
        if m.nb_segs() != 1 {
            errors += 1;
            drop(m);
            continue;
        }
        let (va, len) = (m.data().as_ptr() as u64, u64::from(m.data_len()));
        let first = iova::in_page(page, va, len);
        if first < len {
            q.ring.tx_fill(tail, mem.iova(va), first as u16, TXD_CMD_IFCS | TXD_CMD_RS);
            tail = next(tail);
            q.ring.tx_fill(tail, mem.iova(va + first), (len - first) as u16, TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS);
        } else {
            q.ring.tx_fill(tail, mem.iova(va), len as u16, TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS);
        }
        // The mbuf is kept at its last descriptor: freed once that one is done.
        q.put(tail, m);
        tail = next(tail);
        sent += 1;
        bytes += len;
    }
    q.set(H_TAIL, tail as u64);
    fence(Ordering::Release);
    wr(bar, regs::TDT, tail as u32);
    c.add(sent, bytes);
    if errors > 0 {
        c.add_errors(errors);
    }
    taken
}
