//! Where things are in a hash table's memzone, and the bit tricks that read them.
//!
//! The memzone is an array of 64-bit atomic words, so every process maps it the same way:
//!
//! 1. a header of [`HDR_WORDS`] words ([`Header`]);
//! 2. `buckets` buckets. A bucket starts with one cache line ([`BUCKET_WORDS`] words): the
//!    bucket's sequence counter, the 16-bit short signatures of its [`SLOTS`] slots (two
//!    words), a 32-bit key-store index per slot (four words; 0 marks a free slot) and a
//!    word of flags ([`OVERFLOWED`]).
//!    For keys of up to [`INLINE_MAX_KW`] words the bucket goes on with its slots' entries
//!    ("inline"): eight entries of the value and the key, so a lookup fetches the bucket and
//!    its entries at once instead of one after the other;
//! 3. for longer keys, the key store: `capacity + 1` entries (entry 0 unused) of the value
//!    followed by the key padded to whole words (and a 7-word entry to 8, one whole cache
//!    line). With inline entries the store is empty, and a slot's index only names its entry
//!    (for the free list, the entry count and recovery);
//! 4. the free list: a stack of the key-store indices not in use, two 32-bit indices a word.
//!
//! A lookup reads one bucket line, compares the eight short signatures at once, and reads
//! the entry of a matching slot only. With a key store that is two cache lines one after the
//! other, as DPDK's `rte_hash`; with inline entries the entry's lines were fetched with the
//! bucket's.

use eal::shm;
use std::sync::atomic::AtomicU64;

/// Slots per bucket.
pub const SLOTS: usize = 8;
/// Largest key, in bytes.
pub const MAX_KEY_LEN: usize = 64;

/// Identifies the table kind and layout revision; bumped whenever the layout changes, so a
/// binary built with another layout is refused instead of misreading the table.
pub const MAGIC: u64 = 0x4259_5048_4153_4835; // "BYPHASH5"
/// Words of the header.
pub const HDR_WORDS: usize = 16;
/// Words of a bucket: one cache line.
pub const BUCKET_WORDS: usize = 8;
/// Keys of at most this many words keep their entries inside their bucket.
pub const INLINE_MAX_KW: usize = 2;
/// Bucket word: the sequence counter (odd while the bucket is being written).
pub const B_SEQ: usize = 0;
/// Bucket words: short signatures of slots 0-3, then 4-7, 16 bits each.
pub const B_SIGS: usize = 1;
/// Bucket words: key-store indices of slots 0-1, 2-3, 4-5, 6-7, 32 bits each.
pub const B_IDX: usize = 3;
/// Bucket word: flags ([`OVERFLOWED`]).
pub const B_FLAGS: usize = 7;
/// Bucket flag: a key whose primary bucket this is may live in its alternative bucket (set
/// when a key is added there because this bucket was full, or moved out of this bucket;
/// cleared only by a reset). While it is clear, a key not found here is not in the table,
/// so adds, deletes and lookups read one bucket instead of two.
pub const OVERFLOWED: u64 = 1;

/// The table's header, the first [`HDR_WORDS`] words of its memzone: what any process needs
/// to read the table the same way, and the writer's state.
#[repr(C)]
pub struct Header {
    /// [`MAGIC`], stored last at creation.
    pub magic: AtomicU64,
    /// Key size in bytes.
    pub key_len: AtomicU64,
    /// Value size in bytes (8: values are `u64`).
    pub value_len: AtomicU64,
    /// Number of buckets, a power of two.
    pub buckets: AtomicU64,
    /// The hash function, as its id.
    pub hash_fn: AtomicU64,
    /// Most entries accepted: the key store's size.
    pub capacity: AtomicU64,
    /// Entries in the table.
    pub count: AtomicU64,
    /// The writer lock: 0, or the lock word of the writer's pid.
    pub lock: AtomicU64,
    /// Initial value of the hash.
    pub seed: AtomicU64,
    /// Indices on the free-list stack (written by the writer only).
    pub free_top: AtomicU64,
    /// The key of a Toeplitz table, 8 bytes a word, little-endian (0 for other functions).
    pub toeplitz_key: [AtomicU64; eal::toeplitz::KEY_LEN / 8],
    _reserved: [AtomicU64; HDR_WORDS - 10 - eal::toeplitz::KEY_LEN / 8],
}

