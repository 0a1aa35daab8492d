//! Memzones: named, aligned reservations in the shared heap, looked up by name from any
//! process of the group. Rings and mempools are built on them.

use crate::config::{MemzoneSlot, MAX_MEMZONES};
use crate::error::EalError;
use crate::memory::Memory;
use crate::name::SharedName;
use std::sync::atomic::Ordering;

/// Smallest alignment of a memzone (a cache line).
pub const MIN_ALIGN: u64 = 64;

/// A reserved memzone. Copyable; it names shared state, it does not own it.
#[derive(Clone, Copy)]
pub struct Memzone {
    slot: &'static MemzoneSlot,
}

impl std::fmt::Debug for Memzone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memzone({:?} at {:#x}, {} bytes)", self.name(), self.addr(), self.len())
    }
}

impl Memzone {
    /// The memzone's name.
    pub fn name(&self) -> String {
        self.slot.name.get()
    }
    /// Address of its first byte (the same in every process).
    pub fn addr(&self) -> u64 {
        self.slot.addr.load(Ordering::Acquire)
    }
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.slot.len.load(Ordering::Relaxed)
    }
    /// True for a zero-length memzone (never returned by `reserve`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Device address of its first byte.
    pub fn iova(&self) -> u64 {
        self.slot.iova.load(Ordering::Relaxed)
    }
}

impl Memory {
    /// Reserves `len` bytes aligned to `align` (a power of two, at least 64) under `name`.
    /// The memory is zeroed.
    pub fn memzone_reserve(&self, name: &str, len: u64, align: u64) -> Result<Memzone, EalError> {
        if name.is_empty() || name.len() > SharedName::<4>::MAX_LEN {
            return Err(EalError::NameTooLong { name: name.into(), len: name.len(), max: SharedName::<4>::MAX_LEN });
        }
        if len == 0 {
            return Err(EalError::InvalidArgument(format!("memzone '{name}': length 0")));
        }
        if !align.is_power_of_two() {
            return Err(EalError::InvalidArgument(format!(
                "memzone '{name}': alignment {align} is not a power of two"
            )));
        }
        let align = align.max(MIN_ALIGN);
        let len = len.div_ceil(MIN_ALIGN) * MIN_ALIGN;
        let cfg = self.config();
        let _g = cfg.memzone_lock.lock();
        if find(&cfg.memzones, name).is_some() {
            return Err(EalError::Exists(name.into()));
        }
        let free = cfg
            .memzones
            .iter()
            .find(|s| s.in_use.load(Ordering::Relaxed) == 0)
            .ok_or(EalError::MemzoneTableFull(MAX_MEMZONES))?;
        let mut used: Vec<(u64, u64)> = cfg
            .memzones
            .iter()
            .filter(|s| s.in_use.load(Ordering::Relaxed) != 0)
            .map(|s| (s.addr.load(Ordering::Relaxed), s.len.load(Ordering::Relaxed)))
            .collect();
        used.sort_unstable();
        let (start, end) = (self.heap_start(), self.heap_start() + self.heap_len());
        let mut cursor = start;
        let mut found = None;
        for &(a, l) in used.iter().chain(std::iter::once(&(end, 0))) {
            let cand = cursor.div_ceil(align) * align;
            if cand + len <= a {
                found = Some(cand);
                break;
            }
            cursor = cursor.max(a + l);
        }
        let addr = found.ok_or_else(|| EalError::NoMemory { name: name.into(), len })?;
        // SAFETY: [addr, addr+len) is free heap (shared memory) found under the memzone lock;
        // it is published below, so no one else can be accessing it yet.
        unsafe { crate::shm::zero(addr, len) };
        free.name.set(name);
        free.len.store(len, Ordering::Relaxed);
        free.iova.store(self.iova(addr), Ordering::Relaxed);
        free.owner.store(std::process::id(), Ordering::Relaxed);
        free.addr.store(addr, Ordering::Release);
        free.in_use.store(1, Ordering::Release);
        Ok(Memzone { slot: free })
    }

    /// Finds a memzone by name.
    pub fn memzone_lookup(&self, name: &str) -> Option<Memzone> {
        find(&self.config().memzones, name).map(|slot| Memzone { slot })
    }

    /// Releases a memzone; its memory can be reserved again.
    pub fn memzone_free(&self, mz: Memzone) {
        let _g = self.config().memzone_lock.lock();
        mz.slot.in_use.store(0, Ordering::Release);
        mz.slot.name.set("");
        mz.slot.addr.store(0, Ordering::Relaxed);
        mz.slot.len.store(0, Ordering::Relaxed);
    }

    /// All memzones in use, by address.
    pub fn memzones(&self) -> Vec<Memzone> {
        let mut v: Vec<_> = self
            .config()
            .memzones
            .iter()
            .filter(|s| s.in_use.load(Ordering::Acquire) != 0)
            .map(|slot| Memzone { slot })
            .collect();
        v.sort_by_key(|m| m.addr());
        v
    }
}

fn find<'a>(slots: &'a [MemzoneSlot], name: &str) -> Option<&'a MemzoneSlot> {
    slots.iter().find(|s| s.in_use.load(Ordering::Acquire) != 0 && s.name.eq_str(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_lookup_align_free() {
        let m = Memory::anonymous(1 << 20).unwrap();
        let a = m.memzone_reserve("a", 100, 64).unwrap();
        assert_eq!(a.len(), 128);
        assert_eq!(a.addr() % 64, 0);
        let b = m.memzone_reserve("b", 4096, 4096).unwrap();
        assert_eq!(b.addr() % 4096, 0);
        assert!(b.addr() >= a.addr() + a.len());
        assert_eq!(m.memzone_lookup("a").unwrap().addr(), a.addr());
        assert!(matches!(m.memzone_reserve("a", 1, 64), Err(EalError::Exists(_))));
        assert!(m.memzone_lookup("c").is_none());
        assert!(matches!(m.memzone_reserve("big", 2 << 20, 64), Err(EalError::NoMemory { .. })));
        assert!(matches!(m.memzone_reserve("x", 1, 3), Err(EalError::InvalidArgument(_))));
        assert!(matches!(m.memzone_reserve(&"n".repeat(32), 1, 64), Err(EalError::NameTooLong { .. })));
        let a_addr = a.addr();
        m.memzone_free(a);
        assert!(m.memzone_lookup("a").is_none());
        let c = m.memzone_reserve("c", 64, 64).unwrap();
        assert_eq!(c.addr(), a_addr, "freed space is reused first-fit");
        assert_eq!(m.memzones().len(), 2);
    }

    #[test]
    fn fills_heap_exactly() {
        let m = Memory::anonymous(64 * 1024).unwrap();
        for i in 0..16 {
            m.memzone_reserve(&format!("z{i}"), 4096, 64).unwrap();
        }
        assert!(m.memzone_reserve("one_more", 64, 64).is_err());
    }
}
