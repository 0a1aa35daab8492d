//! Scattered receive on the Intel rings (the [`RxOffloads::SCATTER`](ethdev::RxOffloads)
//! offload): a frame longer than one receive buffer spans several descriptors, the last one
//! flagged EOP, and is delivered as one chain of mbufs.
//!
//! A frame is taken from the ring only once the device has written back every descriptor
//! of it, up to its EOP: a burst that meets a frame still being written stops before it, and
//! the next burst (in whichever process polls the queue then) takes it whole. So no partial
//! chain ever lives between bursts, neither in shared memory nor in one process.
//! A frame with a frame error on any of its descriptors is dropped whole and counted once;
//! its buffers go straight back to the device (no allocation).

use super::queue_header::DescQueueHeader;
use super::rxq::{RxDone, RxParams, RxRing};
use crate::net::common::queue_mem::QueueMem;
use eal::{Mbuf, Memory, PktMbufPool};
use std::sync::atomic::Ordering;

/// Most descriptors one delivered frame may span (16 KiB frames in 2 KiB buffers need 8);
/// a longer one is dropped whole and counted as an error.
pub const MAX_FRAME_DESCS: usize = 32;

/// What [`take_frame`] did with the frame starting at the queue's next descriptor.
pub enum Frame {
    /// Delivered as a chain: its head, the descriptors it used and its length.
    Chain {
        /// The head of the chain (length, port and hash set).
        mbuf: Mbuf,
        /// Descriptors consumed (and refilled).
        descs: usize,
        /// Bytes of the frame.
        len: u32,
    },
    /// Dropped whole (a frame error on one descriptor, or longer than
    /// [`MAX_FRAME_DESCS`]); its descriptors were given their buffers back.
    Dropped {
        /// Descriptors consumed (and re-armed).
        descs: usize,
    },
    /// The device has not finished writing the frame: nothing was taken. `starved` says
    /// the device ran into the tail (it needs the descriptors the software holds back to
    /// finish the frame), so the caller must hand them back now.
    Incomplete {
        /// The device waits for descriptors.
        starved: bool,
    },
    /// The pool could not refill the frame's descriptors: nothing was taken.
    NoMbuf,
}

/// Takes the frame whose first descriptor is `first` (written back as `head`, not EOP).
/// `hold` is how many descriptors the software has refilled since its last tail write (the
/// tail is then `first - hold - 1`). Every descriptor of a delivered frame gets a fresh mbuf
/// of `pool` before any is taken, so a failed allocation leaves the ring as it was.
#[inline(never)]
pub fn take_frame<D: RxRing>(
    q: &QueueMem<D>,
    p: &RxParams,
    pool: &PktMbufPool,
    pa: Option<&Memory>,
    first: usize,
    head: &RxDone,
    hold: usize,
) -> Frame {
    let nb = q.nb();
    let at = |k: usize| (first + k) % nb;
    let mut bad = head.errors & p.frame_errors != 0;
    let mut descs = 1;
    // The device reports checksums and the stripped VLAN tag in the frame's last write-back.
    let last = loop {
        if descs >= nb - 1 {
            // The device never writes more than the ring holds: a frame this long is a
            // device fault; take it as starved so that the tail moves on.
            return Frame::Incomplete { starved: true };
        }
        let Some(wb) = q.ring.rx_done(at(descs)) else {
            let tail = (first + nb - hold % nb - 1) % nb;
            return Frame::Incomplete { starved: at(descs) == tail };
        };
        descs += 1;
        bad |= wb.errors & p.frame_errors != 0;
        if wb.eop {
            break wb;
        }
    };
    if bad || descs > MAX_FRAME_DESCS {
        for k in 0..descs {
            rearm(q, at(k));
        }
        return Frame::Dropped { descs };
    }
    let mut fresh: [Option<(Mbuf, u64)>; MAX_FRAME_DESCS] = [const { None }; MAX_FRAME_DESCS];
    let mut retired = 0;
    for slot in fresh.iter_mut().take(descs) {
        match eal_alloc(p, pool, pa, &mut retired) {
            Some(f) => *slot = Some(f),
            None => {
                note_retired(q, retired);
                return Frame::NoMbuf;
            }
        }
    }
    note_retired(q, retired);
    let mut chain: Option<Mbuf> = None;
    let mut len = 0u32;
    for (k, f) in fresh.iter_mut().take(descs).enumerate() {
        let i = at(k);
        let wb = if k == 0 { *head } else { q.ring.rx_done(i).unwrap_or(*head) };
        let (m, buf) = f.take().expect("allocated above");
        let old = q.take(i);
        q.ring.words().rx_arm(i, buf);
        q.put(i, m);
        let Some(mut seg) = old else { continue };
        if !seg.set_len(wb.len) {
            // A length beyond the buffer: the device misbehaved; drop the frame.
            drop(chain.take());
            len = 0;
            continue;
        }
        len += u32::from(wb.len);
        match chain.as_mut() {
            Some(c) => c.chain(seg),
            None => {
                seg.set_port(p.port);
                seg.set_rss_hash(head.hash);
                chain = Some(seg);
            }
        }
    }
    match chain {
        Some(mut mbuf) if mbuf.pkt_len() == len && mbuf.nb_segs() as usize == descs => {
            // The 82576 writes the hash into the first descriptor, the 82574 into the last.
            if head.hash == 0 {
                mbuf.set_rss_hash(last.hash);
            }
            super::rxq::stamp_offload_flags(&mut mbuf, &last, p);
            Frame::Chain { mbuf, descs, len }
        }
        _ => Frame::Dropped { descs },
    }
}

/// Gives descriptor `i` its own buffer back (a dropped frame's).
fn rearm<D: RxRing>(q: &QueueMem<D>, i: usize) {
    if let Some(m) = q.take(i) {
        q.ring.words().rx_arm(i, m.data_iova());
        q.put(i, m);
    }
}

/// An mbuf with a receive buffer of `p.buf_len` bytes and its device address.
#[inline(always)]
fn eal_alloc(p: &RxParams, pool: &PktMbufPool, pa: Option<&Memory>, retired: &mut u64) -> Option<(Mbuf, u64)> {
    crate::net::common::iova::alloc_rx(pool, pa, 0, |_| u64::from(p.buf_len), retired).map(|(m, b, _)| (m, b))
}

fn note_retired<D: RxRing>(q: &QueueMem<D>, retired: u64) {
    let h: &DescQueueHeader = q.hdr();
    if retired > 0 {
        h.retired.store(h.retired.load(Ordering::Relaxed) + retired, Ordering::Release);
    }
}
