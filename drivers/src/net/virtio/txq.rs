//! The transmit queue: each frame gets its virtio-net header prepended in the headroom of
//! its first mbuf and goes out as a descriptor chain, one descriptor per segment (a
//! segment whose bytes are not contiguous for the device is split at the page boundary),
//! so that a chained mbuf — a jumbo frame, a 64 KiB large segment — is one frame. With
//! `VIRTIO_RING_F_INDIRECT_DESC` a frame of several pieces takes one ring entry: its
//! descriptors go in the indirect table of its head descriptor (a 64 KiB segment in
//! 2 KiB mbufs would otherwise take 33 of the ring's 256 entries).
//! Descriptors come from a free list kept in the queue's shared header; a burst first
//! takes back the chains the device has used, then fills, publishes the available index
//! once and notifies the device only when it asks (`VIRTQ_USED_F_NO_NOTIFY` clear: QEMU
//! sets it while its TX bottom half drains the ring), so a burst costs at most one
//! doorbell write.

use super::gso;
use super::net::Features;
use super::vring::{Vring, AVAIL_F_NO_INTERRUPT, DESC_F_INDIRECT, DESC_F_NEXT, IND_ENTRIES};
use eal::{Mbuf, Memory};
use ethdev::QueueCounters;
use std::sync::atomic::Ordering;

/// Empties the queue and links every descriptor into the free list.
pub fn reset(q: &Vring) {
    let (index, noff) = (q.hdr().index.load(Ordering::Relaxed), q.hdr().notify_off.load(Ordering::Relaxed));
    q.release_all();
    q.hdr().index.store(index, Ordering::Release);
    q.hdr().notify_off.store(noff, Ordering::Release);
    q.init_free_list();
    q.set_avail_flags(AVAIL_F_NO_INTERRUPT);
}

/// Takes back the descriptor chains the device has used and frees their mbufs; returns how
/// many chains.
#[inline]
pub fn reclaim(q: &Vring) -> usize {
    let used_idx = q.used_idx();
    let mut last = q.hdr().used.load(Ordering::Relaxed) as u16;
    if last == used_idx {
        return 0;
    }
    let mut head = q.hdr().free_head.load(Ordering::Relaxed) as u16;
    let mut cnt = q.hdr().free_cnt.load(Ordering::Relaxed);
    let mut n = 0;
    while last != used_idx {
        let mut id = q.used_elem(last).id as usize;
        last = last.wrapping_add(1);
        if id >= usize::from(q.size()) {
            continue;
        }
        drop(q.take(id));
        // Walk the chain (at most a few descriptors), pushing each on the free list.
        for _ in 0..q.size() {
            let (_, _, flags, next) = q.desc(id);
            q.set_desc(id, 0, 0, 0, head);
            head = id as u16;
            cnt += 1;
            if flags & DESC_F_NEXT == 0 {
                break;
            }
            id = usize::from(next) & (usize::from(q.size()) - 1);
        }
        n += 1;
    }
    q.hdr().used.store(u64::from(last), Ordering::Release);
    q.hdr().free_head.store(u64::from(head), Ordering::Release);
    q.hdr().free_cnt.store(cnt, Ordering::Release);
    n
}

/// Most segments of one transmitted frame (`DevInfo::tx_max_segs`).
pub const MAX_SEGS: u16 = 64;
/// Most descriptors one frame may take (each segment split at most once).
const MAX_DESCS: usize = 2 * MAX_SEGS as usize;
// A frame's descriptor count is kept in a byte during a burst.
const _: () = assert!(MAX_DESCS <= u8::MAX as usize);
/// Most frames one burst call sends (their descriptor counts are kept on the stack); the
/// caller sends the rest with another call, as after a full ring.
pub const PASS: usize = 64;

/// Calls `f(device address, length)` for each piece of `len` bytes at `va` that is
/// contiguous for the device (the whole range, unless IOVA = PA splits it at pages).
#[inline(always)]
fn for_each_piece(mem: &Memory, mut va: u64, mut len: u64, mut f: impl FnMut(u64, u32)) {
    let page = mem.page_size();
    while len > 0 {
        let iova = mem.iova(va);
        let n = if mem.iova(va + len - 1) == iova + len - 1 { len } else { (page - va % page).min(len) };
        f(iova, n as u32);
        va += n;
        len -= n;
    }
}

