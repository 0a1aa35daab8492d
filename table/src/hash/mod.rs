//! A bucketised cuckoo hash table in a memzone.
//!
//! The layout (module `layout`) follows DPDK's `rte_hash`: buckets of [`SLOTS`] slots whose
//! first cache line holds each slot's 16-bit short signature and entry index; an entry is the
//! value and the key. For keys of up to 16 bytes the entries follow their bucket's line, so a
//! lookup fetches both at once; longer keys' entries live in a separate key store, as
//! DPDK's. A key lives in its primary bucket, picked by the hash's lower bits, or its
//! alternative `b ^ mix(sig)`, which is symmetric, so an entry can be moved between its two
//! buckets knowing only its short signature. A bucket flag says whether a key of this
//! primary bucket was ever placed in, or moved to, its alternative; while it is clear a key
//! not found in its primary bucket is absent, and the alternative is not read.
//!
//! Readers are lock-free: they snapshot the bucket's sequence counter, search, and retry if
//! the counter moved or was odd (a write in progress), so they never return a torn entry. An
//! entry is only ever written inside a write of the bucket whose slot points at it, or (in
//! the key store) after the slot pointing at it was cleared, which moved that bucket's
//! counter; so validating the bucket validates the entry. Writers (from any process) are
//! serialised by a spinlock word in the header, taken per update or held across many by a
//! [`HashWriter`]; each bucket write makes its counter odd, writes, and makes it even again.
//! A cuckoo move writes the destination before clearing the source, so a concurrent reader
//! finds a moving key in one of its two buckets.
//!
//! The lock word holds the writer's pid. A writer that dies holding it (`kill -9`) is
//! recovered from (module `writer`): the next writer, or a reader kept waiting by a bucket left
//! mid-write, sees the owner is dead, takes the lock and repairs what a write cut short can
//! leave.

/// Calls `$self.$f::<KW, EW>(args)` with `KW` the table's key length in words (1 to 8,
/// checked when the handle is made) and `EW` the words of its key-store entries
/// (`layout::entry_words(KW)`) as constants, so each key size gets its own unrolled code and
/// entries are indexed as arrays (one bounds check, on the entry's index).
macro_rules! by_key_words {
    ($self:expr, $f:ident($($arg:expr),*)) => {
        match $self.kw {
            1 => $self.$f::<1, 2>($($arg),*),
            2 => $self.$f::<2, 3>($($arg),*),
            3 => $self.$f::<3, 4>($($arg),*),
            4 => $self.$f::<4, 5>($($arg),*),
            5 => $self.$f::<5, 6>($($arg),*),
            6 => $self.$f::<6, 8>($($arg),*),
            7 => $self.$f::<7, 8>($($arg),*),
            _ => $self.$f::<8, 9>($($arg),*),
        }
    };
}

mod layout;
mod writer;

use crate::{check_name, crc, TableError};
use eal::{shm, Memory};
use layout::{
    key_words, short_sig, sig_match, Header, Offsets, BUCKET_WORDS, B_FLAGS, B_IDX, B_SEQ, B_SIGS, HDR_WORDS,
    OVERFLOWED,
};
pub use layout::{MAX_KEY_LEN, SLOTS};
use std::sync::atomic::{fence, AtomicU64, Ordering};
pub use writer::HashWriter;

/// Largest bulk lookup.
pub const MAX_BULK: usize = 64;
/// Keys a bulk lookup takes through its stages together (a longer burst goes in groups).
const BULK_GROUP: usize = 16;
/// Size of a value, in bytes (values are `u64`).
pub const VALUE_LEN: usize = 8;

/// Which hash function a table uses; stored in the table as an id (and a Toeplitz key as
/// data), never as a pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFunction {
    /// CRC32-C over the key's words (SSE4.2 when the CPU has it, the same values otherwise),
    /// then a multiply-xorshift finaliser: CRC is linear, so keys that differ in a few bits
    /// (counters, addresses in one subnet) would otherwise crowd some buckets and leave
    /// others empty.
    Crc32c,
    /// FNV-1a (32-bit) over the key's bytes: portable and simple.
    Fnv1a,
    /// Bob Jenkins' lookup3 over the key's bytes: DPDK's `rte_jhash`, `rte_hash`'s default,
    /// with the table's seed as its initial value, so hashes agree with a DPDK program's.
    Jhash,
    /// The Toeplitz hash under this 40-byte key (`eal::toeplitz::DEFAULT_KEY` is the usual
    /// RSS key), over the key's bytes as given: what a NIC computes for RSS. A table keyed by
    /// the bytes a NIC hashes (an IPv4 flow's addresses and ports, in network order) can take
    /// a packet's RSS hash (`Mbuf::rss_hash`) in [`HashTable::lookup_with_hash`] instead of
    /// hashing again. Keys of at most [`eal::toeplitz::MAX_INPUT`] bytes (a 40-byte key covers
    /// no more); the seed is not used.
    Toeplitz([u8; eal::toeplitz::KEY_LEN]),
}

