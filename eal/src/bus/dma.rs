//! DMA memory: the whole heap mapped into the VFIO container once by the primary, with
//! IOVA = VA, or with `--iova-mode pa` IOVA = the physical address of each page, read from
//! `/proc/self/pagemap` and published in a memzone so that every process (root or not)
//! translates the same way.

use super::error::BusError;
use crate::memory::Memory;
use crate::shm;
use crate::vfio::{decode_entry, Container};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Memzone holding the physical address of every heap page in IOVA-as-PA mode.
pub const PA_TABLE_MEMZONE: &str = "bypass_iova_pa";

/// One mapped range of the container: (IOVA, length).
pub(crate) type DmaRange = (u64, u64);

/// This process's view of the PA table (heap start, page size, one PA per page).
struct PaTable {
    start: u64,
    page: u64,
    pas: &'static [AtomicU64],
}

static PA_TABLE: OnceLock<PaTable> = OnceLock::new();

fn table(mem: &Memory) -> Option<&'static PaTable> {
    if let Some(t) = PA_TABLE.get() {
        return Some(t);
    }
    let mz = mem.memzone_lookup(PA_TABLE_MEMZONE)?;
    let pages = mem.heap_len() / mem.page_size();
    let pas = shm::shared_slice::<AtomicU64>(mz.addr(), pages as usize)?;
    Some(PA_TABLE.get_or_init(|| PaTable { start: mem.heap_start(), page: mem.page_size(), pas }))
}

/// The IOVA of `addr` in IOVA-as-PA mode: the physical address of its page plus the offset.
/// An address outside the heap (or before the table exists) translates to itself.
pub(crate) fn pa_iova(mem: &Memory, addr: u64) -> u64 {
    match table(mem) {
        Some(t) if addr >= t.start && ((addr - t.start) / t.page) < t.pas.len() as u64 => {
            let i = ((addr - t.start) / t.page) as usize;
            t.pas[i].load(Ordering::Relaxed) + (addr - t.start) % t.page
        }
        _ => addr,
    }
}

/// Reads the physical address of every `page`-sized page of `[start, start+len)` from this
/// process's pagemap (one read). The pages must be present (the primary populated them).
pub fn physical_pages(start: u64, len: u64, page: u64) -> Result<Vec<u64>, BusError> {
    let base = crate::vfio::page_size();
    let f = File::open("/proc/self/pagemap")
        .map_err(|e| BusError::IovaPa(format!("cannot open /proc/self/pagemap: {e}")))?;
    let entries = (len / base) as usize;
    let mut raw = vec![0u8; entries * 8];
    f.read_exact_at(&mut raw, start / base * 8)
        .map_err(|e| BusError::IovaPa(format!("cannot read /proc/self/pagemap: {e}")))?;
    let per_page = (page / base) as usize;
    (0..(len / page) as usize)
        .map(|i| {
            let k = i * per_page;
            let entry = u64::from_ne_bytes(raw[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8]));
            let vaddr = start + i as u64 * page;
            decode_entry(entry, vaddr, base).map_err(|e| {
                BusError::IovaPa(format!("{e}; physical addresses need root (CAP_SYS_ADMIN), or use --iova-mode va"))
            })
        })
        .collect()
}

/// Primary, IOVA-as-PA mode: translates every heap page, publishes the table in a memzone
/// and switches the group to PA mode (`Memory::iova` follows from then on).
pub(crate) fn enable_pa_mode(mem: &Memory) -> Result<(), BusError> {
    let (start, len, page) = (mem.heap_start(), mem.heap_len(), mem.page_size());
    let pas = physical_pages(start, len, page)?;
    if page < crate::vfio::page_size() * 512 {
        tracing::info!(
            page,
            "IOVA as PA on small pages: each mbuf stays within a page and device rings must fit in one; hugepages are better"
        );
    }
    let mz = mem
        .memzone_reserve(PA_TABLE_MEMZONE, pas.len() as u64 * 8, 64)
        .map_err(|e| BusError::IovaPa(format!("cannot reserve the PA table: {e}")))?;
    let slots = shm::shared_slice::<AtomicU64>(mz.addr(), pas.len())
        .ok_or_else(|| BusError::IovaPa("misaligned PA table".into()))?;
    for (s, pa) in slots.iter().zip(&pas) {
        s.store(*pa, Ordering::Relaxed);
    }
    mem.config().iova_pa.store(1, Ordering::Release);
    tracing::info!(pages = pas.len(), first = format_args!("{:#x}", pas.first().copied().unwrap_or(0)), "IOVA as PA");
    Ok(())
}

