//! The capture area: one memzone of plain data shared by the group, holding the armed
//! session's settings, per-port counters and a bounded ring of fixed-size slots that many
//! producers (every process polling a captured queue) fill and one consumer (the capture
//! tool) drains. The ring follows the classic bounded-queue design with a sequence number
//! per slot: a producer claims a position with one compare-and-swap, writes the slot and
//! publishes it by storing the slot's sequence; a full ring is seen at once and the frame is
//! counted as dropped, so a producer never waits for the consumer.
//!
//! Frame bytes are kept in atomic words (copied with relaxed stores), so the area needs no
//! `unsafe` and a slow or dead consumer can never make a producer read torn state.

use crate::port_table::MAX_PORTS;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Slots in the area (the largest ring a session can ask for).
pub const SLOTS: usize = 2048;
/// Snap length that still gives every one of the [`SLOTS`] slots its frame bytes; a longer
/// snap length gets fewer, larger slots out of the same bytes.
pub const SLOT_BYTES: usize = 2048;
/// The longest snap length (the largest frame any port receives fits).
pub const MAX_SNAPLEN: usize = 65535;
/// Words of frame bytes in the area, shared out between the session's slots.
const DATA_WORDS: usize = SLOTS * SLOT_BYTES / 8;

crate::shared_state! {
    /// One captured frame's header; its bytes are in the area's data words.
    pub struct Slot {
        /// Ring sequence number of the slot (see the module doc).
        seq: AtomicU64,
        /// Port (bits 0-15), queue (16-31), direction (32-39: 1 RX, 2 TX).
        meta: AtomicU64,
        /// Original length (bits 0-31) and captured length (32-63).
        lens: AtomicU64,
        /// Time of capture, nanoseconds since the Unix epoch.
        ts: AtomicU64,
    }
}

crate::shared_state! {
    /// Per-port counters of the armed session.
    pub struct PortCaptureCounters {
        /// Frames that passed the filter and were offered to the ring.
        pub received: AtomicU64,
        /// Of those, frames dropped because the ring was full.
        pub dropped: AtomicU64,
        /// Frames the filter left out.
        pub filtered: AtomicU64,
    }
}

crate::shared_state! {
    /// The shared capture area (memzone [`super::AREA`]).
    pub struct CaptureArea {
        /// A [`super::SessionState`].
        pub state: AtomicU32,
        /// Pid of the session's owner (the capture tool), 0 when none.
        pub owner: AtomicU32,
        /// Bumped at every arm.
        pub session: AtomicU32,
        /// Producers inside the hook right now (arming waits for none).
        pub inflight: AtomicU32,
        /// Captured queues (bit mask; every queue when all ones).
        pub queue_mask: AtomicU32,
        /// Bytes copied of each frame at most.
        pub snaplen: AtomicU32,
        /// Slots the session's ring uses (a power of two, at most [`SLOTS`]).
        pub capacity: AtomicU32,
        /// Words of frame bytes each slot of the session holds.
        slot_words: AtomicU32,
        /// Operations in `filter`.
        pub filter_len: AtomicU32,
        /// The compiled filter (see [`super::Filter::to_words`]).
        pub filter: [AtomicU64; super::filter::MAX_OPS],
        /// Per-port counters.
        pub ports: [PortCaptureCounters; MAX_PORTS],
        /// Next position producers claim (on its own cache line).
        enq_pad: [AtomicU64; 8],
        /// Next position the consumer reads.
        deq_pad: [AtomicU64; 8],
        /// The ring's slot headers.
        slots: [Slot; SLOTS],
        /// The slots' frame bytes: slot `i` has words `i * slot_words ..` of them.
        data: [AtomicU64; DATA_WORDS],
    }
}

/// One frame read back from the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Port id.
    pub port: u16,
    /// Queue id.
    pub queue: u16,
    /// True when received, false when sent.
    pub rx: bool,
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// Time of capture, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The captured bytes (at most the snap length).
    pub data: Vec<u8>,
}

