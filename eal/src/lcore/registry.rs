//! The group-wide table of which process uses which lcore id.

use crate::config::SharedConfig;
use crate::error::EalError;
use crate::process::pid_alive;
use std::sync::atomic::Ordering;

/// Claims `ids` for this process in the shared table. An id held by a live process of the
/// group is refused (nothing is claimed then); one held by a dead process is taken over,
/// once its mempool caches are returned to the pools (see [`crate::reclaim`]).
pub fn claim_lcores(cfg: &SharedConfig, ids: &[u32], prefix: &str) -> Result<(), EalError> {
    let me = std::process::id();
    let _g = cfg.memzone_lock.lock();
    for &id in ids {
        let owner = cfg.lcore_owner[id as usize].load(Ordering::Acquire);
        if owner != 0 && owner != me && pid_alive(owner) {
            return Err(EalError::LcoreInUse { lcore: id, pid: owner, prefix: prefix.to_string() });
        }
    }
    // Lcores of dead processes: their mempool caches go back to the pools first.
    let dead: Vec<u32> = ids
        .iter()
        .copied()
        .filter(|&id| {
            let owner = cfg.lcore_owner[id as usize].load(Ordering::Acquire);
            owner != 0 && owner != me
        })
        .collect();
    crate::reclaim::reclaim_locked(cfg, &dead);
    for &id in ids {
        cfg.lcore_owner[id as usize].store(me, Ordering::Release);
    }
    Ok(())
}

/// Releases every lcore id this process holds.
pub fn release_lcores(cfg: &SharedConfig) {
    let me = std::process::id();
    for slot in &cfg.lcore_owner {
        let _ = slot.compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
    }
}