// SAFETY: only atomic integers: plain data, valid when zeroed, no pointers.
unsafe impl shm::SharedPlain for Header {}
const _: () = assert!(std::mem::size_of::<Header>() == HDR_WORDS * 8);

/// Where the parts of a table start, in words from the memzone's start.
#[derive(Debug, Clone, Copy)]
pub struct Offsets {
    /// Words of one bucket: [`BUCKET_WORDS`], plus the inline entries' keys and values.
    pub bucket_words: usize,
    /// True when entries live in their buckets (keys of up to [`INLINE_MAX_KW`] words).
    pub inline: bool,
    /// First key-store entry (entry 0); with inline entries, the empty store's place.
    pub store: usize,
    /// First word of the free-list stack.
    pub free: usize,
    /// Words of one key-store entry: the value, then the key words.
    pub entry_words: usize,
    /// Words the whole table needs.
    pub total: usize,
}

impl Offsets {
    /// The layout of a table of `buckets` buckets, `capacity` entries, `key_len`-byte keys.
    pub fn new(buckets: usize, capacity: usize, key_len: usize) -> Offsets {
        let kw = key_len.div_ceil(8);
        let inline = is_inline(kw);
        let bucket_words = bucket_words(kw);
        let entry_words = entry_words(kw);
        let store = HDR_WORDS + buckets * bucket_words;
        let free = if inline { store } else { store + (capacity + 1) * entry_words };
        Offsets { bucket_words, inline, store, free, entry_words, total: free + capacity.div_ceil(2) }
    }
}

/// Words of a bucket with inline entries of `kw`-word keys: the bucket's line, then the
/// [`SLOTS`] entries, each as a key-store entry (the value, then the key): 3 cache lines for
/// 1-word keys, 4 for 2-word ones.
pub const fn inline_bucket_words(kw: usize) -> usize {
    BUCKET_WORDS + SLOTS * (1 + kw)
}

/// Word offsets, from a bucket's first word, of the key and the value of slot `s`'s inline
/// entry, for `kw`-word keys. An entry's words sit together, so an add writes one line or two.
#[inline(always)]
pub const fn inline_entry(kw: usize, s: usize) -> (usize, usize) {
    let e = BUCKET_WORDS + (s % SLOTS) * (1 + kw);
    (e + 1, e)
}

/// True when the entries of `kw`-word keys live in their buckets.
pub const fn is_inline(kw: usize) -> bool {
    kw <= INLINE_MAX_KW
}

/// Words of a bucket of a table with `kw`-word keys.
pub const fn bucket_words(kw: usize) -> usize {
    if is_inline(kw) {
        inline_bucket_words(kw)
    } else {
        BUCKET_WORDS
    }
}

/// Words of a key-store entry for keys of `kw` words: the value and the key, unpadded (a
/// smaller key store misses the cache less often; measured better than DPDK's 16-byte
/// alignment for 9- to 16-byte keys), except that a 7-word entry is padded to fill exactly one
/// cache line instead of straddling two almost always.
pub const fn entry_words(kw: usize) -> usize {
    match 1 + kw {
        7 => 8,
        w => w,
    }
}

/// The short signature kept in a bucket slot: the hash's upper half (the lower half picks
/// the primary bucket).
#[inline(always)]
pub fn short_sig(hash: u32) -> u16 {
    (hash >> 16) as u16
}

/// For a word of four 16-bit signatures, the top bit of each lane equal to `sig` (exact: no
/// lane is reported unless it matches).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
pub fn sig_lanes(word: u64, sig: u16) -> u64 {
    const LOW15: u64 = 0x7FFF_7FFF_7FFF_7FFF;
    let x = word ^ (u64::from(sig) * 0x0001_0001_0001_0001);
    // A lane's top bit ends up set when any of its 16 bits is.
    let nonzero = ((x & LOW15) + LOW15) | x;
    !nonzero & 0x8000_8000_8000_8000
}

