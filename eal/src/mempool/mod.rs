//! Mempools: named pools of fixed-size objects in shared memory, with a cache per lcore.
//!
//! Free objects live in a multi-producer/multi-consumer [`Ring`]; each lcore keeps a small
//! stack of objects in front of it so that most gets and puts touch no shared cache line.
//! An object freed by any process of the group returns to the same pool. Threads that are
//! not lcores go to the ring directly. Two processes must never use the same lcore id (the
//! EAL refuses it at start), or they would corrupt each other's cache.

use crate::config::MAX_LCORES;
use crate::error::EalError;
use crate::lcore::lcore_id;
use crate::memory::Memory;
use crate::name::SharedName;
use crate::ring::{self, copy_words, Ring, Slots};
use crate::shm::{self, SharedPlain};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[cfg(test)]
mod tests;

/// Largest per-lcore cache (objects), as in DPDK.
pub const CACHE_MAX_SIZE: u32 = 512;
/// Longest mempool name.
pub const NAME_MAX: usize = 24;

/// The shared header of a pool; lcore caches and objects follow it in its memzone.
#[repr(C, align(64))]
pub struct MempoolHeader {
    name: SharedName<4>,
    elt_size: AtomicU32,
    count: AtomicU32,
    cache_size: AtomicU32,
    flush_thresh: AtomicU32,
    cache_cap: AtomicU32,
    ready: AtomicU32,
    caches: AtomicU64,
    cache_stride: AtomicU64,
    objs: AtomicU64,
    ring: AtomicU64,
    /// Objects per page when objects must not cross page boundaries (0: packed).
    per_page: AtomicU64,
    /// The page size objects are laid out by.
    page: AtomicU64,
    /// 1 once every object has been initialised as an mbuf (set by `PktMbufPool::create`).
    mbuf: AtomicU32,
}
// SAFETY: repr(C) of atomics and a name; zero is "not ready".
unsafe impl SharedPlain for MempoolHeader {}

/// The fill level of one lcore's cache, alone in its cache line with the marker of a cold
/// path in progress (see [`CacheOp`]), so that the primary can tell, after the owner died,
/// which objects of the cache are certain.
#[repr(C, align(64))]
struct CacheLen {
    len: AtomicU32,
    /// 0, or [`OP_REFILL`] | objects asked of the ring, or [`OP_FLUSH`] | fill level
    /// before the flush to the ring: written only on the cold paths.
    op: AtomicU32,
}
// SAFETY: two atomics.
unsafe impl SharedPlain for CacheLen {}

/// [`CacheLen::op`]: a refill from the ring is under way.
const OP_REFILL: u32 = 1 << 31;
/// [`CacheLen::op`]: a flush to the ring is under way.
const OP_FLUSH: u32 = 1 << 30;
const OP_COUNT: u32 = (1 << 30) - 1;

/// What [`Mempool::reclaim_cache`] did with the cache of a dead lcore.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheReclaim {
    /// Objects moved from the cache to the pool's ring.
    pub returned: u32,
    /// Objects whose fate is unknown: the owner died in the middle of a refill from the
    /// ring or a flush to it (a window of a few hundred nanoseconds on the cold paths).
    /// They are not returned, so that no object is ever handed out twice.
    pub uncertain: u32,
    /// The pool's ring was stalled by a dead producer: nothing could be returned.
    pub ring_stalled: bool,
}

/// Handle to a pool. Copyable, `Send + Sync`; it names shared state.
#[derive(Clone, Copy)]
pub struct Mempool {
    hdr: &'static MempoolHeader,
    ring: Ring,
    /// Per-lcore fill levels (MAX_LCORES entries, empty without a cache).
    cache_lens: &'static [CacheLen],
    /// Per-lcore object stacks, `cache_cap` plain words each (each owned by its lcore).
    cache_objs: Slots,
    cache_cap: usize,
    cache_size: u32,
    flush_thresh: u32,
    elt_size: u32,
    count: u32,
    objs: u64,
    per_page: u64,
    page: u64,
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mempool({:?}, {} x {} B)", self.name(), self.count, self.elt_size)
    }
}

