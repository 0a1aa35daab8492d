//! The writer's side of [`HashTable`]: the lock shared by every process, add (with cuckoo
//! moves), delete, reset, the key store's free list, and recovery from a writer that died
//! holding the lock.

use super::layout::{self, free_slots, key_words, short_sig, BUCKET_WORDS, B_FLAGS, B_IDX, B_SEQ, B_SIGS, OVERFLOWED};
use super::{overflowed, HashTable, SLOTS};
use crate::TableError;
use std::sync::atomic::{fence, AtomicU64, Ordering};

/// Most buckets the cuckoo search visits before declaring the table full.
const MAX_PATH_NODES: usize = 512;

/// A table's writer lock, held: adds and deletes without an atomic operation each
/// ([`HashTable::writer`]). Lets go of the lock when dropped.
pub struct HashWriter<'a> {
    table: &'a HashTable,
    _lock: WriterGuard<'a>,
}

impl HashWriter<'_> {
    /// As [`HashTable::add`], under the lock this writer holds.
    pub fn add(&self, key: &[u8], value: u64) -> Result<(), TableError> {
        let t = self.table;
        t.check_key(key)?;
        by_key_words!(t, add_n(key, value, false))
    }

    /// As [`HashTable::delete`], under the lock this writer holds.
    pub fn delete(&self, key: &[u8]) -> Result<u64, TableError> {
        let t = self.table;
        t.check_key(key)?;
        by_key_words!(t, delete_n(key, false))
    }
}