/// The slots of a bucket whose short signature is `sig`, a bit per slot, given the bucket's
/// two signature words (slots 0-3 in `lo`, 4-7 in `hi`). On x86-64 one SSE2 compare of the
/// eight 16-bit lanes (SSE2 is part of the x86-64 baseline), else four lanes a word at once.
#[inline(always)]
pub fn sig_match(lo: u64, hi: u64, sig: u16) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi16, _mm_movemask_epi8, _mm_packs_epi16, _mm_set1_epi16, _mm_set_epi64x, _mm_setzero_si128,
        };
        // SAFETY: register-only SSE2 operations, and this build targets SSE2 (the `cfg`
        // above), so every CPU it runs on has them.
        unsafe {
            let eq = _mm_cmpeq_epi16(_mm_set_epi64x(hi as i64, lo as i64), _mm_set1_epi16(sig as i16));
            // Equal lanes are -1, others 0: packed to bytes (saturating), one mask bit a lane.
            (_mm_movemask_epi8(_mm_packs_epi16(eq, _mm_setzero_si128())) & 0xff) as u32
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        let lanes = |w: u64| {
            let z = sig_lanes(w, sig) >> 15; // bits 0, 16, 32, 48
            (z | z >> 15 | z >> 30 | z >> 45) as u32 & 0xf
        };
        lanes(lo) | lanes(hi) << 4
    }
}

/// The free slots of a bucket, a bit per slot, given its four words of key-store indices
/// (slots 0-1, 2-3, 4-5, 6-7; a free slot's index is 0). On x86-64 one SSE2 compare of the
/// eight 32-bit lanes, else [`free_slots_portable`].
#[inline(always)]
pub fn free_slots(idx: [u64; SLOTS / 2]) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi32, _mm_movemask_epi8, _mm_packs_epi16, _mm_packs_epi32, _mm_set_epi64x, _mm_setzero_si128,
        };
        // SAFETY: register-only SSE2 operations, and this build targets SSE2 (the `cfg`
        // above), so every CPU it runs on has them.
        unsafe {
            let zero = _mm_setzero_si128();
            let lo = _mm_cmpeq_epi32(_mm_set_epi64x(idx[1] as i64, idx[0] as i64), zero);
            let hi = _mm_cmpeq_epi32(_mm_set_epi64x(idx[3] as i64, idx[2] as i64), zero);
            // Free lanes are -1, others 0: packed to 16 then 8 bits (saturating), a mask bit
            // a lane.
            (_mm_movemask_epi8(_mm_packs_epi16(_mm_packs_epi32(lo, hi), zero)) & 0xff) as u32
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        free_slots_portable(idx)
    }
}

/// [`free_slots`] without SIMD: two tests a word.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
pub fn free_slots_portable(idx: [u64; SLOTS / 2]) -> u32 {
    let lanes = |w: u64| u32::from(w as u32 == 0) | u32::from(w >> 32 == 0) << 1;
    lanes(idx[0]) | lanes(idx[1]) << 2 | lanes(idx[2]) << 4 | lanes(idx[3]) << 6
}

/// A key of `KW` words: `KW * 8 - 7` to `KW * 8` bytes, zero-padded, little-endian.
///
/// The hot paths are instantiated for each `KW` (1 to 8), so loads, hashing
/// and compares are unrolled for the table's key size.
#[inline(always)]
pub fn key_words<const KW: usize>(key: &[u8]) -> [u64; KW] {
    let mut w = [0u64; KW];
    let len = key.len();
    let (whole, rest) = key.as_chunks::<8>();
    if rest.is_empty() && whole.len() == KW {
        // A key of whole words (8, 16, ... 64 bytes): one plain load a word, no tail to mask.
        for (slot, c) in w.iter_mut().zip(whole) {
            *slot = u64::from_le_bytes(*c);
        }
        return w;
    }
    if let (true, Some(head), Some(last)) =
        (KW >= 3 && len > 8 * (KW - 1) && len <= 8 * KW, whole.get(..KW.saturating_sub(1)), key.last_chunk::<8>())
    {
        // Keys of 17 bytes or more, not whole words, of the table's key length (the caller
        // checked it): `KW - 1` whole words (a constant count, so the loads are unrolled),
        // then the last 8 bytes shifted so the bytes the previous word holds drop out. No
        // length test per word (the general path below tests each; for shorter keys its
        // tests are fewer than this path's).
        for (slot, c) in w.iter_mut().zip(head) {
            *slot = u64::from_le_bytes(*c);
        }
        w[KW - 1] = u64::from_le_bytes(*last) >> (8 * (8 * KW - len));
        return w;
    }
    if KW == 0 || len == 0 {
        return w;
    }
    for (i, slot) in w.iter_mut().enumerate().take(KW - 1) {
        *slot = load8(key, 8 * i);
    }
    w[KW - 1] = if len >= 8 {
        // The last 8 bytes, shifted so the bytes the previous word holds drop out.
        load8(key, len - 8) >> (8 * (8 * KW).saturating_sub(len).min(7))
    } else {
        short_word(key)
    };
    w
}