/// Where object `i` of a pool lives.
#[derive(Clone, Copy)]
struct Layout {
    objs: u64,
    elt: u64,
    /// Objects per page, 0 when packed.
    per_page: u64,
    page: u64,
}

impl Layout {
    /// Bytes from the first object to the end of the last of `count` objects.
    fn span(&self, count: u64) -> Option<u64> {
        match (count.checked_div(self.per_page), count.checked_rem(self.per_page)) {
            (Some(full), Some(rest)) => full.checked_mul(self.page)?.checked_add(rest.checked_mul(self.elt)?),
            _ => count.checked_mul(self.elt),
        }
    }

    fn addr(&self, i: u64) -> u64 {
        match (i.checked_div(self.per_page), i.checked_rem(self.per_page)) {
            (Some(page), Some(slot)) => self.objs + page * self.page + slot * self.elt,
            _ => self.objs + i * self.elt,
        }
    }

    /// The index of the object starting at `addr`, if one could.
    fn index(&self, addr: u64) -> Option<u64> {
        let off = addr.checked_sub(self.objs)?;
        if self.per_page == 0 {
            return off.is_multiple_of(self.elt).then_some(off / self.elt);
        }
        let (page, within) = (off / self.page, off % self.page);
        (within.is_multiple_of(self.elt) && within / self.elt < self.per_page)
            .then_some(page * self.per_page + within / self.elt)
    }
}

/// One lcore's cache of one pool, looked up once by the thread bound to that lcore (see
/// [`Mempool::local_cache`]).
///
/// The fill level is an atomic (a reclaimer in another process reads it after the owner
/// died); the objects are plain words owned by the lcore, moved in blocks with no atomic
/// and no per-object check. A cache has one owner at a time, and the type says so: a
/// handle can only be made by the thread bound to the lcore (the EAL binds each lcore id
/// to one thread of the group), and it is neither `Send` nor `Sync`, so it never leaves
/// that thread.
///
/// Two words (the fill level's address and the first object word's; the pool knows the
/// length), so that it travels in registers: a larger handle is spilled to the stack on
/// every call for the sake of the cold paths' calls.
#[derive(Clone, Copy)]
pub struct Cache {
    lens: &'static CacheLen,
    /// The first of the cache's `cache_cap` object words.
    base: *mut u64,
    /// Keeps the handle on the thread that owns the cache.
    _owner: PhantomData<*const ()>,
}

impl Cache {
    /// The fill level, trusted only up to `cap` words (the shared word is plain data that
    /// a faulty process could have overwritten; the hot paths never index past `cap`).
    #[inline(always)]
    fn len(&self, cap: usize) -> usize {
        (self.lens.len.load(Ordering::Relaxed) as usize).min(cap)
    }
}

