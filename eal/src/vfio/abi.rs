//! The Linux VFIO user ABI (`linux/vfio.h`): flags, indices and structures come from the
//! `vfio-bindings` crate (bindgen output of the kernel header); this module adds what that
//! crate lacks: the ioctl request numbers (bindgen cannot expand `_IO()`), the API version
//! as the `i32` the kernel returns, and the `argsz` discipline (`AbiStruct`).
//!
//! Every ioctl is `_IO(';', 100 + n)` and passes a `repr(C)` structure whose first field,
//! `argsz`, is its size. Nothing here is `unsafe` to call; the calls live in `ioctl.rs`.

use vfio_bindings::bindings::vfio as sys;

/// The only VFIO API version there has ever been.
pub const VFIO_API_VERSION: i32 = sys::VFIO_API_VERSION as i32;

/// `VFIO_TYPE`: the ioctl "magic" character `';'`.
pub const VFIO_TYPE: u32 = sys::VFIO_TYPE as u32;
/// `VFIO_BASE`: the first VFIO ioctl number.
pub const VFIO_BASE: u32 = sys::VFIO_BASE;

/// Encodes `_IO(ty, nr)`: no direction and no size bits, only type and number.
pub const fn io(ty: u32, nr: u32) -> u64 {
    ((ty << 8) | nr) as u64
}

/// `VFIO_GET_API_VERSION` (container).
pub const VFIO_GET_API_VERSION: u64 = io(VFIO_TYPE, VFIO_BASE);
/// `VFIO_CHECK_EXTENSION` (container).
pub const VFIO_CHECK_EXTENSION: u64 = io(VFIO_TYPE, VFIO_BASE + 1);
/// `VFIO_SET_IOMMU` (container).
pub const VFIO_SET_IOMMU: u64 = io(VFIO_TYPE, VFIO_BASE + 2);
/// `VFIO_GROUP_GET_STATUS` (group).
pub const VFIO_GROUP_GET_STATUS: u64 = io(VFIO_TYPE, VFIO_BASE + 3);
/// `VFIO_GROUP_SET_CONTAINER` (group).
pub const VFIO_GROUP_SET_CONTAINER: u64 = io(VFIO_TYPE, VFIO_BASE + 4);
/// `VFIO_GROUP_UNSET_CONTAINER` (group).
pub const VFIO_GROUP_UNSET_CONTAINER: u64 = io(VFIO_TYPE, VFIO_BASE + 5);
/// `VFIO_GROUP_GET_DEVICE_FD` (group).
pub const VFIO_GROUP_GET_DEVICE_FD: u64 = io(VFIO_TYPE, VFIO_BASE + 6);
/// `VFIO_DEVICE_GET_INFO` (device).
pub const VFIO_DEVICE_GET_INFO: u64 = io(VFIO_TYPE, VFIO_BASE + 7);
/// `VFIO_DEVICE_GET_REGION_INFO` (device).
pub const VFIO_DEVICE_GET_REGION_INFO: u64 = io(VFIO_TYPE, VFIO_BASE + 8);
/// `VFIO_DEVICE_GET_IRQ_INFO` (device).
pub const VFIO_DEVICE_GET_IRQ_INFO: u64 = io(VFIO_TYPE, VFIO_BASE + 9);
/// `VFIO_DEVICE_SET_IRQS` (device).
pub const VFIO_DEVICE_SET_IRQS: u64 = io(VFIO_TYPE, VFIO_BASE + 10);
/// `VFIO_DEVICE_RESET` (device).
pub const VFIO_DEVICE_RESET: u64 = io(VFIO_TYPE, VFIO_BASE + 11);
/// `VFIO_IOMMU_GET_INFO` (container, type1).
pub const VFIO_IOMMU_GET_INFO: u64 = io(VFIO_TYPE, VFIO_BASE + 12);
/// `VFIO_IOMMU_MAP_DMA` (container, type1).
pub const VFIO_IOMMU_MAP_DMA: u64 = io(VFIO_TYPE, VFIO_BASE + 13);
/// `VFIO_IOMMU_UNMAP_DMA` (container, type1).
pub const VFIO_IOMMU_UNMAP_DMA: u64 = io(VFIO_TYPE, VFIO_BASE + 14);

