//! A bucketised cuckoo hash table in a memzone.
//!
//! Layout (all 64-bit atomic words, so any process maps it the same way): a header (magic,
//! key and value sizes, bucket count, capacity, hash function id, seed, entry count, writer
//! lock), then `buckets` buckets of [`SLOTS`] slots. A bucket starts with a cache line holding
//! its sequence counter, the slots' 32-bit signatures (two per word) and a bitmap of the
//! slots in use, so a lookup reads the key of a slot only when its signature matches; then
//! come the slots, each the value followed by the key padded to whole words.
//!
//! A key lives in one of two buckets: `sig & mask` or its alternative `b ^ alt(sig)`, which is
//! symmetric, so an entry can be moved between its two buckets knowing only its signature.
//!
//! Readers are lock-free: they snapshot both buckets' sequence counters, search, and retry if
//! a counter moved or was odd (a write in progress), so they never return a torn entry.
//! Writers (from any process) are serialised by a spinlock word in the header; each bucket
//! write makes its counter odd, writes, and makes it even again. A cuckoo move writes the
//! destination before clearing the source, so a concurrent reader finds a moving key in one
//! of its two buckets.
//!
//! The lock word holds the writer's pid. A writer that dies holding it (`kill -9`) is
//! recovered from: the next writer, or a reader kept waiting by a bucket left mid-write,
//! sees the owner is dead, takes the lock and repairs what a write cut short can leave: odd
//! bucket counters, a key left in both buckets by a move, the entry count.

use crate::{check_name, crc, TableError};
use eal::{shm, Memory};
use std::sync::atomic::{fence, AtomicU64, Ordering};

/// Slots per bucket.
pub const SLOTS: usize = 8;
/// Largest key, in bytes.
pub const MAX_KEY_LEN: usize = 64;
/// Largest bulk lookup.
pub const MAX_BULK: usize = 64;
/// Size of a value, in bytes (values are `u64`).
pub const VALUE_LEN: usize = 8;

/// Identifies the table kind and layout revision; bumped whenever the layout changes, so a
/// binary built with another layout is refused instead of misreading the table.
const MAGIC: u64 = 0x4259_5048_4153_4832; // "BYPHASH2"
const HDR_WORDS: usize = 16;

/// The table's header, the first [`HDR_WORDS`] words of its memzone: what any process needs
/// to read the buckets the same way, and the writer's state.
#[repr(C)]
struct Header {
    /// [`MAGIC`], stored last at creation.
    magic: AtomicU64,
    /// Key size in bytes.
    key_len: AtomicU64,
    /// Value size in bytes ([`VALUE_LEN`]).
    value_len: AtomicU64,
    /// Number of buckets, a power of two.
    buckets: AtomicU64,
    /// The hash function, as [`HashFunction::id`].
    hash_fn: AtomicU64,
    /// Most entries accepted.
    capacity: AtomicU64,
    /// Entries in the table.
    count: AtomicU64,
    /// The writer lock: 0, or [`lock_word`] of the writer's pid.
    lock: AtomicU64,
    /// Initial value of the hash.
    seed: AtomicU64,
    _reserved: [AtomicU64; HDR_WORDS - 9],
}

// SAFETY: only atomic integers: plain data, valid when zeroed, no pointers.
unsafe impl shm::SharedPlain for Header {}
const _: () = assert!(std::mem::size_of::<Header>() == HDR_WORDS * 8);
const MAX_PATH_NODES: usize = 512;
/// Words of a bucket's header: sequence, 4 words of signatures, the in-use bitmap, padding.
const BUCKET_HDR: usize = 8;
const B_SIGS: usize = 1;
const B_USED: usize = 5;

/// Which hash function a table uses; stored in the table as an id, never as a pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFunction {
    /// CRC32-C over the key's words (SSE4.2 when the CPU has it, the same values otherwise).
    Crc32c,
    /// FNV-1a (32-bit) over the key's bytes: portable and simple.
    Fnv1a,
}

impl HashFunction {
    fn id(self) -> u64 {
        match self {
            HashFunction::Crc32c => 1,
            HashFunction::Fnv1a => 2,
        }
    }
    fn from_id(id: u64) -> Option<HashFunction> {
        match id {
            1 => Some(HashFunction::Crc32c),
            2 => Some(HashFunction::Fnv1a),
            _ => None,
        }
    }
}