impl Mempool {
    /// Creates a pool of `count` objects of `elt_size` bytes (rounded up to 64) with a
    /// per-lcore cache of `cache_size` objects (0 for none). Objects are zeroed.
    pub fn create(mem: &Memory, name: &str, count: u32, elt_size: u32, cache_size: u32) -> Result<Mempool, EalError> {
        if name.is_empty() || name.len() > NAME_MAX {
            return Err(EalError::NameTooLong { name: name.into(), len: name.len(), max: NAME_MAX });
        }
        if count == 0 || count >= ring::MAX_SIZE {
            return Err(EalError::InvalidArgument(format!(
                "mempool '{name}': count {count} must be 1..{}",
                ring::MAX_SIZE
            )));
        }
        if elt_size == 0 {
            return Err(EalError::InvalidArgument(format!("mempool '{name}': element size 0")));
        }
        if cache_size > CACHE_MAX_SIZE || cache_size as u64 * 3 / 2 > count as u64 {
            return Err(EalError::InvalidArgument(format!(
                "mempool '{name}': cache size {cache_size} must be at most {CACHE_MAX_SIZE} and at most 2/3 of the pool ({count} objects)"
            )));
        }
        let elt = (elt_size as u64).div_ceil(64) * 64;
        let flush_thresh = cache_size * 3 / 2;
        let cache_cap = if cache_size == 0 { 0 } else { flush_thresh + CACHE_MAX_SIZE };
        let cache_stride = (8 * cache_cap as u64).div_ceil(64) * 64;
        let hdr_len = std::mem::size_of::<MempoolHeader>() as u64;
        let caches_len = if cache_size == 0 { 0 } else { (64 + cache_stride) * MAX_LCORES as u64 };
        // On huge pages no object crosses a page boundary, so each is contiguous in device
        // (IOVA) space too, as DPDK guarantees: devices see physical pages in PA mode, and
        // some emulated ones split DMA at IOMMU page boundaries.
        // In IOVA-as-PA mode on small pages (`--no-huge`) the same holds, at the cost of the
        // end of each page; an object larger than a page cannot be contiguous and is refused.
        let page = mem.page_size();
        let pa_mode = mem.config().iova_pa.load(Ordering::Acquire) == 1;
        if pa_mode && elt > page {
            return Err(EalError::NotDmaContiguous {
                what: format!("each object of mempool '{name}'"),
                bytes: elt,
                page,
                alt: String::new(),
            });
        }
        let per_page = if (page >= (2 << 20) || pa_mode) && elt <= page { page / elt } else { 0 };
        let (objs_len, objs_align) = match ((count as u64).checked_div(per_page), (count as u64).checked_rem(per_page))
        {
            (Some(full), Some(rest)) => (full * page + rest * elt, page),
            _ => (elt * count as u64, 64),
        };
        let ring =
            Ring::create_kind(mem, &format!("MP_{name}"), count, ring::flags::EXACT_SZ, ring::RingKind::Mempool)?;
        let mz = match mem.memzone_reserve(&format!("MP_{name}"), hdr_len + caches_len, 64) {
            Ok(mz) => mz,
            Err(e) => {
                ring.free(mem);
                return Err(e);
            }
        };
        let omz = match mem.memzone_reserve(&format!("MO_{name}"), objs_len, objs_align) {
            Ok(m) => m,
            Err(e) => {
                mem.memzone_free(mz);
                ring.free(mem);
                return Err(e);
            }
        };
        let hdr: &'static MempoolHeader =
            shm::shared_ref(mz.addr()).ok_or_else(|| EalError::InvalidArgument("misaligned memzone".into()))?;
        let objs = omz.addr();
        hdr.name.set(name);
        hdr.elt_size.store(elt as u32, Ordering::Relaxed);
        hdr.count.store(count, Ordering::Relaxed);
        hdr.cache_size.store(cache_size, Ordering::Relaxed);
        hdr.flush_thresh.store(flush_thresh, Ordering::Relaxed);
        hdr.cache_cap.store(cache_cap, Ordering::Relaxed);
        hdr.caches.store(mz.addr() + hdr_len, Ordering::Relaxed);
        hdr.cache_stride.store(cache_stride, Ordering::Relaxed);
        hdr.objs.store(objs, Ordering::Relaxed);
        hdr.ring.store(ring.header_addr(), Ordering::Relaxed);
        hdr.per_page.store(per_page, Ordering::Relaxed);
        hdr.page.store(page, Ordering::Relaxed);
        let layout = Layout { objs, elt, per_page, page };
        let mut batch = Vec::with_capacity(256);
        for i in 0..count as u64 {
            batch.push(layout.addr(i));
            if batch.len() == 256 {
                ring.enqueue_bulk(&batch);
                batch.clear();
            }
        }
        ring.enqueue_bulk(&batch);
        hdr.ready.store(1, Ordering::Release);
        Self::from_header_addr(mz.addr())
    }

    /// Finds the pool called `name`.
    pub fn lookup(mem: &Memory, name: &str) -> Result<Mempool, EalError> {
        let mz = mem
            .memzone_lookup(&format!("MP_{name}"))
            .ok_or_else(|| EalError::NotFound { kind: "mempool", name: name.into() })?;
        Self::from_header_addr(mz.addr())
    }