impl HashFunction {
    fn id(self) -> u64 {
        match self {
            HashFunction::Crc32c => 1,
            HashFunction::Fnv1a => 2,
            HashFunction::Jhash => 3,
            HashFunction::Toeplitz(_) => 4,
        }
    }
    /// The function stored as `id`, with the Toeplitz key stored as `key` (read only for it).
    fn from_id(id: u64, key: impl FnOnce() -> [u8; eal::toeplitz::KEY_LEN]) -> Option<HashFunction> {
        match id {
            1 => Some(HashFunction::Crc32c),
            2 => Some(HashFunction::Fnv1a),
            3 => Some(HashFunction::Jhash),
            4 => Some(HashFunction::Toeplitz(key())),
            _ => None,
        }
    }
}

/// Spreads a CRC over all 32 bits: the upper half of its product with a 64-bit odd constant
/// (Fibonacci hashing). CRC is linear, so keys that differ in a few bits (counters, addresses
/// in one subnet) would otherwise crowd some buckets and leave others empty; the product's
/// bits 32-63 each depend on every bit of the CRC. Two instructions, against eleven for
/// MurmurHash3's `fmix32`, with the same spread on counter keys (the unit test below).
#[inline(always)]
fn mix(h: u32) -> u32 {
    ((u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 32) as u32
}

/// Parameters of [`HashTable::create`].
#[derive(Debug, Clone)]
pub struct HashParams {
    /// Most entries the table holds (at least 8). The buckets have slots for `entries`
    /// rounded up to a power of two (DPDK's sizing); when that leaves no spare slots, a nearly
    /// full table may report [`TableError::Full`] a little before `entries` (a few per
    /// cent), when no chain of cuckoo moves frees a slot, as DPDK's `rte_hash` does.
    pub entries: u32,
    /// Key size in bytes, 1 to [`MAX_KEY_LEN`].
    pub key_len: usize,
    /// The hash function.
    pub hash_fn: HashFunction,
    /// Initial value of the hash.
    pub seed: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams { entries: 1024, key_len: 16, hash_fn: HashFunction::Crc32c, seed: 0 }
    }
}

/// A handle on a shared hash table (process-local; the table itself is in the memzone).
#[derive(Clone)]
pub struct HashTable {
    name: String,
    hdr: &'static Header,
    words: &'static [AtomicU64],
    /// The key store's words: `capacity + 1` entries (none when entries are inline).
    store: &'static [AtomicU64],
    key_len: usize,
    kw: usize,
    mask: u32,
    capacity: u32,
    at: Offsets,
    hash_fn: HashFunction,
    seed: u32,
    crc: crc::Crc32c,
}

impl std::fmt::Debug for HashTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashTable")
            .field("name", &self.name)
            .field("key_len", &self.key_len)
            .field("buckets", &(self.mask + 1))
            .field("count", &self.count())
            .finish()
    }
}