/// Parameters of [`HashTable::create`].
#[derive(Debug, Clone)]
pub struct HashParams {
    /// Most entries the table holds (at least 8).
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
    key_len: usize,
    kw: usize,
    mask: u32,
    slot_words: usize,
    bucket_words: usize,
    hash_fn: HashFunction,
    seed: u32,
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

/// Key padded to words.
type KeyWords = [u64; MAX_KEY_LEN / 8];

struct WriterGuard<'a>(&'a AtomicU64);
impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

/// The lock word of a writer: its pid with a marker bit, never 0.
fn lock_word(pid: u32) -> u64 {
    u64::from(pid) | 1 << 40
}

/// The pid in a lock word, `None` when unlocked.
fn lock_owner(word: u64) -> Option<u32> {
    (word != 0).then_some(word as u32)
}

impl HashTable {
    /// Memzone bytes needed for `buckets` buckets of `key_len`-byte keys.
    fn mem_words(buckets: usize, key_len: usize) -> usize {
        HDR_WORDS + buckets * Self::bucket_words_for(key_len)
    }

    /// Words per bucket: the header line, then the slots; a whole number of cache lines.
    fn bucket_words_for(key_len: usize) -> usize {
        (BUCKET_HDR + SLOTS * (1 + key_len.div_ceil(8))).div_ceil(8) * 8
    }

    /// Creates a table named `name` in a new memzone of `mem` (usually in the primary).
    pub fn create(mem: &Memory, name: &str, p: &HashParams) -> Result<HashTable, TableError> {
        check_name(name)?;
        if p.key_len == 0 || p.key_len > MAX_KEY_LEN {
            return Err(TableError::InvalidParam(format!("key length {} must be 1 to {MAX_KEY_LEN} bytes", p.key_len)));
        }
        if p.entries < SLOTS as u32 || p.entries > 1 << 30 {
            return Err(TableError::InvalidParam(format!("entries {} must be {SLOTS} to {}", p.entries, 1u32 << 30)));
        }
        let mut buckets = (p.entries as usize).div_ceil(SLOTS).next_power_of_two();
        // Keep the load at most ~90% so a cuckoo path to a free slot exists in practice.
        if (p.entries as usize) * 10 > buckets * SLOTS * 9 {
            buckets *= 2;
        }
        let bytes = (Self::mem_words(buckets, p.key_len) * 8) as u64;
        let mz = mem.memzone_reserve(name, bytes, 64)?;
        let words = Self::words_of(&mz, name)?;
        let hdr = Self::header_of(words, name)?;
        hdr.key_len.store(p.key_len as u64, Ordering::Relaxed);
        hdr.value_len.store(VALUE_LEN as u64, Ordering::Relaxed);
        hdr.buckets.store(buckets as u64, Ordering::Relaxed);
        hdr.hash_fn.store(p.hash_fn.id(), Ordering::Relaxed);
        hdr.capacity.store(p.entries as u64, Ordering::Relaxed);
        hdr.seed.store(p.seed as u64, Ordering::Relaxed);
        hdr.magic.store(MAGIC, Ordering::Release);
        Self::attach(name, words, p.key_len, VALUE_LEN)
    }

