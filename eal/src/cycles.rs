//! The CPU's time-stamp counter, for benchmarks and rate reports.

use std::time::{Duration, Instant};

/// Reads the time-stamp counter (cycles on x86_64; nanoseconds elsewhere).
#[inline(always)]
pub fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions and is available on every x86_64 CPU.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Measures the counter's frequency over `over` (Hz).
pub fn tsc_hz(over: Duration) -> u64 {
    let (t0, c0) = (Instant::now(), rdtsc());
    std::thread::sleep(over);
    let (t1, c1) = (Instant::now(), rdtsc());
    ((c1 - c0) as f64 / (t1 - t0).as_secs_f64()) as u64
}