    /// The handle of the pool whose header is at `addr` (as recorded in an mbuf).
    ///
    /// Checked: an address that is not a ready pool header in shared memory, or a header
    /// whose objects do not lie in shared memory, is an error. A pool hands out object
    /// addresses only (`u64`); nothing here dereferences them.
    pub fn from_header_addr(addr: u64) -> Result<Mempool, EalError> {
        let bad = || EalError::InvalidArgument(format!("no mempool at {addr:#x}"));
        let hdr: &'static MempoolHeader = shm::shared_ref(addr).ok_or_else(bad)?;
        if hdr.ready.load(Ordering::Acquire) != 1 {
            return Err(bad());
        }
        let layout = Layout {
            objs: hdr.objs.load(Ordering::Relaxed),
            elt: hdr.elt_size.load(Ordering::Relaxed) as u64,
            per_page: hdr.per_page.load(Ordering::Relaxed),
            page: hdr.page.load(Ordering::Relaxed),
        };
        let span = layout.span(hdr.count.load(Ordering::Relaxed) as u64).ok_or_else(bad)?;
        if layout.elt == 0 || !shm::is_shared(layout.objs, span) {
            return Err(bad());
        }
        let ring = Ring::from_header_addr(hdr.ring.load(Ordering::Relaxed), ring::RingKind::Mempool)?;
        let cache_size = hdr.cache_size.load(Ordering::Relaxed);
        let caches = hdr.caches.load(Ordering::Relaxed);
        let cache_cap = (hdr.cache_stride.load(Ordering::Relaxed) / 8) as usize;
        let (cache_lens, cache_objs) = if cache_size == 0 {
            (&[][..], Slots::EMPTY)
        } else {
            (
                shm::shared_slice::<CacheLen>(caches, MAX_LCORES).ok_or_else(bad)?,
                Slots::at(caches + 64 * MAX_LCORES as u64, cache_cap * MAX_LCORES).ok_or_else(bad)?,
            )
        };
        let flush_thresh = hdr.flush_thresh.load(Ordering::Relaxed);
        // The cache fast paths index up to the flush threshold without checks.
        if cache_size > 0 && (flush_thresh as usize > cache_cap || cache_size > flush_thresh) {
            return Err(bad());
        }
        Ok(Mempool {
            hdr,
            ring,
            cache_lens,
            cache_objs,
            cache_cap,
            cache_size,
            flush_thresh,
            elt_size: hdr.elt_size.load(Ordering::Relaxed),
            count: hdr.count.load(Ordering::Relaxed),
            objs: hdr.objs.load(Ordering::Relaxed),
            per_page: hdr.per_page.load(Ordering::Relaxed),
            page: hdr.page.load(Ordering::Relaxed),
        })
    }

    /// Marks every object of the pool as an initialised mbuf (see [`Mempool::is_mbuf_pool`]).
    pub(crate) fn mark_mbuf_pool(&self) {
        self.hdr.mbuf.store(1, Ordering::Release);
    }

    /// True when `PktMbufPool::create` initialised every object as an mbuf.
    pub fn is_mbuf_pool(&self) -> bool {
        self.hdr.mbuf.load(Ordering::Acquire) == 1
    }

    /// Address of the pool's shared header (what mbufs record as their pool).
    pub fn header_addr(&self) -> u64 {
        self.hdr as *const MempoolHeader as u64
    }

    /// The pool's name.
    pub fn name(&self) -> String {
        self.hdr.name.get()
    }
    /// Number of objects.
    pub fn size(&self) -> u32 {
        self.count
    }
    /// Object size in bytes (rounded up to 64).
    pub fn elt_size(&self) -> u32 {
        self.elt_size
    }
    /// Per-lcore cache size.
    pub fn cache_size(&self) -> u32 {
        self.cache_size
    }
    /// Address of object `i` (0-based), for initialising objects after creation.
    pub fn obj_addr(&self, i: u32) -> Option<u64> {
        (i < self.count).then(|| self.layout().addr(i as u64))
    }
    /// True when `addr` is the start of one of this pool's objects.
    pub fn owns(&self, addr: u64) -> bool {
        self.layout().index(addr).is_some_and(|i| i < self.count as u64)
    }