impl CaptureArea {
    fn enq(&self) -> &AtomicU64 {
        &self.enq_pad[0]
    }
    fn deq(&self) -> &AtomicU64 {
        &self.deq_pad[0]
    }
    fn mask(&self) -> u64 {
        let cap = self.capacity.load(Ordering::Relaxed).clamp(1, SLOTS as u32);
        (cap.next_power_of_two().min(SLOTS as u32) - 1) as u64
    }

    /// The words of slot `i` (of the ring sized by [`CaptureArea::reset_ring`]).
    fn slot_data(&self, i: usize) -> &[AtomicU64] {
        let w = (self.slot_words.load(Ordering::Relaxed) as usize).clamp(1, MAX_SNAPLEN.div_ceil(8));
        let start = (i * w).min(DATA_WORDS);
        &self.data[start..(start + w).min(DATA_WORDS)]
    }

    /// Empties the ring and sizes it for frames of up to `snaplen` bytes: `capacity` slots
    /// (a power of two, at most [`SLOTS`]), fewer when that many slots of `snaplen` bytes do
    /// not fit the area's bytes. Returns the slots the ring has. Only while no producer or
    /// consumer is inside (the arming process checked `inflight`).
    pub(crate) fn reset_ring(&self, capacity: u32, snaplen: u32) -> u32 {
        let words = (snaplen as usize).clamp(1, MAX_SNAPLEN).div_ceil(8);
        let fit = 1u32 << (DATA_WORDS / words).min(SLOTS).ilog2();
        let cap = capacity.clamp(1, SLOTS as u32).next_power_of_two().min(fit);
        self.slot_words.store(words as u32, Ordering::Relaxed);
        self.capacity.store(cap, Ordering::Relaxed);
        for (i, s) in self.slots.iter().enumerate().take(cap as usize) {
            s.seq.store(i as u64, Ordering::Relaxed);
        }
        self.enq().store(0, Ordering::Relaxed);
        self.deq().store(0, Ordering::Release);
        cap
    }

    /// Copies one frame (at most the session's snap length of `data`) into the ring; false
    /// when full.
    pub(crate) fn push(&self, meta: u64, orig_len: u32, ts: u64, data: &[u8]) -> bool {
        let mask = self.mask();
        let mut pos = self.enq().load(Ordering::Relaxed);
        let (slot, words) = loop {
            let i = (pos & mask) as usize;
            let slot = &self.slots[i];
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos) as i64;
            if diff == 0 {
                match self.enq().compare_exchange_weak(pos, pos + 1, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => break (slot, self.slot_data(i)),
                    Err(now) => pos = now,
                }
            } else if diff < 0 {
                return false;
            } else {
                pos = self.enq().load(Ordering::Relaxed);
            }
        };
        let data = &data[..data.len().min(words.len() * 8)];
        write_bytes(words, data);
        let cap_len = data.len();
        slot.meta.store(meta, Ordering::Relaxed);
        slot.lens.store(orig_len as u64 | (cap_len as u64) << 32, Ordering::Relaxed);
        slot.ts.store(ts, Ordering::Relaxed);
        slot.seq.store(pos + 1, Ordering::Release);
        true
    }

    /// Takes the oldest frame, if any (the one consumer only).
    pub(crate) fn pop(&self) -> Option<Record> {
        let mask = self.mask();
        let pos = self.deq().load(Ordering::Relaxed);
        let i = (pos & mask) as usize;
        let slot = &self.slots[i];
        if slot.seq.load(Ordering::Acquire) != pos + 1 {
            return None;
        }
        let meta = slot.meta.load(Ordering::Relaxed);
        let lens = slot.lens.load(Ordering::Relaxed);
        let words = self.slot_data(i);
        let cap_len = ((lens >> 32) as usize).min(words.len() * 8);
        let rec = Record {
            port: meta as u16,
            queue: (meta >> 16) as u16,
            rx: (meta >> 32) as u8 == 1,
            orig_len: lens as u32,
            ts_ns: slot.ts.load(Ordering::Relaxed),
            data: read_bytes(words, cap_len),
        };
        slot.seq.store(pos + mask + 1, Ordering::Release);
        self.deq().store(pos + 1, Ordering::Relaxed);
        Some(rec)
    }
}