impl HashTable {
    /// Creates a table named `name` in a new memzone of `mem` (usually in the primary).
    pub fn create(mem: &Memory, name: &str, p: &HashParams) -> Result<HashTable, TableError> {
        check_name(name)?;
        if p.key_len == 0 || p.key_len > MAX_KEY_LEN {
            return Err(TableError::InvalidParam(format!("key length {} must be 1 to {MAX_KEY_LEN} bytes", p.key_len)));
        }
        if let (HashFunction::Toeplitz(_), true) = (p.hash_fn, p.key_len > eal::toeplitz::MAX_INPUT) {
            return Err(TableError::InvalidParam(format!(
                "key length {} is over the {} bytes a 40-byte Toeplitz key hashes in full; use \
                 HashFunction::Crc32c or Jhash for longer keys",
                p.key_len,
                eal::toeplitz::MAX_INPUT
            )));
        }
        if p.entries < SLOTS as u32 || p.entries > 1 << 30 {
            return Err(TableError::InvalidParam(format!("entries {} must be {SLOTS} to {}", p.entries, 1u32 << 30)));
        }
        // DPDK's sizing: slots for `entries` rounded up to a power of two, so a full table is
        // up to 100% loaded and cuckoo moves make the room (see `HashTable::add`).
        let buckets = (p.entries as usize).div_ceil(SLOTS).next_power_of_two();
        let at = Offsets::new(buckets, p.entries as usize, p.key_len);
        let mz = mem.memzone_reserve(name, (at.total * 8) as u64, 64)?;
        let words = Self::words_of(&mz, name)?;
        let hdr = Self::header_of(words, name)?;
        hdr.key_len.store(p.key_len as u64, Ordering::Relaxed);
        hdr.value_len.store(VALUE_LEN as u64, Ordering::Relaxed);
        hdr.buckets.store(buckets as u64, Ordering::Relaxed);
        hdr.hash_fn.store(p.hash_fn.id(), Ordering::Relaxed);
        if let HashFunction::Toeplitz(key) = p.hash_fn {
            for (w, c) in hdr.toeplitz_key.iter().zip(key.as_chunks::<8>().0) {
                w.store(u64::from_le_bytes(*c), Ordering::Relaxed);
            }
        }
        hdr.capacity.store(p.entries as u64, Ordering::Relaxed);
        hdr.seed.store(p.seed as u64, Ordering::Relaxed);
        let h = Self::handle(name, words, hdr, p.key_len)?;
        h.fill_free_list(|_| false);
        hdr.magic.store(layout::MAGIC, Ordering::Release);
        Ok(h)
    }

    /// Finds the table `name` (created by any process of the group), checking it holds keys of
    /// `key_len` bytes and values of `value_len` bytes (8: values are `u64`).
    pub fn lookup_by_name(mem: &Memory, name: &str, key_len: usize, value_len: usize) -> Result<HashTable, TableError> {
        check_name(name)?;
        let mz = mem.memzone_lookup(name).ok_or_else(|| TableError::NotFound(name.into()))?;
        let words = Self::words_of(&mz, name)?;
        let hdr = Self::header_of(words, name)?;
        if hdr.magic.load(Ordering::Acquire) != layout::MAGIC {
            return Err(TableError::NotATable { name: name.into(), kind: "hash table" });
        }
        for (what, word, asked) in [("keys", &hdr.key_len, key_len), ("values", &hdr.value_len, value_len)] {
            let stored = word.load(Ordering::Relaxed) as usize;
            if stored != asked {
                return Err(TableError::SizeMismatch { name: name.into(), what, stored, asked });
            }
        }
        Self::handle(name, words, hdr, key_len)
    }

    /// The header at the start of the table's words.
    fn header_of(words: &'static [AtomicU64], name: &str) -> Result<&'static Header, TableError> {
        if words.len() < HDR_WORDS {
            return Err(TableError::NotATable { name: name.into(), kind: "hash table" });
        }
        shm::shared_ref::<Header>(words.as_ptr() as u64)
            .ok_or_else(|| TableError::NotATable { name: name.into(), kind: "hash table" })
    }

    fn words_of(mz: &eal::Memzone, name: &str) -> Result<&'static [AtomicU64], TableError> {
        shm::shared_slice::<AtomicU64>(mz.addr(), (mz.len() / 8) as usize)
            .ok_or_else(|| TableError::NotATable { name: name.into(), kind: "hash table" })
    }

    /// A handle on the table in `words`, after checking its geometry fits the memzone.
    fn handle(
        name: &str,
        words: &'static [AtomicU64],
        hdr: &'static Header,
        key_len: usize,
    ) -> Result<HashTable, TableError> {
        let not = || TableError::NotATable { name: name.into(), kind: "hash table" };
        let buckets = hdr.buckets.load(Ordering::Relaxed) as usize;
        let capacity = hdr.capacity.load(Ordering::Relaxed);
        let hash_fn = HashFunction::from_id(hdr.hash_fn.load(Ordering::Relaxed), || {
            let mut key = [0u8; eal::toeplitz::KEY_LEN];
            for (c, w) in key.as_chunks_mut::<8>().0.iter_mut().zip(&hdr.toeplitz_key) {
                *c = w.load(Ordering::Relaxed).to_le_bytes();
            }
            key
        })
        .ok_or_else(not)?;
        if matches!(hash_fn, HashFunction::Toeplitz(_)) && key_len > eal::toeplitz::MAX_INPUT {
            return Err(not());
        }
        if !buckets.is_power_of_two()
            || buckets > 1 << 31
            || key_len == 0
            || key_len > MAX_KEY_LEN
            || capacity > 1 << 30
        {
            return Err(not());
        }
        let at = Offsets::new(buckets, capacity as usize, key_len);
        if words.len() < at.total {
            return Err(not());
        }
        Ok(HashTable {
            name: name.into(),
            hdr,
            words,
            store: &words[at.store..at.free],
            key_len,
            kw: key_len.div_ceil(8),
            mask: (buckets - 1) as u32,
            capacity: capacity as u32,
            at,
            hash_fn,
            seed: hdr.seed.load(Ordering::Relaxed) as u32,
            crc: crc::Crc32c::detect(),
        })
    }

