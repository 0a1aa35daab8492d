//! Memory-mapped BARs: a `memmap2::MmapRaw` of a region of the device fd (a raw mapping:
//! no `&[u8]` over device memory ever exists) and volatile register access. The only
//! `unsafe` of BAR access lives here.

use super::config::bar_is_io;
use super::device::Device;
use super::error::{Result, VfioError};
use memmap2::{MmapOptions, MmapRaw};

/// A BAR mapped into this process. Unmapped on drop.
#[derive(Debug)]
pub struct MmioRegion {
    map: MmapRaw,
    index: u32,
}

impl Device {
    /// Maps region `index` (a memory BAR) read-write. Fails with
    /// [`VfioError::RegionNotMmappable`] for an I/O-port BAR (use
    /// [`Device::read_region`] there) and [`VfioError::RegionEmpty`] for a
    /// BAR the device does not implement.
    pub fn map_region(&self, index: u32) -> Result<MmioRegion> {
        let info = self.region_info(index)?;
        if info.size == 0 {
            return Err(VfioError::RegionEmpty { device: self.name().to_string(), index });
        }
        if !info.mmappable() {
            let kind = if bar_is_io(self, index).unwrap_or(false) { " (it is an I/O-port BAR)" } else { "" };
            return Err(VfioError::RegionNotMmappable { device: self.name().to_string(), index, kind });
        }
        let mmap_err = |source| VfioError::MmapRegion {
            device: self.name().to_string(),
            index,
            size: info.size,
            offset: info.offset,
            source,
        };
        let len =
            usize::try_from(info.size).map_err(|_| mmap_err(std::io::Error::from_raw_os_error(libc::EOVERFLOW)))?;
        // A shared read-write mapping placed by the kernel; MmapRaw hands out raw pointers
        // only, which is what device memory needs (no reference may point at MMIO).
        let map = MmapOptions::new().offset(info.offset).len(len).map_raw(self).map_err(mmap_err)?;
        tracing::debug!(device = %self.name(), index, len, "vfio region mapped");
        Ok(MmioRegion { map, index })
    }
}

impl MmioRegion {
    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the mapping is empty (never: empty BARs are refused).
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// The region index this maps.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Base address of the mapping (for drivers that keep raw pointers;
    /// valid only while `self` lives).
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    fn checked(&self, offset: usize, width: usize) -> Option<*mut u8> {
        let end = offset.checked_add(width)?;
        (end <= self.map.len() && offset & (width - 1) == 0).then(|| self.map.as_mut_ptr().wrapping_add(offset))
    }

    /// Volatile 32-bit read at `offset`; `None` if out of range or unaligned.
    pub fn read32(&self, offset: usize) -> Option<u32> {
        let p = self.checked(offset, 4)?;
        // SAFETY: `p` is inside the live mapping and 4-byte aligned (checked).
        Some(unsafe { std::ptr::read_volatile(p.cast::<u32>()) })
    }

    /// Volatile 32-bit write at `offset`; `None` if out of range or unaligned.
    pub fn write32(&self, offset: usize, v: u32) -> Option<()> {
        let p = self.checked(offset, 4)?;
        // SAFETY: `p` is inside the live mapping and 4-byte aligned (checked).
        unsafe { std::ptr::write_volatile(p.cast::<u32>(), v) };
        Some(())
    }

    /// Volatile 16-bit read at `offset`; `None` if out of range or unaligned.
    pub fn read16(&self, offset: usize) -> Option<u16> {
        let p = self.checked(offset, 2)?;
        // SAFETY: `p` is inside the live mapping and 2-byte aligned (checked).
        Some(unsafe { std::ptr::read_volatile(p.cast::<u16>()) })
    }

    /// Volatile 16-bit write at `offset`; `None` if out of range or unaligned.
    pub fn write16(&self, offset: usize, v: u16) -> Option<()> {
        let p = self.checked(offset, 2)?;
        // SAFETY: `p` is inside the live mapping and 2-byte aligned (checked).
        unsafe { std::ptr::write_volatile(p.cast::<u16>(), v) };
        Some(())
    }

    /// Volatile 8-bit read at `offset`; `None` if out of range.
    pub fn read8(&self, offset: usize) -> Option<u8> {
        let p = self.checked(offset, 1)?;
        // SAFETY: `p` is inside the live mapping (checked).
        Some(unsafe { std::ptr::read_volatile(p) })
    }

    /// Volatile 8-bit write at `offset`; `None` if out of range.
    pub fn write8(&self, offset: usize, v: u8) -> Option<()> {
        let p = self.checked(offset, 1)?;
        // SAFETY: `p` is inside the live mapping (checked).
        unsafe { std::ptr::write_volatile(p, v) };
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn anonymous(len: usize) -> MmioRegion {
        MmioRegion { map: MmapRaw::from(MmapOptions::new().len(len).map_anon().unwrap()), index: 0 }
    }

    #[test]
    fn accessors_check_bounds_and_alignment() {
        let r = anonymous(4096);
        assert_eq!(r.write32(0x10, 0xdead_beef), Some(()));
        assert_eq!(r.read32(0x10), Some(0xdead_beef));
        assert_eq!(r.read16(0x10), Some(0xbeef));
        assert_eq!(r.read8(0x13), Some(0xde));
        assert_eq!(r.write16(0x20, 0x1234), Some(()));
        assert_eq!(r.read16(0x20), Some(0x1234));
        assert_eq!(r.write8(4095, 7), Some(()));
        assert_eq!(r.read8(4095), Some(7));
        assert_eq!(r.read32(4094), None, "crosses the end");
        assert_eq!(r.read32(4096), None, "past the end");
        assert_eq!(r.read32(2), None, "unaligned");
        assert_eq!(r.write16(1, 0), None, "unaligned");
        assert_eq!(r.read32(usize::MAX - 1), None, "overflow");
    }

    #[test]
    fn mapping_a_non_vfio_fd_fails_cleanly() {
        let d = Device::from_fd("0000:00:05.0".into(), File::open("/dev/null").unwrap().into());
        let err = d.map_region(0).unwrap_err();
        assert!(matches!(err, VfioError::DeviceGetRegionInfo { index: 0, .. }), "{err}");
    }

    #[test]
    fn not_mmappable_message_points_to_pread() {
        let msg =
            VfioError::RegionNotMmappable { device: "0000:00:05.0".into(), index: 0, kind: " (it is an I/O-port BAR)" }
                .to_string();
        assert!(msg.contains("I/O-port BAR") && msg.contains("read_region"), "{msg}");
    }
}
