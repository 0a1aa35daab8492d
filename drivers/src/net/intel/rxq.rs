//! The RX queue logic of the Intel rings of 16-byte descriptors, legacy (e1000) or
//! advanced (igb, ixgbe): filling the ring with mbufs, and the burst (any process).
//! Refilled descriptors go back to the device by one tail write per batch. A ring format
//! plugs in through [`RxRing`].

use super::error::IntelError;
use super::queue_header::DescQueueHeader;
use super::rx_scatter::{self, Frame};
use crate::net::common::iova;
use crate::net::common::queue_mem::{Desc16, QueueMem};
use crate::net::common::RegIo;
use eal::mbuf::OlFlags;
use eal::mbuf::HEADROOM;
use eal::{Mbuf, Memory, PktMbufPool};
use ethdev::QueueCounters;
use std::sync::atomic::{fence, Ordering};

/// What the device wrote back into a receive descriptor, as the burst needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxDone {
    /// Bytes in the buffer.
    pub len: u16,
    /// The last descriptor of a frame.
    pub eop: bool,
    /// The error bits, to be matched against [`RxParams::frame_errors`].
    pub errors: u32,
    /// The RSS hash (0 when the device computed none).
    pub hash: u32,
    /// The status bits (legacy: the status byte; advanced: the status/error word), for
    /// [`RxParams::cksum`] and [`RX_STATUS_VP`].
    pub status: u32,
    /// The VLAN tag the device stripped (valid with [`RX_STATUS_VP`] in `status`; the
    /// legacy "special" field and the advanced VLAN field, both bits 63:48 of word 1).
    pub vlan: u16,
}

/// Status bit VP (bit 3 in both formats): the frame carried an 802.1Q tag, stripped into
/// [`RxDone::vlan`] when VLAN stripping is on (CTRL.VME).
pub const RX_STATUS_VP: u32 = 1 << 3;

/// A ring of 16-byte descriptors the RX logic runs on (arming is the same for every
/// format: [`DescWords::rx_arm`](crate::net::common::queue_mem::DescWords::rx_arm)).
pub trait RxRing: Desc16<Header = DescQueueHeader> {
    /// Descriptor `i`'s write-back; None while the device has not written it back (no DD).
    /// Read with acquire ordering: the buffer is complete once DD is seen.
    fn rx_done(&self, i: usize) -> Option<RxDone>;
}

/// What the RX burst needs to know about the device and the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxParams {
    /// Byte offset of the queue's tail register (e1000: RDT; igb: RDT(n); ixgbe: its
    /// RDT(n)).
    pub tail_reg: usize,
    /// Error bits of the write-back ([`RxDone::errors`]) that make a frame unusable (they
    /// differ between the 8254x, the 82576 and the 82599); such frames are dropped and
    /// counted as errors. Checksum errors should not be in it.
    pub frame_errors: u32,
    /// Receive buffer size the device was told (RCTL.BSIZE, SRRCTL.BSIZEPKT); every RX mbuf must have
    /// that much data room after the headroom. A frame longer than this spans several
    /// descriptors: chained when `scatter`, else dropped.
    pub buf_len: u16,
    /// The port id stamped on received mbufs.
    pub port: u16,
    /// Where the descriptor format keeps its checksum bits, when the port was configured
    /// with an RX checksum offload (then each mbuf gets its RX checksum flags).
    pub cksum: Option<super::rx_cksum::RxCksumBits>,
    /// Deliver frames spanning several descriptors as mbuf chains (the port has
    /// `RxOffloads::SCATTER`, see [`super::rx_scatter`]); when false they are dropped.
    pub scatter: bool,
    /// The port strips VLAN tags (`RxOffloads::VLAN_STRIP`): a frame whose tag the device
    /// removed gets `vlan_tci` and the VLAN-stripped flags.
    pub vlan_strip: bool,
}

impl RxParams {
    /// Checks that mbufs of `pool` can hold `buf_len` bytes after the headroom.
    pub fn check_pool(&self, pool: &PktMbufPool) -> Result<(), IntelError> {
        let need = u32::from(HEADROOM) + u32::from(self.buf_len);
        if u32::from(pool.data_room()) < need {
            return Err(IntelError::PoolTooSmall {
                pool: pool.mempool().name().to_string(),
                room: pool.data_room(),
                need,
                headroom: HEADROOM,
                buf_len: self.buf_len,
            });
        }
        Ok(())
    }

