//! A spinlock that lives in shared memory and serialises rare control-path updates
//! (memzone table, lcore table) across processes.

use crate::shm::SharedPlain;
use crossbeam_utils::Backoff;
use std::sync::atomic::{AtomicU32, Ordering};

/// Cross-process lock word: 0 = free, otherwise the holder's pid.
#[repr(C)]
pub struct SharedSpinlock(AtomicU32);

// SAFETY: a single atomic; zero means unlocked.
unsafe impl SharedPlain for SharedSpinlock {}

/// Rounds of waiting (most of them yields) before checking that the holder is alive.
const STALE_ROUNDS: u32 = 500;

/// Held lock; released on drop.
pub struct SpinGuard<'a>(&'a SharedSpinlock);

impl SharedSpinlock {
    /// Takes the lock. A holder that died (its pid no longer exists) is taken over, so a
    /// crash inside a critical section cannot wedge the whole group.
    pub fn lock(&self) -> SpinGuard<'_> {
        let me = std::process::id();
        let mut spins = 0u32;
        let backoff = Backoff::new();
        loop {
            let cur = self.0.load(Ordering::Relaxed);
            // After the backoff's spinning phase every round yields, so a few hundred rounds
            // already mean the holder kept the lock for a long time: check it still exists.
            if (cur == 0 || (spins > STALE_ROUNDS && !crate::process::pid_alive(cur)))
                && self.0.compare_exchange(cur, me, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return SpinGuard(self);
            }
            spins = spins.saturating_add(1);
            // Spins with exponential backoff, then yields the CPU on every round.
            backoff.snooze();
        }
    }
}

impl Drop for SpinGuard<'_> {
    fn drop(&mut self) {
        self.0 .0.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_holder_is_taken_over() {
        let l = SharedSpinlock(AtomicU32::new(i32::MAX as u32 - 1));
        let g = l.lock();
        assert_eq!(l.0.load(Ordering::Relaxed), std::process::id());
        drop(g);
        assert_eq!(l.0.load(Ordering::Relaxed), 0);
    }
}
