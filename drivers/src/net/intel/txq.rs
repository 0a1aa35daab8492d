//! The TX queue logic of the Intel rings of 16-byte descriptors, legacy (e1000) or
//! advanced (igb, ixgbe), in any process: a burst first frees the mbufs of packets the
//! device has written back, then fills free descriptors and writes the tail register once.
//! Every data descriptor asks for a write-back (RS); a packet is done when the descriptor
//! holding its mbuf (its last) is, which also frees the descriptors before it (context
//! descriptors, which hold no mbuf and ask for no write-back). A packet asking for TX
//! offloads ([`super::tx_offload`]) gets a context descriptor in front when its context
//! differs from the last one written on the queue (kept in the queue header), and offload
//! bits in its data descriptors; a packet asking for none takes the plain path. A ring
//! format plugs in through [`TxRing`].

use super::queue_header::DescQueueHeader;
use super::tx_offload::{self, TxPlan};
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
    /// Fills TX descriptor `i` with `len` bytes at `iova` of a packet whose PAYLEN is
    /// `paylen` (its length, or the TSO payload), asking for the FCS and a write-back; `eop`
    /// on the packet's last descriptor; `extra` ORed into word 1 (a [`TxPlan`]'s
    /// `data_bits`, 0 without offloads).
    fn tx_put(&self, i: usize, iova: u64, len: u16, eop: bool, paylen: u32, extra: u64);
    /// What `m`'s offload requests make of its descriptors, or `None` when the format cannot
    /// do them (the packet is then dropped as an error). Called only for packets with
    /// requests ([`tx_offload::requested`]). The default: no offloads.
    fn tx_plan(m: &Mbuf) -> Option<TxPlan> {
        let _ = m;
        None
    }
    /// Checks `m`'s offload requests against what the format's context fields hold
    /// ([`tx_offload::check`]), for `tx_prepare`. The default: nothing to check.
    fn tx_check(m: &Mbuf) -> Result<(), ethdev::TxReject> {
        let _ = m;
        Ok(())
    }
    /// Writes context descriptor `i` (the two words of a [`TxPlan`]'s `ctx`; every Intel
    /// format's context descriptor is those two words as they are).
    #[inline(always)]
    fn tx_put_ctx(&self, i: usize, ctx: [u64; 2]) {
        self.words().store(i, ctx[0], ctx[1], Ordering::Relaxed);
    }
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

