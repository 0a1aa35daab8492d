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
use super::pci::Notifier;
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
    /// Its doorbell.
    pub kick: &'a Notifier,
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

    /// Sends from the front of `bufs` while descriptors are free. Sent mbufs leave `bufs`
    /// (the queue frees them once the device is done); an mbuf [`Tx::descs_for`] refuses,
    /// or a forwarded partial checksum or large segment this port cannot send
    /// ([`gso::tx_header`]), is dropped and counted as an error.
    #[inline]
    pub fn burst(&self, c: &QueueCounters, bufs: &mut Vec<Mbuf>) -> usize {
        let (q, mem, hdr) = (self.q, self.mem, self.hdr);
        reclaim(q);
        let free = q.hdr().free_cnt.load(Ordering::Relaxed);
        let (mut taken, mut need) = (0usize, 0u64);
        for m in bufs.iter() {
            let n = self.descs_for(m);
            if need + n > free {
                break;
            }
            need += n;
            taken += 1;
        }
        if taken == 0 {
            return 0;
        }
        let mut head = q.hdr().free_head.load(Ordering::Relaxed) as u16;
        let mut avail = q.hdr().avail.load(Ordering::Relaxed) as u16;
        let (mut sent, mut bytes, mut errors, mut used, mut large) = (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut pieces = [(0u64, 0u32); MAX_DESCS];
        for mut m in bufs.drain(..taken) {
            if self.descs_for(&m) == 0 {
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
                self.kick.notify(
                    q.hdr().index.load(Ordering::Relaxed) as u16,
                    q.hdr().notify_off.load(Ordering::Relaxed) as u16,
                );
            }
            if large > 0 {
                q.hdr().large_segs.store(q.hdr().large_segs.load(Ordering::Relaxed) + large, Ordering::Release);
            }
            c.add(sent, bytes);
        }
        if errors > 0 {
            c.add_errors(errors);
        }
        taken
    }
}
