//! A queue's shared memory: one memzone holding the descriptor ring (at offset 0, so its
//! device address is the memzone's IOVA), the software ring of mbuf addresses (which mbuf
//! each descriptor holds) and a few header words (indices). Everything a process needs to
//! poll the queue is here, so a secondary can poll a queue the primary set up.
//!
//! The one `unsafe` of the shared queue code lives here: turning a software-ring entry back
//! into the owned `Mbuf` it was made from.

use super::desc::{AdvRing, DESC_SIZE};
use eal::shm;
use eal::{EalError, Mbuf, Memory, Memzone};
use std::sync::atomic::{AtomicU64, Ordering};

/// Header words after the software ring.
pub const HDR_WORDS: usize = 8;

/// Ring lengths (RDLEN/TDLEN) must be multiples of 128 bytes: descriptor counts multiples
/// of this.
pub const DESC_ALIGN: u16 = 8;

/// The shared memory of one queue.
#[derive(Clone, Copy)]
pub struct QueueMem {
    /// The descriptors.
    pub ring: AdvRing,
    /// One mbuf address (or 0) per descriptor.
    sw: &'static [AtomicU64],
    /// Indices; their meaning is the RX or TX queue's.
    hdr: &'static [AtomicU64],
}

/// Bytes a queue of `nb` descriptors takes.
pub fn bytes(nb: usize) -> u64 {
    nb as u64 * DESC_SIZE + nb as u64 * 8 + HDR_WORDS as u64 * 8
}

/// Alignment that keeps the ring inside one page (a power of two at least the ring's size,
/// at least 4 KiB), so that it is contiguous for the device in IOVA-as-PA mode too.
pub fn ring_align(nb: usize) -> u64 {
    (nb as u64 * DESC_SIZE).next_power_of_two().max(4096)
}

/// Reserves the memzone `name` for a queue of `nb` descriptors, replacing a previous one
/// of that name (a queue set up again: release its mbufs first), and returns it with the
/// queue zeroed.
pub fn reserve(mem: &Memory, name: &str, nb: usize) -> Result<(Memzone, QueueMem), EalError> {
    if let Some(old) = mem.memzone_lookup(name) {
        mem.memzone_free(old);
    }
    let mz = mem.memzone_reserve(name, bytes(nb), ring_align(nb))?;
    let q = QueueMem::at(mz.addr(), nb)
        .ok_or_else(|| EalError::InvalidArgument(format!("queue memzone '{name}' is misaligned")))?;
    q.zero();
    Ok((mz, q))
}

impl QueueMem {
    /// Views the queue memory at `addr` with `nb` descriptors; None if misaligned or empty.
    pub fn at(addr: u64, nb: usize) -> Option<QueueMem> {
        if addr == 0 || nb == 0 {
            return None;
        }
        let ring = shm::shared_slice::<AtomicU64>(addr, 2 * nb)?;
        let sw = shm::shared_slice::<AtomicU64>(addr + nb as u64 * DESC_SIZE, nb)?;
        let hdr = shm::shared_slice::<AtomicU64>(addr + nb as u64 * (DESC_SIZE + 8), HDR_WORDS)?;
        Some(QueueMem { ring: AdvRing::new(ring), sw, hdr })
    }

    /// Number of descriptors.
    #[inline(always)]
    pub fn nb(&self) -> usize {
        self.sw.len()
    }

    /// Header word `i` (`i < HDR_WORDS`).
    #[inline(always)]
    pub fn get(&self, i: usize) -> u64 {
        self.hdr[i].load(Ordering::Relaxed)
    }

    /// Sets header word `i`.
    #[inline(always)]
    pub fn set(&self, i: usize, v: u64) {
        self.hdr[i].store(v, Ordering::Release)
    }

    /// Hands `m` to slot `i` of the software ring (the queue owns it from now on). An mbuf
    /// already in the slot (which the queue code never leaves) is freed.
    #[inline(always)]
    pub fn put(&self, i: usize, m: Mbuf) {
        let old = self.sw[i].swap(m.into_raw(), Ordering::Relaxed);
        if old != 0 {
            debug_assert!(false, "software ring slot {i} was not empty");
            // SAFETY: `old` came from `Mbuf::into_raw` in `put` and the swap removed it from
            // the ring, so this is its only owner.
            drop(unsafe { Mbuf::from_raw(old) });
        }
    }

    /// Takes the mbuf slot `i` holds, if any.
    #[inline(always)]
    pub fn take(&self, i: usize) -> Option<Mbuf> {
        let a = self.sw[i].swap(0, Ordering::Relaxed);
        // SAFETY: a non-zero entry was stored by `put` from `Mbuf::into_raw`, and the atomic
        // swap to 0 makes this call its only taker, so ownership moves back exactly once.
        (a != 0).then(|| unsafe { Mbuf::from_raw(a) })
    }

    /// True when slot `i` holds an mbuf.
    pub fn holds(&self, i: usize) -> bool {
        self.sw[i].load(Ordering::Relaxed) != 0
    }

    /// Frees every mbuf the queue holds and zeroes the descriptors and the header.
    pub fn release_all(&self) {
        for i in 0..self.nb() {
            drop(self.take(i));
        }
        self.zero();
    }

    /// Zeroes descriptors, software ring and header without freeing anything (fresh
    /// memory).
    fn zero(&self) {
        self.ring.clear();
        for w in self.sw.iter().chain(self.hdr) {
            w.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eal::PktMbufPool;

    #[test]
    fn layout_and_mbuf_ownership() {
        let mem = Memory::anonymous(8 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "aq_pool", 16, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        let (mz, q) = reserve(&mem, "aq_test", 64).unwrap();
        assert_eq!(mz.addr() % 4096, 0);
        assert!(mz.len() >= bytes(64));
        assert_eq!((q.nb(), q.ring.len()), (64, 64));
        q.put(3, pool.alloc().unwrap());
        q.put(9, pool.alloc().unwrap());
        assert!(q.holds(3) && !q.holds(4));
        assert_eq!(pool.mempool().in_use_count(), 2);
        let m = q.take(3).unwrap();
        assert!(q.take(3).is_none(), "taken once");
        drop(m);
        q.set(1, 42);
        assert_eq!(q.get(1), 42);
        // Another view of the same memory (what a secondary builds) sees the same state.
        let q2 = QueueMem::at(mz.addr(), 64).unwrap();
        assert_eq!(q2.get(1), 42);
        assert!(q2.holds(9));
        q2.release_all();
        assert!(pool.mempool().is_full());
        assert_eq!(q.get(1), 0);
        // Reserving again replaces the old memzone.
        assert!(reserve(&mem, "aq_test", 128).is_ok());
        assert_eq!(ring_align(256), 4096);
        assert_eq!(ring_align(1024), 16384);
        assert!(QueueMem::at(0, 64).is_none());
    }
}
