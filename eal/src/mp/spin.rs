//! The IPC thread's short, adaptive wait awake after traffic.
//!
//! Waking a thread that sleeps in `ppoll` costs a cross-CPU wake-up (about 10 µs in a VM),
//! which a request-reply exchange would pay on every request. After serving traffic the
//! IPC thread stays awake for a short window, checking its socket and yielding the CPU
//! between checks, so a request that follows soon (the usual pattern: a requester in a
//! loop, a broadcast's other peers) is served without a wake-up. The window only opens
//! after traffic, so an idle process spends no CPU; a window that catches nothing halves
//! the next one, so sparse traffic costs little.

use std::time::{Duration, Instant};

/// Longest window awake after traffic.
pub(crate) const SPIN_MAX: Duration = Duration::from_micros(200);
/// Shortest window (after windows that caught nothing).
pub(crate) const SPIN_MIN: Duration = Duration::from_micros(10);

/// The adaptive window.
#[derive(Debug)]
pub(crate) struct AfterTraffic {
    window: Duration,
}

impl AfterTraffic {
    /// A full window.
    pub(crate) fn new() -> AfterTraffic {
        AfterTraffic { window: SPIN_MAX }
    }

    /// The current window.
    #[cfg(test)]
    fn window(&self) -> Duration {
        self.window
    }

    /// Stays awake up to the window until `ready()` says there is work; true when there
    /// is. A hit restores the full window, a miss halves it (down to [`SPIN_MIN`]).
    pub(crate) fn wait(&mut self, mut ready: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + self.window;
        loop {
            if ready() {
                self.window = SPIN_MAX;
                return true;
            }
            if Instant::now() >= end {
                self.window = (self.window / 2).max(SPIN_MIN);
                return false;
            }
            // Let a thread that shares this CPU (an lcore, the peer) run meanwhile.
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_halves_the_window_and_a_hit_restores_it() {
        let mut s = AfterTraffic::new();
        let t0 = Instant::now();
        assert!(!s.wait(|| false));
        assert!(t0.elapsed() >= SPIN_MAX, "waited the whole window");
        assert_eq!(s.window(), SPIN_MAX / 2);
        for _ in 0..10 {
            assert!(!s.wait(|| false));
        }
        assert_eq!(s.window(), SPIN_MIN, "never below the minimum");
        let mut calls = 0;
        assert!(s.wait(|| {
            calls += 1;
            calls == 3
        }));
        assert_eq!(s.window(), SPIN_MAX);
    }
}
