//! Shared-memory mapping: the only place where the EAL reserves address space and maps
//! files into it. Everything else reaches shared memory through the safe views built here.
//!
//! The rule that makes cross-process pointers valid: the primary reserves one virtual
//! window, every secondary reserves the *same* window before anything else can land there
//! and maps the same files at the same offsets.
//!
//! # The unsafe boundary
//!
//! Shared memory is reached by address (`u64`), because addresses are what processes
//! exchange. The views built here are *checked*: [`shared_ref`] and [`shared_slice`] only
//! return a reference when the whole range lies in memory this module mapped as shared
//! (recorded in a process-wide, append-only table: shared memory is never unmapped while the
//! process runs) and is aligned for `T`, so no `u64` can be turned into a dangling
//! reference. [`map_file_at`] only maps inside a window that [`reserve_window`] reserved in
//! this process. Writes that bypass the atomics ([`zero`]) are `unsafe fn`.
//!
//! What a check cannot give: the *contents* of shared memory are trusted. Any process of the
//! group (or any holder of a [`SharedPlain`] view) can write any value into it, and code that
//! interprets those values as addresses (mbuf headers, rings of mbufs) relies on the group
//! writing them correctly, as DPDK does.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Marker for types that may live in shared memory.
///
/// # Safety
/// An implementor must be `#[repr(C)]`, contain only integers, atomics, arrays of those and
/// other `SharedPlain` types (no references, `Box`, `Vec`, `String`, function pointers or
/// other process-local addresses), and the all-zero bit pattern must be a valid value,
/// because freshly mapped shared memory is zero.
pub unsafe trait SharedPlain: Sized + Sync + 'static {}

// SAFETY: integers and atomics are plain data, valid when zeroed.
unsafe impl SharedPlain for u8 {}
// SAFETY: as above.
unsafe impl SharedPlain for u32 {}
// SAFETY: as above.
unsafe impl SharedPlain for u64 {}
// SAFETY: as above.
unsafe impl SharedPlain for std::sync::atomic::AtomicU16 {}
// SAFETY: as above.
unsafe impl SharedPlain for std::sync::atomic::AtomicU32 {}
// SAFETY: as above.
unsafe impl SharedPlain for std::sync::atomic::AtomicU64 {}
// SAFETY: an array of plain values is plain.
unsafe impl<T: SharedPlain, const N: usize> SharedPlain for [T; N] {}
// SAFETY: since crossbeam-utils 0.8.22 `CachePadded<T>` is `repr(C)` with `T` at offset 0
// followed by padding only (the workspace requires >= 0.8.22); zero is valid when T's is.
unsafe impl<T: SharedPlain> SharedPlain for crossbeam_utils::CachePadded<T> {}

/// A range of virtual addresses `[start, start+len)`; it never wraps around.
///
/// A `VaRange` only describes addresses: holding one grants nothing (mapping into a window is
/// checked against the windows this process reserved, see [`map_file_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaRange {
    start: u64,
    len: u64,
}

impl VaRange {
    /// The range `[start, start+len)`; `None` when it would wrap around the address space.
    pub fn new(start: u64, len: u64) -> Option<VaRange> {
        start.checked_add(len).map(|_| VaRange { start, len })
    }

    /// First address.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty range.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }

    /// True when `[addr, addr+len)` lies inside this range.
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.start && addr.checked_add(len).is_some_and(|e| e <= self.end())
    }
}

/// Most shared mappings a process can record (the EAL makes two; unit tests one per arena).
const MAX_MAPPED: usize = 4096;

/// The shared mappings of this process: append-only, lock-free to read (views are looked
/// up on fast paths), appended under [`REGISTRY_LOCK`].
struct Mapped {
    n: AtomicUsize,
    ranges: [[AtomicU64; 2]; MAX_MAPPED],
}

static MAPPED: Mapped =
    Mapped { n: AtomicUsize::new(0), ranges: [const { [AtomicU64::new(0), AtomicU64::new(0)] }; MAX_MAPPED] };

/// Serialises appends to [`MAPPED`] and guards the reserved windows.
static REGISTRY_LOCK: Mutex<Vec<VaRange>> = Mutex::new(Vec::new());

