//! A fixed-size lock-free ring of 64-bit values (object addresses) in shared memory, usable
//! between threads and processes: single- or multi-producer/consumer, bulk (all or nothing)
//! and burst (as many as possible) operations, created by name and looked up by name.
//!
//! Head/tail indices are free-running `u32`s as in DPDK, and an operation does the same
//! work as DPDK's: load its head and the other side's tail, reserve (a CAS when several
//! producers or consumers may race), copy the slots in blocks, wait for earlier operations
//! of its side, publish its tail.

use crate::config::{RingOp, SharedConfig, MAX_LCORES, RING_OP_CONSUMER, RING_OP_COUNT, RING_OP_WRITTEN};
use crate::error::EalError;
use crate::memory::Memory;
use crate::memzone::Memzone;
use crate::name::SharedName;
use crate::shm::{self, SharedPlain};
use crossbeam_utils::{Backoff, CachePadded};
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

mod slots;
pub(crate) use slots::{copy_words, Slots};

/// The group's table of per-lcore ring operations (set once by `Eal::init`).
static RING_OPS: AtomicPtr<RingOp> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    /// This lcore's entry of [`RING_OPS`]; null on threads that are not lcores.
    static MY_OP: Cell<*const RingOp> = const { Cell::new(std::ptr::null()) };
}

/// Makes this process record its lcores' multi-producer/consumer ring operations in the
/// group's table (see [`RingOp`]); called by `Eal::init` before any lcore is bound.
pub(crate) fn set_ring_ops(cfg: &'static SharedConfig) {
    RING_OPS.store(cfg.ring_ops.as_ptr() as *mut RingOp, Ordering::Release);
}

/// Makes the calling thread record its multi-producer/consumer ring operations as lcore
/// `id` does, in `mem`'s table (see [`RingOp`]), outside an initialised EAL: for benchmarks
/// and tests that measure or exercise the recording. Lcores of an EAL do it by themselves.
pub fn record_ops_as_lcore(mem: &crate::Memory, id: u32) {
    set_ring_ops(mem.config());
    bind_lcore(Some(id));
}

/// Binds the calling thread to lcore `id`'s entry of the table (or to none).
pub(crate) fn bind_lcore(id: Option<u32>) {
    let base = RING_OPS.load(Ordering::Acquire);
    let p = match id {
        // SAFETY: `base` points to the MAX_LCORES entries of the shared config, mapped
        // for the life of the process; `id` is below MAX_LCORES.
        Some(id) if !base.is_null() && (id as usize) < MAX_LCORES => unsafe { base.add(id as usize) as *const RingOp },
        _ => std::ptr::null(),
    };
    MY_OP.with(|c| c.set(p));
}

/// The calling lcore's entry of the table.
#[inline(always)]
fn my_op() -> Option<&'static RingOp> {
    let p = MY_OP.with(|c| c.get());
    // SAFETY: non-null only when set by `bind_lcore` to an entry of the shared config,
    // which stays mapped for the life of the process.
    unsafe { p.as_ref() }
}

/// What finishing a dead lcore's ring operation did (see `eal::reclaim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadOp {
    /// The operation had been published (or its process died before it reserved anything).
    Done,
    /// A dequeue's slots were released: the objects read are lost with the process.
    ConsumerReleased(u32),
    /// An enqueue whose slots were all written was published on its behalf: nothing lost.
    ProducerPublished(u32),
    /// An mbuf ring enqueue that died before writing its slots was published as null
    /// slots, which dequeues skip; its mbufs are lost with the process.
    ProducerHoles(u32),
    /// An enqueue died before writing all its slots, or earlier operations still hold the
    /// ring: it is left stalled (and reported).
    Stalled,
}

/// Creation flags.
pub mod flags {
    /// Enqueue is single-producer by default.
    pub const SP_ENQ: u32 = 1;
    /// Dequeue is single-consumer by default.
    pub const SC_DEQ: u32 = 2;
    /// `count` is the exact capacity (otherwise `count` must be a power of two and the
    /// capacity is `count - 1`, as in DPDK).
    pub const EXACT_SZ: u32 = 4;
}

/// What a ring carries; a handle of one kind cannot be made for a ring of another, so
/// owned objects (mbufs) and raw values never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum RingKind {
    /// Plain 64-bit values, for applications.
    Plain = 0,
    /// Owned mbufs (see `mbuf::MbufRing`).
    Mbuf = 1,
    /// A mempool's free objects.
    Mempool = 2,
}

/// Largest ring size (slots).
pub const MAX_SIZE: u32 = 1 << 28;

