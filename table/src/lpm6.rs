//! A longest-prefix-match table for IPv6 in a memzone: a multibit trie whose first level is
//! indexed by the top 16 bits of the address and every next level by one more byte, in
//! groups of 256 entries (as DPDK's LPM6 chains tbl8 groups). An entry is
//! `valid | ext | depth << 22 | next hop or group`; a lookup follows `ext` entries down, at
//! most 15 reads, and never takes a lock.
//!
//! Updates (from any process, serialised by a spinlock word in the header) store whole
//! entries atomically, and a new group is filled before the entry pointing to it is
//! published, so a concurrent lookup sees the next hop from before or after the update.
//! Groups are not reclaimed when prefixes are deleted (only by [`Lpm6::delete_all`]).
//! The rules are kept in an open-addressing table in the same memzone, so that deleting a
//! prefix restores the next covering one.

use crate::{check_name, crc, TableError};
use eal::{shm, Memory};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Largest next hop (22 bits).
pub const MAX_NEXT_HOP: u32 = (1 << 22) - 1;

const MAGIC: u64 = 0x4259_504C_504D_3601; // "BYPLPM6"
const HDR_WORDS: usize = 16;
const ROOT_LEN: usize = 1 << 16;
const GROUP: usize = 256;
const VALID: u32 = 1 << 31;
const EXT: u32 = 1 << 30;
const DEPTH_SHIFT: u32 = 22;
const NH_MASK: u32 = (1 << 22) - 1;
const TOMB: u64 = u64::MAX;
const RULE_WORDS: usize = 3;

const H_MAGIC: usize = 0;
const H_MAX_RULES: usize = 1;
const H_GROUPS: usize = 2;
const H_RULE_SLOTS: usize = 3;
const H_RULES: usize = 4;
const H_LOCK: usize = 5;
const H_CURSOR: usize = 6;
const H_GROUPS_USED: usize = 7;

/// Parameters of [`Lpm6::create`].
#[derive(Debug, Clone)]
pub struct Lpm6Params {
    /// Most rules (prefixes) the table holds.
    pub max_rules: u32,
    /// Number of 256-entry groups below the first level (a /64 route needs up to 6).
    pub groups: u32,
}

impl Default for Lpm6Params {
    fn default() -> Self {
        Lpm6Params { max_rules: 1024, groups: 4096 }
    }
}

/// A handle on a shared IPv6 LPM table.
#[derive(Clone)]
pub struct Lpm6 {
    name: String,
    hdr: &'static [AtomicU64],
    root: &'static [AtomicU32],
    groups: &'static [AtomicU32],
    used: &'static [AtomicU32],
    rules: &'static [AtomicU64],
}

impl std::fmt::Debug for Lpm6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lpm6").field("name", &self.name).field("rules", &self.rule_count()).finish()
    }
}

struct WriterGuard<'a>(&'a AtomicU64);
impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

fn mask(depth: u8) -> u128 {
    if depth == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(depth))
    }
}

fn entry(depth: u8, nh: u32) -> u32 {
    VALID | u32::from(depth) << DEPTH_SHIFT | nh
}

fn entry_depth(e: u32) -> u8 {
    ((e >> DEPTH_SHIFT) & 0xff) as u8
}

/// Last bit (exclusive) a level covers: 16, 24, 32, ..., 128.
fn level_end(level: usize) -> u32 {
    16 + 8 * level as u32
}

/// The level where a prefix of `depth` ends.
fn level_of(depth: u8) -> usize {
    if depth <= 16 {
        0
    } else {
        (usize::from(depth) - 16).div_ceil(8)
    }
}

/// Index of `ip` in a table of `level`.
fn index(ip: u128, level: usize) -> usize {
    if level == 0 {
        (ip >> 112) as usize
    } else {
        ((ip >> (128 - level_end(level))) & 0xff) as usize
    }
}

struct Layout {
    root: u64,
    groups: u64,
    used: u64,
    rules: u64,
    total: u64,
}