    fn layout(&self) -> Layout {
        Layout { objs: self.objs, elt: self.elt_size as u64, per_page: self.per_page, page: self.page }
    }

    /// Free objects now: in the ring plus in every lcore cache (a snapshot).
    pub fn avail_count(&self) -> u32 {
        let mut n = self.ring.count();
        if self.cache_size > 0 {
            for id in 0..MAX_LCORES as u32 {
                n += self.cache(id).lens.len.load(Ordering::Relaxed).min(self.cache_cap as u32);
            }
        }
        n.min(self.count)
    }

    /// Objects in lcore `id`'s cache now (a snapshot; 0 without a cache).
    pub fn lcore_cache_count(&self, id: u32) -> u32 {
        if self.cache_size == 0 || id as usize >= MAX_LCORES {
            return 0;
        }
        self.cache(id).lens.len.load(Ordering::Relaxed).min(self.cache_cap as u32)
    }

    /// Objects handed out now (a snapshot).
    pub fn in_use_count(&self) -> u32 {
        self.count - self.avail_count()
    }

    /// True when every object is back in the pool.
    pub fn is_full(&self) -> bool {
        self.avail_count() == self.count
    }

    #[inline(always)]
    fn cache(&self, id: u32) -> Cache {
        let id = id as usize;
        Cache {
            lens: &self.cache_lens[id],
            base: self.cache_objs.sub(id * self.cache_cap, self.cache_cap).base(),
            _owner: PhantomData,
        }
    }

    /// The object words of cache `c` (of this pool).
    #[inline(always)]
    fn words(&self, c: &Cache) -> Slots {
        // SAFETY: `c.base` is the start of a `cache_cap`-word sub-run of this pool's
        // `cache_objs` (`Mempool::cache`): the only callers pass caches that passed
        // `Mempool::owns_cache` in `get_bulk_with`/`put_bulk_with`.
        unsafe { Slots::from_raw(c.base, self.cache_cap) }
    }

    /// True when `c` is one of this pool's caches: its fill-level word lies in this pool's
    /// table. One subtraction and compare per burst; a cache of another pool would
    /// otherwise be indexed by this pool's capacity.
    #[inline(always)]
    fn owns_cache(&self, c: &Cache) -> bool {
        let start = self.cache_lens.as_ptr() as usize;
        let off = (c.lens as *const CacheLen as usize).wrapping_sub(start);
        off < std::mem::size_of_val(self.cache_lens)
    }

    #[inline(always)]
    fn lcore_cache(&self) -> Option<Cache> {
        if self.cache_size == 0 {
            return None;
        }
        lcore_id().map(|id| self.cache(id))
    }

    /// The calling lcore's cache of this pool (None on a non-lcore thread or without a
    /// cache). Hot loops look it up once and pass it to [`Mempool::get_bulk_with`] and
    /// [`Mempool::put_bulk_with`], as DPDK's `rte_mempool_generic_get/put` take a cache.
    #[inline]
    pub fn local_cache(&self) -> Option<Cache> {
        self.lcore_cache()
    }

    /// Takes exactly `out.len()` objects or none; false when the pool cannot supply them.
    #[inline]
    pub fn get_bulk(&self, out: &mut [u64]) -> bool {
        self.get_bulk_with(self.lcore_cache(), out)
    }

    /// [`Mempool::get_bulk`] into words that need not be initialised (such as a vector's
    /// spare capacity, which then need not be cleared first): on `true` every word of `out`
    /// holds an object's address; on `false` none was written.
    #[inline]
    pub fn get_bulk_uninit(&self, out: &mut [MaybeUninit<u64>]) -> bool {
        self.get_bulk_uninit_with(self.lcore_cache(), out)
    }