/// One side's indices.
#[repr(C)]
struct Indices {
    head: AtomicU32,
    tail: AtomicU32,
}
// SAFETY: repr(C) of two atomics.
unsafe impl SharedPlain for Indices {}

/// One side (producer or consumer) of a ring. `CachePadded` gives it a cache line of its
/// own, and 128 bytes on x86-64, where the adjacent-line prefetcher pulls lines in pairs.
#[repr(C)]
struct HeadTail {
    ht: CachePadded<Indices>,
}

/// The shared part of a ring; the slots follow it in the same memzone.
#[repr(C)]
pub struct RingHeader {
    name: SharedName<4>,
    size: AtomicU32,
    capacity: AtomicU32,
    flags: AtomicU32,
    ready: AtomicU32,
    kind: AtomicU32,
    _pad: [u32; 3],
    prod: HeadTail,
    cons: HeadTail,
}
// SAFETY: repr(C) of atomics, padding and a SharedName; zero is a valid (unready) ring.
unsafe impl SharedPlain for RingHeader {}

const HDR: u64 = std::mem::size_of::<RingHeader>() as u64;

/// How many objects an operation moves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behavior {
    /// All or nothing.
    Fixed,
    /// As many as possible.
    Variable,
}

/// Handle to a ring. `Clone`/`Copy` and `Send + Sync`: it only names shared state.
#[derive(Clone, Copy)]
pub struct Ring {
    hdr: &'static RingHeader,
    slots: Slots,
    mask: u32,
    capacity: u32,
    sp: bool,
    sc: bool,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ring({:?}, {}/{})", self.hdr.name.get(), self.count(), self.capacity)
    }
}

fn memzone_name(name: &str) -> String {
    format!("RG_{name}")
}

impl Ring {
    /// Bytes of shared memory a ring of `size` slots takes.
    pub fn memsize(size: u32) -> u64 {
        HDR + 8 * size as u64
    }

    /// Creates a ring called `name` holding `count` objects (see [`flags`]).
    pub fn create(mem: &Memory, name: &str, count: u32, flags: u32) -> Result<Ring, EalError> {
        Self::create_kind(mem, name, count, flags, RingKind::Plain)
    }

    /// Finds the ring called `name` (created by any process of the group).
    pub fn lookup(mem: &Memory, name: &str) -> Result<Ring, EalError> {
        Self::lookup_kind(mem, name, RingKind::Plain)
    }

    pub(crate) fn create_kind(
        mem: &Memory,
        name: &str,
        count: u32,
        flags: u32,
        kind: RingKind,
    ) -> Result<Ring, EalError> {
        let (size, capacity) = if flags & flags::EXACT_SZ != 0 {
            if count == 0 || count >= MAX_SIZE {
                return Err(EalError::InvalidArgument(format!("ring '{name}': count {count} must be 1..{MAX_SIZE}")));
            }
            ((count + 1).next_power_of_two(), count)
        } else {
            if !count.is_power_of_two() || !(2..=MAX_SIZE).contains(&count) {
                return Err(EalError::InvalidArgument(format!(
                    "ring '{name}': count {count} must be a power of two between 2 and {MAX_SIZE} (or use flags::EXACT_SZ)"
                )));
            }
            (count, count - 1)
        };
        if name.len() > SharedName::<4>::MAX_LEN - 3 {
            return Err(EalError::NameTooLong {
                name: name.into(),
                len: name.len(),
                max: SharedName::<4>::MAX_LEN - 3,
            });
        }
        let mz =
            mem.memzone_reserve(&memzone_name(name), Self::memsize(size), std::mem::align_of::<RingHeader>() as u64)?;
        let hdr: &'static RingHeader =
            shm::shared_ref(mz.addr()).ok_or_else(|| EalError::InvalidArgument("misaligned memzone".into()))?;
        hdr.name.set(name);
        hdr.size.store(size, Ordering::Relaxed);
        hdr.capacity.store(capacity, Ordering::Relaxed);
        hdr.flags.store(flags, Ordering::Relaxed);
        hdr.kind.store(kind as u32, Ordering::Relaxed);
        hdr.ready.store(1, Ordering::Release);
        Self::from_memzone(mz, kind)
    }

    pub(crate) fn lookup_kind(mem: &Memory, name: &str, kind: RingKind) -> Result<Ring, EalError> {
        let mz = mem
            .memzone_lookup(&memzone_name(name))
            .ok_or_else(|| EalError::NotFound { kind: "ring", name: name.into() })?;
        Self::from_memzone(mz, kind)
    }

