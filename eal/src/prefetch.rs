//! Cache prefetch hints (DPDK's `rte_prefetch0`): the one place that issues them, for the
//! forwarding loops (packet data) and the tables' bulk lookups (buckets).

/// Asks the CPU to bring the cache line holding `x` into all cache levels; a hint only, with
/// no effect on what any load returns (nothing on other architectures).
#[inline(always)]
pub fn line<T>(x: &T) {
    addr((x as *const T).cast());
}

/// As [`line()`], for any address: a prefetch never faults, so the address need not be valid.
#[inline(always)]
pub fn addr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86-64 baseline, so the instruction exists on every CPU this
    // code runs on; a prefetch is a hint that never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