    /// Finds the table `name` (created by any process of the group), checking it holds keys of
    /// `key_len` bytes and values of `value_len` bytes (8: values are `u64`).
    pub fn lookup_by_name(mem: &Memory, name: &str, key_len: usize, value_len: usize) -> Result<HashTable, TableError> {
        check_name(name)?;
        let mz = mem.memzone_lookup(name).ok_or_else(|| TableError::NotFound(name.into()))?;
        let words = Self::words_of(&mz, name)?;
        Self::attach(name, words, key_len, value_len)
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

    fn attach(
        name: &str,
        words: &'static [AtomicU64],
        key_len: usize,
        value_len: usize,
    ) -> Result<HashTable, TableError> {
        let not = || TableError::NotATable { name: name.into(), kind: "hash table" };
        let hdr = Self::header_of(words, name)?;
        if hdr.magic.load(Ordering::Acquire) != MAGIC {
            return Err(not());
        }
        for (what, word, asked) in [("keys", &hdr.key_len, key_len), ("values", &hdr.value_len, value_len)] {
            let stored = word.load(Ordering::Relaxed) as usize;
            if stored != asked {
                return Err(TableError::SizeMismatch { name: name.into(), what, stored, asked });
            }
        }
        let buckets = hdr.buckets.load(Ordering::Relaxed) as usize;
        let hash_fn = HashFunction::from_id(hdr.hash_fn.load(Ordering::Relaxed)).ok_or_else(not)?;
        if !buckets.is_power_of_two()
            || key_len == 0
            || key_len > MAX_KEY_LEN
            || words.len() < Self::mem_words(buckets, key_len)
        {
            return Err(not());
        }
        let kw = key_len.div_ceil(8);
        let slot_words = 1 + kw;
        Ok(HashTable {
            name: name.into(),
            hdr,
            words,
            key_len,
            kw,
            mask: (buckets - 1) as u32,
            slot_words,
            bucket_words: Self::bucket_words_for(key_len),
            hash_fn,
            seed: hdr.seed.load(Ordering::Relaxed) as u32,
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
        self.hdr.capacity.load(Ordering::Relaxed)
    }
    /// The hash function the table was created with.
    pub fn hash_function(&self) -> HashFunction {
        self.hash_fn
    }

    fn check_key(&self, key: &[u8]) -> Result<KeyWords, TableError> {
        if key.len() != self.key_len {
            return Err(TableError::InvalidParam(format!(
                "key of {} bytes for table '{}' whose keys are {} bytes",
                key.len(),
                self.name,
                self.key_len
            )));
        }
        let mut w = [0u64; MAX_KEY_LEN / 8];
        for (i, c) in key.chunks(8).enumerate() {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            w[i] = u64::from_le_bytes(b);
        }
        Ok(w)
    }

    fn hash_words(&self, w: &KeyWords) -> u32 {
        let w = &w[..self.kw];
        match self.hash_fn {
            HashFunction::Crc32c => crc::crc32c_words(self.seed, w),
            HashFunction::Fnv1a => {
                let mut h = 0x811c_9dc5u32 ^ self.seed;
                for &x in w {
                    for b in x.to_le_bytes() {
                        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
                    }
                }
                h
            }
        }
    }

    /// The table's hash of `key` (for [`HashTable::lookup_with_hash`]).
    pub fn hash(&self, key: &[u8]) -> Result<u32, TableError> {
        Ok(self.hash_words(&self.check_key(key)?))
    }

    fn primary(&self, sig: u32) -> u32 {
        sig & self.mask
    }
    fn alt(&self, b: u32, sig: u32) -> u32 {
        (b ^ (sig.rotate_left(16) | 1)) & self.mask
    }
    fn base(&self, b: u32) -> usize {
        HDR_WORDS + b as usize * self.bucket_words
    }
    fn seq(&self, b: u32) -> &AtomicU64 {
        &self.words[self.base(b)]
    }
    fn used(&self, b: u32) -> &AtomicU64 {
        &self.words[self.base(b) + B_USED]
    }
    fn sig_of(&self, b: u32, s: usize) -> u32 {
        (self.words[self.base(b) + B_SIGS + s / 2].load(Ordering::Relaxed) >> (32 * (s % 2))) as u32
    }
    /// Sets slot `s`'s signature (writer only).
    fn set_sig(&self, b: u32, s: usize, sig: u32) {
        let w = &self.words[self.base(b) + B_SIGS + s / 2];
        let shift = 32 * (s % 2);
        let v = w.load(Ordering::Relaxed) & !(0xffff_ffffu64 << shift) | (sig as u64) << shift;
        w.store(v, Ordering::Relaxed);
    }
    /// Word index of slot `s` of bucket `b`: value, then key words.
    fn slot(&self, b: u32, s: usize) -> usize {
        self.base(b) + BUCKET_HDR + s * self.slot_words
    }

    fn search_bucket(&self, b: u32, sig: u32, key: &KeyWords) -> Option<(usize, u64)> {
        let base = self.base(b);
        let used = self.words[base + B_USED].load(Ordering::Relaxed);
        if used == 0 {
            return None;
        }
        for j in 0..SLOTS / 2 {
            let pair = self.words[base + B_SIGS + j].load(Ordering::Relaxed);
            for h in 0..2 {
                let s = 2 * j + h;
                if used & (1 << s) == 0 || (pair >> (32 * h)) as u32 != sig {
                    continue;
                }
                let i = self.slot(b, s);
                if (0..self.kw).all(|k| self.words[i + 1 + k].load(Ordering::Relaxed) == key[k]) {
                    return Some((s, self.words[i].load(Ordering::Relaxed)));
                }
            }
        }
        None
    }

    /// A reader's wait for a bucket being written; after a long wait it checks whether the
    /// writer died mid-write and, if so, recovers the table.
    fn wait_writer(&self, spins: &mut u32) {
        *spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1 << 16) {
            self.recover_dead_writer();
        }
        std::hint::spin_loop();
    }

    fn lookup_words(&self, key: &KeyWords, sig: u32) -> Option<u64> {
        let p = self.primary(sig);
        let a = self.alt(p, sig);
        let mut spins = 0u32;
        loop {
            let s1 = self.seq(p).load(Ordering::Acquire);
            if s1 & 1 == 1 {
                self.wait_writer(&mut spins);
                continue;
            }
            // Found in the primary bucket while it did not change: the entry was there.
            if let Some((_, v)) = self.search_bucket(p, sig, key) {
                fence(Ordering::Acquire);
                if self.seq(p).load(Ordering::Relaxed) == s1 {
                    return Some(v);
                }
                continue;
            }
            // Otherwise both buckets must have been stable across the whole search, so a key
            // moving between them is seen in one of the two.
            let s2 = self.seq(a).load(Ordering::Acquire);
            if s2 & 1 == 1 {
                self.wait_writer(&mut spins);
                continue;
            }
            let r = self.search_bucket(a, sig, key).map(|x| x.1);
            fence(Ordering::Acquire);
            if self.seq(p).load(Ordering::Relaxed) == s1 && self.seq(a).load(Ordering::Relaxed) == s2 {
                return r;
            }
        }
    }

    /// The value of `key`, `None` when absent. Lock-free; safe beside a writer in any process.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<u64>, TableError> {
        let w = self.check_key(key)?;
        Ok(self.lookup_words(&w, self.hash_words(&w)))
    }

    /// As [`HashTable::lookup`] with the hash already computed by [`HashTable::hash`].
    pub fn lookup_with_hash(&self, key: &[u8], hash: u32) -> Result<Option<u64>, TableError> {
        let w = self.check_key(key)?;
        Ok(self.lookup_words(&w, hash))
    }

    /// Looks up to [`MAX_BULK`] keys; `values[i]` gets key `i`'s value when bit `i` of the
    /// returned hit mask is set.
    pub fn lookup_bulk(&self, keys: &[&[u8]], values: &mut [u64]) -> Result<u64, TableError> {
        if keys.len() > MAX_BULK || values.len() < keys.len() {
            return Err(TableError::InvalidParam(format!(
                "bulk lookup of {} keys into {} values: at most {MAX_BULK} keys and one value slot each",
                keys.len(),
                values.len()
            )));
        }
        let mut kws = [[0u64; MAX_KEY_LEN / 8]; MAX_BULK];
        let mut sigs = [0u32; MAX_BULK];
        for (i, k) in keys.iter().enumerate() {
            kws[i] = self.check_key(k)?;
            sigs[i] = self.hash_words(&kws[i]);
        }
        // Prefetch every key's primary bucket (its header line and its first slots) before
        // searching any, so the cache misses of the burst overlap instead of being paid one
        // key at a time.
        for &sig in &sigs[..keys.len()] {
            let base = self.base(self.primary(sig));
            eal::prefetch::line(&self.words[base]);
            eal::prefetch::line(&self.words[base + BUCKET_HDR]);
        }
        let mut hits = 0u64;
        for i in 0..keys.len() {
            if let Some(v) = self.lookup_words(&kws[i], sigs[i]) {
                values[i] = v;
                hits |= 1 << i;
            }
        }
        Ok(hits)
    }

    /// Takes the writer lock, recovering it from a dead owner.
    fn lock(&self) -> WriterGuard<'_> {
        let l = &self.hdr.lock;
        let me = lock_word(std::process::id());
        let mut spins = 0u32;
        loop {
            match l.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return WriterGuard(l),
                Err(owner) => {
                    spins = spins.wrapping_add(1);
                    if spins.is_multiple_of(1024) {
                        if self.steal_from_dead(owner, me) {
                            return WriterGuard(l);
                        }
                        std::thread::yield_now();
                    }
                    std::hint::spin_loop();
                }
            }
        }
    }

    /// The pid holding the writer lock, if any.
    pub fn writer_pid(&self) -> Option<u32> {
        lock_owner(self.hdr.lock.load(Ordering::Relaxed))
    }

    /// Takes the lock held as `owner` when that process is dead, and repairs the table;
    /// true when this process now holds the lock.
    fn steal_from_dead(&self, owner: u64, me: u64) -> bool {
        let Some(pid) = lock_owner(owner) else { return false };
        if eal::process::pid_alive(pid) {
            return false;
        }
        if self.hdr.lock.compare_exchange(owner, me, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return false;
        }
        self.repair();
        true
    }

    /// If the writer lock's owner is dead, takes the lock, repairs the table and lets go.
    fn recover_dead_writer(&self) {
        let owner = self.hdr.lock.load(Ordering::Relaxed);
        if self.steal_from_dead(owner, lock_word(std::process::id())) {
            drop(WriterGuard(&self.hdr.lock));
        }
    }

    /// Undoes what a writer killed mid-update can leave (called with the lock held). Every
    /// single store of an update leaves a readable bucket: a slot is filled before its
    /// in-use bit is set, and clearing is one store. So what remains is: a bucket counter
    /// left odd (made even again, which also sends any reader of the old state round
    /// again), a key a cuckoo move had written to its other bucket but not yet cleared from
    /// the first (one copy is cleared), and the entry count (recounted).
    fn repair(&self) {
        for b in 0..=self.mask {
            let seq = self.seq(b);
            let s = seq.load(Ordering::Relaxed);
            if s & 1 == 1 {
                seq.store(s + 1, Ordering::Release);
            }
        }
        let mut count = 0u64;
        for b in 0..=self.mask {
            for s in 0..SLOTS {
                if self.used(b).load(Ordering::Relaxed) & (1 << s) == 0 {
                    continue;
                }
                let sig = self.sig_of(b, s);
                let i = self.slot(b, s);
                let mut key = [0u64; MAX_KEY_LEN / 8];
                for (k, w) in key.iter_mut().enumerate().take(self.kw) {
                    *w = self.words[i + 1 + k].load(Ordering::Relaxed);
                }
                let other = self.alt(b, sig);
                if other != b && self.search_bucket(other, sig, &key).is_some() {
                    self.write_bucket(b, || self.clear_slot(b, s));
                    continue;
                }
                count += 1;
            }
        }
        self.hdr.count.store(count, Ordering::Relaxed);
    }

    /// Runs `f` with bucket `b` marked as being written.
    fn write_bucket(&self, b: u32, f: impl FnOnce()) {
        let seq = self.seq(b);
        let s = seq.load(Ordering::Relaxed);
        seq.store(s + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        f();
        seq.store(s + 2, Ordering::Release);
    }

    /// Fills slot `s` of bucket `b` and marks it in use (inside `write_bucket`).
    fn write_slot(&self, b: u32, s: usize, sig: u32, value: u64, key: &[u64]) {
        let i = self.slot(b, s);
        self.words[i].store(value, Ordering::Relaxed);
        for (k, &w) in key.iter().enumerate() {
            self.words[i + 1 + k].store(w, Ordering::Relaxed);
        }
        self.set_sig(b, s, sig);
        let u = self.used(b);
        u.store(u.load(Ordering::Relaxed) | 1 << s, Ordering::Relaxed);
    }

    /// Marks slot `s` of bucket `b` free (inside `write_bucket`).
    fn clear_slot(&self, b: u32, s: usize) {
        let u = self.used(b);
        u.store(u.load(Ordering::Relaxed) & !(1 << s), Ordering::Relaxed);
    }

    fn free_slot(&self, b: u32) -> Option<usize> {
        let used = self.used(b).load(Ordering::Relaxed);
        (0..SLOTS).find(|&s| used & (1 << s) == 0)
    }

    /// Moves the entry in (`from`, `fs`) to (`to`, `ts`): destination first, then the source.
    fn move_entry(&self, from: u32, fs: usize, to: u32, ts: usize) {
        let si = self.slot(from, fs);
        let sig = self.sig_of(from, fs);
        let value = self.words[si].load(Ordering::Relaxed);
        let mut key = [0u64; MAX_KEY_LEN / 8];
        for (k, w) in key.iter_mut().enumerate().take(self.kw) {
            *w = self.words[si + 1 + k].load(Ordering::Relaxed);
        }
        self.write_bucket(to, || self.write_slot(to, ts, sig, value, &key[..self.kw]));
        self.write_bucket(from, || self.clear_slot(from, fs));
    }

    /// Adds `key` with `value`, or replaces the value of a present key.
    pub fn add(&self, key: &[u8], value: u64) -> Result<(), TableError> {
        let w = self.check_key(key)?;
        let sig = self.hash_words(&w);
        let _g = self.lock();
        let p = self.primary(sig);
        let a = self.alt(p, sig);
        for b in [p, a] {
            if let Some((s, _)) = self.search_bucket(b, sig, &w) {
                let i = self.slot(b, s);
                self.write_bucket(b, || self.words[i].store(value, Ordering::Relaxed));
                return Ok(());
            }
        }
        if self.count() >= self.capacity() {
            return Err(TableError::Full(self.name.clone()));
        }
        let (b, s) = match self.free_slot(p).map(|s| (p, s)).or_else(|| self.free_slot(a).map(|s| (a, s))) {
            Some(x) => x,
            None => self.make_room(p, a).ok_or_else(|| TableError::Full(self.name.clone()))?,
        };
        self.write_bucket(b, || self.write_slot(b, s, sig, value, &w[..self.kw]));
        self.hdr.count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Breadth-first search for a cuckoo path from `p` or `a` to a free slot; moves the entries
    /// along it and returns the freed slot in `p` or `a`.
    fn make_room(&self, p: u32, a: u32) -> Option<(u32, usize)> {
        // (bucket, parent node, slot in the parent's bucket whose entry moves here)
        let mut nodes: Vec<(u32, usize, usize)> = Vec::with_capacity(MAX_PATH_NODES);
        nodes.push((p, usize::MAX, 0));
        if a != p {
            nodes.push((a, usize::MAX, 0));
        }
        let mut head = 0;
        while head < nodes.len() {
            let (b, _, _) = nodes[head];
            for s in 0..SLOTS {
                let nb = self.alt(b, self.sig_of(b, s));
                if nb == b {
                    continue;
                }
                if let Some(free) = self.free_slot(nb) {
                    // Move along the path, from the free end back to the root.
                    self.move_entry(b, s, nb, free);
                    let (mut cur, mut freed) = (head, s);
                    while nodes[cur].1 != usize::MAX {
                        let (cb, parent, pslot) = nodes[cur];
                        self.move_entry(nodes[parent].0, pslot, cb, freed);
                        freed = pslot;
                        cur = parent;
                    }
                    return Some((nodes[cur].0, freed));
                }
                if nodes.len() < MAX_PATH_NODES {
                    nodes.push((nb, head, s));
                }
            }
            head += 1;
        }
        None
    }

    /// Removes `key`; returns its value, or [`TableError::NotPresent`].
    pub fn delete(&self, key: &[u8]) -> Result<u64, TableError> {
        let w = self.check_key(key)?;
        let sig = self.hash_words(&w);
        let _g = self.lock();
        let p = self.primary(sig);
        let a = self.alt(p, sig);
        for b in [p, a] {
            if let Some((s, v)) = self.search_bucket(b, sig, &w) {
                self.write_bucket(b, || self.clear_slot(b, s));
                self.hdr.count.fetch_sub(1, Ordering::Relaxed);
                return Ok(v);
            }
        }
        Err(TableError::NotPresent)
    }

    /// Removes every entry.
    pub fn reset(&self) {
        let _g = self.lock();
        for b in 0..=self.mask {
            self.write_bucket(b, || self.used(b).store(0, Ordering::Relaxed));
        }
        self.hdr.count.store(0, Ordering::Relaxed);
    }

    /// The next entry at or after position `*next` (start at 0), advancing `*next` past it;
    /// `None` at the end. Entries added or removed meanwhile may or may not be seen.
    pub fn iterate(&self, next: &mut u64) -> Option<(Vec<u8>, u64)> {
        let total = (self.mask as u64 + 1) * SLOTS as u64;
        while *next < total {
            let b = (*next / SLOTS as u64) as u32;
            let s = (*next % SLOTS as u64) as usize;
            *next += 1;
            let i = self.slot(b, s);
            let mut spins = 0u32;
            loop {
                let s1 = self.seq(b).load(Ordering::Acquire);
                if s1 & 1 == 1 {
                    self.wait_writer(&mut spins);
                    continue;
                }
                let in_use = self.used(b).load(Ordering::Relaxed) & (1 << s) != 0;
                let value = self.words[i].load(Ordering::Relaxed);
                let mut key = Vec::with_capacity(self.kw * 8);
                for k in 0..self.kw {
                    key.extend_from_slice(&self.words[i + 1 + k].load(Ordering::Relaxed).to_le_bytes());
                }
                fence(Ordering::Acquire);
                if self.seq(b).load(Ordering::Relaxed) != s1 {
                    continue;
                }
                if in_use {
                    key.truncate(self.key_len);
                    return Some((key, value));
                }
                break;
            }
        }
        None
    }
}
