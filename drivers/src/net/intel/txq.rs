//! The TX queue logic of the Intel rings of 16-byte descriptors, legacy (e1000) or
//! advanced (igb, ixgbe), in any process: a burst first frees the mbufs of descriptors the
//! device has written back, then fills free descriptors and writes the tail register once.
//! Every descriptor asks for a write-back (RS), so cleanup needs no other bookkeeping. A
//! ring format plugs in through [`TxRing`].

use super::queue_header::DescQueueHeader;
use crate::net::common::iova;
use crate::net::common::queue_mem::{Desc16, QueueMem};
use crate::net::common::RegIo;
use eal::{Mbuf, Memory};
use ethdev::QueueCounters;
use std::sync::atomic::{fence, Ordering};

/// A ring of 16-byte descriptors the TX logic runs on.
pub trait TxRing: Desc16<Header = DescQueueHeader> {
    /// True when the format sends an empty mbuf (one zero-length descriptor) rather than
    /// dropping it as an error.
    const SENDS_EMPTY: bool;
    /// Fills TX descriptor `i` with `len` bytes at `iova` of a packet of `pkt_len` bytes,
    /// asking for the FCS and a write-back; `eop` on the packet's last descriptor.
    fn tx_put(&self, i: usize, iova: u64, len: u16, eop: bool, pkt_len: u32);
    /// True when the device wrote back DD (status bit 0, the same in every format) into TX
    /// descriptor `i`.
    #[inline(always)]
    fn tx_done(&self, i: usize) -> bool {
        self.words().tx_status(i) & 1 != 0
    }
}

/// Empties the ring (frees the mbufs it still holds) and resets the indices. The caller
/// programs the ring registers with head = tail = 0.
pub fn reset<D: TxRing>(q: &QueueMem<D>) {
    q.release_all();
    fence(Ordering::Release);
}

/// Frees the mbufs of the descriptors the device has written back; returns how many
/// descriptors were reclaimed.
#[inline]
pub fn reclaim<D: TxRing>(q: &QueueMem<D>) -> usize {
    let nb = q.nb();
    let (tail, mut clean) =
        (q.hdr().tail.load(Ordering::Relaxed) as usize, q.hdr().clean.load(Ordering::Relaxed) as usize);
    let mut n = 0;
    while clean != tail && q.ring.tx_done(clean) {
        drop(q.take(clean));
        clean = if clean + 1 == nb { 0 } else { clean + 1 };
        n += 1;
    }
    if n > 0 {
        q.hdr().clean.store(clean as u64, Ordering::Release);
    }
    n
}

/// Descriptors free for the software (one is always left empty: head == tail means empty).
#[inline]
pub fn free_descs<D: TxRing>(q: &QueueMem<D>) -> usize {
    let nb = q.nb();
    let (tail, clean) = (q.hdr().tail.load(Ordering::Relaxed) as usize, q.hdr().clean.load(Ordering::Relaxed) as usize);
    nb - 1 - (tail + nb - clean) % nb
}

/// True for an mbuf a queue of `D` cannot send: chained (multi-segment), or empty unless
/// the format sends empty ones.
#[inline(always)]
fn unsendable<D: TxRing>(m: &Mbuf) -> bool {
    m.nb_segs() != 1 || (m.data_len() == 0 && !D::SENDS_EMPTY)
}

/// Descriptors `m` needs: one per heap page its data touches (see [`iova`]); 0 for an
/// mbuf that is not sent (see [`unsendable`]).
#[inline(always)]
fn descs_for<D: TxRing>(m: &Mbuf, page: u64) -> usize {
    if unsendable::<D>(m) {
        return 0;
    }
    let len = u64::from(m.data_len());
    if iova::in_page(page, m.data().as_ptr() as u64, len) < len {
        2
    } else {
        1
    }
}

/// Sends from the front of `bufs` as many packets as there are free descriptors, writing
/// the tail through `regs` at `tail_reg` (e1000: TDT; igb: TDT(n); ixgbe: its TDT(n)). Sent mbufs leave
/// `bufs` (the ring frees them once transmitted); the rest stay the caller's. A buffer that
/// crosses a page of the heap takes two descriptors, split at the boundary. A chained
/// (multi-segment) or (unless `D::SENDS_EMPTY`) empty mbuf is not supported: it leaves `bufs`, is dropped and
/// counted as an error. Returns how many mbufs left `bufs`.
#[inline]
pub fn burst<D: TxRing, R: RegIo + ?Sized>(
    regs: &R,
    tail_reg: usize,
    q: &QueueMem<D>,
    mem: &Memory,
    c: &QueueCounters,
    bufs: &mut Vec<Mbuf>,
) -> usize {
    reclaim(q);
    let nb = q.nb();
    let page = mem.page_size();
    let free = free_descs(q);
    let mut tail = q.hdr().tail.load(Ordering::Relaxed) as usize;
    let next = |i: usize| if i + 1 == nb { 0 } else { i + 1 };
    let (mut taken, mut used) = (0usize, 0usize);
    for m in bufs.iter() {
        let need = descs_for::<D>(m, page);
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
        if unsendable::<D>(&m) {
            errors += 1;
            drop(m);
            continue;
        }
        let (va, len) = (m.data().as_ptr() as u64, u64::from(m.data_len()));
        let first = iova::in_page(page, va, len);
        if first < len {
            q.ring.tx_put(tail, mem.iova(va), first as u16, false, len as u32);
            tail = next(tail);
            q.ring.tx_put(tail, mem.iova(va + first), (len - first) as u16, true, len as u32);
        } else {
            q.ring.tx_put(tail, mem.iova(va), len as u16, true, len as u32);
        }
        // The mbuf is kept at its last descriptor: freed once that one is done.
        q.put(tail, m);
        tail = next(tail);
        sent += 1;
        bytes += len;
    }
    if sent > 0 {
        q.hdr().tail.store(tail as u64, Ordering::Release);
        fence(Ordering::Release);
        regs.write32(tail_reg, tail as u32);
        c.add(sent, bytes);
    }
    if errors > 0 {
        c.add_errors(errors);
    }
    taken
}