fn layout(groups: usize, rule_slots: usize) -> Layout {
    let root = (HDR_WORDS * 8) as u64;
    let g = root + (ROOT_LEN * 4) as u64;
    let used = g + (groups * GROUP * 4) as u64;
    let rules = (used + (groups * 4) as u64).div_ceil(8) * 8;
    Layout { root, groups: g, used, rules, total: rules + (rule_slots * RULE_WORDS * 8) as u64 }
}

impl Lpm6 {
    /// Creates an IPv6 LPM table named `name` in a new memzone.
    pub fn create(mem: &Memory, name: &str, p: &Lpm6Params) -> Result<Lpm6, TableError> {
        check_name(name)?;
        if p.max_rules == 0 || p.max_rules > 1 << 24 {
            return Err(TableError::InvalidParam(format!("max_rules {} must be 1 to {}", p.max_rules, 1 << 24)));
        }
        if p.groups == 0 || p.groups > NH_MASK {
            return Err(TableError::InvalidParam(format!("groups {} must be 1 to {NH_MASK}", p.groups)));
        }
        let slots = (p.max_rules as usize * 2).next_power_of_two();
        let l = layout(p.groups as usize, slots);
        let mz = mem.memzone_reserve(name, l.total, 64)?;
        let hdr = shm::shared_slice::<AtomicU64>(mz.addr(), HDR_WORDS)
            .ok_or_else(|| TableError::NotATable { name: name.into(), kind: "IPv6 LPM table" })?;
        hdr[H_MAX_RULES].store(u64::from(p.max_rules), Ordering::Relaxed);
        hdr[H_GROUPS].store(u64::from(p.groups), Ordering::Relaxed);
        hdr[H_RULE_SLOTS].store(slots as u64, Ordering::Relaxed);
        hdr[H_MAGIC].store(MAGIC, Ordering::Release);
        Self::attach(name, &mz)
    }

    /// Finds the IPv6 LPM table `name` created by any process of the group.
    pub fn lookup_by_name(mem: &Memory, name: &str) -> Result<Lpm6, TableError> {
        check_name(name)?;
        let mz = mem.memzone_lookup(name).ok_or_else(|| TableError::NotFound(name.into()))?;
        Self::attach(name, &mz)
    }

