//! Reclaiming what a dead process held of the group's shared pools and rings.
//!
//! A process killed with `kill -9` leaves behind the lcore ids it claimed, for every
//! mempool with a cache its lcores' caches (up to 1.5 × `cache_size` objects each), and
//! possibly a multi-producer/consumer ring operation it had reserved slots for but not
//! published, which stalls every later producer (consumer) of that ring. The primary
//! repairs all three: its IPC thread checks the lcore table every second (with the sweep
//! of dead peers' sockets), a process that claims an lcore of a dead one reclaims it
//! first, and [`reclaim_dead`] (or `Eal::reclaim_dead_processes`) does it on demand.
//!
//! Reclaimed:
//! - every object in a dead lcore's mempool caches, and the lcore ids themselves;
//! - a dead lcore's ring operation (recorded per lcore, see [`crate::config::RingOp`]):
//!   a dequeue is released, an enqueue whose slots are all written is published, and on
//!   an mbuf ring an enqueue that died before writing its slots is published as holes
//!   (null slots, skipped by dequeues).
//!
//! Not reclaimed (it cannot be known without a cost on every packet): mbufs the dead
//! process held in its own hands — the application's burst arrays between a receive and
//! a send or free, at most its bursts in flight per lcore — the objects of a released
//! dequeue, and in the rare case it died in the nanoseconds of a cache refill or flush
//! before the ring operation was recorded, the objects of that transfer
//! ([`ReclaimReport::uncertain`]: never returned twice, possibly lost). A cache flush
//! cut short after reserving its ring slots is finished with the objects still in the
//! dead cache. Otherwise, on a plain or mempool ring, an enqueue that died before
//! writing all its slots cannot be published
//! (the slots may hold stale values): that ring stays stalled, and waiting operations log
//! it after `ring::STALL_REPORT` (a mempool ring is written to on the cache's cold paths
//! only, so the window is rare). Threads that are not lcores record no ring operation. Once the
//! group is quiescent, `Mempool::recover_unaccounted` returns what is in nobody's hands.

use crate::config::{SharedConfig, MAX_LCORES};
use crate::mempool::Mempool;
use crate::process::pid_alive;
use std::sync::atomic::{AtomicU64, Ordering};

static TOTAL_LCORES: AtomicU64 = AtomicU64::new(0);
static TOTAL_OBJECTS: AtomicU64 = AtomicU64::new(0);
static TOTAL_UNCERTAIN: AtomicU64 = AtomicU64::new(0);

/// Totals of every reclaim done by this process so far: `(lcores, objects, uncertain)`
/// (see [`ReclaimReport`]); the primary's periodic passes count here too.
pub fn totals() -> (u64, u64, u64) {
    (
        TOTAL_LCORES.load(Ordering::Relaxed),
        TOTAL_OBJECTS.load(Ordering::Relaxed),
        TOTAL_UNCERTAIN.load(Ordering::Relaxed),
    )
}

/// What one reclaim pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReclaimReport {
    /// `(lcore id, pid)` of each lcore whose owner was dead and that is now free.
    pub lcores: Vec<(u32, u32)>,
    /// Objects returned from dead lcores' caches to their pools' rings.
    pub objects: u64,
    /// Objects whose owner died mid-transfer between its cache and the ring (not returned).
    pub uncertain: u64,
    /// Dead lcores' ring dequeues released (their objects are lost with the process).
    pub ring_dequeues_released: u32,
    /// Dead lcores' ring enqueues published on their behalf (nothing lost).
    pub ring_enqueues_published: u32,
    /// Dead lcores' mbuf ring enqueues published as holes (their mbufs are lost with the
    /// process; dequeues skip the holes).
    pub ring_enqueues_holed: u32,
    /// Dead lcores' ring operations that could not be finished (the ring stays stalled).
    pub ring_ops_stalled: u32,
    /// Pools whose ring was stalled by a dead producer (their caches were left as they are).
    pub stalled_pools: Vec<String>,
}

impl ReclaimReport {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.lcores.is_empty()
    }
}