    /// Returns `objs` to the pool. Every address must come from this pool's `get_bulk`.
    #[inline]
    pub fn put_bulk(&self, objs: &[u64]) {
        self.put_bulk_with(self.lcore_cache(), objs)
    }

    /// [`Mempool::get_bulk`] through a cache looked up earlier by this same thread.
    ///
    /// A cache of another pool is not used: the objects then come from the pool's ring.
    #[inline(always)]
    pub fn get_bulk_with(&self, cache: Option<Cache>, out: &mut [u64]) -> bool {
        // SAFETY: `MaybeUninit<u64>` has `u64`'s layout, and `get_bulk_uninit_with` only
        // writes whole addresses into `out`, never an uninitialised word, so `out` is still
        // a valid `[u64]` when it returns.
        let out = unsafe { &mut *(out as *mut [u64] as *mut [MaybeUninit<u64>]) };
        self.get_bulk_uninit_with(cache, out)
    }

    /// [`Mempool::get_bulk_uninit`] through a cache looked up earlier by this same thread
    /// (see [`Mempool::get_bulk_with`]).
    #[inline(always)]
    pub fn get_bulk_uninit_with(&self, cache: Option<Cache>, out: &mut [MaybeUninit<u64>]) -> bool {
        let n = out.len();
        if let Some(c) = cache.filter(|c| self.owns_cache(c)) {
            let len = c.len(self.cache_cap);
            if n <= len {
                // Hand out the most recently freed objects first (warm in the CPU cache).
                // SAFETY: `n <= len <= cache_cap`, so words `len - n..len` lie in the cache;
                // this thread owns the cache (a `Cache` never leaves its lcore's thread), so
                // nobody writes them meanwhile; `out` is the caller's, distinct memory.
                unsafe { copy_words(c.base.add(len - n), out.as_mut_ptr().cast::<u64>(), n) };
                c.lens.len.store((len - n) as u32, Ordering::Relaxed);
                return true;
            }
            if n <= self.cache_size as usize {
                return self.get_refill(c, len, out);
            }
        }
        self.ring.mc_dequeue_bulk_uninit(out)
    }

    /// The cache holds fewer than `out.len()`: refill it to `cache_size + n` from the ring,
    /// then serve from it.
    #[cold]
    fn get_refill(&self, c: Cache, len: usize, out: &mut [MaybeUninit<u64>]) -> bool {
        let n = out.len();
        let want = self.cache_size as usize + n - len;
        // Ordered before the ring's head CAS (a release): a reclaimer that finds the owner
        // dead with this mark set knows the slots above `len` are in doubt.
        c.lens.op.store(OP_REFILL | want as u32, Ordering::Relaxed);
        // SAFETY: this thread is the cache's lcore, the only one touching its words.
        if !unsafe { self.ring.mc_dequeue_bulk_slots(self.words(&c).sub(len, want)) } {
            c.lens.op.store(0, Ordering::Release);
            return self.ring.mc_dequeue_bulk_uninit(out);
        }
        let len = len + want;
        // SAFETY: as above.
        unsafe { self.words(&c).read_uninit(len - n, out) };
        c.lens.len.store((len - n) as u32, Ordering::Relaxed);
        c.lens.op.store(0, Ordering::Release);
        true
    }

    /// [`Mempool::put_bulk`] through a cache looked up earlier by this same thread.
    #[inline(always)]
    pub fn put_bulk_with(&self, cache: Option<Cache>, objs: &[u64]) {
        let n = objs.len();
        if let Some(c) = cache.filter(|c| self.owns_cache(c)) {
            let len = c.len(self.cache_cap);
            let end = len + n;
            if end < self.flush_thresh as usize {
                // SAFETY: `end < flush_thresh <= cache_cap`, so words `len..end` lie in the
                // cache; this thread owns the cache (a `Cache` never leaves its lcore's
                // thread), so nobody reads or writes them meanwhile; `objs` is distinct.
                unsafe { copy_words(objs.as_ptr(), c.base.add(len), n) };
                c.lens.len.store(end as u32, Ordering::Relaxed);
                return;
            }
            if n <= CACHE_MAX_SIZE as usize {
                return self.put_flush(c, len, objs);
            }
        }
        let mut done = 0;
        while done < n {
            done += self.ring.mp_enqueue_burst(&objs[done..]);
        }
    }