/// A key of 1 to 7 bytes as one little-endian word, zero above: two overlapping loads
/// (4 + 4, 2 + 2 or one byte) instead of a loop over the bytes; where the loads overlap they
/// read the same bytes, so or-ing them is exact.
#[inline(always)]
fn short_word(key: &[u8]) -> u64 {
    let len = key.len();
    let at = |i: usize, n: usize| -> u64 {
        let mut b = [0u8; 8];
        if let (Some(dst), Some(src)) = (b.get_mut(..n), key.get(i..i + n)) {
            dst.copy_from_slice(src);
        }
        u64::from_le_bytes(b)
    };
    match len {
        4.. => at(0, 4) | at(len - 4, 4) << (8 * (len - 4)),
        2.. => at(0, 2) | at(len - 2, 2) << (8 * (len - 2)),
        _ => at(0, len.min(1)),
    }
}

/// The 8 bytes of `key` at `at`, little-endian (0 past the end: never, for a checked key).
#[inline(always)]
fn load8(key: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(c) = key.get(at..at + 8) {
        b.copy_from_slice(c);
    }
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_lanes_are_exact() {
        let word = 0x1234_0000_ffff_1234u64;
        assert_eq!(sig_lanes(word, 0x1234), 0x8000_0000_0000_8000);
        assert_eq!(sig_lanes(word, 0), 0x0000_8000_0000_0000);
        assert_eq!(sig_lanes(word, 0xffff), 0x0000_0000_8000_0000);
        assert_eq!(sig_lanes(word, 0x1235), 0);
        // Every lane value against every other in a small range, including borrows.
        for a in [0u16, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff] {
            for b in [0u16, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff] {
                let w = u64::from(a) | u64::from(b) << 16 | u64::from(a) << 32 | u64::from(b) << 48;
                let want = if a == b { 0x8000_8000_8000_8000 } else { 0x0000_8000_0000_8000 };
                assert_eq!(sig_lanes(w, a), want, "{a:#x} {b:#x}");
            }
        }
    }

    #[test]
    fn sig_match_marks_exactly_the_equal_slots() {
        let sigs: [u16; 8] = [0x1234, 0, 0xffff, 0x1234, 0x8000, 0x7fff, 0x1234, 1];
        let lo = sigs[..4].iter().rev().fold(0u64, |a, &x| a << 16 | u64::from(x));
        let hi = sigs[4..].iter().rev().fold(0u64, |a, &x| a << 16 | u64::from(x));
        for probe in [0x1234u16, 0, 0xffff, 0x8000, 0x7fff, 1, 2, 0x1235] {
            let want = (0..8).filter(|&s| sigs[s] == probe).fold(0u32, |m, s| m | 1 << s);
            assert_eq!(sig_match(lo, hi, probe), want, "{probe:#x}");
        }
    }

    #[test]
    fn free_slots_marks_exactly_the_zero_indices() {
        for bits in 0u32..256 {
            // Slot s holds index 0 when bit s is set, else a value with bits in both halves
            // of its lane, so a half-word test would be caught.
            let idx: Vec<u32> =
                (0..SLOTS).map(|s| if bits >> s & 1 == 1 { 0 } else { 0x8001_0000 | s as u32 }).collect();
            let words: [u64; SLOTS / 2] =
                std::array::from_fn(|i| u64::from(idx[2 * i]) | u64::from(idx[2 * i + 1]) << 32);
            assert_eq!(free_slots(words), bits, "{bits:#b}");
            assert_eq!(free_slots_portable(words), bits, "{bits:#b}");
        }
    }

    fn check_len<const KW: usize>(len: usize) {
        let key: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37).wrapping_add(1)).collect();
        let mut want = [0u64; KW];
        for (i, &b) in key.iter().enumerate() {
            want[i / 8] |= u64::from(b) << (8 * (i % 8));
        }
        assert_eq!(key_words::<KW>(&key), want, "length {len}");
    }

    #[test]
    fn key_words_pad_the_tail_with_zeros() {
        for len in 1..=MAX_KEY_LEN {
            match len.div_ceil(8) {
                1 => check_len::<1>(len),
                2 => check_len::<2>(len),
                3 => check_len::<3>(len),
                4 => check_len::<4>(len),
                5 => check_len::<5>(len),
                6 => check_len::<6>(len),
                7 => check_len::<7>(len),
                _ => check_len::<8>(len),
            }
        }
    }
}
