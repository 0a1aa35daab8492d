//! Virtual-to-physical translation through `/proc/self/pagemap`, for IOVA =
//! PA mode (no-IOMMU, or devices that bypass the IOMMU).

use super::error::{Result, VfioError};
use std::fs::File;
use std::os::unix::fs::FileExt;

const PM_PRESENT: u64 = 1 << 63;
const PM_SWAPPED: u64 = 1 << 62;
const PM_PFN_MASK: u64 = (1 << 55) - 1;

/// The base page size of this system.
pub fn page_size() -> u64 {
    // SAFETY: sysconf takes no pointers and has no side effects.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// Decodes one pagemap entry for `vaddr` into a physical address.
pub fn decode_entry(entry: u64, vaddr: u64, page_size: u64) -> Result<u64> {
    if entry & PM_PRESENT == 0 || entry & PM_SWAPPED != 0 {
        return Err(VfioError::PageNotPresent { vaddr });
    }
    let pfn = entry & PM_PFN_MASK;
    if pfn == 0 {
        return Err(VfioError::PfnHidden { vaddr });
    }
    Ok(pfn * page_size + vaddr % page_size)
}

/// The physical address backing `vaddr` in this process. The page must be
/// present (touched; lock it so it stays put) and the caller needs
/// CAP_SYS_ADMIN, or the kernel reports frame number 0.
pub fn virt_to_phys(vaddr: u64) -> Result<u64> {
    let ps = page_size();
    let pagemap_err = |source| VfioError::Pagemap { vaddr, source };
    let f = File::open("/proc/self/pagemap").map_err(pagemap_err)?;
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, (vaddr / ps) * 8).map_err(pagemap_err)?;
    decode_entry(u64::from_ne_bytes(b), vaddr, ps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_present_entries() {
        assert_eq!(decode_entry(PM_PRESENT | 0x1234, 0x7000_0abc, 4096).unwrap(), 0x1234abc);
        assert!(matches!(decode_entry(0x1234, 0x1000, 4096), Err(VfioError::PageNotPresent { .. })));
        assert!(matches!(decode_entry(PM_PRESENT | PM_SWAPPED | 1, 0, 4096), Err(VfioError::PageNotPresent { .. })));
        assert!(matches!(decode_entry(PM_PRESENT, 0x1000, 4096), Err(VfioError::PfnHidden { .. })));
    }

    #[test]
    fn locked_page_translates_when_root() {
        let buf = vec![0u8; 2 * 4096].into_boxed_slice();
        let base = buf.as_ptr() as usize;
        // SAFETY: locks memory this test owns; it stays allocated until the
        // matching munlock below.
        let locked = unsafe { libc::mlock(buf.as_ptr().cast(), buf.len()) } == 0;
        assert!(locked, "mlock failed: {}", std::io::Error::last_os_error());
        let is_root = std::fs::read_to_string("/proc/self/status")
            .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0")))
            .unwrap_or(false);
        let a = virt_to_phys(base as u64);
        let b = virt_to_phys(base as u64 + 100);
        // SAFETY: unlocks the range locked above.
        unsafe { libc::munlock(buf.as_ptr().cast(), buf.len()) };
        if !is_root {
            assert!(matches!(a, Err(VfioError::PfnHidden { .. })), "{a:?}");
            return;
        }
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a % page_size(), base as u64 % page_size(), "offset in page is kept");
        if (base % 4096) + 100 < 4096 {
            assert_eq!(b - a, 100, "same page, same frame");
        }
        assert_ne!(a / page_size(), 0);
    }
}
