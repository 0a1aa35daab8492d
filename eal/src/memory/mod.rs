//! Shared memory of a process group: the shared config and the heap that memzones, rings
//! and mempools are carved from. Every address in it is valid in every process of the group.

pub mod hugetlbfs;
pub mod segment;

use crate::config::SharedConfig;
use crate::error::EalError;
use crate::shm;
use std::sync::atomic::Ordering;

/// Bytes the shared config takes at the start of the window (the heap starts after it,
/// aligned for any huge page size we use).
pub const CONFIG_SPAN: u64 = 2 << 20;

/// Handle to a group's shared memory. Cheap to copy; valid for the life of the process.
#[derive(Clone, Copy)]
pub struct Memory {
    cfg: &'static SharedConfig,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("heap_start", &format_args!("{:#x}", self.heap_start()))
            .field("heap_len", &self.heap_len())
            .finish()
    }
}

impl Memory {
    /// Wraps a mapped config.
    pub(crate) fn from_config(cfg: &'static SharedConfig) -> Memory {
        Memory { cfg }
    }

    /// A process-private arena of `heap_len` bytes with the same layout as a group's shared
    /// memory, for unit tests and single-process tools. It is never unmapped.
    pub fn anonymous(heap_len: u64) -> Result<Memory, EalError> {
        let heap_len = heap_len.div_ceil(4096) * 4096;
        let r =
            shm::map_anonymous(CONFIG_SPAN + heap_len).map_err(|e| EalError::io("mapping an anonymous arena", e))?;
        let cfg: &'static SharedConfig =
            shm::shared_ref(r.start()).ok_or_else(|| EalError::InvalidArgument("misaligned arena".into()))?;
        cfg.base.store(r.start(), Ordering::Relaxed);
        cfg.window_len.store(r.len(), Ordering::Relaxed);
        cfg.config_len.store(CONFIG_SPAN, Ordering::Relaxed);
        cfg.mem_start.store(r.start() + CONFIG_SPAN, Ordering::Relaxed);
        cfg.mem_len.store(heap_len, Ordering::Relaxed);
        cfg.page_size.store(4096, Ordering::Relaxed);
        cfg.primary_pid.store(std::process::id(), Ordering::Relaxed);
        Ok(Memory { cfg })
    }

    /// The shared config.
    pub fn config(&self) -> &'static SharedConfig {
        self.cfg
    }

    /// First byte of the heap.
    pub fn heap_start(&self) -> u64 {
        self.cfg.mem_start.load(Ordering::Relaxed)
    }

    /// Heap length in bytes.
    pub fn heap_len(&self) -> u64 {
        self.cfg.mem_len.load(Ordering::Relaxed)
    }

    /// Page size backing the heap.
    pub fn page_size(&self) -> u64 {
        self.cfg.page_size.load(Ordering::Relaxed)
    }

    /// True when `addr..addr+len` lies in the heap.
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.heap_start() && addr.saturating_add(len) <= self.heap_start() + self.heap_len()
    }

    /// The device address of `addr` (IOVA as VA unless the group runs in PA mode).
    pub fn iova(&self, addr: u64) -> u64 {
        if self.cfg.iova_pa.load(Ordering::Relaxed) == 0 {
            addr
        } else {
            crate::bus::pa_iova(self, addr)
        }
    }
}