    fn from_memzone(mz: Memzone, kind: RingKind) -> Result<Ring, EalError> {
        let r = Self::from_header_addr(mz.addr(), kind)?;
        if Self::memsize(r.mask + 1) > mz.len() {
            return Err(EalError::InvalidArgument(format!("memzone {} does not hold a ring", mz.name())));
        }
        Ok(r)
    }

    /// Address of the ring's shared header (stable, the same in every process).
    pub fn header_addr(&self) -> u64 {
        self.hdr as *const RingHeader as u64
    }

    /// The ring of `kind` whose header is at `addr` (from [`Ring::header_addr`], possibly
    /// recorded in shared memory by another process).
    pub(crate) fn from_header_addr(addr: u64, kind: RingKind) -> Result<Ring, EalError> {
        let bad = || EalError::InvalidArgument(format!("no ring at {addr:#x}"));
        let hdr: &'static RingHeader = shm::shared_ref(addr).ok_or_else(bad)?;
        if hdr.ready.load(Ordering::Acquire) != 1 {
            return Err(bad());
        }
        if hdr.kind.load(Ordering::Relaxed) != kind as u32 {
            return Err(EalError::InvalidArgument(format!(
                "ring '{}' carries {:?} objects, not {kind:?}",
                hdr.name.get(),
                match hdr.kind.load(Ordering::Relaxed) {
                    0 => RingKind::Plain,
                    1 => RingKind::Mbuf,
                    _ => RingKind::Mempool,
                }
            )));
        }
        let size = hdr.size.load(Ordering::Relaxed);
        if !size.is_power_of_two() {
            return Err(bad());
        }
        let slots = Slots::at(addr + HDR, size as usize).ok_or_else(bad)?;
        let f = hdr.flags.load(Ordering::Relaxed);
        Ok(Ring {
            hdr,
            slots,
            mask: size - 1,
            capacity: hdr.capacity.load(Ordering::Relaxed),
            sp: f & flags::SP_ENQ != 0,
            sc: f & flags::SC_DEQ != 0,
        })
    }

    /// Frees the ring's memory. Every handle to it becomes invalid: call it only once all
    /// processes are done with the ring.
    pub fn free(self, mem: &Memory) {
        if let Some(mz) = mem.memzone_lookup(&memzone_name(&self.name())).filter(|mz| mz.addr() == self.header_addr()) {
            self.hdr.ready.store(0, Ordering::Release);
            mem.memzone_free(mz);
        }
    }

    /// The ring's name.
    pub fn name(&self) -> String {
        self.hdr.name.get()
    }

    /// How many objects it can hold.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Objects in the ring now (a snapshot).
    pub fn count(&self) -> u32 {
        let p = self.hdr.prod.ht.tail.load(Ordering::Acquire);
        let c = self.hdr.cons.ht.tail.load(Ordering::Acquire);
        p.wrapping_sub(c).min(self.capacity)
    }