    /// Releases the table's memzone. Other processes' handles must not be used afterwards.
    pub fn free(self, mem: &Memory) {
        if let Some(mz) = mem.memzone_lookup(&self.name) {
            mem.memzone_free(mz);
        }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Key size in bytes.
    pub fn key_len(&self) -> usize {
        self.key_len
    }
    /// Entries in the table.
    pub fn count(&self) -> u64 {
        self.hdr.count.load(Ordering::Relaxed)
    }
    /// Most entries the table accepts.
    pub fn capacity(&self) -> u64 {
        u64::from(self.capacity)
    }
    /// The hash function the table was created with.
    pub fn hash_function(&self) -> HashFunction {
        self.hash_fn
    }

    /// Checks `key` has the table's key size.
    #[inline(always)]
    fn check_key(&self, key: &[u8]) -> Result<(), TableError> {
        if key.len() != self.key_len {
            return Err(self.wrong_key(key.len()));
        }
        Ok(())
    }

    #[cold]
    fn wrong_key(&self, len: usize) -> TableError {
        TableError::InvalidParam(format!(
            "key of {len} bytes for table '{}' whose keys are {} bytes",
            self.name, self.key_len
        ))
    }

    #[inline(always)]
    fn hash_words<const KW: usize>(&self, w: &[u64; KW]) -> u32 {
        match self.hash_fn {
            HashFunction::Crc32c => mix(self.crc.words(self.seed, w)),
            _ => self.hash_other(w),
        }
    }

    /// [`HashTable::hash_words`] for the functions other than the default CRC: out of line,
    /// so the code inlined into every lookup stays that of the CRC.
    #[inline(never)]
    fn hash_other(&self, w: &[u64]) -> u32 {
        let mut bytes = [0u8; MAX_KEY_LEN];
        for (c, x) in bytes.as_chunks_mut::<8>().0.iter_mut().zip(w) {
            *c = x.to_le_bytes();
        }
        // `key_len` is at most MAX_KEY_LEN (checked when the handle is made).
        let key = &bytes[..self.key_len];
        match self.hash_fn {
            HashFunction::Crc32c => mix(self.crc.words(self.seed, w)),
            // Over the key's whole words, zero padding included.
            HashFunction::Fnv1a => bytes[..8 * w.len().min(MAX_KEY_LEN / 8)]
                .iter()
                .fold(0x811c_9dc5u32 ^ self.seed, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193)),
            HashFunction::Jhash => crate::jhash::hash(key, self.seed),
            HashFunction::Toeplitz(k) => eal::toeplitz::hash(&k, key),
        }
    }

    fn hash_n<const KW: usize, const EW: usize>(&self, key: &[u8]) -> u32 {
        self.hash_words(&key_words::<KW>(key))
    }

    /// The table's hash of `key` (for [`HashTable::lookup_with_hash`]).
    pub fn hash(&self, key: &[u8]) -> Result<u32, TableError> {
        self.check_key(key)?;
        Ok(by_key_words!(self, hash_n(key)))
    }