/// Packs `bytes` into `words` (little-endian, the last word zero-padded).
fn write_bytes(words: &[AtomicU64], bytes: &[u8]) {
    let mut chunks = bytes.chunks_exact(8);
    for (w, c) in words.iter().zip(&mut chunks) {
        w.store(u64::from_le_bytes(c.try_into().expect("8 bytes")), Ordering::Relaxed);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        words[bytes.len() / 8].store(u64::from_le_bytes(last), Ordering::Relaxed);
    }
}

fn read_bytes(words: &[AtomicU64], len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.div_ceil(8) * 8);
    for w in &words[..len.div_ceil(8)] {
        v.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
    }
    v.truncate(len);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area() -> &'static CaptureArea {
        let mem = eal::Memory::anonymous(16 << 20).unwrap();
        let mz = mem.memzone_reserve("cap_test", std::mem::size_of::<CaptureArea>() as u64, 64).unwrap();
        eal::shm::shared_ref::<CaptureArea>(mz.addr()).unwrap()
    }

    #[test]
    fn ring_keeps_order_drops_when_full_and_snaps() {
        let a = area();
        a.reset_ring(4, 2048);
        for i in 0..6u8 {
            let frame = [i; 70];
            let ok = a.push(i as u64 | 1 << 32, 70, i as u64, &frame[..64]);
            assert_eq!(ok, i < 4, "frame {i}: the fifth and sixth find the ring full");
        }
        for i in 0..4u8 {
            let r = a.pop().unwrap();
            assert_eq!((r.port, r.rx, r.orig_len, r.ts_ns, r.data.len()), (i as u16, true, 70, i as u64, 64));
            assert!(r.data.iter().all(|&b| b == i));
        }
        assert_eq!(a.pop(), None);
        // Wraps around many times.
        for i in 0..1000u32 {
            assert!(a.push(0, 3, 0, &i.to_le_bytes()[..3]));
            assert_eq!(a.pop().unwrap().data, i.to_le_bytes()[..3].to_vec());
        }
    }

    #[test]
    fn jumbo_snap_lengths_get_fewer_larger_slots_and_whole_frames() {
        let a = area();
        assert_eq!(a.reset_ring(2048, 2048), 2048, "2048-byte frames: every slot");
        assert_eq!(a.reset_ring(2048, 9018), 256, "9018-byte frames: 4 MiB / 9024 rounded down to a power of two");
        assert_eq!(a.reset_ring(16, 9018), 16, "a smaller ring asked for is kept");
        assert_eq!(a.reset_ring(2048, MAX_SNAPLEN as u32), 64);
        a.reset_ring(256, 9018);
        let big: Vec<u8> = (0..9018u32).map(|i| (i * 7 % 251) as u8).collect();
        for k in 0..300u32 {
            let mut f = big.clone();
            f[..4].copy_from_slice(&k.to_le_bytes());
            assert!(a.push(0, 9018, 0, &f), "one in, one out never fills the ring");
            let r = a.pop().unwrap();
            assert_eq!((r.orig_len, r.data.len()), (9018, 9018));
            assert_eq!(r.data, f, "frame {k} whole, wrapping around the ring");
        }
    }

    #[test]
    fn many_producers_one_consumer_lose_nothing_that_was_accepted() {
        let a = area();
        a.reset_ring(64, 2048);
        let accepted = AtomicU64::new(0);
        let mut got = 0u64;
        std::thread::scope(|s| {
            for t in 0..3u64 {
                let accepted = &accepted;
                s.spawn(move || {
                    for i in 0..20_000u64 {
                        let v = (t << 32 | i).to_le_bytes();
                        if a.push(t, 8, 0, &v) {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_secs(2) {
                if let Some(r) = a.pop() {
                    let v = u64::from_le_bytes(r.data.try_into().unwrap());
                    assert_eq!(v >> 32, r.port as u64, "bytes and header of one slot belong together");
                    got += 1;
                }
            }
        });
        while a.pop().is_some() {
            got += 1;
        }
        assert_eq!(got, accepted.load(Ordering::Relaxed));
    }
}