    /// The cache reaches its flush threshold: add `objs`, then give everything above
    /// `cache_size` back to the ring (which holds every object of the pool, so has room).
    #[cold]
    fn put_flush(&self, c: Cache, len: usize, objs: &[u64]) {
        let end = len + objs.len();
        // SAFETY: this thread is the cache's lcore, the only one touching its words.
        unsafe { self.words(&c).write(len, objs) };
        let keep = self.cache_size as usize;
        c.lens.op.store(OP_FLUSH | end as u32, Ordering::Relaxed);
        // SAFETY: as above.
        let flushed = unsafe { self.ring.mp_enqueue_bulk_slots(self.words(&c).sub(keep, end - keep)) };
        debug_assert!(flushed, "a pool's ring has room for all its objects");
        c.lens.len.store(keep as u32, Ordering::Relaxed);
        c.lens.op.store(0, Ordering::Release);
    }

    /// Takes one object.
    #[inline]
    pub fn get(&self) -> Option<u64> {
        let mut o = [0u64];
        self.get_bulk(&mut o).then_some(o[0])
    }

    /// Returns one object.
    #[inline]
    pub fn put(&self, obj: u64) {
        self.put_bulk(&[obj])
    }

    /// Empties this lcore's cache into the ring (e.g. before the lcore stops for good).
    pub fn flush_cache(&self) {
        if let Some(c) = self.lcore_cache() {
            let len = c.lens.len.load(Ordering::Relaxed) as usize;
            let mut objs = vec![0u64; len];
            // SAFETY: this thread is the cache's lcore, the only one touching its words.
            unsafe { self.words(&c).read(0, &mut objs) };
            let mut done = 0;
            while done < objs.len() {
                done += self.ring.mp_enqueue_burst(&objs[done..]);
            }
            c.lens.len.store(0, Ordering::Relaxed);
        }
    }

    /// The header address of the pool's ring.
    pub(crate) fn ring_addr(&self) -> u64 {
        self.ring.header_addr()
    }

    /// For a dead lcore `id` that died in a flush of its cache to the ring, after
    /// reserving `n` ring slots: the objects the flush was writing (still in the cache).
    pub(crate) fn dead_flush_objects(&self, id: u32, n: u32) -> Option<Vec<u64>> {
        if self.cache_size == 0 || id as usize >= MAX_LCORES {
            return None;
        }
        let c = self.cache(id);
        let op = c.lens.op.load(Ordering::Acquire);
        let (keep, end) = (self.cache_size as usize, (op & OP_COUNT) as usize);
        if op & OP_FLUSH == 0 || end > self.cache_cap || end.checked_sub(keep) != Some(n as usize) {
            return None;
        }
        let mut objs = vec![0u64; end - keep];
        // SAFETY: the owner is dead (the caller's promise), so nobody writes its cache.
        unsafe { self.words(&c).read(keep, &mut objs) };
        Some(objs)
    }

    /// Marks dead lcore `id`'s interrupted flush as done: its ring operation was finished.
    pub(crate) fn dead_flush_done(&self, id: u32) {
        if self.cache_size == 0 || id as usize >= MAX_LCORES {
            return;
        }
        let c = self.cache(id);
        if c.lens.op.load(Ordering::Acquire) & OP_FLUSH != 0 {
            c.lens.len.store(self.cache_size, Ordering::Relaxed);
            c.lens.op.store(0, Ordering::Release);
        }
    }