/// Runs of pages whose physical addresses follow each other: (VA, PA, length).
pub fn contiguous_runs(start: u64, page: u64, pas: &[u64]) -> Vec<(u64, u64, u64)> {
    let mut runs: Vec<(u64, u64, u64)> = Vec::new();
    for (i, &pa) in pas.iter().enumerate() {
        let va = start + i as u64 * page;
        match runs.last_mut() {
            Some((rva, rpa, rlen)) if *rva + *rlen == va && *rpa + *rlen == pa => *rlen += page,
            _ => runs.push((va, pa, page)),
        }
    }
    runs
}

/// Maps the whole heap into `container` for device access; returns what was mapped.
pub(crate) fn map_heap(container: &Container, mem: &Memory) -> Result<Vec<DmaRange>, BusError> {
    let (start, len, page) = (mem.heap_start(), mem.heap_len(), mem.page_size());
    let pa_mode = mem.config().iova_pa.load(Ordering::Acquire) == 1;
    let runs = if pa_mode {
        let pas: Vec<u64> = (0..len / page).map(|i| mem.iova(start + i * page)).collect();
        contiguous_runs(start, page, &pas)
    } else {
        vec![(start, start, len)]
    };
    let mut done = Vec::new();
    for (va, iova, l) in runs {
        // SAFETY: the range is part of the EAL heap, shared memory that stays mapped for the
        // life of the process (unmapped from the container by `unmap` first); it holds only
        // SharedPlain data and packet buffers, which a device may write at any time.
        if let Err(e) = unsafe { container.map_dma(va, iova, l) } {
            unmap(container, &done);
            return Err(BusError::vfio("mapping the EAL heap for DMA", e));
        }
        done.push((iova, l));
    }
    tracing::info!(ranges = done.len(), bytes = len, pa_mode, "heap mapped for DMA");
    Ok(done)
}

/// Removes the mappings [`map_heap`] made.
pub(crate) fn unmap(container: &Container, ranges: &[DmaRange]) {
    for &(iova, len) in ranges {
        if let Err(e) = container.unmap_dma(iova, len) {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_adjacent_frames_only() {
        let p = 0x20_0000;
        let pas = [0x1_0000_0000, 0x1_0020_0000, 0x8000_0000, 0x7fe0_0000];
        let r = contiguous_runs(0x1000_0000_0000, p, &pas);
        assert_eq!(
            r,
            vec![
                (0x1000_0000_0000, 0x1_0000_0000, 2 * p),
                (0x1000_0040_0000, 0x8000_0000, p),
                (0x1000_0060_0000, 0x7fe0_0000, p)
            ]
        );
        assert!(contiguous_runs(0, p, &[]).is_empty());
    }

    #[test]
    fn va_mode_translates_to_itself() {
        let m = Memory::anonymous(1 << 20).unwrap();
        assert_eq!(m.iova(m.heap_start() + 100), m.heap_start() + 100);
    }

    #[test]
    fn pagemap_needs_present_pages_and_root_for_frames() {
        let m = Memory::anonymous(64 << 10).unwrap();
        // SAFETY: the arena's heap was just mapped and is this test's alone.
        unsafe { crate::shm::zero(m.heap_start(), 64 << 10) };
        let r = physical_pages(m.heap_start(), 64 << 10, 4096);
        let root = std::fs::read_to_string("/proc/self/status")
            .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0")))
            .unwrap_or(false);
        match r {
            Ok(v) => {
                assert!(root, "frames are hidden from non-root");
                assert_eq!(v.len(), 16);
                assert!(v.iter().all(|pa| pa % 4096 == 0 && *pa != 0));
            }
            Err(e) => {
                assert!(!root, "root reads frames: {e}");
                assert!(e.to_string().contains("root"), "{e}");
            }
        }
    }
}
