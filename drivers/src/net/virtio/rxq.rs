//! The receive queue: filling it (primary, at start) and the burst (any process).
//! Descriptor `i` always belongs to software slot `i`: a used element names the descriptor,
//! the burst takes its mbuf, gives the descriptor a fresh buffer and puts it back on the
//! available ring. The virtio-net header lands in the mbuf's headroom, the frame at the
//! usual data offset. Refilled descriptors are published once per burst, and the device is
//! notified only when it asks (it does when it ran out of buffers).

use super::error::VirtioError;
use super::gso::Recorded;
use super::pci::Notifier;
use super::rx_merge::{self, Frame, Merge};
use super::vring::{Vring, AVAIL_F_NO_INTERRUPT, DESC_F_WRITE};
use crate::net::common::iova;
use eal::mbuf::HEADROOM;
use eal::{Mbuf, Memory, PktMbufPool};
use ethdev::QueueCounters;
use std::sync::atomic::Ordering;

/// Shortest frame accepted (an Ethernet header).
const MIN_FRAME: u32 = 14;

/// An mbuf for the device to write, with the device address and length of its buffer
/// (header room included; see [`iova::alloc_rx`]).
#[inline]
fn alloc_rx(pool: &PktMbufPool, pa: Option<&Memory>, hdr: u16, retired: &mut u64) -> Option<(Mbuf, u64, u32)> {
    let len = |m: &Mbuf| u64::from(hdr) + u64::from(m.tailroom());
    iova::alloc_rx(pool, pa, hdr, len, retired).map(|(m, iova, len)| (m, iova, len as u32))
}

/// Fills every descriptor with an mbuf of `pool`, puts them all on the available ring and
/// asks for no interrupts (the queue is polled).
pub fn fill(q: &Vring, pool: &PktMbufPool, pa: Option<&Memory>, hdr: u16) -> Result<(), VirtioError> {
    let (index, noff) = (q.hdr().index.load(Ordering::Relaxed), q.hdr().notify_off.load(Ordering::Relaxed));
    q.release_all();
    q.hdr().index.store(index, Ordering::Release);
    q.hdr().notify_off.store(noff, Ordering::Release);
    let mut retired = 0;
    for i in 0..q.size() {
        let (m, iova, len) = alloc_rx(pool, pa, hdr, &mut retired)
            .ok_or_else(|| VirtioError::PoolExhausted { pool: pool.mempool().name().to_string(), size: q.size() })?;
        q.set_desc(usize::from(i), iova, len, DESC_F_WRITE, 0);
        q.put(usize::from(i), m);
        q.avail_put(i, i);
    }
    q.hdr().retired.store(retired, Ordering::Release);
    q.set_avail_flags(AVAIL_F_NO_INTERRUPT);
    q.hdr().avail.store(u64::from(q.size()), Ordering::Release);
    q.avail_publish(q.size());
    Ok(())
}

/// Receives up to `max` frames into `bufs` (frames over several mergeable buffers as
/// `merge` says, see [`rx_merge`]). Each used descriptor gets a fresh mbuf; a
/// failed allocation stops the burst (the frame stays in the ring) and counts as `nombuf`;
/// a used element shorter than the header plus an Ethernet header counts as an error.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn burst(
    q: &Vring,
    kick: &Notifier,
    pool: &PktMbufPool,
    pa: Option<&Memory>,
    hdr: u16,
    port: u16,
    merge: Merge,
    c: &QueueCounters,
    bufs: &mut Vec<Mbuf>,
    max: usize,
) -> usize {
    let used_idx = q.used_idx();
    let mut last = q.hdr().used.load(Ordering::Relaxed) as u16;
    if last == used_idx {
        return 0;
    }
    let mut avail = q.hdr().avail.load(Ordering::Relaxed) as u16;
    let (mut got, mut bytes, mut errors, mut refilled, mut large) = (0usize, 0u64, 0u64, 0u16, 0u64);
    let mut retired = 0;
    // A used length of a whole buffer may be the first of several (mergeable buffers).
    let full = u32::from(hdr) + u32::from(pool.data_room().saturating_sub(HEADROOM));
    while got < max && last != used_idx {
        let e = q.used_elem(last);
        if merge != Merge::Off && e.len == full {
            let rx = rx_merge::Rx { q, pool, pa, hdr, port, scatter: merge == Merge::Chain };
            let elems = match rx.take_frame(last, used_idx, &mut avail) {
                Frame::Chain { mut mbuf, elems, len } => {
                    match super::offload::rx_flags(&mut mbuf, hdr) {
                        Recorded::Bad => errors += 1,
                        r => {
                            large += u64::from(r == Recorded::Large);
                            bytes += u64::from(len);
                            bufs.push(mbuf);
                            got += 1;
                        }
                    }
                    elems
                }
                Frame::Dropped { elems } => {
                    errors += 1;
                    elems
                }
                Frame::Incomplete => break,
                Frame::NoMbuf => {
                    c.add_nombuf(1);
                    break;
                }
            };
            refilled += elems;
            last = last.wrapping_add(elems);
            continue;
        }
        let id = e.id as usize;
        if id >= usize::from(q.size()) {
            // A device bug: skip the element rather than index out of the ring.
            errors += 1;
            last = last.wrapping_add(1);
            continue;
        }
        let Some((fresh, iova, len)) = alloc_rx(pool, pa, hdr, &mut retired) else {
            c.add_nombuf(1);
            break;
        };
        let old = q.take(id);
        q.set_desc(id, iova, len, DESC_F_WRITE, 0);
        q.put(id, fresh);
        q.avail_put(avail, id as u16);
        avail = avail.wrapping_add(1);
        refilled += 1;
        last = last.wrapping_add(1);
        let Some(mut m) = old else { continue };
        if e.len < u32::from(hdr) + MIN_FRAME || e.len - u32::from(hdr) > u32::from(m.tailroom()) {
            errors += 1;
            drop(m);
            continue;
        }
        let flen = (e.len - u32::from(hdr)) as u16;
        m.set_len(flen);
        m.set_port(port);
        match super::offload::rx_flags(&mut m, hdr) {
            Recorded::Bad => {
                errors += 1;
                drop(m);
                continue;
            }
            r => large += u64::from(r == Recorded::Large),
        }
        bytes += u64::from(flen);
        bufs.push(m);
        got += 1;
    }
    q.hdr().used.store(u64::from(last), Ordering::Release);
    if large > 0 {
        q.hdr().large_segs.store(q.hdr().large_segs.load(Ordering::Relaxed) + large, Ordering::Release);
    }
    if retired > 0 {
        q.hdr().retired.store(q.hdr().retired.load(Ordering::Relaxed) + retired, Ordering::Release);
    }
    if refilled > 0 {
        q.hdr().avail.store(u64::from(avail), Ordering::Release);
        q.avail_publish(avail);
        if q.needs_kick() {
            q.hdr().kicks.store(q.hdr().kicks.load(Ordering::Relaxed) + 1, Ordering::Release);
            kick.notify(
                q.hdr().index.load(Ordering::Relaxed) as u16,
                q.hdr().notify_off.load(Ordering::Relaxed) as u16,
            );
        }
    }
    c.add(got as u64, bytes);
    if errors > 0 {
        c.add_errors(errors);
    }
    got
}