/// Calls `f` for each device piece of `m`'s segments, the first one starting `hdr` bytes
/// before its data (where the header goes, or went).
#[inline(always)]
fn for_each_frame_piece(m: &Mbuf, mem: &Memory, hdr: u16, mut f: impl FnMut(u64, u32)) {
    for (k, seg) in m.segments().enumerate() {
        let back = if k == 0 { u64::from(hdr) } else { 0 };
        for_each_piece(mem, seg.as_ptr() as u64 - back, seg.len() as u64 + back, &mut f);
    }
}

/// A transmit queue as one burst sees it.
pub struct Tx<'a> {
    /// The queue.
    pub q: &'a Vring,
    /// The group's memory (device addresses).
    pub mem: &'a Memory,
    /// virtio-net header length.
    pub hdr: u16,
    /// The port's features as configured (`CSUM`, `HOST_TSO4/6`).
    pub features: Features,
    /// The queue's indirect descriptor tables (0: none).
    pub ind_addr: u64,
}

impl Tx<'_> {
    /// Descriptors `m` needs once its header is prepended; 0 for an mbuf this queue cannot
    /// send (more than [`MAX_SEGS`] segments or than the ring holds, no headroom for the
    /// header, an offload request [`super::offload::tx_ok`] refuses).
    #[inline(always)]
    fn descs_for(&self, m: &Mbuf) -> u64 {
        if m.nb_segs() > MAX_SEGS || m.headroom() < self.hdr || !super::offload::tx_ok(m) {
            return 0;
        }
        let mut n = 0u64;
        for_each_frame_piece(m, self.mem, self.hdr, |_, _| n += 1);
        if self.indirect(n as usize) {
            1
        } else if n > u64::from(self.q.size()) || n as usize > MAX_DESCS {
            0
        } else {
            n
        }
    }

    /// True when a frame of `n` pieces goes in an indirect table.
    #[inline(always)]
    fn indirect(&self, n: usize) -> bool {
        self.ind_addr != 0 && n > 1 && n <= IND_ENTRIES
    }

    /// Sends from the front of `bufs` while descriptors are free, at most [`PASS`] frames
    /// (each frame's descriptor count is computed once). Sent mbufs leave `bufs`
    /// (the queue frees them once the device is done); an mbuf [`Tx::descs_for`] refuses,
    /// or a forwarded partial checksum or large segment this port cannot send
    /// ([`gso::tx_header`]), is dropped and counted as an error. Returns how many mbufs left
    /// `bufs`, and true when the device asked to be notified of the new entries (the caller
    /// rings the doorbell; counted in `kicks`).
    #[inline]
    pub fn burst(&self, c: &QueueCounters, bufs: &mut Vec<Mbuf>) -> (usize, bool) {
        let (q, mem, hdr) = (self.q, self.mem, self.hdr);
        reclaim(q);
        let free = q.hdr().free_cnt.load(Ordering::Relaxed);
        // Each frame's descriptor count, computed once (at most MAX_DESCS: a byte).
        let mut needs = [0u8; PASS];
        let (mut taken, mut need) = (0usize, 0u64);
        for (m, slot) in bufs.iter().zip(needs.iter_mut()) {
            let n = self.descs_for(m);
            if need + n > free {
                break;
            }
            *slot = n as u8;
            need += n;
            taken += 1;
        }
        if taken == 0 {
            return (0, false);
        }
        let mut kick = false;
        let mut head = q.hdr().free_head.load(Ordering::Relaxed) as u16;
        let mut avail = q.hdr().avail.load(Ordering::Relaxed) as u16;
        let (mut sent, mut bytes, mut errors, mut used, mut large) = (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut pieces = [(0u64, 0u32); MAX_DESCS];
        for (mut m, &want) in bufs.drain(..taken).zip(needs.iter()) {
            if want == 0 {
                errors += 1;
                continue;
            }
            let flen = u64::from(m.pkt_len());
            let vh = if gso::is_forwarded_partial(&m) {
                match gso::tx_header(&mut m, self.features) {
                    Ok((h, is_large)) => {
                        large += u64::from(is_large);
                        h
                    }
                    Err(_) => {
                        errors += 1;
                        continue;
                    }
                }
            } else {
                super::offload::tx_header(&mut m)
            };
            let vh = vh.to_bytes();
            match m.prepend(hdr) {
                Some(h) => {
                    h.fill(0);
                    h[..vh.len()].copy_from_slice(&vh);
                }
                None => {
                    errors += 1;
                    continue;
                }
            }
            let mut n = 0;
            for_each_frame_piece(&m, mem, 0, |a, l| {
                if n < MAX_DESCS {
                    pieces[n] = (a, l);
                }
                n += 1;
            });
            let n = n.min(MAX_DESCS);
            // The next free descriptor becomes the frame's head.
            let first = head;
            if self.indirect(n) {
                // Counted as one descriptor above: a table that cannot be reached drops the
                // frame rather than take more.
                let Some(t) = q.ind_table(self.ind_addr, first) else {
                    errors += 1;
                    continue;
                };
                for (k, &(a, l)) in pieces[..n].iter().enumerate() {
                    let more = k + 1 < n;
                    t.set(k, a, l, if more { DESC_F_NEXT } else { 0 }, if more { k as u16 + 1 } else { 0 });
                }
                q.free_pop(&mut head);
                q.set_desc(usize::from(first), mem.iova(t.addr), (16 * n) as u32, DESC_F_INDIRECT, 0);
                used += 1;
            } else {
                let mut id = q.free_pop(&mut head);
                for (k, &(a, l)) in pieces[..n].iter().enumerate() {
                    if k + 1 < n {
                        let next = q.free_pop(&mut head);
                        q.set_desc(usize::from(id), a, l, DESC_F_NEXT, next);
                        id = next;
                    } else {
                        q.set_desc(usize::from(id), a, l, 0, 0);
                    }
                }
                used += n as u64;
            }
            // The mbuf (its whole chain) is parked at its head descriptor, taken back by
            // `reclaim`.
            q.put(usize::from(first), m);
            q.avail_put(avail, first);
            avail = avail.wrapping_add(1);
            sent += 1;
            bytes += flen;
        }
        if sent > 0 {
            q.hdr().free_head.store(u64::from(head), Ordering::Release);
            q.hdr().free_cnt.store(q.hdr().free_cnt.load(Ordering::Relaxed) - used, Ordering::Release);
            q.hdr().avail.store(u64::from(avail), Ordering::Release);
            q.avail_publish(avail);
            if q.needs_kick() {
                q.hdr().kicks.store(q.hdr().kicks.load(Ordering::Relaxed) + 1, Ordering::Release);
                kick = true;
            }
            if large > 0 {
                q.hdr().large_segs.store(q.hdr().large_segs.load(Ordering::Relaxed) + large, Ordering::Release);
            }
            c.add(sent, bytes);
        }
        if errors > 0 {
            c.add_errors(errors);
        }
        (taken, kick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::virtio::vring::{self, Layout, IND_BYTES};
    use eal::{shm, PktMbufPool};
    use std::sync::atomic::{AtomicU32, AtomicU64};

    const HDR: u16 = 12;

    /// A chain of three mbufs of 100, 200 and 300 bytes.
    fn chain(pool: &PktMbufPool) -> Mbuf {
        let mut segs = [100u16, 200, 300].into_iter().map(|n| {
            let mut m = pool.alloc().unwrap();
            m.append(n).unwrap().fill(n as u8);
            m
        });
        let mut head = segs.next().unwrap();
        for m in segs {
            head.chain(m);
        }
        head
    }

    fn counters(mem: &Memory) -> &'static QueueCounters {
        let mz = mem.memzone_reserve("txq_test_ctr", 64, 64).unwrap();
        &shm::shared_slice::<QueueCounters>(mz.addr(), 1).unwrap()[0]
    }

    /// The device marks the chains whose heads are `ids` used.
    fn device_uses(q: &Vring, ids: &[u16]) {
        let l = Layout::of(q.size());
        let used = shm::shared_slice::<AtomicU32>(q.addr() + l.used, 1 + 2 * usize::from(q.size())).unwrap();
        for (k, id) in ids.iter().enumerate() {
            used[1 + 2 * k].store(u32::from(*id), Ordering::Relaxed);
        }
        used[0].store((ids.len() as u32) << 16, Ordering::Release);
    }

    #[test]
    fn a_chain_goes_out_as_one_frame_one_descriptor_per_segment_and_comes_back_whole() {
        let mem = Memory::anonymous(16 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "txq_chain", 16, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        let (_mz, q) = vring::reserve(&mem, "txq_chain_q", 16).unwrap();
        reset(&q);
        let c = counters(&mem);
        let mut bufs = vec![chain(&pool)];
        let va0 = bufs[0].data().as_ptr() as u64;
        let tx = Tx { q: &q, mem: &mem, hdr: HDR, features: Features::empty(), ind_addr: 0 };
        assert_eq!(tx.burst(c, &mut bufs), (1, true), "sent, and the device asks to be told");
        assert!(bufs.is_empty());
        let (a0, l0, f0, n0) = q.desc(0);
        assert_eq!((a0, l0, f0), (mem.iova(va0 - u64::from(HDR)), 112, DESC_F_NEXT), "header + first segment");
        let (_, l1, f1, n1) = q.desc(usize::from(n0));
        assert_eq!((l1, f1), (200, DESC_F_NEXT));
        let (_, l2, f2, _) = q.desc(usize::from(n1));
        assert_eq!((l2, f2), (300, 0), "the last segment ends the chain");
        assert_eq!(q.hdr().free_cnt.load(Ordering::Relaxed), 13);
        assert_eq!(c.packets.load(Ordering::Relaxed), 1);
        device_uses(&q, &[0]);
        assert_eq!(reclaim(&q), 1);
        assert_eq!(q.hdr().free_cnt.load(Ordering::Relaxed), 16, "every descriptor of the chain is free again");
        assert!(pool.mempool().is_full(), "the whole chain went back to its pool");
    }

    #[test]
    fn with_indirect_descriptors_a_chain_takes_one_ring_entry() {
        let mem = Memory::anonymous(16 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "txq_ind", 16, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        let (_mz, q) = vring::reserve(&mem, "txq_ind_q", 16).unwrap();
        reset(&q);
        let ind = mem.memzone_reserve("txq_ind_tables", 16 * IND_BYTES, 4096).unwrap();
        let c = counters(&mem);
        let mut bufs = vec![chain(&pool), chain(&pool)];
        let tx = Tx { q: &q, mem: &mem, hdr: HDR, features: Features::empty(), ind_addr: ind.addr() };
        assert_eq!(tx.burst(c, &mut bufs).0, 2);
        assert_eq!(q.hdr().free_cnt.load(Ordering::Relaxed), 14, "one ring descriptor per frame");
        let (a, l, f, _) = q.desc(0);
        assert_eq!((a, l, f), (mem.iova(ind.addr()), 48, DESC_F_INDIRECT), "a table of three descriptors");
        let (a, l, f, _) = q.desc(1);
        assert_eq!((a, l, f), (mem.iova(ind.addr() + IND_BYTES), 48, DESC_F_INDIRECT), "each head its own table");
        let t = shm::shared_slice::<AtomicU64>(ind.addr(), 6).unwrap();
        let w = |i: usize| t[2 * i + 1].load(Ordering::Relaxed);
        let len_flags_next = |x: u64| (x as u32, (x >> 32) as u16, (x >> 48) as u16);
        assert_eq!(len_flags_next(w(0)), (112, DESC_F_NEXT, 1));
        assert_eq!(len_flags_next(w(1)), (200, DESC_F_NEXT, 2));
        assert_eq!(len_flags_next(w(2)), (300, 0, 0));
        device_uses(&q, &[0, 1]);
        assert_eq!(reclaim(&q), 2);
        assert_eq!(q.hdr().free_cnt.load(Ordering::Relaxed), 16);
        assert!(pool.mempool().is_full());
    }

    #[test]
    fn a_chain_longer_than_the_ring_is_dropped_and_counted() {
        let mem = Memory::anonymous(16 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "txq_long", 32, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        let (_mz, q) = vring::reserve(&mem, "txq_long_q", 16).unwrap();
        reset(&q);
        let c = counters(&mem);
        let mut head = pool.alloc().unwrap();
        head.append(60).unwrap();
        for _ in 0..16 {
            let mut m = pool.alloc().unwrap();
            m.append(10).unwrap();
            head.chain(m);
        }
        let mut bufs = vec![head];
        let tx = Tx { q: &q, mem: &mem, hdr: HDR, features: Features::empty(), ind_addr: 0 };
        assert_eq!(tx.burst(c, &mut bufs), (1, false), "taken off the burst, nothing for the device");
        assert_eq!(c.errors.load(Ordering::Relaxed), 1);
        assert_eq!(q.hdr().free_cnt.load(Ordering::Relaxed), 16);
        assert!(pool.mempool().is_full());
    }
}
