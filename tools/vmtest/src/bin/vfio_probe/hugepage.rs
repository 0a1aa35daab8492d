//! One 2 MiB hugepage from hugetlbfs, mapped shared and populated, with
//! volatile access for memory a device reads and writes by DMA.

use super::Res;
use std::fs;
use std::os::fd::AsRawFd;

/// Size of the page.
pub const HUGE: usize = 2 << 20;

/// A mapped hugepage; unmapped on drop.
pub struct HugePage {
    ptr: *mut u8,
}

impl HugePage {
    /// Creates, sizes and maps a file in `/dev/hugepages` (then unlinks it).
    pub fn new() -> Res<Self> {
        let path = format!("/dev/hugepages/vfio_probe.{}", std::process::id());
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| format!("cannot create {path}: {e}; is hugetlbfs mounted with free pages?"))?;
        f.set_len(HUGE as u64).map_err(|e| format!("cannot size {path}: {e}"))?;
        // SAFETY: a fresh shared mapping of a file we just sized, at an
        // address the kernel chooses; nothing else is replaced.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                HUGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                f.as_raw_fd(),
                0,
            )
        };
        let _ = fs::remove_file(&path);
        if p == libc::MAP_FAILED {
            return Err(format!("mmap of hugepage failed: {}", std::io::Error::last_os_error()));
        }
        Ok(HugePage { ptr: p.cast() })
    }

    /// The virtual address of the page.
    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    /// Volatile 32-bit write (`off` must be 4-aligned and inside).
    pub fn write32(&self, off: usize, v: u32) {
        assert!(off + 4 <= HUGE && off & 3 == 0);
        // SAFETY: in bounds and aligned (asserted); the page lives as long as `self`.
        unsafe { std::ptr::write_volatile(self.ptr.add(off).cast::<u32>(), v) }
    }

    /// Volatile 32-bit read (`off` must be 4-aligned and inside).
    pub fn read32(&self, off: usize) -> u32 {
        assert!(off + 4 <= HUGE && off & 3 == 0);
        // SAFETY: in bounds and aligned (asserted); the page lives as long as `self`.
        unsafe { std::ptr::read_volatile(self.ptr.add(off).cast::<u32>()) }
    }

    /// Copies `data` in at `off`.
    pub fn write_bytes(&self, off: usize, data: &[u8]) {
        assert!(off + data.len() <= HUGE);
        // SAFETY: in bounds (asserted); source and destination do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(off), data.len()) }
    }
}

impl Drop for HugePage {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.ptr.cast(), HUGE) };
    }
}