    /// Free room now (a snapshot).
    pub fn free_count(&self) -> u32 {
        self.capacity - self.count()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// True when full.
    pub fn is_full(&self) -> bool {
        self.count() == self.capacity
    }

    /// Enqueues all of `objs` or nothing, with the ring's default producer mode.
    #[inline]
    pub fn enqueue_bulk(&self, objs: &[u64]) -> bool {
        self.enqueue(objs, Behavior::Fixed, self.sp) == objs.len()
    }
    /// Enqueues as many of `objs` as fit; returns how many.
    #[inline]
    pub fn enqueue_burst(&self, objs: &[u64]) -> usize {
        self.enqueue(objs, Behavior::Variable, self.sp)
    }
    /// Dequeues exactly `out.len()` objects or nothing.
    #[inline]
    pub fn dequeue_bulk(&self, out: &mut [u64]) -> bool {
        let n = out.len();
        self.dequeue(out, Behavior::Fixed, self.sc) == n
    }
    /// Dequeues up to `out.len()` objects; returns how many.
    #[inline]
    pub fn dequeue_burst(&self, out: &mut [u64]) -> usize {
        self.dequeue(out, Behavior::Variable, self.sc)
    }
    /// Enqueues one object; false when full.
    #[inline]
    pub fn enqueue_one(&self, obj: u64) -> bool {
        self.enqueue_bulk(&[obj])
    }
    /// Dequeues one object.
    #[inline]
    pub fn dequeue_one(&self) -> Option<u64> {
        let mut o = [0u64];
        self.dequeue_bulk(&mut o).then_some(o[0])
    }
    /// Multi-producer bulk enqueue, whatever the ring's default.
    #[inline]
    pub fn mp_enqueue_bulk(&self, objs: &[u64]) -> bool {
        self.enqueue(objs, Behavior::Fixed, false) == objs.len()
    }
    /// Multi-producer burst enqueue.
    #[inline]
    pub fn mp_enqueue_burst(&self, objs: &[u64]) -> usize {
        self.enqueue(objs, Behavior::Variable, false)
    }
    /// Multi-consumer bulk dequeue, whatever the ring's default.
    #[inline]
    pub fn mc_dequeue_bulk(&self, out: &mut [u64]) -> bool {
        let n = out.len();
        self.dequeue(out, Behavior::Fixed, false) == n
    }
    /// [`Ring::mc_dequeue_bulk`] into words that need not be initialised (a vector's spare
    /// capacity): on `true` every word of `out` holds a dequeued value; on `false` none was
    /// written.
    #[inline]
    pub fn mc_dequeue_bulk_uninit(&self, out: &mut [MaybeUninit<u64>]) -> bool {
        let n = out.len();
        self.dequeue_with(out, Behavior::Fixed, false) == n
    }
    /// Multi-consumer burst dequeue.
    #[inline]
    pub fn mc_dequeue_burst(&self, out: &mut [u64]) -> usize {
        self.dequeue(out, Behavior::Variable, false)
    }
    /// Single-producer bulk enqueue: the caller guarantees no concurrent producer.
    #[inline]
    pub fn sp_enqueue_bulk(&self, objs: &[u64]) -> bool {
        self.enqueue(objs, Behavior::Fixed, true) == objs.len()
    }
    /// Single-producer burst enqueue.
    #[inline]
    pub fn sp_enqueue_burst(&self, objs: &[u64]) -> usize {
        self.enqueue(objs, Behavior::Variable, true)
    }
    /// Single-consumer bulk dequeue: the caller guarantees no concurrent consumer.
    #[inline]
    pub fn sc_dequeue_bulk(&self, out: &mut [u64]) -> bool {
        let n = out.len();
        self.dequeue(out, Behavior::Fixed, true) == n
    }
    /// Single-consumer burst dequeue.
    #[inline]
    pub fn sc_dequeue_burst(&self, out: &mut [u64]) -> usize {
        self.dequeue(out, Behavior::Variable, true)
    }

    /// How many of `want` may move given `avail`, or 0.
    #[inline(always)]
    fn grant(want: u32, avail: u32, b: Behavior) -> u32 {
        if avail >= want {
            want
        } else if b == Behavior::Variable {
            avail
        } else {
            0
        }
    }

    #[inline(always)]
    fn enqueue(&self, objs: &[u64], b: Behavior, single: bool) -> usize {
        self.enqueue_with(objs, b, single)
    }

    #[inline(always)]
    fn dequeue(&self, out: &mut [u64], b: Behavior, single: bool) -> usize {
        self.dequeue_with(out, b, single)
    }

    /// Multi-producer bulk enqueue of the words of a mempool cache.
    ///
    /// # Safety
    /// The caller owns `objs` (its lcore's cache): nobody writes them meanwhile.
    #[inline]
    pub(crate) unsafe fn mp_enqueue_bulk_slots(&self, objs: Slots) -> bool {
        self.enqueue_with(&objs, Behavior::Fixed, false) == objs.len()
    }

    /// Multi-consumer bulk dequeue into the words of a mempool cache.
    ///
    /// # Safety
    /// The caller owns `out` (its lcore's cache): nobody reads or writes them meanwhile.
    #[inline]
    pub(crate) unsafe fn mc_dequeue_bulk_slots(&self, out: Slots) -> bool {
        let n = out.len();
        let mut out = out;
        self.dequeue_with(&mut out, Behavior::Fixed, false) == n
    }

    #[inline(always)]
    fn enqueue_with<S: Source + ?Sized>(&self, objs: &S, b: Behavior, single: bool) -> usize {
        let len = objs.len();
        let want = len.min(self.capacity as usize) as u32;
        if want == 0 || (b == Behavior::Fixed && want as usize != len) {
            return 0;
        }
        let prod = &self.hdr.prod.ht;
        let cons = &self.hdr.cons.ht;
        let cap = self.capacity;
        let op = if single { None } else { my_op() };
        let mut head = prod.head.load(Ordering::Acquire);
        let n = loop {
            let used = head.wrapping_sub(cons.tail.load(Ordering::Acquire));
            if used > cap {
                // Our head is stale (others moved on meanwhile): reload it.
                if single {
                    return 0;
                }
                head = prod.head.load(Ordering::Acquire);
                continue;
            }
            let n = Self::grant(want, cap - used, b);
            if n == 0 {
                if let Some(op) = op {
                    op.ring.store(0, Ordering::Release);
                }
                return 0;
            }
            if single {
                prod.head.store(head.wrapping_add(n), Ordering::Relaxed);
                break n;
            }
            // Recorded before the reservation, so that no instant between reserving and
            // publishing goes unrecorded (see `finish_dead_op`).
            if let Some(op) = op {
                op.head.store(head, Ordering::Relaxed);
                op.n.store(n, Ordering::Relaxed);
                op.ring.store(self.header_addr(), Ordering::Release);
            }
            // A failed exchange hands back the head as it is now: no reload.
            match prod.head.compare_exchange_weak(head, head.wrapping_add(n), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break n,
                Err(now) => head = now,
            }
        };
        // SAFETY: `n <= want <= objs.len()`, and this producer reserved slots `head..head + n`.
        unsafe { self.write_slots(head, n as usize, objs) };
        if !single {
            if let Some(op) = op {
                op.n.store(n | RING_OP_WRITTEN, Ordering::Release);
            }
            self.wait_turn(&prod.tail, head, "producer");
        }
        prod.tail.store(head.wrapping_add(n), Ordering::Release);
        if let Some(op) = op {
            op.ring.store(0, Ordering::Release);
        }
        n as usize
    }

    #[inline(always)]
    fn dequeue_with<D: Sink + ?Sized>(&self, out: &mut D, b: Behavior, single: bool) -> usize {
        let len = out.len();
        let want = len.min(self.capacity as usize) as u32;
        if want == 0 || (b == Behavior::Fixed && want as usize != len) {
            return 0;
        }
        let prod = &self.hdr.prod.ht;
        let cons = &self.hdr.cons.ht;
        let cap = self.capacity;
        let op = if single { None } else { my_op() };
        let mut head = cons.head.load(Ordering::Acquire);
        let n = loop {
            let avail = prod.tail.load(Ordering::Acquire).wrapping_sub(head);
            if avail > cap {
                // Our head is stale (others moved on meanwhile): reload it.
                if single {
                    return 0;
                }
                head = cons.head.load(Ordering::Acquire);
                continue;
            }
            let n = Self::grant(want, avail, b);
            if n == 0 {
                return 0;
            }
            if single {
                cons.head.store(head.wrapping_add(n), Ordering::Relaxed);
                break n;
            }
            if let Some(op) = op {
                op.head.store(head, Ordering::Relaxed);
                op.n.store(n | RING_OP_CONSUMER, Ordering::Relaxed);
                op.ring.store(self.header_addr(), Ordering::Release);
            }
            match cons.head.compare_exchange_weak(head, head.wrapping_add(n), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break n,
                Err(now) => head = now,
            }
        };
        // SAFETY: `n <= want <= out.len()`, and this consumer reserved slots `head..head + n`.
        unsafe { self.read_slots(head, n as usize, out) };
        if !single {
            self.wait_turn(&cons.tail, head, "consumer");
        }
        cons.tail.store(head.wrapping_add(n), Ordering::Release);
        if let Some(op) = op {
            op.ring.store(0, Ordering::Release);
        }
        n as usize
    }

    /// Writes `objs[..n]` into the slots from `head` on, in one block copy, or two when
    /// the run wraps past the end of the slots.
    ///
    /// # Safety
    /// `n <= objs.len()` and `n <= self.capacity`, and the caller reserved slots
    /// `head..head + n` (moved the producer head past them), so no other producer writes
    /// them and no consumer reads them before this producer's tail store publishes them.
    #[inline(always)]
    unsafe fn write_slots<S: Source + ?Sized>(&self, head: u32, n: usize, objs: &S) {
        let size = self.mask as usize + 1;
        let idx = (head & self.mask) as usize;
        debug_assert!(n <= objs.len() && n <= self.capacity as usize && self.slots.len() == size);
        // SAFETY: the slots are `mask + 1` words (`from_header_addr`), `idx <= mask` and
        // `n <= capacity < mask + 1`: both runs below lie in the slots, and in `objs`
        // (`n <= objs.len()`); a ring's slots never overlap its source. The caller owns
        // the slots (its reservation).
        unsafe {
            if idx + n <= size {
                objs.copy_into(0, self.slots.word(idx), n);
            } else {
                let first = size - idx;
                objs.copy_into(0, self.slots.word(idx), first);
                objs.copy_into(first, self.slots.word(0), n - first);
            }
        }
    }

    /// Reads the slots from `head` on into `out[..n]`, in one block copy, or two when the
    /// run wraps past the end of the slots.
    ///
    /// # Safety
    /// `n <= out.len()` and `n <= self.capacity`, and the caller reserved slots
    /// `head..head + n` (moved the consumer head past them, after their producer published
    /// them), so no producer writes them before this consumer's tail store releases them.
    #[inline(always)]
    unsafe fn read_slots<D: Sink + ?Sized>(&self, head: u32, n: usize, out: &mut D) {
        let size = self.mask as usize + 1;
        let idx = (head & self.mask) as usize;
        debug_assert!(n <= out.len() && n <= self.capacity as usize && self.slots.len() == size);
        // SAFETY: as in `write_slots`: both runs lie in the slots and in `out`; nobody
        // writes the slots meanwhile (the caller's reservation).
        unsafe {
            if idx + n <= size {
                out.copy_from(0, self.slots.word(idx), n);
            } else {
                let first = size - idx;
                out.copy_from(0, self.slots.word(idx), first);
                out.copy_from(first, self.slots.word(0), n - first);
            }
        }
    }
}

impl Ring {
    /// Waits until `tail` reaches `head`: earlier producers (consumers) must publish first.
    /// Spins with exponential backoff, then yields, so a preempted earlier thread on an
    /// oversubscribed machine gets the CPU back instead of being starved by spinners.
    #[inline(always)]
    fn wait_turn(&self, tail: &AtomicU32, head: u32, side: &'static str) {
        let backoff = Backoff::new();
        while tail.load(Ordering::Acquire) != head {
            if backoff.is_completed() {
                return self.wait_turn_slow(tail, head, side);
            }
            backoff.snooze();
        }
    }

