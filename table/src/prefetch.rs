//! Cache prefetch hints for the bulk lookups.

/// Asks the CPU to bring the cache line holding `x` into all cache levels; a hint only, with
/// no effect on what any load returns (nothing on other architectures).
#[inline(always)]
pub fn line<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86-64 baseline, so the instruction exists on every CPU this
    // code runs on; a prefetch never faults and `x` is a valid reference anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((x as *const T).cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