/// IOMMU backends, group/device/region/IRQ/IOMMU/DMA flags and PCI region and interrupt
/// indices, as `vfio-bindings` names them (`VFIO_TYPE1v2_IOMMU` is re-exported as
/// `VFIO_TYPE1V2_IOMMU`).
pub use sys::{
    VFIO_TYPE1v2_IOMMU as VFIO_TYPE1V2_IOMMU, VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_DMA_MAP_FLAG_READ,
    VFIO_DMA_MAP_FLAG_WRITE, VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE, VFIO_IOMMU_INFO_CAPS,
    VFIO_IOMMU_INFO_PGSIZES, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE,
    VFIO_IRQ_INFO_NORESIZE, VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_UNMASK,
    VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_NOIOMMU_IOMMU,
    VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_BAR5_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_ERR_IRQ_INDEX,
    VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX,
    VFIO_PCI_ROM_REGION_INDEX, VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ,
    VFIO_REGION_INFO_FLAG_WRITE, VFIO_TYPE1_IOMMU,
};

/// `struct vfio_group_status`.
pub(crate) type GroupStatusAbi = sys::vfio_group_status;
/// `struct vfio_device_info`.
pub(crate) type DeviceInfoAbi = sys::vfio_device_info;
/// `struct vfio_region_info`.
pub(crate) type RegionInfoAbi = sys::vfio_region_info;
/// `struct vfio_irq_info`.
pub(crate) type IrqInfoAbi = sys::vfio_irq_info;
/// `struct vfio_irq_set` (its trailing `data[]` takes no room).
pub(crate) type IrqSetHeaderAbi = sys::vfio_irq_set;
/// `struct vfio_iommu_type1_info`.
pub(crate) type IommuType1InfoAbi = sys::vfio_iommu_type1_info;
/// `struct vfio_iommu_type1_dma_map`.
pub(crate) type DmaMapAbi = sys::vfio_iommu_type1_dma_map;
/// `struct vfio_iommu_type1_dma_unmap` (its trailing `data[]` takes no room).
pub(crate) type DmaUnmapAbi = sys::vfio_iommu_type1_dma_unmap;

/// Marker for the `repr(C)` plain-data structures above: any bit pattern is a
/// valid value, so the kernel may write into them through a pointer.
///
/// # Safety
/// An implementor must be `repr(C)`, contain only integers (any bit pattern valid), start
/// with the `u32 argsz` that VFIO reads to know how many bytes it may write, and
/// `new_sized` must set `argsz` to at most `size_of::<Self>()`.
pub(crate) unsafe trait AbiStruct: Default {
    /// A zeroed structure with `argsz` set to its own size.
    fn new_sized() -> Self;
}

macro_rules! abi_struct {
    ($($t:ty),*) => {$(
        // SAFETY: repr(C) VFIO structures of integers (and zero-sized `data[]` tails) starting
        // with `argsz`, which
        // `new_sized` sets to their own size.
        unsafe impl AbiStruct for $t {
            fn new_sized() -> Self {
                Self { argsz: std::mem::size_of::<Self>() as u32, ..Default::default() }
            }
        }
    )*};
}
abi_struct!(GroupStatusAbi, DeviceInfoAbi, RegionInfoAbi, IrqInfoAbi, IommuType1InfoAbi, DmaMapAbi, DmaUnmapAbi);