    /// The checks of an RX queue setup (primary): mbufs of `pool` must hold `buf_len`
    /// bytes after the headroom (else an error naming the fix); a pool with fewer free
    /// mbufs than the ring of `nb_desc` descriptors needs to run (plus 32 in flight) is
    /// worth a warning.
    pub fn check_setup(&self, q: u16, nb_desc: u16, pool: &PktMbufPool) -> Result<(), ethdev::EthError> {
        self.check_pool(pool).map_err(|e| ethdev::EthError::Unsupported { port: self.port, what: e.to_string() })?;
        if (pool.mempool().avail_count() as usize) < usize::from(nb_desc) + 32 {
            tracing::warn!(
                port = self.port,
                "mempool '{}' has fewer free mbufs than RX queue {q} needs to run",
                pool.mempool().name()
            );
        }
        Ok(())
    }

    /// An mbuf with a receive buffer of `buf_len` bytes the device can write (see
    /// [`iova::alloc_rx`]).
    #[inline(always)]
    fn alloc(&self, pool: &PktMbufPool, pa: Option<&Memory>, retired: &mut u64) -> Option<(Mbuf, u64, u64)> {
        iova::alloc_rx(pool, pa, 0, |_| u64::from(self.buf_len), retired)
    }
}

/// Refilled descriptors go back to the device in batches of this many (a quarter of the
/// ring, at least 32), never fewer; the device always keeps the rest of the ring. Few tail
/// writes save MMIO exits, and a large freed block is what keeps QEMU's models lossless:
/// when a ring is full the model queues the frames of a whole socket read (up to 68 KiB,
/// ~90 of the tests' frames), and the next tail write delivers all of them at once, dropping
/// those the freed block cannot hold (igb without counting them). A tail write with a few
/// descriptors (as one made whenever the burst caught up with the device would be) can land
/// just after the model filled the ring from another thread, and lost frames that way.
pub fn free_threshold(nb: usize) -> usize {
    (nb / 4).max(32).min(nb - 1)
}

/// Frees what the queue held, then gives every descriptor an mbuf of `pool` and resets the
/// indices. The caller then programs the ring registers and, once the queue is enabled,
/// writes [`initial_tail`] to the tail register (all descriptors but one belong to the
/// device).
pub fn fill<D: RxRing>(
    q: &QueueMem<D>,
    p: &RxParams,
    pool: &PktMbufPool,
    pa: Option<&Memory>,
) -> Result<(), IntelError> {
    p.check_pool(pool)?;
    q.release_all();
    let mut retired = 0;
    for i in 0..q.nb() {
        let Some((m, buf, _)) = p.alloc(pool, pa, &mut retired) else {
            q.release_all();
            return Err(IntelError::PoolExhausted { pool: pool.mempool().name().to_string(), nb: q.nb() });
        };
        q.ring.words().rx_arm(i, buf);
        q.put(i, m);
    }
    q.hdr().retired.store(retired, Ordering::Release);
    q.hdr().next.store(0, Ordering::Release);
    q.hdr().discard.store(0, Ordering::Release);
    q.hdr().hold.store(0, Ordering::Release);
    fence(Ordering::Release);
    Ok(())
}

/// The tail value that hands a freshly [`fill`]ed ring to the device: `nb - 1`.
pub fn initial_tail<D: RxRing>(q: &QueueMem<D>) -> u32 {
    (q.nb() - 1) as u32
}