    fn attach(name: &str, mz: &eal::Memzone) -> Result<Lpm6, TableError> {
        let not = || TableError::NotATable { name: name.into(), kind: "IPv6 LPM table" };
        if mz.len() < (HDR_WORDS * 8) as u64 {
            return Err(not());
        }
        let hdr = shm::shared_slice::<AtomicU64>(mz.addr(), HDR_WORDS).ok_or_else(not)?;
        if hdr[H_MAGIC].load(Ordering::Acquire) != MAGIC {
            return Err(not());
        }
        let groups = hdr[H_GROUPS].load(Ordering::Relaxed) as usize;
        let slots = hdr[H_RULE_SLOTS].load(Ordering::Relaxed) as usize;
        if !slots.is_power_of_two() || groups > NH_MASK as usize {
            return Err(not());
        }
        let l = layout(groups, slots);
        if mz.len() < l.total {
            return Err(not());
        }
        let a = mz.addr();
        Ok(Lpm6 {
            name: name.into(),
            hdr,
            root: shm::shared_slice(a + l.root, ROOT_LEN).ok_or_else(not)?,
            groups: shm::shared_slice(a + l.groups, groups * GROUP).ok_or_else(not)?,
            used: shm::shared_slice(a + l.used, groups).ok_or_else(not)?,
            rules: shm::shared_slice(a + l.rules, slots * RULE_WORDS).ok_or_else(not)?,
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

    /// Number of rules.
    pub fn rule_count(&self) -> u64 {
        self.hdr[H_RULES].load(Ordering::Relaxed)
    }

    /// Groups in use.
    pub fn groups_used(&self) -> u64 {
        self.hdr[H_GROUPS_USED].load(Ordering::Relaxed)
    }

    /// Next hop of the longest prefix matching `ip`, `None` when no prefix matches.
    #[inline]
    pub fn lookup(&self, ip: u128) -> Option<u32> {
        let e = self.walk(ip);
        (e & (VALID | EXT) == VALID).then_some(e & NH_MASK)
    }

    /// The entry where a lookup of `ip` ends: one not pointing to a group (or, in a damaged
    /// table only, one pointing past the groups). One dependent load per level, indexed by
    /// the address's next byte.
    #[inline(always)]
    fn walk(&self, ip: u128) -> u32 {
        let bytes = ip.to_be_bytes();
        let mut e = self.root.get((ip >> 112) as usize).map_or(0, |x| x.load(Ordering::Acquire));
        for &b in &bytes[2..] {
            if e & (VALID | EXT) != VALID | EXT {
                break;
            }
            match self.groups.get((e & NH_MASK) as usize * GROUP + usize::from(b)) {
                Some(x) => e = x.load(Ordering::Acquire),
                None => return 0,
            }
        }
        e
    }

    /// Looks up each of `ips` into `next_hops` (`None` where no prefix matches).
    ///
    /// Eight addresses walk the trie side by side, one level a step, so their loads overlap
    /// instead of each waiting for the one before.
    pub fn lookup_bulk(&self, ips: &[u128], next_hops: &mut [Option<u32>]) -> Result<(), TableError> {
        const LANES: usize = 8;
        if next_hops.len() < ips.len() {
            return Err(TableError::InvalidParam(format!(
                "bulk lookup of {} addresses into {} results: give one result slot per address",
                ips.len(),
                next_hops.len()
            )));
        }
        let mut chunks = ips.chunks_exact(LANES);
        let mut out = next_hops[..ips.len()].chunks_exact_mut(LANES);
        for (c, o) in (&mut chunks).zip(&mut out) {
            let bytes: [[u8; 16]; LANES] = std::array::from_fn(|i| c[i].to_be_bytes());
            let mut e: [u32; LANES] =
                std::array::from_fn(|i| self.root.get((c[i] >> 112) as usize).map_or(0, |x| x.load(Ordering::Acquire)));
            #[allow(clippy::needless_range_loop, reason = "`level` indexes every lane's bytes")]
            for level in 2..16 {
                let mut more = false;
                for i in 0..LANES {
                    if e[i] & (VALID | EXT) == VALID | EXT {
                        e[i] = self
                            .groups
                            .get((e[i] & NH_MASK) as usize * GROUP + usize::from(bytes[i][level]))
                            .map_or(0, |x| x.load(Ordering::Acquire));
                        more = true;
                    }
                }
                if !more {
                    break;
                }
            }
            for (nh, &x) in o.iter_mut().zip(&e) {
                *nh = (x & (VALID | EXT) == VALID).then_some(x & NH_MASK);
            }
        }
        for (ip, nh) in chunks.remainder().iter().zip(out.into_remainder()) {
            *nh = self.lookup(*ip);
        }
        Ok(())
    }

    fn lock(&self) -> WriterGuard<'_> {
        let l = &self.hdr[H_LOCK];
        let me = u64::from(crate::pid::current()) | 1 << 40;
        while l.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed).is_err() {
            std::hint::spin_loop();
        }
        WriterGuard(l)
    }

    fn check(ip: u128, depth: u8) -> Result<u128, TableError> {
        if !(1..=128).contains(&depth) {
            return Err(TableError::InvalidParam(format!("depth {depth} must be 1 to 128")));
        }
        Ok(ip & mask(depth))
    }

    // --- rule store: open addressing on (prefix, depth), three words per slot ---

    fn rule_home(&self, ip: u128, depth: u8) -> usize {
        let h = crc::crc32c_words(0, &[(ip >> 64) as u64, ip as u64, u64::from(depth)]) as usize;
        h & (self.rules.len() / RULE_WORDS - 1)
    }

    fn rule_find(&self, ip: u128, depth: u8) -> Option<usize> {
        let n = self.rules.len() / RULE_WORDS;
        let mut i = self.rule_home(ip, depth);
        for _ in 0..n {
            let w = self.rules[i * RULE_WORDS + 2].load(Ordering::Relaxed);
            if w == 0 {
                return None;
            }
            if w != TOMB
                && (w >> 32) as u8 == depth
                && self.rules[i * RULE_WORDS].load(Ordering::Relaxed) == (ip >> 64) as u64
                && self.rules[i * RULE_WORDS + 1].load(Ordering::Relaxed) == ip as u64
            {
                return Some(i);
            }
            i = (i + 1) & (n - 1);
        }
        None
    }

    fn rule_nh(&self, i: usize) -> u32 {
        self.rules[i * RULE_WORDS + 2].load(Ordering::Relaxed) as u32 & NH_MASK
    }

    fn rule_insert(&self, ip: u128, depth: u8, nh: u32) -> Result<(), TableError> {
        let word = 1u64 << 63 | u64::from(depth) << 32 | u64::from(nh);
        if let Some(i) = self.rule_find(ip, depth) {
            self.rules[i * RULE_WORDS + 2].store(word, Ordering::Relaxed);
            return Ok(());
        }
        if self.rule_count() >= self.hdr[H_MAX_RULES].load(Ordering::Relaxed) {
            return Err(TableError::Full(self.name.clone()));
        }
        let n = self.rules.len() / RULE_WORDS;
        let mut i = self.rule_home(ip, depth);
        for _ in 0..n {
            let w = self.rules[i * RULE_WORDS + 2].load(Ordering::Relaxed);
            if w == 0 || w == TOMB {
                self.rules[i * RULE_WORDS].store((ip >> 64) as u64, Ordering::Relaxed);
                self.rules[i * RULE_WORDS + 1].store(ip as u64, Ordering::Relaxed);
                self.rules[i * RULE_WORDS + 2].store(word, Ordering::Relaxed);
                self.hdr[H_RULES].fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            i = (i + 1) & (n - 1);
        }
        Err(TableError::Full(self.name.clone()))
    }

    /// The next hop of the rule `ip/depth`, if that exact rule exists.
    pub fn rule_next_hop(&self, ip: u128, depth: u8) -> Result<Option<u32>, TableError> {
        let ip = Self::check(ip, depth)?;
        Ok(self.rule_find(ip, depth).map(|i| self.rule_nh(i)))
    }

    /// The entry of the longest rule shorter than `depth` covering `ip` (0 when none).
    fn covering(&self, ip: u128, depth: u8) -> u32 {
        for d in (1..depth).rev() {
            if let Some(i) = self.rule_find(ip & mask(d), d) {
                return entry(d, self.rule_nh(i));
            }
        }
        0
    }

    fn free_groups(&self) -> u64 {
        self.used.len() as u64 - self.groups_used()
    }

    fn alloc_group(&self) -> Option<usize> {
        let n = self.used.len();
        let start = self.hdr[H_CURSOR].load(Ordering::Relaxed) as usize;
        for k in 0..n {
            let g = (start + k) % n;
            if self.used[g].load(Ordering::Relaxed) == 0 {
                self.used[g].store(1, Ordering::Relaxed);
                self.hdr[H_CURSOR].store(((g + 1) % n) as u64, Ordering::Relaxed);
                self.hdr[H_GROUPS_USED].fetch_add(1, Ordering::Relaxed);
                return Some(g);
            }
        }
        None
    }

    /// The 256 entries of `group`, or the first level when `None`.
    fn table(&self, group: Option<usize>) -> &'static [AtomicU32] {
        match group {
            None => self.root,
            Some(g) => &self.groups[g * GROUP..(g + 1) * GROUP],
        }
    }

    /// Writes `new` (depth `depth`) into `e` and everything below it not more specific.
    fn cover(&self, e: &AtomicU32, depth: u8, new: u32) {
        let v = e.load(Ordering::Relaxed);
        if v & EXT != 0 {
            for c in self.table(Some((v & NH_MASK) as usize)) {
                self.cover(c, depth, new);
            }
        } else if v & VALID == 0 || entry_depth(v) <= depth {
            e.store(new, Ordering::Release);
        }
    }

    /// Replaces the entries of exactly `depth` in and below `e` by `repl`.
    fn uncover(&self, e: &AtomicU32, depth: u8, repl: u32) {
        let v = e.load(Ordering::Relaxed);
        if v & EXT != 0 {
            for c in self.table(Some((v & NH_MASK) as usize)) {
                self.uncover(c, depth, repl);
            }
        } else if v & VALID != 0 && entry_depth(v) == depth {
            e.store(repl, Ordering::Release);
        }
    }

    /// The range of entries a prefix of `depth` covers in its last level.
    fn range(ip: u128, depth: u8) -> std::ops::Range<usize> {
        let level = level_of(depth);
        let first = index(ip, level);
        first..first + (1usize << (level_end(level) - u32::from(depth)))
    }

    /// Adds (or replaces) the route `ip/depth -> next_hop`.
    pub fn add(&self, ip: u128, depth: u8, next_hop: u32) -> Result<(), TableError> {
        let ip = Self::check(ip, depth)?;
        if next_hop > MAX_NEXT_HOP {
            return Err(TableError::InvalidParam(format!("next hop {next_hop} must be at most {MAX_NEXT_HOP}")));
        }
        let _g = self.lock();
        let last = level_of(depth);
        // Count the groups the path still needs, so a lack of groups changes nothing.
        let mut need = 0u64;
        let mut t = Some(self.root);
        for level in 0..last {
            let v = t.map_or(0, |t| t[index(ip, level)].load(Ordering::Relaxed));
            if v & EXT != 0 {
                t = Some(self.table(Some((v & NH_MASK) as usize)));
            } else {
                need += 1;
                t = None;
            }
        }
        if need > self.free_groups() {
            return Err(TableError::Full(format!(
                "{} (needs {need} more groups, {} free)",
                self.name,
                self.free_groups()
            )));
        }
        self.rule_insert(ip, depth, next_hop)?;
        let new = entry(depth, next_hop);
        self.add_at(None, 0, last, ip, depth, new);
        Ok(())
    }

    fn add_at(&self, group: Option<usize>, level: usize, last: usize, ip: u128, depth: u8, new: u32) {
        let t = self.table(group);
        if level == last {
            for e in &t[Self::range(ip, depth)] {
                self.cover(e, depth, new);
            }
            return;
        }
        let slot = &t[index(ip, level)];
        let v = slot.load(Ordering::Relaxed);
        if v & EXT != 0 {
            self.add_at(Some((v & NH_MASK) as usize), level + 1, last, ip, depth, new);
            return;
        }
        let g = self.alloc_group().expect("groups counted before");
        let fill = if v & VALID != 0 { v } else { 0 };
        for e in self.table(Some(g)) {
            e.store(fill, Ordering::Relaxed);
        }
        self.add_at(Some(g), level + 1, last, ip, depth, new);
        // Publish the complete group.
        slot.store(VALID | EXT | g as u32, Ordering::Release);
    }

    /// Deletes the route `ip/depth`; lookups then fall back to the next covering route.
    pub fn delete(&self, ip: u128, depth: u8) -> Result<(), TableError> {
        let ip = Self::check(ip, depth)?;
        let _g = self.lock();
        let i = self.rule_find(ip, depth).ok_or(TableError::NotPresent)?;
        self.rules[i * RULE_WORDS + 2].store(TOMB, Ordering::Relaxed);
        self.hdr[H_RULES].fetch_sub(1, Ordering::Relaxed);
        let repl = self.covering(ip, depth);
        let last = level_of(depth);
        let mut t = self.root;
        for level in 0..last {
            let v = t[index(ip, level)].load(Ordering::Relaxed);
            if v & EXT == 0 {
                return Ok(()); // nothing below: cannot happen for a present rule
            }
            t = self.table(Some((v & NH_MASK) as usize));
        }
        for e in &t[Self::range(ip, depth)] {
            self.uncover(e, depth, repl);
        }
        Ok(())
    }

    /// Deletes every rule and frees every group.
    pub fn delete_all(&self) {
        let _g = self.lock();
        for t in self.root {
            t.store(0, Ordering::Release);
        }
        for u in self.used {
            u.store(0, Ordering::Relaxed);
        }
        for r in self.rules {
            r.store(0, Ordering::Relaxed);
        }
        self.hdr[H_RULES].store(0, Ordering::Relaxed);
        self.hdr[H_GROUPS_USED].store(0, Ordering::Relaxed);
    }
}
