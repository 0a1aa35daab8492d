//! Region access through the device fd (`pread`/`pwrite` at the region's
//! offset): for config space and I/O-port BARs, which cannot be mapped.

use super::device::{Device, RegionInfo};
use super::error::{Result, VfioError};
use std::os::unix::fs::FileExt;

fn check_bounds(dev: &Device, info: &RegionInfo, offset: u64, len: usize) -> Result<()> {
    let in_bounds = matches!(offset.checked_add(len as u64), Some(end) if end <= info.size);
    if !in_bounds {
        return Err(VfioError::RegionOutOfBounds {
            device: dev.name().to_string(),
            index: info.index,
            offset,
            len,
            size: info.size,
        });
    }
    Ok(())
}

impl Device {
    /// Reads `buf.len()` bytes at `offset` inside region `index`. A 1, 2 or 4
    /// byte read at an aligned offset is one access of that width.
    pub fn read_region(&self, index: u32, offset: u64, buf: &mut [u8]) -> Result<()> {
        let info = self.region_info(index)?;
        self.read_region_at(&info, offset, buf)
    }

    /// [`Device::read_region`] with region info already fetched.
    pub fn read_region_at(&self, info: &RegionInfo, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_bounds(self, info, offset, buf.len())?;
        self.file().read_exact_at(buf, info.offset + offset).map_err(|source| VfioError::RegionRead {
            device: self.name().to_string(),
            index: info.index,
            offset,
            len: buf.len(),
            source,
        })
    }

    /// Writes `buf` at `offset` inside region `index`.
    pub fn write_region(&self, index: u32, offset: u64, buf: &[u8]) -> Result<()> {
        let info = self.region_info(index)?;
        self.write_region_at(&info, offset, buf)
    }

    /// [`Device::write_region`] with region info already fetched.
    pub fn write_region_at(&self, info: &RegionInfo, offset: u64, buf: &[u8]) -> Result<()> {
        check_bounds(self, info, offset, buf.len())?;
        self.file().write_all_at(buf, info.offset + offset).map_err(|source| VfioError::RegionWrite {
            device: self.name().to_string(),
            index: info.index,
            offset,
            len: buf.len(),
            source,
        })
    }

    /// Reads a little-endian `u8` from a region.
    pub fn read_region_u8(&self, index: u32, offset: u64) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read_region(index, offset, &mut b)?;
        Ok(b[0])
    }

    /// Reads a little-endian `u16` from a region.
    pub fn read_region_u16(&self, index: u32, offset: u64) -> Result<u16> {
        let mut b = [0u8; 2];
        self.read_region(index, offset, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Reads a little-endian `u32` from a region.
    pub fn read_region_u32(&self, index: u32, offset: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_region(index, offset, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Writes a `u8` to a region.
    pub fn write_region_u8(&self, index: u32, offset: u64, v: u8) -> Result<()> {
        self.write_region(index, offset, &[v])
    }

    /// Writes a little-endian `u16` to a region.
    pub fn write_region_u16(&self, index: u32, offset: u64, v: u16) -> Result<()> {
        self.write_region(index, offset, &v.to_le_bytes())
    }

    /// Writes a little-endian `u32` to a region.
    pub fn write_region_u32(&self, index: u32, offset: u64, v: u32) -> Result<()> {
        self.write_region(index, offset, &v.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    #[test]
    fn out_of_bounds_access_is_refused_before_io() {
        let d = Device::from_fd("0000:00:04.0".into(), File::open("/dev/null").unwrap().into());
        let info = RegionInfo { index: 7, flags: 3, size: 256, offset: 0x70000000000 };
        let mut buf = [0u8; 4];
        let err = d.read_region_at(&info, 254, &mut buf).unwrap_err();
        assert!(matches!(err, VfioError::RegionOutOfBounds { offset: 254, len: 4, .. }), "{err}");
        let err = d.write_region_at(&info, u64::MAX, &[1]).unwrap_err();
        assert!(matches!(err, VfioError::RegionOutOfBounds { .. }), "{err}");
    }

    #[test]
    fn in_bounds_read_goes_to_the_fd_at_region_offset() {
        // /dev/zero reads zeros at any offset: the access reaches the fd.
        let d = Device::from_fd("0000:00:04.0".into(), File::open("/dev/zero").unwrap().into());
        let info = RegionInfo { index: 7, flags: 3, size: 256, offset: 0x1000 };
        let mut buf = [0xffu8; 4];
        d.read_region_at(&info, 252, &mut buf).unwrap();
        assert_eq!(buf, [0; 4]);
    }
}
