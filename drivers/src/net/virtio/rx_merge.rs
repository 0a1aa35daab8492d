//! Mergeable receive buffers (`VIRTIO_NET_F_MRG_RXBUF`, virtio 1.x 5.1.6.4): a frame longer
//! than one receive buffer fills several, and the header in the first one says how many
//! (`num_buffers`). The device publishes a frame's used elements together, so a burst takes
//! a frame only once all its elements are used and otherwise leaves it for the next burst
//! (in whichever process polls the queue then): no partial chain lives between bursts.
//! The frame arrives as a chain of mbufs with `RxOffloads::SCATTER`; without it, it is
//! dropped and counted as an error, its buffers given back to the device.

use super::vring::{Vring, DESC_F_WRITE};
use crate::net::common::iova;
use eal::{Mbuf, Memory, PktMbufPool};
use std::sync::atomic::Ordering;

/// Byte offset of `num_buffers` (little-endian u16) in the 12-byte header.
const NUM_BUFFERS_OFF: usize = 10;

/// Most buffers one delivered frame may span (a 64 KiB large segment, `GUEST_TSO4/6`, in
/// buffers of the smallest room this driver takes, a 1518-byte frame); a longer one is
/// dropped whole.
pub const MAX_BUFFERS: usize = 48;

/// How a queue treats frames over several buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// No `VIRTIO_NET_F_MRG_RXBUF`: every frame fits one buffer.
    Off,
    /// Mergeable buffers, but the port has no `RxOffloads::SCATTER`: such frames are dropped.
    Drop,
    /// Mergeable buffers delivered as mbuf chains.
    Chain,
}

/// What [`Rx::take_frame`] did with the frame whose first used element is at `last`.
#[derive(Debug)]
pub enum Frame {
    /// Delivered: the chain's head, the used elements consumed, the frame's bytes.
    Chain {
        /// The head of the chain (port set).
        mbuf: Mbuf,
        /// Used elements consumed (their descriptors refilled and made available).
        elems: u16,
        /// Bytes of the frame.
        len: u32,
    },
    /// Dropped whole (no scatter, a bad element, too many buffers); its descriptors got
    /// their buffers back.
    Dropped {
        /// Used elements consumed.
        elems: u16,
    },
    /// The device has not published all of the frame's elements yet: nothing taken.
    Incomplete,
    /// The pool could not refill the frame's descriptors: nothing taken.
    NoMbuf,
}

/// Where the burst is: the queue, its pool and header length, and the next available slot.
pub struct Rx<'a> {
    /// The queue.
    pub q: &'a Vring,
    /// Refill pool.
    pub pool: &'a PktMbufPool,
    /// IOVA-as-PA memory, if so.
    pub pa: Option<&'a Memory>,
    /// virtio-net header length (12).
    pub hdr: u16,
    /// The port stamped on the mbufs.
    pub port: u16,
    /// Deliver merged frames as chains (the port has `RxOffloads::SCATTER`).
    pub scatter: bool,
}

impl Rx<'_> {
    /// Takes the frame starting at used position `last` (`used_idx` the device's index),
    /// whose first buffer the device filled. Refilled descriptors are put on the available
    /// ring from `*avail` on (advanced).
    pub fn take_frame(&self, last: u16, used_idx: u16, avail: &mut u16) -> Frame {
        let q = self.q;
        let size = usize::from(q.size());
        let first = q.used_elem(last);
        let id0 = first.id as usize;
        let Some(mut head) = (id0 < size).then(|| q.take(id0)).flatten() else {
            return Frame::Dropped { elems: 1 };
        };
        let n = match head.prepend(self.hdr) {
            Some(h) => u16::from_le_bytes([h[NUM_BUFFERS_OFF], h[NUM_BUFFERS_OFF + 1]]),
            None => 0,
        };
        head.adj(self.hdr);
        if used_idx.wrapping_sub(last) < n {
            q.put(id0, head);
            return Frame::Incomplete;
        }
        let ids = |k: u16| q.used_elem(last.wrapping_add(k));
        let bad = n == 0 || usize::from(n) > MAX_BUFFERS || (1..n).any(|k| ids(k).id as usize >= size);
        if bad || (!self.scatter && n > 1) {
            self.rearm(id0, head, avail);
            for k in 1..n.max(1) {
                let id = ids(k).id as usize;
                if id < size {
                    if let Some(m) = q.take(id) {
                        self.rearm(id, m, avail);
                    }
                }
            }
            return Frame::Dropped { elems: n.max(1) };
        }
        let mut fresh: [Option<(Mbuf, u64, u32)>; MAX_BUFFERS] = [const { None }; MAX_BUFFERS];
        let mut retired = 0;
        for slot in fresh.iter_mut().take(usize::from(n)) {
            let len = |m: &Mbuf| u64::from(self.hdr) + u64::from(m.tailroom());
            match iova::alloc_rx(self.pool, self.pa, self.hdr, len, &mut retired) {
                Some((m, a, l)) => *slot = Some((m, a, l as u32)),
                None => {
                    q.put(id0, head);
                    return Frame::NoMbuf;
                }
            }
        }
        if retired > 0 {
            let h = q.hdr();
            h.retired.store(h.retired.load(Ordering::Relaxed) + retired, Ordering::Release);
        }
        let mut olds: [Option<Mbuf>; MAX_BUFFERS] = [const { None }; MAX_BUFFERS];
        olds[0] = Some(head);
        for (k, f) in fresh.iter_mut().take(usize::from(n)).enumerate() {
            let id = ids(k as u16).id as usize;
            if k > 0 {
                olds[k] = q.take(id);
            }
            let (m, a, l) = f.take().expect("allocated above");
            q.set_desc(id, a, l, DESC_F_WRITE, 0);
            q.put(id, m);
            q.avail_put(*avail, id as u16);
            *avail = avail.wrapping_add(1);
        }
        let mut chain: Option<Mbuf> = None;
        let mut total = 0u32;
        for (k, old) in olds.iter_mut().take(usize::from(n)).enumerate() {
            let len = ids(k as u16).len;
            let Some(mut m) = old.take() else { return Frame::Dropped { elems: n } };
            // The first buffer holds the header before the frame's first bytes; the others
            // hold frame bytes from their start, which is `hdr` bytes before the mbuf's data.
            let fits = if k == 0 {
                len >= u32::from(self.hdr) + 14 && m.set_len((len - u32::from(self.hdr)) as u16)
            } else {
                len <= u32::from(u16::MAX) && m.prepend(self.hdr).is_some() && m.set_len(len as u16)
            };
            if !fits {
                return Frame::Dropped { elems: n };
            }
            total += u32::from(m.data_len());
            match chain.as_mut() {
                Some(c) => c.chain(m),
                None => {
                    m.set_port(self.port);
                    chain = Some(m);
                }
            }
        }
        match chain {
            Some(mbuf) => Frame::Chain { mbuf, elems: n, len: total },
            None => Frame::Dropped { elems: n },
        }
    }

    /// Gives descriptor `id` its own buffer `m` back and makes it available again.
    fn rearm(&self, id: usize, m: Mbuf, avail: &mut u16) {
        let len = u32::from(self.hdr) + u32::from(m.tailroom()) + u32::from(m.data_len());
        self.q.set_desc(id, m.data_iova() - u64::from(self.hdr), len, DESC_F_WRITE, 0);
        self.q.put(id, m);
        self.q.avail_put(*avail, id as u16);
        *avail = avail.wrapping_add(1);
    }
}
