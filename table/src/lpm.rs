//! A DIR-24-8 longest-prefix-match table for IPv4 in a memzone.
//!
//! `tbl24` has one 32-bit entry per /24; an entry is `valid | ext | depth << 24 | next_hop`.
//! Prefixes longer than /24 live in `tbl8` groups of 256 entries, which a `tbl24` entry with
//! `ext` set points to by index. A lookup reads one or two words, so it costs one or two memory
//! accesses and never takes a lock.
//!
//! Updates (from any process, serialised by a spinlock word in the header) change entries
//! with single atomic stores: a concurrent lookup sees the next hop either before or after the
//! update, never a mix. A new `tbl8` group is filled completely before the `tbl24` entry that
//! points to it is published. Freed groups are reused last (round robin), which keeps a lookup
//! that read the old `tbl24` entry just before a group was freed reading the values it had.
//!
//! The rules themselves (prefix, depth, next hop) are kept in an open-addressing table in the
//! same memzone, so that deleting a prefix can restore the next covering one.

use crate::{check_name, crc, TableError};
use eal::{shm, Memory};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Largest next hop (24 bits).
pub const MAX_NEXT_HOP: u32 = (1 << 24) - 1;
/// Largest bulk lookup.
pub const MAX_BULK: usize = 64;

const MAGIC: u64 = 0x4259_504C_504D_3401; // "BYPLPM4"
const HDR_BYTES: u64 = 128;
const TBL24_LEN: usize = 1 << 24;
const GROUP: usize = 256;
const VALID: u32 = 1 << 31;
const EXT: u32 = 1 << 30;
const DEPTH_SHIFT: u32 = 24;
const NH_MASK: u32 = 0x00FF_FFFF;
const TOMB: u64 = u64::MAX;

const H_MAGIC: usize = 0;
const H_MAX_RULES: usize = 1;
const H_GROUPS: usize = 2;
const H_RULE_SLOTS: usize = 3;
const H_RULES: usize = 4;
const H_LOCK: usize = 5;
const H_CURSOR: usize = 6;

/// Parameters of [`Lpm::create`].
#[derive(Debug, Clone)]
pub struct LpmParams {
    /// Most rules (prefixes) the table holds.
    pub max_rules: u32,
    /// Number of 256-entry groups for prefixes longer than /24 (one per /24 holding any).
    pub tbl8_groups: u32,
}

impl Default for LpmParams {
    fn default() -> Self {
        LpmParams { max_rules: 1024, tbl8_groups: 256 }
    }
}

/// A handle on a shared IPv4 LPM table.
#[derive(Clone)]
pub struct Lpm {
    name: String,
    hdr: &'static [AtomicU64],
    tbl24: &'static [AtomicU32],
    tbl8: &'static [AtomicU32],
    used: &'static [AtomicU32],
    rules: &'static [AtomicU64],
}

impl std::fmt::Debug for Lpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lpm").field("name", &self.name).field("rules", &self.rule_count()).finish()
    }
}

struct WriterGuard<'a>(&'a AtomicU64);
impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

fn mask(depth: u8) -> u32 {
    if depth == 0 {
        0
    } else {
        u32::MAX << (32 - depth as u32)
    }
}

fn entry(depth: u8, nh: u32) -> u32 {
    VALID | (depth as u32) << DEPTH_SHIFT | nh
}

fn entry_depth(e: u32) -> u8 {
    ((e >> DEPTH_SHIFT) & 0x3f) as u8
}

struct Layout {
    tbl24: u64,
    tbl8: u64,
    used: u64,
    rules: u64,
    total: u64,
}

fn layout(groups: usize, rule_slots: usize) -> Layout {
    let tbl24 = HDR_BYTES;
    let tbl8 = tbl24 + (TBL24_LEN * 4) as u64;
    let used = tbl8 + (groups * GROUP * 4) as u64;
    let rules = (used + (groups * 4) as u64).div_ceil(8) * 8;
    Layout { tbl24, tbl8, used, rules, total: rules + (rule_slots * 8) as u64 }
}