    #[inline(always)]
    fn primary(&self, hash: u32) -> u32 {
        hash & self.mask
    }
    /// The other bucket of a key whose short signature is `sig` and that may live in `b`.
    #[inline(always)]
    fn alt(&self, b: u32, sig: u16) -> u32 {
        (b ^ (u32::from(sig).wrapping_mul(0x9E37_79B1) | 1)) & self.mask
    }
    /// First word of bucket `b`.
    #[inline(always)]
    fn bucket(&self, b: u32) -> usize {
        HDR_WORDS + b as usize * self.at.bucket_words
    }
    /// First word of bucket `b` of a table of `KW`-word keys (the bucket size a constant).
    #[inline(always)]
    fn bucket_k<const KW: usize>(&self, b: u32) -> usize {
        HDR_WORDS + b as usize * layout::bucket_words(KW)
    }
    /// The first line of the bucket starting at word `base`: one bounds check for all of it
    /// (never failing: bucket numbers are masked and the memzone's length was checked
    /// against the layout in `handle`).
    #[inline(always)]
    fn line_at(&self, base: usize) -> &[AtomicU64; BUCKET_WORDS] {
        let words: &[AtomicU64] = &self.words[base..base + BUCKET_WORDS];
        words.try_into().expect("a bucket line is BUCKET_WORDS words")
    }
    /// The first line of bucket `b`: counter, signatures, indices.
    #[inline(always)]
    fn bucket_ref(&self, b: u32) -> &[AtomicU64; BUCKET_WORDS] {
        self.line_at(self.bucket(b))
    }
    #[inline(always)]
    fn seq(&self, b: u32) -> &AtomicU64 {
        &self.bucket_ref(b)[B_SEQ]
    }
    /// Key-store index in slot `s` of bucket `b` (0: free).
    #[inline(always)]
    fn index(&self, b: u32, s: usize) -> u32 {
        slot_index(self.bucket_ref(b), s)
    }
    /// Short signature in slot `s` of bucket `b`.
    fn sig_of(&self, b: u32, s: usize) -> u16 {
        (self.words[self.bucket(b) + B_SIGS + s / 4].load(Ordering::Relaxed) >> (16 * (s % 4))) as u16
    }
    /// Word offsets of the key and the value of the entry in slot `s` of bucket `b`, whose
    /// key-store index is `idx`: in the bucket with inline entries, else in the store.
    fn entry_at(&self, b: u32, s: usize, idx: u32) -> (usize, usize) {
        if self.at.inline {
            let (k, v) = layout::inline_entry(self.kw, s);
            let base = self.bucket(b);
            (base + k, base + v)
        } else {
            let e = self.at.store + idx as usize * self.at.entry_words;
            (e + 1, e)
        }
    }

    /// The key store as entries of `EW` words: the value, then the `KW` key words.
    #[inline(always)]
    fn entries<const KW: usize, const EW: usize>(&self) -> &[[AtomicU64; EW]] {
        const { assert!(layout::entry_words(KW) == EW) };
        self.store.as_chunks::<EW>().0
    }

    /// The key words and the value of the entry in slot `s` (key-store index `idx`) of the
    /// bucket starting at word `base` (`None` past the memzone's end: only for a damaged
    /// table). Constants decide where it is, so only the chosen layout's code is built.
    #[inline(always)]
    fn slot_entry<const KW: usize, const EW: usize>(
        &self,
        base: usize,
        s: usize,
        idx: u32,
    ) -> Option<(&[AtomicU64; KW], &AtomicU64)> {
        if layout::is_inline(KW) {
            let bk = self.words.get(base..base + layout::inline_bucket_words(KW))?;
            let (k, v) = layout::inline_entry(KW, s);
            Some((bk[k..k + KW].try_into().ok()?, &bk[v]))
        } else {
            let e = self.entries::<KW, EW>().get(idx as usize)?;
            Some((e[1..1 + KW].try_into().ok()?, &e[0]))
        }
    }

    /// The value in slot `s` of bucket `b` (key-store index `idx`).
    fn value_at(&self, b: u32, s: usize, idx: u32) -> u64 {
        self.words.get(self.entry_at(b, s, idx).1).map_or(0, |w| w.load(Ordering::Relaxed))
    }

    /// Starts fetching the lines of the bucket starting at word `base`; with inline entries,
    /// its entries' lines too.
    #[inline(always)]
    fn prefetch_bucket<const KW: usize>(&self, base: usize) {
        for line in (0..layout::bucket_words(KW)).step_by(BUCKET_WORDS) {
            if let Some(w) = self.words.get(base + line) {
                eal::prefetch::line(w);
            }
        }
    }

    /// The slots of bucket `b` whose short signature is `sig`, as a bit per slot.
    #[inline(always)]
    fn sig_slots(&self, b: u32, sig: u16) -> u32 {
        bucket_sigs(self.bucket_ref(b), sig)
    }

    /// Slot and key-store index of `key` in bucket `b` (no validation: the caller checks the
    /// bucket's counter, or holds the writer lock).
    #[inline(always)]
    fn search<const KW: usize, const EW: usize>(&self, b: u32, sig: u16, key: &[u64; KW]) -> Option<(usize, u32)> {
        self.search_in::<KW, EW>(self.bucket_k::<KW>(b), sig, key).map(|(s, idx, _)| (s, idx))
    }