    /// The long wait of [`Ring::wait_turn`] (off the fast path): yields, and reports once
    /// when the tail has not moved for [`STALL_REPORT`], which means an earlier producer
    /// (consumer) stopped between reserving its slots and publishing them — a process
    /// killed in that window. If it was an lcore, the primary finishes its operation from
    /// the lcore's record within about a second (`eal::reclaim`) and the wait ends; else
    /// the ring cannot be repaired safely (the reserved slots may hold half-written
    /// values), so the wait goes on, loudly.
    #[cold]
    #[inline(never)]
    fn wait_turn_slow(&self, tail: &AtomicU32, head: u32, side: &'static str) {
        let mut last = tail.load(Ordering::Acquire);
        let mut since = std::time::Instant::now();
        let mut reported = false;
        loop {
            let t = tail.load(Ordering::Acquire);
            if t == head {
                if reported {
                    tracing::warn!(ring = %self.name(), side, "ring moves again after a stall");
                }
                return;
            }
            if t != last {
                last = t;
                since = std::time::Instant::now();
            } else if !reported && since.elapsed() >= STALL_REPORT {
                reported = true;
                STALLED_WAITS.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    ring = %self.name(),
                    side,
                    waiting_at = head,
                    stuck_at = t,
                    "ring stalled: a {side} reserved slots {t}..{head} and has not published them for {STALL_REPORT:?}; \
                     it probably died mid-operation (kill -9); this operation waits for the primary to finish it"
                );
            }
            std::thread::yield_now();
        }
    }

