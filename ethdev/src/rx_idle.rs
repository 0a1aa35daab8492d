//! The l3fwd-power pattern on top of RX interrupts: poll while busy, and after a number of
//! empty polls in a row arm the queues' interrupts and sleep until a frame comes.
//!
//! The caller keeps its own poll loop and tells [`RxIdleSleeper`] how each round went:
//! ```no_run
//! # fn poll() -> usize { 0 }
//! # fn f(port: &ethdev::Port) -> Result<(), ethdev::EthError> {
//! let mut s = ethdev::RxIdleSleeper::new(300)?;
//! s.add(port, 0)?;
//! loop {
//!     let n = poll();
//!     if s.idle_after(n) {
//!         s.arm()?;
//!         // A frame that came before the arming raised no interrupt: look once more.
//!         if poll() == 0 {
//!             s.sleep(std::time::Duration::from_millis(100))?;
//!         } else {
//!             s.disarm()?;
//!         }
//!     }
//! }
//! # }
//! ```

use crate::error::EthError;
use crate::port::Port;
use crate::rx_intr::RxInterruptWaiter;
use std::time::Duration;

/// Counts empty polls, arms, sleeps and disarms a set of RX queues (see the module).
pub struct RxIdleSleeper {
    waiter: RxInterruptWaiter,
    queues: Vec<(Port, u16)>,
    threshold: u32,
    empty: u32,
    sleeps: u64,
    wakes: u64,
}

impl std::fmt::Debug for RxIdleSleeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxIdleSleeper")
            .field("queues", &self.waiter.queues())
            .field("threshold", &self.threshold)
            .field("sleeps", &self.sleeps)
            .field("wakes", &self.wakes)
            .finish()
    }
}

impl RxIdleSleeper {
    /// Sleeps after `threshold` empty polls in a row (at least 1).
    pub fn new(threshold: u32) -> Result<RxIdleSleeper, EthError> {
        Ok(RxIdleSleeper {
            waiter: RxInterruptWaiter::new()?,
            queues: Vec::new(),
            threshold: threshold.max(1),
            empty: 0,
            sleeps: 0,
            wakes: 0,
        })
    }

    /// Adds RX queue `q` of `port` (its interrupt stays off until [`RxIdleSleeper::arm`],
    /// which, on a thread pinned to one CPU, also steers it there: see
    /// [`Port::rx_intr_enable`]). Errors: the queue does not exist or the port has no RX
    /// interrupts.
    pub fn add(&mut self, port: &Port, q: u16) -> Result<(), EthError> {
        port.rx_intr_disable(q)?;
        self.waiter.add(port, q)?;
        self.queues.push((port.clone(), q));
        Ok(())
    }

    /// Records a poll round that received `got` frames; true when the empty rounds reached
    /// the threshold (then arm, poll once more, and sleep if that poll was empty too).
    #[inline]
    pub fn idle_after(&mut self, got: usize) -> bool {
        if got > 0 {
            self.empty = 0;
            return false;
        }
        self.empty = self.empty.saturating_add(1);
        self.empty >= self.threshold
    }

    /// Arms every queue's interrupt, then discards signals counted before (see
    /// [`RxInterruptWaiter::discard_pending`]): poll once more before sleeping.
    pub fn arm(&mut self) -> Result<(), EthError> {
        self.queues.iter().try_for_each(|(p, q)| p.rx_intr_enable(*q))?;
        self.waiter.discard_pending();
        Ok(())
    }

    /// Disarms every queue's interrupt and starts counting empty polls again.
    pub fn disarm(&mut self) -> Result<(), EthError> {
        self.empty = 0;
        self.queues.iter().try_for_each(|(p, q)| p.rx_intr_disable(*q))
    }

    /// Sleeps (queues armed) until one interrupts or `timeout` passes, then disarms them;
    /// returns the queues that interrupted.
    pub fn sleep(&mut self, timeout: Duration) -> Result<Vec<(u16, u16)>, EthError> {
        self.sleeps += 1;
        let woke = self.waiter.wait(timeout)?;
        if !woke.is_empty() {
            self.wakes += 1;
        }
        self.disarm()?;
        Ok(woke)
    }

    /// Sleeps taken so far.
    pub fn sleeps(&self) -> u64 {
        self.sleeps
    }

    /// Sleeps that ended with an interrupt (not a timeout).
    pub fn wakes(&self) -> u64 {
        self.wakes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_only_after_the_threshold_of_empty_polls_in_a_row() {
        let mut s = RxIdleSleeper::new(3).unwrap();
        assert!(!s.idle_after(0) && !s.idle_after(0));
        assert!(!s.idle_after(5), "a busy round restarts the count");
        assert!(!s.idle_after(0) && !s.idle_after(0));
        assert!(s.idle_after(0));
        s.disarm().unwrap();
        assert!(!s.idle_after(0));
        assert_eq!(RxIdleSleeper::new(0).unwrap().threshold, 1);
    }
}
