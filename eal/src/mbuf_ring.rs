//! Rings that carry owned mbufs between threads and processes. Enqueueing moves the mbufs
//! into the ring; dequeueing gives them to the caller, who then owns (and frees) them.

use crate::error::EalError;
use crate::mbuf::Mbuf;
use crate::memory::Memory;
use crate::ring::{Ring, RingKind};

/// Most mbufs moved per internal step.
const STEP: usize = 64;

/// A ring of mbufs. Its memzone is marked as carrying mbufs, so no plain-value handle can be
/// made for it (and no plain values can be read as mbufs).
#[derive(Clone, Copy, Debug)]
pub struct MbufRing {
    ring: Ring,
}

impl MbufRing {
    /// Creates an mbuf ring (see [`Ring::create`] for `count` and `flags`).
    pub fn create(mem: &Memory, name: &str, count: u32, flags: u32) -> Result<MbufRing, EalError> {
        Ok(MbufRing { ring: Ring::create_kind(mem, name, count, flags, RingKind::Mbuf)? })
    }

    /// Finds an mbuf ring created by any process of the group.
    pub fn lookup(mem: &Memory, name: &str) -> Result<MbufRing, EalError> {
        Ok(MbufRing { ring: Ring::lookup_kind(mem, name, RingKind::Mbuf)? })
    }

    /// The ring's name.
    pub fn name(&self) -> String {
        self.ring.name()
    }
    /// Mbufs in the ring now.
    pub fn count(&self) -> u32 {
        self.ring.count()
    }
    /// Capacity.
    pub fn capacity(&self) -> u32 {
        self.ring.capacity()
    }
    /// Address of the ring's shared header (to record in shared tables).
    pub fn header_addr(&self) -> u64 {
        self.ring.header_addr()
    }
    /// The mbuf ring whose header is at `addr`.
    ///
    /// Checked: `addr` must be the header of a ready ring in shared memory that was created
    /// as an mbuf ring (its kind is recorded in the header), else an error; its contents
    /// are trusted as the group's other shared structures are (see `eal::shm`).
    pub fn from_header_addr(addr: u64) -> Result<MbufRing, EalError> {
        Ok(MbufRing { ring: Ring::from_header_addr(addr, RingKind::Mbuf)? })
    }

    /// Moves as many mbufs from the front of `bufs` into the ring as fit; returns how many.
    /// Those left in `bufs` are still the caller's.
    #[inline]
    pub fn enqueue_burst(&self, bufs: &mut Vec<Mbuf>) -> usize {
        let mut addrs = [0u64; STEP];
        let mut total = 0;
        while total < bufs.len() {
            let k = (bufs.len() - total).min(STEP);
            for (a, m) in addrs.iter_mut().zip(&bufs[total..total + k]) {
                *a = m.addr();
            }
            let n = self.ring.enqueue_burst(&addrs[..k]);
            total += n;
            if n < k {
                break;
            }
        }
        // The ring owns the first `total` now: forget our handles to them.
        for m in bufs.drain(..total) {
            let _ = m.into_raw();
        }
        total
    }

    /// Moves all of `bufs` into the ring, or none (false).
    #[inline]
    pub fn enqueue_bulk(&self, bufs: &mut Vec<Mbuf>) -> bool {
        if bufs.len() > self.ring.free_count() as usize && bufs.len() > STEP {
            return false;
        }
        let mut addrs = [0u64; STEP];
        if bufs.len() <= STEP {
            for (a, m) in addrs.iter_mut().zip(bufs.iter()) {
                *a = m.addr();
            }
            if !self.ring.enqueue_bulk(&addrs[..bufs.len()]) {
                return false;
            }
            for m in bufs.drain(..) {
                let _ = m.into_raw();
            }
            return true;
        }
        let v: Vec<u64> = bufs.iter().map(|m| m.addr()).collect();
        if !self.ring.enqueue_bulk(&v) {
            return false;
        }
        for m in bufs.drain(..) {
            let _ = m.into_raw();
        }
        true
    }

    /// Takes up to `max` mbufs from the ring, appending them to `out`; returns how many.
    #[inline]
    pub fn dequeue_burst(&self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        let mut addrs = [0u64; STEP];
        let mut total = 0;
        let mut got = 0;
        while total < max {
            let k = (max - total).min(STEP);
            let n = self.ring.dequeue_burst(&mut addrs[..k]);
            for &a in &addrs[..n] {
                // A null slot is the hole left by a producer that died before writing it
                // (see `eal::reclaim`): nothing to take.
                if a == 0 {
                    continue;
                }
                // SAFETY: only `enqueue_*` above put values in an mbuf ring, and each was
                // an owned mbuf whose handle was given up; we take the ownership back.
                out.push(unsafe { Mbuf::from_raw(a) });
                got += 1;
            }
            total += n;
            if n < k {
                break;
            }
        }
        got
    }
}
