//! A VFIO device fd: device info, reset, and region info. Region access,
//! BAR mapping, config space and interrupts are in their own files.

use super::abi::{self, AbiStruct, DeviceInfoAbi, RegionInfoAbi};
use super::error::{Result, VfioError};
use super::ioctl;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// An open VFIO device (from [`super::Group::device`]).
#[derive(Debug)]
pub struct Device {
    name: String,
    file: File,
}

/// What `VFIO_DEVICE_GET_INFO` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Raw flags (`VFIO_DEVICE_FLAGS_*`).
    pub flags: u32,
    /// Number of regions (PCI: 9 with VGA, BARs 0-5, ROM, config).
    pub num_regions: u32,
    /// Number of interrupt indexes (PCI: INTx, MSI, MSI-X, ERR, REQ).
    pub num_irqs: u32,
}

impl DeviceInfo {
    /// The device supports `VFIO_DEVICE_RESET`.
    pub fn has_reset(&self) -> bool {
        self.flags & abi::VFIO_DEVICE_FLAGS_RESET != 0
    }

    /// The device is a PCI device.
    pub fn is_pci(&self) -> bool {
        self.flags & abi::VFIO_DEVICE_FLAGS_PCI != 0
    }
}

/// What `VFIO_DEVICE_GET_REGION_INFO` reports for one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionInfo {
    /// Region index (PCI: 0-5 BARs, 6 ROM, 7 config).
    pub index: u32,
    /// Raw flags (`VFIO_REGION_INFO_FLAG_*`).
    pub flags: u32,
    /// Size in bytes (0: not implemented).
    pub size: u64,
    /// Offset of the region in the device fd (for `pread`/`pwrite`/`mmap`).
    pub offset: u64,
}

impl RegionInfo {
    /// `pread` works on the region.
    pub fn readable(&self) -> bool {
        self.flags & abi::VFIO_REGION_INFO_FLAG_READ != 0
    }

    /// `pwrite` works on the region.
    pub fn writable(&self) -> bool {
        self.flags & abi::VFIO_REGION_INFO_FLAG_WRITE != 0
    }

    /// `mmap` works on the region.
    pub fn mmappable(&self) -> bool {
        self.flags & abi::VFIO_REGION_INFO_FLAG_MMAP != 0
    }
}

impl Device {
    /// Wraps a device fd (e.g. one obtained by `VFIO_GROUP_GET_DEVICE_FD`).
    pub fn from_fd(name: String, fd: OwnedFd) -> Self {
        Self { name, file: File::from(fd) }
    }

    /// The device's name (its PCI address).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// `VFIO_DEVICE_GET_INFO`.
    pub fn info(&self) -> Result<DeviceInfo> {
        let mut info = DeviceInfoAbi::new_sized();
        ioctl::ioctl_struct(self.as_fd(), abi::VFIO_DEVICE_GET_INFO, &mut info)
            .map_err(|source| VfioError::DeviceGetInfo { device: self.name.clone(), source })?;
        Ok(DeviceInfo { flags: info.flags, num_regions: info.num_regions, num_irqs: info.num_irqs })
    }

    /// `VFIO_DEVICE_GET_REGION_INFO` for region `index`.
    pub fn region_info(&self, index: u32) -> Result<RegionInfo> {
        let mut info = RegionInfoAbi::new_sized();
        info.index = index;
        ioctl::ioctl_struct(self.as_fd(), abi::VFIO_DEVICE_GET_REGION_INFO, &mut info)
            .map_err(|source| VfioError::DeviceGetRegionInfo { device: self.name.clone(), index, source })?;
        Ok(RegionInfo { index, flags: info.flags, size: info.size, offset: info.offset })
    }

    /// `VFIO_DEVICE_RESET`: a function-level (or equivalent) reset.
    pub fn reset(&self) -> Result<()> {
        ioctl::ioctl_none(self.as_fd(), abi::VFIO_DEVICE_RESET)
            .map_err(|source| VfioError::DeviceReset { device: self.name.clone(), source })?;
        tracing::debug!(device = %self.name, "vfio device reset");
        Ok(())
    }
}

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for Device {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn null_device() -> Device {
        Device::from_fd("0000:00:03.0".into(), File::open("/dev/null").unwrap().into())
    }

    #[test]
    fn ioctl_errors_name_device_and_call() {
        let d = null_device();
        let err = d.info().unwrap_err();
        assert!(err.to_string().starts_with("VFIO_DEVICE_GET_INFO on 0000:00:03.0"), "{err}");
        let err = d.region_info(7).unwrap_err();
        assert!(matches!(err, VfioError::DeviceGetRegionInfo { index: 7, .. }), "{err}");
        let err = d.reset().unwrap_err();
        assert!(matches!(err, VfioError::DeviceReset { .. }), "{err}");
    }

    #[test]
    fn region_flags_decode() {
        let r = RegionInfo { index: 0, flags: 0b111, size: 0x20000, offset: 0 };
        assert!(r.readable() && r.writable() && r.mmappable());
        let io = RegionInfo { flags: 0b011, ..r };
        assert!(!io.mmappable());
    }
}
