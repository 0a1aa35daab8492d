//! Shared-memory mapping: the only place where the EAL reserves address space and maps
//! files into it. Everything else reaches shared memory through the safe views built here.
//!
//! The rule that makes cross-process pointers valid: the primary reserves one virtual
//! window, every secondary reserves the *same* window before anything else can land there
//! and maps the same files at the same offsets.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

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

/// A range of virtual addresses `[start, start+len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaRange {
    /// First address.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

impl VaRange {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
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
    Ok(VaRange { start: base, len })
}

/// Maps `len` bytes of `file` from `offset` read-write and shared at `addr`, which must lie
/// inside a window this process reserved with [`reserve_window`].
/// `populate` pre-faults the pages (hugetlbfs reservations fail here rather than later).
pub fn map_file_at(window: VaRange, addr: u64, len: u64, file: &File, offset: u64, populate: bool) -> io::Result<()> {
    if addr < window.start || addr + len > window.end() {
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
    Ok(())
}

/// Maps `len` bytes of fresh zeroed anonymous shared memory anywhere and leaks it for the
/// life of the process. Used for process-local arenas (tests, `--in-memory` style use).
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
    Ok(VaRange { start: p as u64, len })
}

/// Returns a `'static` reference to a `T` at `addr` in shared memory.
///
/// Shared memory is never unmapped while the process runs (the EAL only unlinks the
/// backing files at exit), which is what makes the `'static` lifetime sound.
///
/// Panics are impossible: misaligned or null addresses are reported as `None`.
pub fn shared_ref<T: SharedPlain>(addr: u64) -> Option<&'static T> {
    if addr == 0 || !addr.is_multiple_of(std::mem::align_of::<T>() as u64) {
        return None;
    }
    // SAFETY: callers pass addresses of mapped shared memory that stays mapped for the rest
    // of the process (see above); T is SharedPlain, so any bit pattern written by another
    // process through atomics is a valid T and no process-local pointer can be inside.
    Some(unsafe { &*(addr as *const T) })
}

/// Returns a `'static` slice of `n` `T`s at `addr` in shared memory (see [`shared_ref`]).
pub fn shared_slice<T: SharedPlain>(addr: u64, n: usize) -> Option<&'static [T]> {
    if addr == 0 || !addr.is_multiple_of(std::mem::align_of::<T>() as u64) {
        return None;
    }
    // SAFETY: as for `shared_ref`; the caller sized `n` from the object's own header.
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
pub fn zero(addr: u64, len: u64) {
    // SAFETY: callers pass a range inside the mapped heap that they just reserved under the
    // memzone lock, so no other reference to it exists yet.
    unsafe { std::ptr::write_bytes(addr as *mut u8, 0, len as usize) };
}