/// Holds the writer lock; lets go when dropped.
pub(super) struct WriterGuard<'a>(&'a AtomicU64);
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
    /// Takes the writer lock, recovering it from a dead owner.
    fn lock(&self) -> WriterGuard<'_> {
        let l = &self.hdr.lock;
        let me = lock_word(crate::pid::current());
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
    pub(super) fn recover_dead_writer(&self) {
        let owner = self.hdr.lock.load(Ordering::Relaxed);
        if self.steal_from_dead(owner, lock_word(crate::pid::current())) {
            drop(WriterGuard(&self.hdr.lock));
        }
    }

    /// Undoes what a writer killed mid-update can leave (called with the lock held). Every
    /// single store of an update leaves a readable bucket: a key-store entry is written
    /// before a slot points at it, and filling or clearing a slot's index is one store. So
    /// what remains is: a bucket counter left odd (made even again, which also sends any
    /// reader of the old state round again), an entry a cuckoo move had written to its other
    /// bucket but not yet cleared from the first (one copy is cleared and its bucket marked
    /// overflowed), and the free list and entry count (rebuilt from the slots in use).
    fn repair(&self) {
        for b in 0..=self.mask {
            let seq = self.seq(b);
            let s = seq.load(Ordering::Relaxed);
            if s & 1 == 1 {
                seq.store(s + 1, Ordering::Release);
            }
        }
        let mut in_use = vec![false; self.capacity as usize + 1];
        for b in 0..=self.mask {
            for s in 0..SLOTS {
                let idx = self.index(b, s) as usize;
                if idx == 0 {
                    continue;
                }
                if idx > self.capacity as usize || in_use[idx] {
                    // A second copy: its key stays in its other bucket, which may be the
                    // alternative of this one.
                    self.write_bucket(b, || {
                        self.clear_slot(b, s);
                        self.mark_overflowed(b);
                    });
                    continue;
                }
                in_use[idx] = true;
            }
        }
        let count = self.fill_free_list(|idx| in_use[idx as usize]);
        self.hdr.count.store(count, Ordering::Relaxed);
    }

    /// Puts every key-store index for which `in_use` is false on the free list, the lowest
    /// on top; returns how many are in use. Only at creation or with the lock held.
    pub(super) fn fill_free_list(&self, in_use: impl Fn(u32) -> bool) -> u64 {
        let mut top = 0u64;
        for idx in (1..=self.capacity).rev() {
            if !in_use(idx) {
                self.set_free(top, idx);
                top += 1;
            }
        }
        self.hdr.free_top.store(top, Ordering::Relaxed);
        u64::from(self.capacity) - top
    }

    /// Sets position `pos` of the free-list stack to `idx`.
    fn set_free(&self, pos: u64, idx: u32) {
        let w = &self.words[self.at.free + (pos / 2) as usize];
        let shift = 32 * (pos % 2);
        w.store(w.load(Ordering::Relaxed) & !(0xffff_ffffu64 << shift) | u64::from(idx) << shift, Ordering::Relaxed);
    }

    /// Takes a key-store index off the free list.
    fn pop_free(&self) -> Option<u32> {
        let top = self.hdr.free_top.load(Ordering::Relaxed);
        let pos = top.checked_sub(1)?;
        let w = self.words.get(self.at.free + (pos / 2) as usize)?.load(Ordering::Relaxed);
        let idx = (w >> (32 * (pos % 2))) as u32;
        if idx == 0 || idx > self.capacity {
            return None;
        }
        self.hdr.free_top.store(pos, Ordering::Relaxed);
        Some(idx)
    }

    /// Gives key-store index `idx` back to the free list.
    fn push_free(&self, idx: u32) {
        let top = self.hdr.free_top.load(Ordering::Relaxed);
        if top < u64::from(self.capacity) {
            self.set_free(top, idx);
            self.hdr.free_top.store(top + 1, Ordering::Relaxed);
        }
    }

    /// Runs `f` with bucket `b` marked as being written.
    fn write_bucket(&self, b: u32, f: impl FnOnce()) {
        write_line(self.bucket_ref(b), f);
    }

    /// Points slot `s` of bucket `b` at entry `idx` with short signature `sig` (inside
    /// `write_bucket`).
    fn set_slot(&self, b: u32, s: usize, sig: u16, idx: u32) {
        set_slot_in(self.bucket_ref(b), s, sig, idx);
    }

    /// Marks slot `s` of bucket `b` free (inside `write_bucket`).
    fn clear_slot(&self, b: u32, s: usize) {
        let w = &self.bucket_ref(b)[B_IDX + (s / 2) % (SLOTS / 2)];
        w.store(w.load(Ordering::Relaxed) & !(0xffff_ffffu64 << (32 * (s % 2))), Ordering::Relaxed);
    }

    /// A free slot of bucket `b`.
    fn free_slot(&self, b: u32) -> Option<usize> {
        let base = self.bucket(b) + B_IDX;
        (0..SLOTS).find(|&s| (self.words[base + s / 2].load(Ordering::Relaxed) >> (32 * (s % 2))) as u32 == 0)
    }

    /// Moves the slot (`from`, `fs`) to (`to`, `ts`), with its entry when entries are
    /// inline: destination first, then the source.
    fn move_slot(&self, from: u32, fs: usize, to: u32, ts: usize) {
        let (sig, idx) = (self.sig_of(from, fs), self.index(from, fs));
        self.write_bucket(to, || {
            if self.at.inline {
                let ((fk, fv), (tk, tv)) = (self.entry_at(from, fs, idx), self.entry_at(to, ts, idx));
                for i in 0..self.kw {
                    self.words[tk + i].store(self.words[fk + i].load(Ordering::Relaxed), Ordering::Relaxed);
                }
                self.words[tv].store(self.words[fv].load(Ordering::Relaxed), Ordering::Relaxed);
            }
            self.set_slot(to, ts, sig, idx)
        });
        // `from` may be the key's primary bucket (a short signature does not tell): marked,
        // so lookups of its keys go on to the alternatives.
        self.write_bucket(from, || {
            self.clear_slot(from, fs);
            self.mark_overflowed(from);
        });
    }

    /// Sets bucket `b`'s [`OVERFLOWED`] flag (inside `write_bucket`).
    fn mark_overflowed(&self, b: u32) {
        let w = &self.bucket_ref(b)[B_FLAGS];
        w.store(w.load(Ordering::Relaxed) | OVERFLOWED, Ordering::Relaxed);
    }

    /// The usual add, decided by the key's primary bucket alone (its first word at `base`;
    /// the writer lock held): the key is there (its value is replaced), or it is not and the
    /// bucket is not marked [`OVERFLOWED`], so the key is in no other bucket either, and it
    /// goes into a free slot of this one. One bucket line searched, no runtime layout
    /// arithmetic. `None` when the bucket cannot decide (it overflowed, or has no free slot)
    /// or the table is full: the general path in `add_n` then takes over, from the start.
    #[inline(always)]
    fn add_to_primary<const KW: usize, const EW: usize>(
        &self,
        base: usize,
        sig: u16,
        key: &[u64; KW],
        value: u64,
    ) -> Option<()> {
        let line = self.line_at(base);
        if let Some((_, _, v)) = self.search_in::<KW, EW>(base, sig, key) {
            write_line(line, || v.store(value, Ordering::Relaxed));
            return Some(());
        }
        if overflowed(line) {
            return None;
        }
        let s = free_slots(std::array::from_fn(|i| line[B_IDX + i].load(Ordering::Relaxed))).trailing_zeros() as usize;
        let count = self.hdr.count.load(Ordering::Relaxed);
        if s >= SLOTS || count >= u64::from(self.capacity) {
            return None;
        }
        let idx = self.pop_free()?;
        let Some((k, v)) = self.slot_entry::<KW, EW>(base, s, idx) else {
            self.push_free(idx);
            return None;
        };
        // The entry before the slot that points at it, all inside the bucket's write.
        write_line(line, || {
            v.store(value, Ordering::Relaxed);
            for (w, &x) in k.iter().zip(key) {
                w.store(x, Ordering::Relaxed);
            }
            set_slot_in(line, s, sig, idx);
        });
        self.hdr.count.store(count + 1, Ordering::Relaxed);
        Some(())
    }

    /// Bucket, slot and key-store index of `key` (the writer lock held): in its primary
    /// bucket `p`, else in its alternative `a` when `p` is marked [`OVERFLOWED`].
    fn find<const KW: usize, const EW: usize>(
        &self,
        p: u32,
        a: u32,
        sig: u16,
        key: &[u64; KW],
    ) -> Option<(u32, usize, u32)> {
        if let Some((s, idx)) = self.search::<KW, EW>(p, sig, key) {
            return Some((p, s, idx));
        }
        if a == p || !overflowed(self.bucket_ref(p)) {
            return None;
        }
        self.search::<KW, EW>(a, sig, key).map(|(s, idx)| (a, s, idx))
    }

    /// Adds `key` with `value`, or replaces the value of a present key. Takes the writer lock
    /// for this one update; [`HashTable::writer`] holds it across many.
    pub fn add(&self, key: &[u8], value: u64) -> Result<(), TableError> {
        self.check_key(key)?;
        by_key_words!(self, add_n(key, value, true))
    }

    /// Takes the writer lock and holds it until the returned writer is dropped, so its adds
    /// and deletes pay no atomic operation each (DPDK's single-writer `rte_hash`, which takes
    /// no lock at all). Other writers, in any process, wait meanwhile; readers never do.
    pub fn writer(&self) -> HashWriter<'_> {
        HashWriter { table: self, _lock: self.lock() }
    }

    /// `lock`: take the writer lock (false: the caller holds it, through a [`HashWriter`]).
    fn add_n<const KW: usize, const EW: usize>(&self, key: &[u8], value: u64, lock: bool) -> Result<(), TableError> {
        let w = &key_words::<KW>(key);
        let hash = self.hash_words(w);
        let p = self.primary(hash);
        let sig = short_sig(hash);
        let a = self.alt(p, sig);
        // Start the primary bucket's cache misses before the lock's atomic exchange, which
        // waits for every earlier load (not prefetches); with inline entries its entries'
        // lines too, as the key most likely goes there. The alternative bucket is read only
        // when the primary one overflowed or is full.
        let base = self.bucket_k::<KW>(p);
        self.prefetch_bucket::<KW>(base);
        eal::prefetch::line(&self.line_at(self.bucket_k::<KW>(a))[B_SEQ]);
        let _g = lock.then(|| self.lock());
        if self.add_to_primary::<KW, EW>(base, sig, w, value).is_some() {
            return Ok(());
        }
        if let Some((b, s, idx)) = self.find::<KW, EW>(p, a, sig, w) {
            let (_, v) = self.entry_at(b, s, idx);
            self.write_bucket(b, || self.words[v].store(value, Ordering::Relaxed));
            return Ok(());
        }
        let count = self.count();
        if count >= self.capacity() {
            return Err(TableError::Full(self.name.clone()));
        }
        let (b, s) = match self.free_slot(p).map(|s| (p, s)).or_else(|| self.free_slot(a).map(|s| (a, s))) {
            Some(x) => x,
            None => self.make_room(p, a).ok_or_else(|| TableError::Full(self.name.clone()))?,
        };
        let Some(idx) = self.pop_free() else { return Err(TableError::Full(self.name.clone())) };
        if b != p {
            // Marked before the key is there, so no lookup misses it once the add returns.
            self.write_bucket(p, || self.mark_overflowed(p));
        }
        // The entry is written before the slot points at it, inside the bucket's write (an
        // inline entry is part of the bucket), so no reader sees it half-written.
        let (k, v) = self.entry_at(b, s, idx);
        self.write_bucket(b, || {
            self.words[v].store(value, Ordering::Relaxed);
            for (i, &x) in w.iter().enumerate() {
                self.words[k + i].store(x, Ordering::Relaxed);
            }
            self.set_slot(b, s, sig, idx)
        });
        self.hdr.count.store(count + 1, Ordering::Relaxed);
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
                    self.move_slot(b, s, nb, free);
                    let (mut cur, mut freed) = (head, s);
                    while nodes[cur].1 != usize::MAX {
                        let (cb, parent, pslot) = nodes[cur];
                        self.move_slot(nodes[parent].0, pslot, cb, freed);
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

    /// Removes `key`; returns its value, or [`TableError::NotPresent`]. Takes the writer lock
    /// for this one update; [`HashTable::writer`] holds it across many.
    pub fn delete(&self, key: &[u8]) -> Result<u64, TableError> {
        self.check_key(key)?;
        by_key_words!(self, delete_n(key, true))
    }

    /// `lock`: take the writer lock (false: the caller holds it, through a [`HashWriter`]).
    fn delete_n<const KW: usize, const EW: usize>(&self, key: &[u8], lock: bool) -> Result<u64, TableError> {
        let w = key_words::<KW>(key);
        let hash = self.hash_words(&w);
        let p = self.primary(hash);
        let sig = short_sig(hash);
        if layout::is_inline(KW) {
            // The bucket with its entries: every line the delete reads, before the lock's
            // atomic exchange, which waits for earlier loads (not prefetches).
            self.prefetch_bucket::<KW>(self.bucket_k::<KW>(p));
        } else {
            // Read the bucket before the lock (a hint only: it is searched again under the
            // lock) and prefetch the entry of the first matching signature, so both cache
            // misses are under way before the lock's atomic exchange.
            let m = self.sig_slots(p, sig);
            if m != 0 {
                let s = m.trailing_zeros() as usize;
                if let Some(w) = self.words.get(self.entry_at(p, s, self.index(p, s)).1) {
                    eal::prefetch::line(w);
                }
            }
        }
        let _g = lock.then(|| self.lock());
        // Most keys are in their primary bucket: found there with the layout's constants;
        // the general search (the alternative bucket too, when the primary overflowed) else.
        let (b, s, idx, v) = match self.search_in::<KW, EW>(self.bucket_k::<KW>(p), sig, &w) {
            Some((s, idx, v)) => (p, s, idx, v.load(Ordering::Relaxed)),
            None => {
                let (b, s, idx) = self.find::<KW, EW>(p, self.alt(p, sig), sig, &w).ok_or(TableError::NotPresent)?;
                (b, s, idx, self.value_at(b, s, idx))
            }
        };
        self.write_bucket(b, || self.clear_slot(b, s));
        self.push_free(idx);
        self.hdr.count.store(self.count().saturating_sub(1), Ordering::Relaxed);
        Ok(v)
    }

    /// Removes every entry.
    pub fn reset(&self) {
        let _g = self.lock();
        for b in 0..=self.mask {
            let base = self.bucket(b);
            self.write_bucket(b, || {
                for k in 0..SLOTS / 2 {
                    self.words[base + B_IDX + k].store(0, Ordering::Relaxed);
                }
                self.words[base + B_FLAGS].store(0, Ordering::Relaxed);
            });
        }
        self.fill_free_list(|_| false);
        self.hdr.count.store(0, Ordering::Relaxed);
    }
}

/// Runs `f` with the bucket whose first line is `line` marked as being written: its counter
/// odd during `f`, and moved on by two in all.
fn write_line(line: &[AtomicU64; BUCKET_WORDS], f: impl FnOnce()) {
    let seq = &line[B_SEQ];
    let s = seq.load(Ordering::Relaxed);
    seq.store(s + 1, Ordering::Relaxed);
    fence(Ordering::Release);
    f();
    seq.store(s + 2, Ordering::Release);
}

/// Points slot `s` of the bucket whose first line is `line` at entry `idx`, with short
/// signature `sig` (inside `write_line`).
fn set_slot_in(line: &[AtomicU64; BUCKET_WORDS], s: usize, sig: u16, idx: u32) {
    let w = &line[B_SIGS + (s / 4) % 2];
    let shift = 16 * (s % 4);
    w.store(w.load(Ordering::Relaxed) & !(0xffffu64 << shift) | u64::from(sig) << shift, Ordering::Relaxed);
    let w = &line[B_IDX + (s / 2) % (SLOTS / 2)];
    let shift = 32 * (s % 2);
    w.store(w.load(Ordering::Relaxed) & !(0xffff_ffffu64 << shift) | u64::from(idx) << shift, Ordering::Relaxed);
}