/// Builds a `struct vfio_irq_set` with its data as 32-bit words (so the
/// buffer is 4-byte aligned). `fds` are the eventfds (`-1` detaches); pass an
/// empty slice with `VFIO_IRQ_SET_DATA_NONE` and give `count` explicitly.
pub(crate) fn irq_set_words(flags: u32, index: u32, start: u32, count: u32, fds: &[i32]) -> Vec<u32> {
    let header_words = std::mem::size_of::<IrqSetHeaderAbi>() / 4;
    let argsz = ((header_words + fds.len()) * 4) as u32;
    let mut words = Vec::with_capacity(header_words + fds.len());
    words.extend_from_slice(&[argsz, flags, index, start, count]);
    words.extend(fds.iter().map(|&fd| fd as u32));
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn struct_sizes_match_kernel_abi() {
        // Sizes and offsets as the kernel's uapi header lays them out on x86_64.
        assert_eq!(size_of::<GroupStatusAbi>(), 8);
        assert_eq!(size_of::<DeviceInfoAbi>(), 24);
        assert_eq!(offset_of!(DeviceInfoAbi, cap_offset), 16);
        assert_eq!(size_of::<RegionInfoAbi>(), 32);
        assert_eq!(offset_of!(RegionInfoAbi, size), 16);
        assert_eq!(offset_of!(RegionInfoAbi, offset), 24);
        assert_eq!(size_of::<IrqInfoAbi>(), 16);
        assert_eq!(size_of::<IrqSetHeaderAbi>(), 20);
        assert_eq!(size_of::<IommuType1InfoAbi>(), 24);
        assert_eq!(offset_of!(IommuType1InfoAbi, iova_pgsizes), 8);
        assert_eq!(offset_of!(IommuType1InfoAbi, cap_offset), 16);
        assert_eq!(size_of::<DmaMapAbi>(), 32);
        assert_eq!(offset_of!(DmaMapAbi, vaddr), 8);
        assert_eq!(size_of::<DmaUnmapAbi>(), 24);
    }

    #[test]
    fn ioctl_numbers_match_kernel_abi() {
        assert_eq!(VFIO_GET_API_VERSION, 0x3b64);
        assert_eq!(VFIO_CHECK_EXTENSION, 0x3b65);
        assert_eq!(VFIO_SET_IOMMU, 0x3b66);
        assert_eq!(VFIO_GROUP_GET_STATUS, 0x3b67);
        assert_eq!(VFIO_GROUP_SET_CONTAINER, 0x3b68);
        assert_eq!(VFIO_GROUP_UNSET_CONTAINER, 0x3b69);
        assert_eq!(VFIO_GROUP_GET_DEVICE_FD, 0x3b6a);
        assert_eq!(VFIO_DEVICE_GET_INFO, 0x3b6b);
        assert_eq!(VFIO_DEVICE_GET_REGION_INFO, 0x3b6c);
        assert_eq!(VFIO_DEVICE_GET_IRQ_INFO, 0x3b6d);
        assert_eq!(VFIO_DEVICE_SET_IRQS, 0x3b6e);
        assert_eq!(VFIO_DEVICE_RESET, 0x3b6f);
        assert_eq!(VFIO_IOMMU_GET_INFO, 0x3b70);
        assert_eq!(VFIO_IOMMU_MAP_DMA, 0x3b71);
        assert_eq!(VFIO_IOMMU_UNMAP_DMA, 0x3b72);
    }

    #[test]
    fn new_sized_sets_argsz() {
        assert_eq!(RegionInfoAbi::new_sized().argsz, 32);
        assert_eq!(DmaMapAbi::new_sized().argsz, 32);
        assert_eq!(GroupStatusAbi::new_sized().argsz, 8);
    }

    #[test]
    fn irq_set_words_layout() {
        let w = irq_set_words(
            VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
            VFIO_PCI_MSIX_IRQ_INDEX,
            1,
            2,
            &[7, -1],
        );
        assert_eq!(w, vec![28, 0x24, 2, 1, 2, 7, u32::MAX]);
        let none =
            irq_set_words(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &[]);
        assert_eq!(none, vec![20, 0x11, 0, 0, 1]);
    }
}