    /// Calls `f` with every value in the ring now, oldest first. Meaningful only while no
    /// producer or consumer is active (a quiescent ring).
    pub(crate) fn for_each_quiescent(&self, mut f: impl FnMut(u64)) {
        let c = self.hdr.cons.ht.tail.load(Ordering::Acquire);
        let n = self.count();
        for i in 0..n {
            // SAFETY: the ring is quiescent (the caller's promise): nobody writes its slots.
            f(unsafe { self.slots.get((c.wrapping_add(i) & self.mask) as usize) });
        }
    }

    /// The ring whose header is at `addr`, whatever it carries (for repairs).
    pub(crate) fn from_header_addr_any(addr: u64) -> Result<Ring, EalError> {
        let hdr: &'static RingHeader =
            shm::shared_ref(addr).ok_or_else(|| EalError::InvalidArgument(format!("no ring at {addr:#x}")))?;
        let kind = match hdr.kind.load(Ordering::Relaxed) {
            0 => RingKind::Plain,
            1 => RingKind::Mbuf,
            _ => RingKind::Mempool,
        };
        Self::from_header_addr(addr, kind)
    }

    /// Finishes the operation dead lcore `id` recorded (see [`RingOp`]), if it stalls its
    /// ring: a dequeue is released (its objects are lost with the process); an enqueue
    /// whose slots are all written is published; on an mbuf ring, an enqueue that died
    /// before writing its slots is published as holes (null slots, which mbuf ring
    /// dequeues skip). Waits up to 100 ms for earlier operations to publish first. The
    /// caller guarantees the lcore's process is dead and holds the lcore table's lock.
    ///
    /// `refill(ring, n)` may supply the `n` values an unwritten enqueue meant to write (a
    /// dead lcore's mempool cache flush still holds them): the enqueue is then published
    /// with them, losing nothing.
    pub(crate) fn finish_dead_op(
        cfg: &SharedConfig,
        id: u32,
        refill: impl FnOnce(u64, u32) -> Option<Vec<u64>>,
    ) -> DeadOp {
        let op = &cfg.ring_ops[id as usize];
        let addr = op.ring.load(Ordering::Acquire);
        if addr == 0 {
            return DeadOp::Done;
        }
        let (head, raw) = (op.head.load(Ordering::Relaxed), op.n.load(Ordering::Acquire));
        let Ok(r) = Self::from_header_addr_any(addr) else {
            op.ring.store(0, Ordering::Release);
            return DeadOp::Done;
        };
        let n = raw & RING_OP_COUNT;
        let consumer = raw & RING_OP_CONSUMER != 0;
        let ht = if consumer { &r.hdr.cons.ht } else { &r.hdr.prod.ht };
        let end = std::time::Instant::now() + std::time::Duration::from_millis(100);
        loop {
            let t = ht.tail.load(Ordering::Acquire);
            // Tail past the operation: published before the process died, or its
            // reservation failed and another operation took those slots.
            if t.wrapping_sub(head) as i32 > 0 {
                op.ring.store(0, Ordering::Release);
                return DeadOp::Done;
            }
            if t == head && std::time::Instant::now() >= end {
                break;
            }
            // Earlier operations hold the ring (perhaps another dead lcore's, finished
            // in a later pass): the record stays for that pass.
            if std::time::Instant::now() >= end {
                return DeadOp::Stalled;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // The tail has waited at `head` for 100 ms. The slots are the dead lcore's unless
        // its reservation failed and they belong to a live lcore (recorded there too) or
        // were never reserved at all.
        let live_owner = (0..MAX_LCORES).any(|i| {
            let o = &cfg.ring_ops[i];
            i != id as usize
                && o.ring.load(Ordering::Acquire) == addr
                && o.head.load(Ordering::Relaxed) == head
                && o.n.load(Ordering::Relaxed) & RING_OP_CONSUMER == raw & RING_OP_CONSUMER
        });
        if live_owner || r.hdr_side(consumer).head.load(Ordering::Acquire).wrapping_sub(head) < n {
            op.ring.store(0, Ordering::Release);
            return DeadOp::Done;
        }
        let written = raw & RING_OP_WRITTEN != 0;
        let outcome = if consumer {
            DeadOp::ConsumerReleased(n)
        } else if written {
            DeadOp::ProducerPublished(n)
        } else if let Some(vals) = refill(addr, n).filter(|v| v.len() == n as usize) {
            for (i, &v) in vals.iter().enumerate() {
                // SAFETY: the slots were reserved by the dead lcore, whose process is gone;
                // the tail waits at `head`, so no consumer reads them yet.
                unsafe { r.slots.set((head.wrapping_add(i as u32) & r.mask) as usize, v) };
            }
            DeadOp::ProducerPublished(n)
        } else if r.hdr.kind.load(Ordering::Relaxed) == RingKind::Mbuf as u32 {
            for i in 0..n {
                // SAFETY: as above: the dead lcore's reserved, unpublished slots.
                unsafe { r.slots.set((head.wrapping_add(i) & r.mask) as usize, 0) };
            }
            DeadOp::ProducerHoles(n)
        } else {
            tracing::error!(ring = %r.name(), head, n, "a dead producer left unwritten slots: the ring stays stalled");
            return DeadOp::Stalled;
        };
        ht.tail.store(head.wrapping_add(n), Ordering::Release);
        op.ring.store(0, Ordering::Release);
        tracing::warn!(ring = %r.name(), head, n, ?outcome, "finished a dead process's ring operation");
        outcome
    }

    /// Reserves `n` producer slots and returns the first, as a producer that then dies.
    #[cfg(test)]
    pub(crate) fn reserve_unpublished(&self, n: u32) -> u32 {
        self.hdr.prod.ht.head.fetch_add(n, Ordering::AcqRel)
    }

    fn hdr_side(&self, consumer: bool) -> &Indices {
        if consumer {
            &self.hdr.cons.ht
        } else {
            &self.hdr.prod.ht
        }
    }

    /// True when the producer side is stalled: slots are reserved but not published, and
    /// the producer tail does not move for 100 ms (a producer died mid-enqueue). Used
    /// before returning a dead process's objects to a ring, so the reclaimer never hangs.
    pub fn producer_stalled(&self) -> bool {
        let ht = &self.hdr.prod.ht;
        let t = ht.tail.load(Ordering::Acquire);
        if ht.head.load(Ordering::Acquire) == t {
            return false;
        }
        let end = std::time::Instant::now() + std::time::Duration::from_millis(100);
        while std::time::Instant::now() < end {
            if ht.tail.load(Ordering::Acquire) != t || ht.head.load(Ordering::Acquire) == t {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        true
    }
}

/// How long a multi-producer (multi-consumer) operation waits for an earlier one that does
/// not publish before it reports the ring as stalled.
pub const STALL_REPORT: std::time::Duration = std::time::Duration::from_secs(1);

static STALLED_WAITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many ring operations of this process have waited longer than [`STALL_REPORT`] for
/// an earlier producer or consumer to publish (each is logged as an error).
pub fn stalled_waits() -> u64 {
    STALLED_WAITS.load(Ordering::Relaxed)
}

/// Where enqueued values come from: a process-local slice, or a mempool cache.
trait Source {
    fn len(&self) -> usize;
    /// Copies values `off..off + n` to the `n` words at `dst`.
    ///
    /// # Safety
    /// `off + n <= self.len()`; `dst` is valid for writes of `n` words that the caller
    /// owns (see [`Slots::write`]) and that do not overlap the values.
    unsafe fn copy_into(&self, off: usize, dst: *mut u64, n: usize);
}

/// Where dequeued values go: a process-local slice, or a mempool cache.
trait Sink {
    fn len(&self) -> usize;
    /// Copies the `n` words at `src` into positions `off..off + n`.
    ///
    /// # Safety
    /// `off + n <= self.len()`; `src` is valid for reads of `n` words that nobody writes
    /// meanwhile (see [`Slots::read`]) and that do not overlap the positions.
    unsafe fn copy_from(&mut self, off: usize, src: *const u64, n: usize);
}

impl Source for [u64] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[u64]>::len(self)
    }
    #[inline(always)]
    unsafe fn copy_into(&self, off: usize, dst: *mut u64, n: usize) {
        // SAFETY: `off + n <= len` (the caller's promise), so the values lie in the slice;
        // the rest is forwarded from the caller.
        unsafe { slots::copy_words(self.as_ptr().add(off), dst, n) }
    }
}

impl Source for Slots {
    #[inline(always)]
    fn len(&self) -> usize {
        Slots::len(self)
    }
    #[inline(always)]
    unsafe fn copy_into(&self, off: usize, dst: *mut u64, n: usize) {
        // SAFETY: `off + n <= len` (the caller's promise); the words are the calling lcore's
        // cache, which nobody else writes, and a cache never overlaps a ring's slots.
        unsafe { slots::copy_words(self.word(off), dst, n) }
    }
}

impl Sink for [u64] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[u64]>::len(self)
    }
    #[inline(always)]
    unsafe fn copy_from(&mut self, off: usize, src: *const u64, n: usize) {
        // SAFETY: `off + n <= len` (the caller's promise), so the positions lie in the
        // slice; the rest is forwarded from the caller.
        unsafe { slots::copy_words(src, self.as_mut_ptr().add(off), n) }
    }
}

impl Sink for [MaybeUninit<u64>] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[MaybeUninit<u64>]>::len(self)
    }
    #[inline(always)]
    unsafe fn copy_from(&mut self, off: usize, src: *const u64, n: usize) {
        // SAFETY: `off + n <= len` (the caller's promise), so the positions lie in the
        // slice; `MaybeUninit<u64>` has `u64`'s layout, and writing initialises; the rest is
        // forwarded from the caller.
        unsafe { slots::copy_words(src, self.as_mut_ptr().add(off).cast::<u64>(), n) }
    }
}

impl Sink for Slots {
    #[inline(always)]
    fn len(&self) -> usize {
        Slots::len(self)
    }
    #[inline(always)]
    unsafe fn copy_from(&mut self, off: usize, src: *const u64, n: usize) {
        // SAFETY: `off + n <= len` (the caller's promise); the words are the calling lcore's
        // cache, owned by it, and a cache never overlaps a ring's slots.
        unsafe { slots::copy_words(src, self.word(off), n) }
    }
}

#[cfg(test)]
mod tests;