/// Records `r` as mapped shared memory that stays mapped for the life of the process.
fn record_mapped(r: VaRange) -> io::Result<()> {
    let _g = REGISTRY_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if is_shared(r.start, r.len) {
        return Ok(());
    }
    let n = MAPPED.n.load(Ordering::Relaxed);
    if n == MAX_MAPPED {
        return Err(io::Error::other("too many shared mappings in this process"));
    }
    MAPPED.ranges[n][0].store(r.start, Ordering::Relaxed);
    MAPPED.ranges[n][1].store(r.end(), Ordering::Relaxed);
    MAPPED.n.store(n + 1, Ordering::Release);
    Ok(())
}

/// True when `[addr, addr+len)` lies inside one range of shared memory mapped by this
/// module (and so stays mapped, readable and writable, until the process exits).
pub fn is_shared(addr: u64, len: u64) -> bool {
    let Some(end) = addr.checked_add(len) else { return false };
    let n = MAPPED.n.load(Ordering::Acquire);
    MAPPED.ranges[..n].iter().rev().any(|r| addr >= r[0].load(Ordering::Relaxed) && end <= r[1].load(Ordering::Relaxed))
}

impl std::fmt::Display for VaRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{:x}-0x{:x}", self.start, self.end())
    }
}

/// Reserves `len` bytes of address space at exactly `base` (`PROT_NONE`, no memory behind it).
/// Fails with `EEXIST` when any part of the range is already mapped in this process.
pub fn reserve_window(base: u64, len: u64) -> io::Result<VaRange> {
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping, so this cannot clobber
    // memory the process uses; PROT_NONE anonymous memory has no effect until remapped.
    let p = unsafe {
        libc::mmap(
            base as *mut libc::c_void,
            len as usize,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    if p as u64 != base {
        // Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat it as a hint.
        // SAFETY: we just mapped exactly this range and nobody else refers to it.
        unsafe { libc::munmap(p, len as usize) };
        return Err(io::Error::from_raw_os_error(libc::EEXIST));
    }
    let r = VaRange { start: base, len };
    REGISTRY_LOCK.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    Ok(r)
}

/// Maps `len` bytes of `file` from `offset` read-write and shared at `addr`, which must lie
/// inside `window`, a window this process reserved with [`reserve_window`] (checked: any
/// other range is refused with `InvalidInput`, so `MAP_FIXED` never lands on memory Rust
/// code owns). `populate` pre-faults the pages (hugetlbfs reservations fail here rather than
/// later). The mapping is recorded as shared memory for [`shared_ref`] and [`shared_slice`].
///
/// memmap2 is not used here: it cannot map at a fixed address, which is the whole point of
/// the shared window.
pub fn map_file_at(window: VaRange, addr: u64, len: u64, file: &File, offset: u64, populate: bool) -> io::Result<()> {
    let reserved =
        REGISTRY_LOCK.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|w| w.contains(window.start, window.len));
    if !reserved {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a window this process reserved"));
    }
    if len == 0 || !window.contains(addr, len) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "mapping outside the reserved window"));
    }
    let mut flags = libc::MAP_SHARED | libc::MAP_FIXED;
    if populate {
        flags |= libc::MAP_POPULATE;
    }
    // SAFETY: the target range lies inside a window this process reserved for shared
    // memory, so MAP_FIXED only replaces our own PROT_NONE reservation (or an earlier
    // mapping of the same files), never memory owned by Rust code.
    let p = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            file.as_raw_fd(),
            offset as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    record_mapped(VaRange { start: addr, len })
}

/// Maps `len` bytes of fresh zeroed anonymous shared memory anywhere and leaks it for the
/// life of the process. Used for process-local arenas (tests, `--in-memory` style use).
///
/// Hand-written rather than `memmap2`: memmap2's anonymous maps are `MAP_PRIVATE` and
/// unmapped on drop, while this one is `MAP_SHARED` (a forked child shares it) and must
/// never be unmapped (views into it are `'static`).
pub fn map_anonymous(len: u64) -> io::Result<VaRange> {
    // SAFETY: a fresh anonymous mapping chosen by the kernel aliases nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let r = VaRange { start: p as u64, len };
    record_mapped(r)?;
    Ok(r)
}