    /// As `search`, on the bucket starting at word `base`, also giving the entry's value word.
    #[inline(always)]
    fn search_in<const KW: usize, const EW: usize>(
        &self,
        base: usize,
        sig: u16,
        key: &[u64; KW],
    ) -> Option<(usize, u32, &AtomicU64)> {
        let bk = self.line_at(base);
        let mut m = bucket_sigs(bk, sig);
        while m != 0 {
            let s = m.trailing_zeros() as usize;
            m &= m - 1;
            let idx = slot_index(bk, s);
            if idx == 0 {
                continue;
            }
            if let Some((k, v)) = self.slot_entry::<KW, EW>(base, s, idx) {
                if key_is(k, key) {
                    return Some((s, idx, v));
                }
            }
        }
        None
    }

    /// A reader's wait for a bucket being written; after a long wait it checks whether the
    /// writer died mid-write and, if so, recovers the table.
    #[cold]
    fn wait_writer(&self, spins: &mut u32) {
        *spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1 << 16) {
            self.recover_dead_writer();
        }
        std::hint::spin_loop();
    }

    #[inline(always)]
    fn lookup_words<const KW: usize, const EW: usize>(&self, key: &[u64; KW], hash: u32) -> Option<u64> {
        let p = self.primary(hash);
        let sig = short_sig(hash);
        let mut spins = 0u32;
        let base = self.bucket_k::<KW>(p);
        if layout::is_inline(KW) {
            // The entries' lines, so their misses overlap the bucket line's.
            self.prefetch_bucket::<KW>(base);
        }
        let bk = self.line_at(base);
        loop {
            let s1 = bk[B_SEQ].load(Ordering::Acquire);
            if s1 & 1 == 1 {
                self.wait_writer(&mut spins);
                continue;
            }
            // Found in the primary bucket while it did not change: the entry was there. Not
            // found while no key of this bucket overflowed: not in the table.
            let found = self.search_in::<KW, EW>(base, sig, key).map(|(_, _, v)| v.load(Ordering::Relaxed));
            if found.is_some() || !overflowed(bk) {
                fence(Ordering::Acquire);
                if bk[B_SEQ].load(Ordering::Relaxed) == s1 {
                    return found;
                }
                continue;
            }
            if let Some(r) = self.lookup_alt::<KW, EW>(p, sig, key, s1, &mut spins) {
                return r;
            }
        }
    }

    /// The second half of a lookup missed in its primary bucket `p` (read at counter `s1`):
    /// both buckets must stay stable across the whole search, so a key moving between them is
    /// seen in one of the two. `None` when the search must start again.
    #[inline(never)]
    fn lookup_alt<const KW: usize, const EW: usize>(
        &self,
        p: u32,
        sig: u16,
        key: &[u64; KW],
        s1: u64,
        spins: &mut u32,
    ) -> Option<Option<u64>> {
        let a = self.alt(p, sig);
        let s2 = self.seq(a).load(Ordering::Acquire);
        if s2 & 1 == 1 {
            self.wait_writer(spins);
            return None;
        }
        let r = self.search_in::<KW, EW>(self.bucket_k::<KW>(a), sig, key).map(|(_, _, v)| v.load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        (self.seq(p).load(Ordering::Relaxed) == s1 && self.seq(a).load(Ordering::Relaxed) == s2).then_some(r)
    }

    #[inline(always)]
    fn lookup_n<const KW: usize, const EW: usize>(&self, key: &[u8], hash: Option<u32>) -> Option<u64> {
        let w = key_words::<KW>(key);
        let hash = match hash {
            Some(h) => h,
            None => self.hash_words(&w),
        };
        self.lookup_words::<KW, EW>(&w, hash)
    }

    /// The value of `key`, `None` when absent. Lock-free; safe beside a writer in any process.
    #[inline]
    pub fn lookup(&self, key: &[u8]) -> Result<Option<u64>, TableError> {
        self.check_key(key)?;
        Ok(by_key_words!(self, lookup_n(key, None)))
    }

    /// As [`HashTable::lookup`] with the hash already computed by [`HashTable::hash`].
    #[inline]
    pub fn lookup_with_hash(&self, key: &[u8], hash: u32) -> Result<Option<u64>, TableError> {
        self.check_key(key)?;
        Ok(by_key_words!(self, lookup_n(key, Some(hash))))
    }

    /// Looks up to [`MAX_BULK`] keys; `values[i]` gets key `i`'s value when bit `i` of the
    /// returned hit mask is set.
    ///
    /// In stages over the whole burst, so the cache misses of its keys overlap: hash every
    /// key and prefetch its primary bucket; compare signatures and prefetch the key-store
    /// entry of the first match; compare keys and validate. A key not settled that way (not
    /// in its primary bucket, a bucket being written) takes the single-key path.
    #[inline]
    pub fn lookup_bulk(&self, keys: &[&[u8]], values: &mut [u64]) -> Result<u64, TableError> {
        let n = keys.len();
        if n > MAX_BULK || values.len() < n {
            return Err(TableError::InvalidParam(format!(
                "bulk lookup of {n} keys into {} values: at most {MAX_BULK} keys and one value slot each",
                values.len()
            )));
        }
        if let Some(k) = keys.iter().find(|k| k.len() != self.key_len) {
            return Err(self.wrong_key(k.len()));
        }
        Ok(by_key_words!(self, bulk_n(keys, values)))
    }

    fn bulk_n<const KW: usize, const EW: usize>(&self, keys: &[&[u8]], values: &mut [u64]) -> u64 {
        let mut hits = 0u64;
        for (g, (ks, vs)) in keys.chunks(BULK_GROUP).zip(values.chunks_mut(BULK_GROUP)).enumerate() {
            hits |= self.bulk_group::<KW, EW>(ks, vs) << (g * BULK_GROUP);
        }
        hits
    }

    /// [`HashTable::lookup_bulk`] for up to [`BULK_GROUP`] keys, in the three stages. Each
    /// stage keeps what the next needs (the key's words, its bucket, the entry it points
    /// at), so no address is computed or bounds-checked twice.
    #[inline(always)]
    fn bulk_group<const KW: usize, const EW: usize>(&self, keys: &[&[u8]], values: &mut [u64]) -> u64 {
        let n = keys.len().min(BULK_GROUP);
        let mut words = [[0u64; KW]; BULK_GROUP];
        let mut hashes = [0u32; BULK_GROUP];
        let mut bases = [0usize; BULK_GROUP];
        // The keys themselves first (their first and last bytes; a key spans two lines at
        // most), so hashing the burst does not wait for them one after another.
        for k in &keys[..n] {
            eal::prefetch::addr(k.as_ptr());
            eal::prefetch::addr(k.as_ptr().wrapping_add(k.len().saturating_sub(1)));
        }
        for i in 0..n {
            words[i] = key_words::<KW>(keys[i]);
            hashes[i] = self.hash_words(&words[i]);
            bases[i] = self.bucket_k::<KW>(self.primary(hashes[i]));
            // With inline entries, the entries' lines too: no second wait after the bucket's.
            self.prefetch_bucket::<KW>(bases[i]);
        }
        // Per key: its bucket's counter and the entry of the first matching signature.
        let mut seqs = [0u64; BULK_GROUP];
        // Each key's bucket counter, to validate against (the header word only fills the
        // array until stage 2 sets every entry below `n`).
        let mut seq_at = [&self.hdr.lock; BULK_GROUP];
        let mut entries: [Option<(&[AtomicU64; KW], &AtomicU64)>; BULK_GROUP] = [None; BULK_GROUP];
        for i in 0..n {
            let bk = self.line_at(bases[i]);
            seq_at[i] = &bk[B_SEQ];
            seqs[i] = bk[B_SEQ].load(Ordering::Acquire);
            let m = bucket_sigs(bk, short_sig(hashes[i]));
            if m != 0 {
                let s = m.trailing_zeros() as usize;
                let idx = slot_index(bk, s);
                if idx != 0 {
                    entries[i] = self.slot_entry::<KW, EW>(bases[i], s, idx);
                    if let (false, Some((k, v))) = (layout::is_inline(KW), entries[i]) {
                        eal::prefetch::line(v);
                        // An entry of 2, 4 or 8 words never crosses a cache line (the store
                        // starts on one); a longer or odd-sized one may.
                        if 8 % EW != 0 {
                            eal::prefetch::line(&k[KW - 1]);
                        }
                    }
                }
            }
        }
        let mut hits = 0u64;
        for i in 0..n {
            if let Some((k, v)) = entries[i] {
                if seqs[i] & 1 == 0 && key_is(k, &words[i]) {
                    let v = v.load(Ordering::Relaxed);
                    fence(Ordering::Acquire);
                    if seq_at[i].load(Ordering::Relaxed) == seqs[i] {
                        values[i] = v;
                        hits |= 1 << i;
                        continue;
                    }
                }
            }
            // Not settled by its first match in the primary bucket: the full search.
            if let Some(v) = self.lookup_words::<KW, EW>(&words[i], hashes[i]) {
                values[i] = v;
                hits |= 1 << i;
            }
        }
        hits
    }

    /// The next entry at or after position `*next` (start at 0), advancing `*next` past it;
    /// `None` at the end. Entries added or removed meanwhile may or may not be seen.
    pub fn iterate(&self, next: &mut u64) -> Option<(Vec<u8>, u64)> {
        let total = (u64::from(self.mask) + 1) * SLOTS as u64;
        while *next < total {
            let b = (*next / SLOTS as u64) as u32;
            let s = (*next % SLOTS as u64) as usize;
            *next += 1;
            let mut spins = 0u32;
            loop {
                let s1 = self.seq(b).load(Ordering::Acquire);
                if s1 & 1 == 1 {
                    self.wait_writer(&mut spins);
                    continue;
                }
                let idx = self.index(b, s);
                let (e, _) = self.entry_at(b, s, idx);
                let value = self.value_at(b, s, idx);
                let mut key = Vec::with_capacity(self.kw * 8);
                for k in 0..self.kw {
                    let w = self.words.get(e + k).map_or(0, |w| w.load(Ordering::Relaxed));
                    key.extend_from_slice(&w.to_le_bytes());
                }
                fence(Ordering::Acquire);
                if self.seq(b).load(Ordering::Relaxed) != s1 {
                    continue;
                }
                if idx != 0 {
                    key.truncate(self.key_len);
                    return Some((key, value));
                }
                break;
            }
        }
        None
    }
}

