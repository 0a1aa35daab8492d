//! A VFIO container (`/dev/vfio/vfio`): the IOMMU context that groups join
//! and that DMA mappings are made in.

use super::abi::{self, AbiStruct, DmaMapAbi, DmaUnmapAbi, IommuType1InfoAbi};
use super::error::{Result, VfioError};
use super::ioctl;
use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

/// Path of the container device node.
pub const CONTAINER_PATH: &str = "/dev/vfio/vfio";

/// An open VFIO container.
#[derive(Debug)]
pub struct Container {
    fd: OwnedFd,
}

/// What `VFIO_IOMMU_GET_INFO` reports for a type1 IOMMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IommuInfo {
    /// Raw flags (`VFIO_IOMMU_INFO_*`).
    pub flags: u32,
    /// Bitmap of supported IOVA page sizes (bit n set: 2^n bytes), if reported.
    pub iova_pgsizes: Option<u64>,
}

impl IommuInfo {
    /// The smallest supported IOVA page size, if known.
    pub fn min_page_size(&self) -> Option<u64> {
        self.iova_pgsizes.filter(|&m| m != 0).map(|m| 1u64 << m.trailing_zeros())
    }
}

impl Container {
    /// Opens `/dev/vfio/vfio` and checks the API version.
    pub fn open() -> Result<Self> {
        Self::open_path(Path::new(CONTAINER_PATH))
    }

    /// Opens a container node at another path (tests, chroots).
    pub fn open_path(path: &Path) -> Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(VfioError::OpenContainer)?;
        Self::from_fd(file.into())
    }

    /// Adopts a container fd received from another process (over IPC) and
    /// checks that it is a VFIO container of the supported API version.
    pub fn from_fd(fd: OwnedFd) -> Result<Self> {
        let c = Self { fd };
        let got = c.api_version()?;
        if got != abi::VFIO_API_VERSION {
            return Err(VfioError::ApiVersion { got, want: abi::VFIO_API_VERSION });
        }
        tracing::debug!(fd = c.fd.as_raw_fd(), "vfio container ready");
        Ok(c)
    }

    /// `VFIO_GET_API_VERSION`.
    pub fn api_version(&self) -> Result<i32> {
        ioctl::ioctl_none(self.fd.as_fd(), abi::VFIO_GET_API_VERSION).map_err(VfioError::GetApiVersion)
    }

    /// `VFIO_CHECK_EXTENSION`: whether the container supports `ext`
    /// (an IOMMU type such as [`abi::VFIO_TYPE1V2_IOMMU`]).
    pub fn check_extension(&self, ext: u32) -> Result<bool> {
        ioctl::ioctl_val(self.fd.as_fd(), abi::VFIO_CHECK_EXTENSION, ext.into())
            .map(|r| r > 0)
            .map_err(|source| VfioError::CheckExtension { ext, source })
    }

    /// `VFIO_SET_IOMMU`: selects the IOMMU backend. At least one group must
    /// already be attached. Fails early if the type is not offered.
    pub fn set_iommu(&self, iommu_type: u32) -> Result<()> {
        if !self.check_extension(iommu_type)? {
            return Err(VfioError::ExtensionUnsupported { ext: iommu_type });
        }
        ioctl::ioctl_val(self.fd.as_fd(), abi::VFIO_SET_IOMMU, iommu_type.into())
            .map_err(|source| VfioError::SetIommu { iommu_type, source })?;
        tracing::debug!(iommu_type, "vfio iommu set");
        Ok(())
    }

    /// `VFIO_IOMMU_GET_INFO` (type1): flags and IOVA page sizes.
    pub fn iommu_info(&self) -> Result<IommuInfo> {
        let mut info = IommuType1InfoAbi::new_sized();
        ioctl::ioctl_struct(self.fd.as_fd(), abi::VFIO_IOMMU_GET_INFO, &mut info).map_err(VfioError::IommuGetInfo)?;
        let has_sizes = info.flags & abi::VFIO_IOMMU_INFO_PGSIZES != 0;
        Ok(IommuInfo { flags: info.flags, iova_pgsizes: has_sizes.then_some(info.iova_pgsizes) })
    }

    /// `VFIO_IOMMU_MAP_DMA`: lets devices read and write `size` bytes of
    /// this process's memory at `vaddr` through device address `iova`.
    /// The memory must stay mapped until [`Container::unmap_dma`].
    ///
    /// # Safety
    /// `[vaddr, vaddr+size)` must be memory of this process that stays mapped, and is not
    /// reused for anything else, until it is unmapped with [`Container::unmap_dma`] (or the
    /// container is closed): devices of the container may read and write it at any time,
    /// so it must not back Rust values whose validity depends on its contents (shared
    /// memory of `SharedPlain` data and packet buffers are fine).
    pub unsafe fn map_dma(&self, vaddr: u64, iova: u64, size: u64) -> Result<()> {
        let mut map = DmaMapAbi::new_sized();
        map.flags = abi::VFIO_DMA_MAP_FLAG_READ | abi::VFIO_DMA_MAP_FLAG_WRITE;
        map.vaddr = vaddr;
        map.iova = iova;
        map.size = size;
        ioctl::ioctl_struct(self.fd.as_fd(), abi::VFIO_IOMMU_MAP_DMA, &mut map)
            .map_err(|source| VfioError::MapDma { vaddr, iova, size, source })?;
        tracing::debug!(vaddr, iova, size, "vfio dma mapped");
        Ok(())
    }

    /// `VFIO_IOMMU_UNMAP_DMA`: removes a mapping; returns the bytes unmapped.
    pub fn unmap_dma(&self, iova: u64, size: u64) -> Result<u64> {
        let mut unmap = DmaUnmapAbi::new_sized();
        unmap.iova = iova;
        unmap.size = size;
        ioctl::ioctl_struct(self.fd.as_fd(), abi::VFIO_IOMMU_UNMAP_DMA, &mut unmap)
            .map_err(|source| VfioError::UnmapDma { iova, size, source })?;
        tracing::debug!(iova, size = unmap.size, "vfio dma unmapped");
        Ok(unmap.size)
    }

    /// Duplicates the fd, e.g. to send it to a secondary process.
    pub fn try_clone_fd(&self) -> std::io::Result<OwnedFd> {
        self.fd.try_clone()
    }
}

impl AsFd for Container {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Container {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    #[test]
    fn open_missing_node_names_the_fix() {
        let err = Container::open_path(Path::new("/nonexistent/vfio")).unwrap_err();
        assert!(matches!(err, VfioError::OpenContainer(_)));
        assert!(err.to_string().contains("modprobe vfio-pci"), "{err}");
    }

    #[test]
    fn from_fd_rejects_a_non_container() {
        let f = File::open("/dev/null").unwrap();
        let err = Container::from_fd(f.into()).unwrap_err();
        assert!(matches!(err, VfioError::GetApiVersion(_)), "{err}");
    }

    #[test]
    fn min_page_size_from_bitmap() {
        let info = IommuInfo { flags: 1, iova_pgsizes: Some(0x4020_1000) };
        assert_eq!(info.min_page_size(), Some(4096));
        let none = IommuInfo { flags: 0, iova_pgsizes: None };
        assert_eq!(none.min_page_size(), None);
    }
}