/// Frees the mbufs of the packets the device has written back (the descriptor holding a
/// packet's mbuf is its last; the descriptors before it, context ones included, go with
/// it); returns how many descriptors were reclaimed.
#[inline]
pub fn reclaim<D: TxRing>(q: &QueueMem<D>) -> usize {
    let nb = q.nb();
    let (tail, mut clean) =
        (q.hdr().tail.load(Ordering::Relaxed) as usize, q.hdr().clean.load(Ordering::Relaxed) as usize);
    let next = |i: usize| if i + 1 == nb { 0 } else { i + 1 };
    let (mut scan, mut n, mut seen) = (clean, 0, 0);
    while scan != tail {
        seen += 1;
        if q.holds(scan) {
            if !q.ring.tx_done(scan) {
                break;
            }
            drop(q.take(scan));
            n += seen;
            seen = 0;
            clean = next(scan);
        }
        scan = next(scan);
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

/// Most descriptors one packet may take (DPDK's ixgbe limit for a frame without TSO is 40
/// data descriptors; the e1000 family has none below the ring size).
pub const MAX_DESCS_PER_PACKET: usize = 40;

// A packet's descriptor count is kept in a byte during a burst.
const _: () = assert!(MAX_DESCS_PER_PACKET <= u8::MAX as usize);

/// Most segments of a packet the Intel queues send: every segment may cross a page of the
/// heap and take two descriptors.
pub const MAX_SEGS: u16 = (MAX_DESCS_PER_PACKET / 2) as u16;

/// Descriptors one segment of `len` bytes at `va` takes: one per heap page it touches (see
/// [`iova`]), none when empty.
#[inline(always)]
fn seg_descs(page: u64, va: u64, len: u64) -> usize {
    match len {
        0 => 0,
        _ if iova::in_page(page, va, len) < len => 2,
        _ => 1,
    }
}

/// Descriptors `m` needs: one per heap page each segment's data touches; 0 for an mbuf
/// that is not sent: empty (unless the format sends empty ones, as one descriptor), or
/// needing more than [`MAX_DESCS_PER_PACKET`] or than the ring of `nb` holds.
#[inline(always)]
fn descs_for<D: TxRing>(m: &Mbuf, page: u64, nb: usize) -> usize {
    if m.nb_segs() == 1 {
        let len = u64::from(m.data_len());
        return match seg_descs(page, m.data().as_ptr() as u64, len) {
            0 if D::SENDS_EMPTY => 1,
            n => n,
        };
    }
    let n: usize = m.segments().map(|s| seg_descs(page, s.as_ptr() as u64, s.len() as u64)).sum();
    if n > MAX_DESCS_PER_PACKET.min(nb - 1) {
        0
    } else {
        n
    }
}

/// Packets one pass of [`burst`] sizes up before writing them: their descriptor counts
/// are kept in a stack array of this many entries, so each is computed once.
const PASS: usize = 64;
const _: () = assert!(PASS.is_power_of_two());

/// Sends from the front of `bufs` as many packets as there are free descriptors, writing
/// the tail through `regs` at `tail_reg` (e1000: TDT; igb: TDT(n); ixgbe: its TDT(n)). Sent
/// mbufs leave `bufs` (the ring frees them once transmitted); the rest stay the caller's.
/// Each segment of a chained mbuf takes its own descriptors, the packet's last one marked
/// end-of-packet; a buffer that crosses a page of the heap takes two descriptors, split at
/// the boundary. An mbuf that is not sent (empty, or needing more than
/// [`MAX_DESCS_PER_PACKET`] descriptors or than the ring holds) leaves `bufs`, is dropped and
/// counted as an error. Returns how many mbufs left `bufs`.
///
/// Each packet's descriptor count is computed once, in a first pass over
/// up to 64 packets that finds how many fit; the second pass writes them.
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
    let mut free = free_descs(q);
    let start = q.hdr().tail.load(Ordering::Relaxed) as usize;
    let mut tail = start;
    let mut out = Out::default();
    let mut needs = [0u8; PASS];
    loop {
        let (mut taken, mut used) = (0usize, 0usize);
        for m in bufs.iter().take(PASS) {
            let n = descs_for::<D>(m, page, nb);
            // A packet with offload requests may need a context descriptor too.
            let need = n + usize::from(tx_offload::requested(m));
            if used + need > free {
                break;
            }
            // At most MAX_DESCS_PER_PACKET (40): fits a byte.
            needs[taken % PASS] = n as u8;
            used += need;
            taken += 1;
        }
        if taken == 0 {
            break;
        }
        free -= used;
        for (k, m) in bufs.drain(..taken).enumerate() {
            tail = put_packet(q, mem, page, tail, m, usize::from(needs[k % PASS]), &mut out);
        }
        out.taken += taken;
        if taken < PASS {
            break;
        }
    }
    if tail != start {
        q.hdr().tail.store(tail as u64, Ordering::Release);
        fence(Ordering::Release);
        regs.write32(tail_reg, tail as u32);
    }
    if out.sent > 0 {
        c.add(out.sent, out.bytes);
    }
    if out.errors > 0 {
        c.add_errors(out.errors);
    }
    out.taken
}

/// What a burst did.
#[derive(Default)]
struct Out {
    taken: usize,
    sent: u64,
    bytes: u64,
    errors: u64,
}

/// Writes packet `m`, which needs `need` data descriptors ([`descs_for`]; 0: not sent),
/// from descriptor `tail` on (a context descriptor first if its plan needs a new one);
/// returns the new tail.
#[inline(always)]
fn put_packet<D: TxRing>(
    q: &QueueMem<D>,
    mem: &Memory,
    page: u64,
    mut tail: usize,
    m: Mbuf,
    need: usize,
    out: &mut Out,
) -> usize {
    let nb = q.nb();
    let next = |i: usize| if i + 1 == nb { 0 } else { i + 1 };
    if need == 0 {
        out.errors += 1;
        drop(m);
        return tail;
    }
    let pkt_len = m.pkt_len();
    let (mut paylen, mut extra) = (pkt_len, 0u64);
    if tx_offload::requested(&m) {
        let Some(plan) = D::tx_plan(&m) else {
            out.errors += 1;
            drop(m);
            return tail;
        };
        let h = q.hdr();
        if let Some(ctx) = plan.ctx {
            if h.ctx_w1.load(Ordering::Relaxed) != ctx[1] || h.ctx_w0.load(Ordering::Relaxed) != ctx[0] {
                q.ring.tx_put_ctx(tail, ctx);
                tail = next(tail);
                h.ctx_w0.store(ctx[0], Ordering::Relaxed);
                h.ctx_w1.store(ctx[1], Ordering::Relaxed);
            }
        }
        (paylen, extra) = (plan.paylen, plan.data_bits);
    }
    let mut left = need;
    if m.nb_segs() == 1 && m.data_len() == 0 {
        // An empty frame the format sends: one zero-length descriptor.
        q.ring.tx_put(tail, mem.iova(m.data().as_ptr() as u64), 0, true, 0, extra);
    } else {
        for seg in m.segments() {
            let (mut va, mut len) = (seg.as_ptr() as u64, seg.len() as u64);
            while len > 0 {
                let part = iova::in_page(page, va, len);
                left -= 1;
                q.ring.tx_put(tail, mem.iova(va), part as u16, left == 0, paylen, extra);
                if left > 0 {
                    tail = next(tail);
                }
                (va, len) = (va + part, len - part);
            }
        }
    }
    // The mbuf (with its chain) is kept at its last descriptor: freed once that one is
    // done.
    q.put(tail, m);
    out.sent += 1;
    out.bytes += u64::from(pkt_len);
    next(tail)
}
