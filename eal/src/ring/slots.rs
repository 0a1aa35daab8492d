//! Plain 64-bit words in shared memory, moved in blocks: a ring's slots and a mempool's
//! per-lcore object stacks.
//!
//! The words are not atomics. Each run of them has one writer at a time, and who that is
//! is settled elsewhere: by a ring's head and tail indices (a reservation, then a release
//! store of the tail that the other side reads with acquire), or by lcore ownership (a
//! mempool cache belongs to the one thread bound to its lcore). Copies are 32-byte block
//! moves (vector moves); the hot paths ([`copy_words`] through [`Slots::word`]) check no
//! range at all, their callers' index arithmetic proves it (ring masks, cache levels), and
//! the cold paths use the range-checked methods.

use crate::shm;

/// Moves `N` words from `src` to `dst` as one unaligned block (vector moves).
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `N` words.
#[inline(always)]
unsafe fn move_block<const N: usize>(src: *const u64, dst: *mut u64) {
    // SAFETY: forwarded from the caller; unaligned accesses need no alignment.
    unsafe { (dst as *mut [u64; N]).write_unaligned((src as *const [u64; N]).read_unaligned()) }
}

/// Copies `n` words from `src` to `dst` in 64-byte blocks, inline: bursts are short (1 to
/// 64 objects), where a call to `memcpy` (what a variable-length `copy_nonoverlapping`
/// becomes) costs more than the copy.
///
/// As small `memcpy`s do, the last block ends at word `n` and may overlap the one before
/// (it writes the same values twice), so no length ends in a chain of remainder branches:
/// 8 words are one 64-byte move, 32 words four, 5 to 7 words two overlapping 32-byte
/// moves, 2 and 3 words two 16-byte ones.
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `n` words, and the two runs do not
/// overlap.
#[inline(always)]
pub(crate) unsafe fn copy_words(src: *const u64, dst: *mut u64, n: usize) {
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            // SAFETY: words `i..i + 8` lie in both runs (`i + 8 < n`).
            unsafe { move_block::<8>(src.add(i), dst.add(i)) };
            i += 8;
        }
        // SAFETY: words `n - 8..n` lie in both runs (`n >= 8`).
        unsafe { move_block::<8>(src.add(n - 8), dst.add(n - 8)) };
    } else if n >= 4 {
        // SAFETY: words `0..4` and `n - 4..n` lie in both runs (`4 <= n < 8`).
        unsafe {
            move_block::<4>(src, dst);
            move_block::<4>(src.add(n - 4), dst.add(n - 4));
        }
    } else if n >= 2 {
        // SAFETY: words `0..2` and `n - 2..n` lie in both runs (`2 <= n < 4`).
        unsafe {
            move_block::<2>(src, dst);
            move_block::<2>(src.add(n - 2), dst.add(n - 2));
        }
    } else if n == 1 {
        // SAFETY: word 0 lies in both runs.
        unsafe { dst.write(src.read()) };
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

    /// Address of the first word (for handles that know the length and keep one word).
    #[inline(always)]
    pub(crate) fn base(&self) -> *mut u64 {
        self.base
    }

    /// The run of `len` words at `base` again, after [`Slots::base`].
    ///
    /// # Safety
    /// `base` and `len` are those of a run made by [`Slots::at`] (or a sub-run of one).
    #[inline(always)]
    pub(crate) unsafe fn from_raw(base: *mut u64, len: usize) -> Slots {
        Slots { base, len }
    }

    /// Address of word `i`, unchecked, for the hot paths' block copies ([`copy_words`]).
    ///
    /// # Safety
    /// `i <= self.len()` (the caller's index arithmetic proves it); what may be done with
    /// the words is [`Slots::write`]'s and [`Slots::read`]'s contract.
    #[inline(always)]
    pub(crate) unsafe fn word(&self, i: usize) -> *mut u64 {
        debug_assert!(i <= self.len, "word {i} out of {}", self.len);
        // SAFETY: `i <= len` (the caller's promise): inside the run or one past it.
        unsafe { self.base.add(i) }
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

    /// [`Slots::read`] into words that need not be initialised; all of `dst` is written.
    ///
    /// # Safety
    /// As [`Slots::read`].
    #[inline(always)]
    pub(crate) unsafe fn read_uninit(&self, at: usize, dst: &mut [std::mem::MaybeUninit<u64>]) {
        let src = self.sub(at, dst.len());
        // SAFETY: as in `read`; `MaybeUninit<u64>` has `u64`'s layout, and writing
        // initialises.
        unsafe { copy_words(src.base, dst.as_mut_ptr().cast::<u64>(), dst.len()) }
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

#[cfg(test)]
mod tests {
    use super::copy_words;

    #[test]
    fn copy_words_moves_exactly_n_words_for_every_length_and_alignment() {
        for n in 0..=70usize {
            for (s_off, d_off) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let src: Vec<u64> = (1..=n as u64 + 9).collect();
                let mut dst = vec![0u64; n + 9];
                // SAFETY: both vectors hold at least `n + 1` words and are distinct.
                unsafe { copy_words(src.as_ptr().add(s_off), dst.as_mut_ptr().add(d_off), n) };
                let what = format!("n = {n}, offsets {s_off}/{d_off}");
                assert_eq!(&dst[d_off..d_off + n], &src[s_off..s_off + n], "{what}");
                assert!(dst[..d_off].iter().all(|&w| w == 0), "{what}: wrote before the start");
                assert!(dst[d_off + n..].iter().all(|&w| w == 0), "{what}: wrote past the end");
            }
        }
    }
}