/// Every mempool of the group (found through the memzone table).
pub fn pools(cfg: &SharedConfig) -> Vec<Mempool> {
    cfg.memzones
        .iter()
        .filter(|s| s.in_use.load(Ordering::Acquire) == 1)
        .filter(|s| s.name.get().starts_with("MP_"))
        .filter_map(|s| Mempool::from_header_addr(s.addr.load(Ordering::Acquire)).ok())
        .collect()
}

/// Finds the lcores whose owning process is dead, returns their caches to the pools and
/// frees the lcore ids. Safe to call from any process at any time.
pub fn reclaim_dead(cfg: &SharedConfig) -> ReclaimReport {
    let dead = || -> Vec<u32> {
        (0..MAX_LCORES as u32)
            .filter(|&id| {
                let owner = cfg.lcore_owner[id as usize].load(Ordering::Acquire);
                owner != 0 && !pid_alive(owner)
            })
            .collect()
    };
    // The periodic pass takes the lock only when there is something to do.
    if dead().is_empty() {
        return ReclaimReport::default();
    }
    let _g = cfg.memzone_lock.lock();
    reclaim_locked(cfg, &dead())
}

/// [`reclaim_dead`] for lcores `ids` known to have a dead owner; the caller holds the
/// lcore table's lock (`memzone_lock`), so nobody can claim them meanwhile.
pub(crate) fn reclaim_locked(cfg: &SharedConfig, ids: &[u32]) -> ReclaimReport {
    let mut r = ReclaimReport::default();
    if ids.is_empty() {
        return r;
    }
    // First the rings a dead lcore stalled, so that pool rings take objects again.
    // Several dead lcores may wait on one another in one ring: pass again while one
    // of them moves.
    let pools = pools(cfg);
    let mut left: Vec<u32> = ids.to_vec();
    loop {
        let mut stalled = Vec::new();
        for &id in &left {
            let ring = cfg.ring_ops[id as usize].ring.load(Ordering::Acquire);
            let pool = pools.iter().find(|p| p.ring_addr() == ring);
            let refill = |_: u64, n: u32| pool.and_then(|p| p.dead_flush_objects(id, n));
            match crate::ring::Ring::finish_dead_op(cfg, id, refill) {
                crate::ring::DeadOp::Done => {}
                crate::ring::DeadOp::ConsumerReleased(_) => r.ring_dequeues_released += 1,
                crate::ring::DeadOp::ProducerPublished(_) => {
                    // A cache flush finished on the dead lcore's behalf: its cache keeps
                    // `cache_size` objects, nothing is in doubt.
                    if let Some(p) = pool {
                        p.dead_flush_done(id);
                    }
                    r.ring_enqueues_published += 1
                }
                crate::ring::DeadOp::ProducerHoles(_) => r.ring_enqueues_holed += 1,
                crate::ring::DeadOp::Stalled => stalled.push(id),
            }
        }
        if stalled.is_empty() || stalled.len() == left.len() {
            r.ring_ops_stalled = stalled.len() as u32;
            break;
        }
        left = stalled;
    }
    for &id in ids {
        let owner = cfg.lcore_owner[id as usize].load(Ordering::Acquire);
        for p in &pools {
            let c = p.reclaim_cache(id);
            r.objects += c.returned as u64;
            r.uncertain += c.uncertain as u64;
            if c.ring_stalled && !r.stalled_pools.contains(&p.name()) {
                r.stalled_pools.push(p.name());
            }
        }
        let _ = cfg.lcore_owner[id as usize].compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
        r.lcores.push((id, owner));
    }
    TOTAL_LCORES.fetch_add(r.lcores.len() as u64, Ordering::Relaxed);
    TOTAL_OBJECTS.fetch_add(r.objects, Ordering::Relaxed);
    TOTAL_UNCERTAIN.fetch_add(r.uncertain, Ordering::Relaxed);
    if !r.is_empty() {
        tracing::warn!(
            lcores = ?r.lcores,
            objects = r.objects,
            uncertain = r.uncertain,
            dequeues_released = r.ring_dequeues_released,
            enqueues_published = r.ring_enqueues_published,
            enqueues_holed = r.ring_enqueues_holed,
            ops_stalled = r.ring_ops_stalled,
            stalled = ?r.stalled_pools,
            "reclaimed the lcores and mempool caches of dead processes"
        );
    }
    r
}