/// Receives up to `max` frames into `bufs` (appended); refills each used descriptor with a
/// new mbuf from `pool` and hands refilled descriptors back through `regs` at
/// `p.tail_reg` per [`free_threshold`]. Each received mbuf gets its length, the port and
/// the RSS hash (0 when the device computed none). Frames spanning descriptors are chained
/// when `p.scatter` ([`rx_scatter::take_frame`]), else dropped; frames with a
/// `p.frame_errors` bit are dropped and counted as errors; a failed allocation stops
/// the burst (the frame stays in the ring) and is counted as `nombuf`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn burst<D: RxRing, R: RegIo + ?Sized>(
    regs: &R,
    q: &QueueMem<D>,
    p: &RxParams,
    pool: &PktMbufPool,
    pa: Option<&Memory>,
    c: &QueueCounters,
    bufs: &mut Vec<Mbuf>,
    max: usize,
) -> usize {
    let nb = q.nb();
    let mut next = q.hdr().next.load(Ordering::Relaxed) as usize;
    let mut discard = q.hdr().discard.load(Ordering::Relaxed) != 0;
    let (mut got, mut bytes, mut errors, mut used) = (0usize, 0u64, 0u64, 0usize);
    let mut starved = false;
    while got < max {
        let Some(wb) = q.ring.rx_done(next) else { break };
        if !wb.eop && p.scatter && !discard {
            let hold = q.hdr().hold.load(Ordering::Relaxed) as usize + used;
            let descs = match rx_scatter::take_frame(q, p, pool, pa, next, &wb, hold) {
                Frame::Chain { mbuf, descs, len } => {
                    bytes += u64::from(len);
                    bufs.push(mbuf);
                    got += 1;
                    descs
                }
                Frame::Dropped { descs } => {
                    errors += 1;
                    descs
                }
                Frame::Incomplete { starved: s } => {
                    starved = s;
                    break;
                }
                Frame::NoMbuf => {
                    c.add_nombuf(1);
                    break;
                }
            };
            used += descs;
            next = (next + descs) % nb;
            continue;
        }
        let mut retired = 0;
        let fresh = p.alloc(pool, pa, &mut retired);
        if retired > 0 {
            q.hdr().retired.store(q.hdr().retired.load(Ordering::Relaxed) + retired, Ordering::Release);
        }
        let Some((fresh, buf, _)) = fresh else {
            c.add_nombuf(1);
            break;
        };
        let old = q.take(next);
        q.ring.words().rx_arm(next, buf);
        q.put(next, fresh);
        used += 1;
        next = if next + 1 == nb { 0 } else { next + 1 };
        let Some(m) = old else { continue };
        if discard || !wb.eop || wb.errors & p.frame_errors != 0 {
            // The tail of a multi-descriptor frame ends the discarding.
            discard = !wb.eop;
            errors += 1;
            drop(m);
            continue;
        }
        let Some(m) = deliver(m, &wb, p) else {
            errors += 1;
            continue;
        };
        bytes += u64::from(wb.len);
        bufs.push(m);
        got += 1;
    }
    let hold = q.hdr().hold.load(Ordering::Relaxed) as usize + used;
    if used > 0 {
        q.hdr().next.store(next as u64, Ordering::Release);
        q.hdr().discard.store(u64::from(discard), Ordering::Release);
        c.add(got as u64, bytes);
        if errors > 0 {
            c.add_errors(errors);
        }
    }
    if hold >= free_threshold(nb) || (starved && hold > 0) {
        q.hdr().hold.store(0, Ordering::Release);
        fence(Ordering::Release);
        regs.write32(p.tail_reg, (if next == 0 { nb - 1 } else { next - 1 }) as u32);
    } else if used > 0 {
        q.hdr().hold.store(hold as u64, Ordering::Release);
    }
    got
}

/// Sets the RX offload flags of a received frame from its last (EOP) write-back `wb`: the
/// checksum flags (with [`RxParams::cksum`]), the stripped VLAN tag (with
/// [`RxParams::vlan_strip`]) and `RX_RSS_HASH` when the mbuf got an RSS hash (set it first).
#[inline(always)]
pub fn stamp_offload_flags(m: &mut Mbuf, wb: &RxDone, p: &RxParams) {
    if let Some(bits) = &p.cksum {
        m.set_ol_flags(bits.flags(wb.status, wb.errors));
    }
    if m.rss_hash() != 0 {
        m.set_ol_flags(m.ol_flags() | OlFlags::RX_RSS_HASH);
    }
    if p.vlan_strip && wb.status & RX_STATUS_VP != 0 {
        m.set_vlan_tci(wb.vlan);
        m.set_ol_flags(m.ol_flags() | OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED);
    }
}

/// Stamps a received mbuf; None (the mbuf is freed) if the length the device reported does
/// not fit its buffer.
#[inline(always)]
fn deliver(mut m: Mbuf, wb: &RxDone, p: &RxParams) -> Option<Mbuf> {
    if !m.set_len(wb.len) {
        return None;
    }
    m.set_port(p.port);
    m.set_rss_hash(wb.hash);
    stamp_offload_flags(&mut m, wb, p);
    Some(m)
}