/// Returns a `'static` reference to a `T` at `addr` in shared memory, or `None` unless
/// `addr` is non-null, aligned for `T` and `[addr, addr+size_of::<T>())` lies in shared
/// memory mapped by this module (see [`is_shared`]).
///
/// Shared memory is never unmapped while the process runs (the EAL only unlinks the
/// backing files at exit), which is what makes the `'static` lifetime sound.
pub fn shared_ref<T: SharedPlain>(addr: u64) -> Option<&'static T> {
    if addr == 0
        || !addr.is_multiple_of(std::mem::align_of::<T>() as u64)
        || !is_shared(addr, std::mem::size_of::<T>() as u64)
    {
        return None;
    }
    // SAFETY: checked above: the range is mapped shared memory that stays mapped for the rest
    // of the process, and aligned. T is SharedPlain, so any bit pattern (another process
    // writes through atomics) is a valid T and no process-local pointer can be inside.
    Some(unsafe { &*(addr as *const T) })
}

/// Returns a `'static` slice of `n` `T`s at `addr` in shared memory, checked as
/// [`shared_ref`] checks (the whole slice must lie in one shared mapping).
pub fn shared_slice<T: SharedPlain>(addr: u64, n: usize) -> Option<&'static [T]> {
    let bytes = (std::mem::size_of::<T>() as u64).checked_mul(n as u64)?;
    if addr == 0 || !addr.is_multiple_of(std::mem::align_of::<T>() as u64) || !is_shared(addr, bytes) {
        return None;
    }
    // SAFETY: as for `shared_ref`: the whole range was checked to be mapped shared memory.
    Some(unsafe { std::slice::from_raw_parts(addr as *const T, n) })
}

/// Returns the address ranges of this process's mappings that overlap `r` (from
/// `/proc/self/maps`), each with its description, to explain a collision.
pub fn overlapping_mappings(r: VaRange) -> Vec<(VaRange, String)> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let Some(range) = parts.next() else { continue };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        if a < r.end() && b > r.start {
            let what = parts.nth(4).unwrap_or("[anonymous]").to_string();
            out.push((VaRange { start: a, len: b - a }, what));
        }
    }
    out
}

/// Zeroes `len` bytes of shared memory at `addr`.
///
/// Used when a memzone is (re)reserved, before any other process can know of it.
///
/// # Safety
/// `[addr, addr+len)` must lie in mapped shared memory (debug builds check it) that no
/// other thread or process reads or writes during the call: plain writes racing with
/// anyone else's access are a data race. Typically the range was just reserved under the
/// memzone lock and has not been published yet.
pub unsafe fn zero(addr: u64, len: u64) {
    debug_assert!(is_shared(addr, len), "zeroing {len} bytes at {addr:#x}, outside shared memory");
    // SAFETY: the caller promises mapped shared memory that nobody else accesses now.
    unsafe { std::ptr::write_bytes(addr as *mut u8, 0, len as usize) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn views_refuse_memory_that_is_not_shared() {
        let local = Box::new(0u64);
        let addr = &*local as *const u64 as u64;
        assert!(shared_ref::<AtomicU64>(addr).is_none());
        assert!(shared_slice::<u8>(addr, 8).is_none());
        let r = map_anonymous(8192).unwrap();
        assert!(shared_ref::<AtomicU64>(r.start()).is_some());
        assert!(shared_ref::<AtomicU64>(r.start() + 1).is_none(), "misaligned");
        assert!(shared_slice::<u64>(r.start(), 1024).is_some());
        assert!(shared_slice::<u64>(r.start(), 1025).is_none(), "runs past the mapping");
        assert!(shared_slice::<u64>(r.start(), usize::MAX).is_none(), "overflows");
    }

    #[test]
    fn map_file_at_refuses_a_forged_window() {
        let anon = map_anonymous(4096).unwrap();
        let forged = VaRange::new(anon.start(), anon.len()).unwrap();
        let f = File::open("/dev/zero").unwrap();
        let e = map_file_at(forged, anon.start(), 4096, &f, 0, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(VaRange::new(u64::MAX, 2).is_none());
    }

    #[test]
    fn cache_padded_keeps_its_value_at_offset_zero() {
        let p = crossbeam_utils::CachePadded::new(AtomicU64::new(7));
        assert_eq!(&*p as *const AtomicU64 as usize, &p as *const _ as usize);
        assert!(std::mem::size_of_val(&p).is_multiple_of(64));
    }
}