    /// Returns the whole cache of lcore `id` to the pool's ring, for an lcore whose process
    /// died (see `eal::reclaim`). The caller guarantees that no live thread uses lcore
    /// `id` meanwhile: its owner is dead and the lcore table's lock is held, so nobody can
    /// claim it.
    ///
    /// A cache whose owner died in the middle of a refill or a flush is returned in the
    /// part that is certain (the objects below the fill level, or below `cache_size` for a
    /// flush, which may already have given the rest to the ring); the rest is counted as
    /// [`CacheReclaim::uncertain`]. A pool ring stalled by a dead producer is left alone.
    pub fn reclaim_cache(&self, id: u32) -> CacheReclaim {
        let mut r = CacheReclaim::default();
        if self.cache_size == 0 || id as usize >= MAX_LCORES {
            return r;
        }
        let c = self.cache(id);
        let len = (c.lens.len.load(Ordering::Acquire) as usize).min(self.cache_cap);
        let op = c.lens.op.load(Ordering::Acquire);
        let certain = if op & OP_FLUSH != 0 {
            let end = (op & OP_COUNT) as usize;
            let keep = self.cache_size as usize;
            r.uncertain = end.saturating_sub(keep) as u32;
            let _ = len;
            keep
        } else if op & OP_REFILL != 0 {
            r.uncertain = op & OP_COUNT;
            len
        } else {
            len
        };
        if certain == 0 {
            c.lens.op.store(0, Ordering::Release);
            return r;
        }
        if self.ring.producer_stalled() {
            r.ring_stalled = true;
            return r;
        }
        let mut objs = vec![0u64; certain];
        // SAFETY: the owner is dead and nobody can claim the lcore meanwhile (the caller's
        // promise), so nobody writes its cache.
        unsafe { self.words(&c).read(0, &mut objs) };
        // Only this pool's own objects go back (a torn cache must never poison the ring).
        let objs: Vec<u64> = objs.into_iter().filter(|&o| self.owns(o)).collect();
        let mut done = 0;
        while done < objs.len() {
            done += self.ring.mp_enqueue_burst(&objs[done..]);
        }
        r.returned = objs.len() as u32;
        c.lens.len.store(0, Ordering::Relaxed);
        c.lens.op.store(0, Ordering::Release);
        r
    }

    /// Returns to the pool every object that is neither free (in the ring or an lcore
    /// cache) nor listed in `held`, and tells how many: the objects lost by processes
    /// that died holding them in their own hands (burst arrays), which no tracking on
    /// the fast path records (see `eal::reclaim`).
    ///
    /// Only for a quiescent group: no other thread or process may get or put objects of
    /// this pool meanwhile, and every object still legitimately held — in rings, device
    /// queues, the caller's hands — must be in `held` (or first given back). Typically
    /// the primary, alone after its secondaries died, with its rings drained. Breaking
    /// this rule hands one object to two owners.
    pub fn recover_unaccounted(&self, held: &[u64]) -> u32 {
        let count = self.count as usize;
        let layout = self.layout();
        let mut seen = vec![false; count];
        let mut mark = |o: u64| {
            if let Some(i) = layout.index(o).filter(|&i| i < count as u64) {
                seen[i as usize] = true;
            }
        };
        self.ring.for_each_quiescent(&mut mark);
        if self.cache_size > 0 {
            for id in 0..MAX_LCORES as u32 {
                let c = self.cache(id);
                let len = (c.lens.len.load(Ordering::Acquire) as usize).min(self.cache_cap);
                let mut objs = vec![0u64; len];
                // SAFETY: the group is quiescent (the caller's promise): nobody writes caches.
                unsafe { self.words(&c).read(0, &mut objs) };
                objs.into_iter().for_each(&mut mark);
            }
        }
        held.iter().for_each(|&o| mark(o));
        let lost: Vec<u64> = seen.iter().enumerate().filter(|(_, &s)| !s).map(|(i, _)| layout.addr(i as u64)).collect();
        let mut done = 0;
        while done < lost.len() {
            done += self.ring.mp_enqueue_burst(&lost[done..]);
        }
        if !lost.is_empty() {
            tracing::warn!(pool = %self.name(), objects = lost.len(), "recovered objects no process accounts for");
        }
        lost.len() as u32
    }
}
