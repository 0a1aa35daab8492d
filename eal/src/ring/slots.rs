//! Plain 64-bit words in shared memory, moved in blocks: a ring's slots and a mempool's
//! per-lcore object stacks.
//!
//! The words are not atomics. Each run of them has one writer at a time, and who that is
//! is settled elsewhere: by a ring's head and tail indices (a reservation, then a release
//! store of the tail that the other side reads with acquire), or by lcore ownership (a
//! mempool cache belongs to the one thread bound to its lcore). Copies are 32-byte block
//! moves with one range check per copy (vector moves), instead of one scalar atomic
//! move per object.

use crate::shm;

/// Copies `n` words from `src` to `dst` in 32-byte blocks, inline: bursts are short (1 to
/// 64 objects), where a call to `memcpy` (what a variable-length `copy_nonoverlapping`
/// becomes) costs more than the copy.
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `n` words, and they do not overlap.
#[inline(always)]
unsafe fn copy_words(src: *const u64, dst: *mut u64, n: usize) {
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: words `i..i + 4` lie in both runs (`i + 4 <= n`); unaligned moves.
        unsafe { (dst.add(i) as *mut [u64; 4]).write_unaligned((src.add(i) as *const [u64; 4]).read_unaligned()) };
        i += 4;
    }
    if n - i >= 2 {
        // SAFETY: words `i..i + 2` lie in both runs.
        unsafe { (dst.add(i) as *mut [u64; 2]).write_unaligned((src.add(i) as *const [u64; 2]).read_unaligned()) };
        i += 2;
    }
    if i < n {
        // SAFETY: word `i` lies in both runs.
        unsafe { dst.add(i).write(src.add(i).read()) };
    }
}

/// `len` plain `u64` words in shared memory that stay mapped for the life of the process.
#[derive(Clone, Copy)]
pub(crate) struct Slots {
    base: *mut u64,
    len: usize,
}

// SAFETY: `Slots` only names shared memory (mapped for the life of the process); every
// access that could race is an `unsafe fn` whose caller proves exclusive ownership.
unsafe impl Send for Slots {}
// SAFETY: as for `Send`.
unsafe impl Sync for Slots {}

impl Slots {
    /// No words (a pool without a cache).
    pub(crate) const EMPTY: Slots = Slots { base: std::ptr::NonNull::dangling().as_ptr(), len: 0 };

    /// The `len` words at `addr`, checked to lie in shared memory and to be aligned.
    pub(crate) fn at(addr: u64, len: usize) -> Option<Slots> {
        let bytes = (len as u64).checked_mul(8)?;
        if addr == 0 || !addr.is_multiple_of(8) || !shm::is_shared(addr, bytes) {
            return None;
        }
        Some(Slots { base: addr as *mut u64, len })
    }

    /// Number of words.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The words `at..at + n` as a sub-run (panics when out of range).
    #[inline(always)]
    pub(crate) fn sub(&self, at: usize, n: usize) -> Slots {
        assert!(at <= self.len && n <= self.len - at, "slot range {at}+{n} out of {}", self.len);
        // SAFETY: `at <= len`, so the offset stays inside (or one past) the run.
        Slots { base: unsafe { self.base.add(at) }, len: n }
    }

    /// Copies `src` into words `at..at + src.len()` (panics when out of range).
    ///
    /// # Safety
    /// The caller owns those words: no other thread or process reads or writes them
    /// until the caller publishes them (a ring reservation, or the caller's own lcore cache).
    #[inline(always)]
    pub(crate) unsafe fn write(&self, at: usize, src: &[u64]) {
        let dst = self.sub(at, src.len());
        // SAFETY: `dst` lies in this run (checked by `sub`), which is mapped shared memory
        // distinct from the process-local `src`; the caller owns the words.
        unsafe { copy_words(src.as_ptr(), dst.base, src.len()) }
    }

    /// Copies words `at..at + dst.len()` into `dst` (panics when out of range).
    ///
    /// # Safety
    /// Nobody writes those words meanwhile (the caller reserved them, or owns them).
    #[inline(always)]
    pub(crate) unsafe fn read(&self, at: usize, dst: &mut [u64]) {
        let src = self.sub(at, dst.len());
        // SAFETY: `src` lies in this run (checked by `sub`); `dst` is process-local memory,
        // so the two do not overlap; nobody writes the words meanwhile (caller's promise).
        unsafe { copy_words(src.base, dst.as_mut_ptr(), dst.len()) }
    }

    /// Copies words `at..at + n` of `self` into words `to..to + n` of `dst` (panics when
    /// either range is out of bounds).
    ///
    /// # Safety
    /// The caller owns the destination words and nobody writes the source words meanwhile;
    /// the two ranges do not overlap (they belong to different objects: a ring and a cache).
    #[inline(always)]
    pub(crate) unsafe fn copy_to(&self, at: usize, dst: &Slots, to: usize, n: usize) {
        let (s, d) = (self.sub(at, n), dst.sub(to, n));
        // SAFETY: both ranges were checked to lie in their runs; the caller guarantees
        // ownership and that they do not overlap.
        unsafe { copy_words(s.base, d.base, n) }
    }

    /// Reads word `i` (panics when out of range).
    ///
    /// # Safety
    /// Nobody writes the word meanwhile.
    #[inline(always)]
    pub(crate) unsafe fn get(&self, i: usize) -> u64 {
        let w = self.sub(i, 1);
        // SAFETY: in range (checked), aligned (checked at construction); no writer.
        unsafe { w.base.read() }
    }

    /// Writes word `i` (panics when out of range).
    ///
    /// # Safety
    /// The caller owns the word.
    #[inline(always)]
    pub(crate) unsafe fn set(&self, i: usize, v: u64) {
        let w = self.sub(i, 1);
        // SAFETY: in range (checked), aligned (checked at construction); owned by the caller.
        unsafe { w.base.write(v) }
    }
}
