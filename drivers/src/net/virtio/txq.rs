//! The transmit queue: each frame gets a zeroed virtio-net header prepended in its mbuf's
//! headroom and goes out as one descriptor (two when the header and frame are not
//! contiguous for the device, split at the page boundary). Descriptors come from a free
//! list kept in the queue's shared header; a burst first takes back the chains the device
//! has used, then fills, publishes the available index once and notifies the device only
//! when it asks.

use super::pci::Notifier;
use super::vring::{Vring, AVAIL_F_NO_INTERRUPT, DESC_F_NEXT};
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

/// Descriptors a frame needs once its header is prepended: 1, or 2 when the bytes are not
/// contiguous for the device; 0 for an mbuf this queue cannot send (chained, or without
/// headroom for the header).
#[inline(always)]
fn descs_for(m: &Mbuf, mem: &Memory, hdr: u16) -> u64 {
    if m.nb_segs() != 1 || m.headroom() < hdr || !super::offload::tx_ok(m) {
        return 0;
    }
    let va = m.data().as_ptr() as u64 - u64::from(hdr);
    let len = u64::from(m.data_len()) + u64::from(hdr);
    if mem.iova(va + len - 1) == mem.iova(va) + len - 1 {
        1
    } else {
        2
    }
}

/// Sends from the front of `bufs` while descriptors are free. Sent mbufs leave `bufs` (the
/// queue frees them once the device is done); a chained (multi-segment) mbuf, one with
/// less headroom than the header, or one asking for an offload it cannot have
/// ([`super::offload::tx_ok`]) is dropped and counted as an error.
#[inline]
pub fn burst(q: &Vring, kick: &Notifier, mem: &Memory, hdr: u16, c: &QueueCounters, bufs: &mut Vec<Mbuf>) -> usize {
    reclaim(q);
    let free = q.hdr().free_cnt.load(Ordering::Relaxed);
    let (mut taken, mut need) = (0usize, 0u64);
    for m in bufs.iter() {
        let n = descs_for(m, mem, hdr);
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
    let page = mem.page_size();
    let (mut sent, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    for mut m in bufs.drain(..taken) {
        if descs_for(&m, mem, hdr) == 0 {
            errors += 1;
            continue;
        }
        let flen = u64::from(m.data_len());
        let vh = super::offload::tx_header(&mut m).to_bytes();
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
        let (va, len) = (m.data().as_ptr() as u64, flen + u64::from(hdr));
        let iova = mem.iova(va);
        let first = if mem.iova(va + len - 1) == iova + len - 1 { len } else { page - va % page };
        let id = q.free_pop(&mut head);
        if first < len {
            let id2 = q.free_pop(&mut head);
            q.set_desc(usize::from(id), iova, first as u32, DESC_F_NEXT, id2);
            q.set_desc(usize::from(id2), mem.iova(va + first), (len - first) as u32, 0, 0);
        } else {
            q.set_desc(usize::from(id), iova, len as u32, 0, 0);
        }
        // The mbuf is parked at its head descriptor, taken back by `reclaim`.
        q.put(usize::from(id), m);
        q.avail_put(avail, id);
        avail = avail.wrapping_add(1);
        sent += 1;
        bytes += flen;
    }
    if sent > 0 {
        q.hdr().free_head.store(u64::from(head), Ordering::Release);
        q.hdr().free_cnt.store(q.hdr().free_cnt.load(Ordering::Relaxed) - need, Ordering::Release);
        q.hdr().avail.store(u64::from(avail), Ordering::Release);
        q.avail_publish(avail);
        if q.needs_kick() {
            q.hdr().kicks.store(q.hdr().kicks.load(Ordering::Relaxed) + 1, Ordering::Release);
            kick.notify(
                q.hdr().index.load(Ordering::Relaxed) as u16,
                q.hdr().notify_off.load(Ordering::Relaxed) as u16,
            );
        }
        c.add(sent, bytes);
    }
    if errors > 0 {
        c.add_errors(errors);
    }
    taken
}
