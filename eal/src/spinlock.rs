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
            if (cur == 0 || (spins > 10_000 && !crate::process::pid_alive(cur)))
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