/// Key-store index in slot `s` of a bucket (0: free).
#[inline(always)]
fn slot_index(bk: &[AtomicU64; BUCKET_WORDS], s: usize) -> u32 {
    (bk[B_IDX + (s / 2) % (SLOTS / 2)].load(Ordering::Relaxed) >> (32 * (s % 2))) as u32
}

/// True when a key whose primary bucket is `bk` may live in its alternative bucket.
#[inline(always)]
fn overflowed(bk: &[AtomicU64; BUCKET_WORDS]) -> bool {
    bk[B_FLAGS].load(Ordering::Relaxed) & OVERFLOWED != 0
}

/// The slots of a bucket whose short signature is `sig`, a bit per slot.
#[inline(always)]
fn bucket_sigs(bk: &[AtomicU64; BUCKET_WORDS], sig: u16) -> u32 {
    sig_match(bk[B_SIGS].load(Ordering::Relaxed), bk[B_SIGS + 1].load(Ordering::Relaxed), sig)
}

/// True when the stored key words `k` are `key`.
#[inline(always)]
fn key_is<const KW: usize>(k: &[AtomicU64; KW], key: &[u64; KW]) -> bool {
    // Unrolled for the key's `KW` words, no bounds checks.
    let mut diff = 0;
    for i in 0..KW {
        diff |= k[i].load(Ordering::Relaxed) ^ key[i];
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counter keys (a few low bytes vary, the rest zero) at 75% of the capacity spread as a
    /// uniform hash's would: the CRC is mixed before it picks buckets. At this load (6 keys a
    /// bucket of 8 on average) a uniform hash overflows about 5% of keys (Poisson tail) to
    /// their alternative bucket; plain CRC32-C (linear) put two thirds of these 64-byte keys
    /// there.
    #[test]
    fn counter_keys_stay_in_their_primary_bucket() {
        let m = Memory::anonymous(64 << 20).unwrap();
        let h = HashTable::create(&m, "spread", &HashParams { entries: 1 << 19, key_len: 64, ..Default::default() })
            .unwrap();
        let n = (1u64 << 19) * 3 / 4;
        let key = |i: u64| {
            let mut k = [0u8; 64];
            k[..8].copy_from_slice(&i.to_le_bytes());
            k
        };
        for i in 0..n {
            h.add(&key(i), i).unwrap();
        }
        let mut elsewhere = 0;
        for i in 0..n {
            let hash = h.hash(&key(i)).unwrap();
            if h.search::<8, 9>(h.primary(hash), short_sig(hash), &key_words::<8>(&key(i))).is_none() {
                elsewhere += 1;
            }
        }
        assert!(elsewhere * 100 < n * 8, "{elsewhere} of {n} keys are not in their primary bucket");
    }
}