impl Lpm {
    /// Creates an LPM table named `name` in a new memzone (about 64 MiB plus the groups).
    pub fn create(mem: &Memory, name: &str, p: &LpmParams) -> Result<Lpm, TableError> {
        check_name(name)?;
        if p.max_rules == 0 || p.max_rules > 1 << 24 {
            return Err(TableError::InvalidParam(format!("max_rules {} must be 1 to {}", p.max_rules, 1 << 24)));
        }
        if p.tbl8_groups == 0 || p.tbl8_groups > 1 << 24 {
            return Err(TableError::InvalidParam(format!("tbl8_groups {} must be 1 to {}", p.tbl8_groups, 1 << 24)));
        }
        let slots = (p.max_rules as usize * 2).next_power_of_two();
        let l = layout(p.tbl8_groups as usize, slots);
        let mz = mem.memzone_reserve(name, l.total, 64)?;
        let hdr = shm::shared_slice::<AtomicU64>(mz.addr(), 16)
            .ok_or_else(|| TableError::NotATable { name: name.into(), kind: "LPM table" })?;
        hdr[H_MAX_RULES].store(p.max_rules as u64, Ordering::Relaxed);
        hdr[H_GROUPS].store(p.tbl8_groups as u64, Ordering::Relaxed);
        hdr[H_RULE_SLOTS].store(slots as u64, Ordering::Relaxed);
        hdr[H_MAGIC].store(MAGIC, Ordering::Release);
        Self::attach(name, &mz)
    }

    /// Finds the LPM table `name` created by any process of the group.
    pub fn lookup_by_name(mem: &Memory, name: &str) -> Result<Lpm, TableError> {
        check_name(name)?;
        let mz = mem.memzone_lookup(name).ok_or_else(|| TableError::NotFound(name.into()))?;
        Self::attach(name, &mz)
    }

    fn attach(name: &str, mz: &eal::Memzone) -> Result<Lpm, TableError> {
        let not = || TableError::NotATable { name: name.into(), kind: "LPM table" };
        if mz.len() < HDR_BYTES {
            return Err(not());
        }
        let hdr = shm::shared_slice::<AtomicU64>(mz.addr(), 16).ok_or_else(not)?;
        if hdr[H_MAGIC].load(Ordering::Acquire) != MAGIC {
            return Err(not());
        }
        let groups = hdr[H_GROUPS].load(Ordering::Relaxed) as usize;
        let slots = hdr[H_RULE_SLOTS].load(Ordering::Relaxed) as usize;
        if !slots.is_power_of_two() || groups > 1 << 24 {
            return Err(not());
        }
        let l = layout(groups, slots);
        if mz.len() < l.total {
            return Err(not());
        }
        let a = mz.addr();
        Ok(Lpm {
            name: name.into(),
            hdr,
            tbl24: shm::shared_slice(a + l.tbl24, TBL24_LEN).ok_or_else(not)?,
            tbl8: shm::shared_slice(a + l.tbl8, groups * GROUP).ok_or_else(not)?,
            used: shm::shared_slice(a + l.used, groups).ok_or_else(not)?,
            rules: shm::shared_slice(a + l.rules, slots).ok_or_else(not)?,
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

    /// Next hop of the longest prefix matching `ip`, `None` when no prefix matches.
    #[inline]
    pub fn lookup(&self, ip: u32) -> Option<u32> {
        let mut e = self.tbl24[(ip >> 8) as usize].load(Ordering::Acquire);
        if e & (VALID | EXT) == VALID | EXT {
            let g = (e & NH_MASK) as usize;
            e = self.tbl8.get(g * GROUP + (ip & 0xff) as usize)?.load(Ordering::Relaxed);
        }
        (e & VALID != 0).then_some(e & NH_MASK)
    }

    /// Looks up each of `ips` into `next_hops` (`None` where no prefix matches).
    pub fn lookup_bulk(&self, ips: &[u32], next_hops: &mut [Option<u32>]) -> Result<(), TableError> {
        if next_hops.len() < ips.len() {
            return Err(TableError::InvalidParam(format!(
                "bulk lookup of {} addresses into {} results: give one result slot per address",
                ips.len(),
                next_hops.len()
            )));
        }
        for (ip, nh) in ips.iter().zip(next_hops.iter_mut()) {
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

    fn check(ip: u32, depth: u8) -> Result<u32, TableError> {
        if !(1..=32).contains(&depth) {
            return Err(TableError::InvalidParam(format!("depth {depth} must be 1 to 32")));
        }
        Ok(ip & mask(depth))
    }

    // --- rule store: open addressing on (prefix, depth) ---

    fn rule_key(ip: u32, depth: u8) -> u64 {
        (ip as u64) << 32 | (depth as u64) << 24
    }

    fn rule_home(&self, ip: u32, depth: u8) -> usize {
        crc::crc32c_words(0, &[Self::rule_key(ip, depth)]) as usize & (self.rules.len() - 1)
    }

    /// Index of the rule (`ip`, `depth`) if present.
    fn rule_find(&self, ip: u32, depth: u8) -> Option<usize> {
        let n = self.rules.len();
        let key = Self::rule_key(ip, depth);
        let mut i = self.rule_home(ip, depth);
        for _ in 0..n {
            let r = self.rules[i].load(Ordering::Relaxed);
            if r == 0 {
                return None;
            }
            if r != TOMB && r & !(NH_MASK as u64) == key {
                return Some(i);
            }
            i = (i + 1) & (n - 1);
        }
        None
    }

    fn rule_insert(&self, ip: u32, depth: u8, nh: u32) -> Result<(), TableError> {
        let word = Self::rule_key(ip, depth) | nh as u64;
        if let Some(i) = self.rule_find(ip, depth) {
            self.rules[i].store(word, Ordering::Relaxed);
            return Ok(());
        }
        if self.rule_count() >= self.hdr[H_MAX_RULES].load(Ordering::Relaxed) {
            return Err(TableError::Full(self.name.clone()));
        }
        let n = self.rules.len();
        let mut i = self.rule_home(ip, depth);
        for _ in 0..n {
            let r = self.rules[i].load(Ordering::Relaxed);
            if r == 0 || r == TOMB {
                self.rules[i].store(word, Ordering::Relaxed);
                self.hdr[H_RULES].fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            i = (i + 1) & (n - 1);
        }
        Err(TableError::Full(self.name.clone()))
    }

    /// The entry of the longest rule shorter than `depth` covering `ip` (0 when none).
    fn covering(&self, ip: u32, depth: u8) -> u32 {
        for d in (1..depth).rev() {
            let p = ip & mask(d);
            if let Some(i) = self.rule_find(p, d) {
                return entry(d, self.rules[i].load(Ordering::Relaxed) as u32 & NH_MASK);
            }
        }
        0
    }

    /// The next hop of the rule `ip/depth`, if that exact rule exists.
    pub fn rule_next_hop(&self, ip: u32, depth: u8) -> Result<Option<u32>, TableError> {
        let ip = Self::check(ip, depth)?;
        Ok(self.rule_find(ip, depth).map(|i| self.rules[i].load(Ordering::Relaxed) as u32 & NH_MASK))
    }

    fn alloc_group(&self) -> Option<usize> {
        let n = self.used.len();
        let start = self.hdr[H_CURSOR].load(Ordering::Relaxed) as usize;
        for k in 0..n {
            let g = (start + k) % n;
            if self.used[g].load(Ordering::Relaxed) == 0 {
                self.used[g].store(1, Ordering::Relaxed);
                self.hdr[H_CURSOR].store(((g + 1) % n) as u64, Ordering::Relaxed);
                return Some(g);
            }
        }
        None
    }

    /// Adds (or replaces) the route `ip/depth -> next_hop`.
    pub fn add(&self, ip: u32, depth: u8, next_hop: u32) -> Result<(), TableError> {
        let ip = Self::check(ip, depth)?;
        if next_hop > MAX_NEXT_HOP {
            return Err(TableError::InvalidParam(format!("next hop {next_hop} must be at most {MAX_NEXT_HOP}")));
        }
        let _g = self.lock();
        let new = entry(depth, next_hop);
        if depth <= 24 {
            // Reserve the rule first so a full rule table leaves the tables untouched.
            self.rule_insert(ip, depth, next_hop)?;
            let first = (ip >> 8) as usize;
            let n = 1usize << (24 - depth);
            for t in &self.tbl24[first..first + n] {
                let e = t.load(Ordering::Relaxed);
                if e & EXT != 0 {
                    let g = (e & NH_MASK) as usize;
                    for x in &self.tbl8[g * GROUP..(g + 1) * GROUP] {
                        let v = x.load(Ordering::Relaxed);
                        if v & VALID == 0 || entry_depth(v) <= depth {
                            x.store(new, Ordering::Release);
                        }
                    }
                } else if e & VALID == 0 || entry_depth(e) <= depth {
                    t.store(new, Ordering::Release);
                }
            }
            return Ok(());
        }
        let idx = (ip >> 8) as usize;
        let e = self.tbl24[idx].load(Ordering::Relaxed);
        let g = if e & EXT != 0 {
            (e & NH_MASK) as usize
        } else {
            let g = self.alloc_group().ok_or_else(|| {
                TableError::Full(format!("{} (all {} tbl8 groups in use)", self.name, self.used.len()))
            })?;
            let fill = if e & VALID != 0 { e } else { 0 };
            for x in &self.tbl8[g * GROUP..(g + 1) * GROUP] {
                x.store(fill, Ordering::Relaxed);
            }
            g
        };
        if let Err(err) = self.rule_insert(ip, depth, next_hop) {
            if e & EXT == 0 {
                self.used[g].store(0, Ordering::Relaxed);
            }
            return Err(err);
        }
        let lo = (ip & 0xff) as usize;
        let n = 1usize << (32 - depth);
        for x in &self.tbl8[g * GROUP + lo..g * GROUP + lo + n] {
            let v = x.load(Ordering::Relaxed);
            if v & VALID == 0 || entry_depth(v) <= depth {
                x.store(new, Ordering::Release);
            }
        }
        if e & EXT == 0 {
            // Publish the filled group.
            self.tbl24[idx].store(VALID | EXT | g as u32, Ordering::Release);
        }
        Ok(())
    }

    /// Deletes the route `ip/depth`; lookups then fall back to the next covering route.
    pub fn delete(&self, ip: u32, depth: u8) -> Result<(), TableError> {
        let ip = Self::check(ip, depth)?;
        let _g = self.lock();
        let i = self.rule_find(ip, depth).ok_or(TableError::NotPresent)?;
        self.rules[i].store(TOMB, Ordering::Relaxed);
        self.hdr[H_RULES].fetch_sub(1, Ordering::Relaxed);
        let repl = self.covering(ip, depth);
        let mine = |v: u32| v & VALID != 0 && v & EXT == 0 && entry_depth(v) == depth;
        if depth <= 24 {
            let first = (ip >> 8) as usize;
            let n = 1usize << (24 - depth);
            for t in &self.tbl24[first..first + n] {
                let e = t.load(Ordering::Relaxed);
                if e & EXT != 0 {
                    let g = (e & NH_MASK) as usize;
                    for x in &self.tbl8[g * GROUP..(g + 1) * GROUP] {
                        if mine(x.load(Ordering::Relaxed)) {
                            x.store(repl, Ordering::Release);
                        }
                    }
                } else if mine(e) {
                    t.store(repl, Ordering::Release);
                }
            }
            return Ok(());
        }
        let idx = (ip >> 8) as usize;
        let e = self.tbl24[idx].load(Ordering::Relaxed);
        if e & EXT == 0 {
            return Ok(()); // cannot happen for a present rule; nothing to undo
        }
        let g = (e & NH_MASK) as usize;
        let grp = &self.tbl8[g * GROUP..(g + 1) * GROUP];
        let lo = (ip & 0xff) as usize;
        for x in &grp[lo..lo + (1usize << (32 - depth))] {
            if mine(x.load(Ordering::Relaxed)) {
                x.store(repl, Ordering::Release);
            }
        }
        // Collapse the group when it no longer holds anything longer than /24.
        let first = grp[0].load(Ordering::Relaxed);
        let uniform = grp.iter().all(|x| x.load(Ordering::Relaxed) == first);
        if uniform && (first & VALID == 0 || entry_depth(first) <= 24) {
            self.tbl24[idx].store(first, Ordering::Release);
            self.used[g].store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Deletes every rule.
    pub fn delete_all(&self) {
        let _g = self.lock();
        for t in self.tbl24 {
            t.store(0, Ordering::Release);
        }
        for u in self.used {
            u.store(0, Ordering::Relaxed);
        }
        for r in self.rules {
            r.store(0, Ordering::Relaxed);
        }
        self.hdr[H_RULES].store(0, Ordering::Relaxed);
    }
}
