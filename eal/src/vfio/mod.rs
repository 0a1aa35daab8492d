//! VFIO: user-space access to PCI devices through the kernel's vfio-pci
//! driver and an IOMMU.
//!
//! The pieces, in the order a primary uses them:
//! [`Container::open`] → [`Group::open`] (after binding devices to
//! vfio-pci; [`iommu_group_of`] finds the number) → [`Group::set_container`]
//! → [`Container::set_iommu`] with [`abi::VFIO_TYPE1V2_IOMMU`] →
//! [`Container::map_dma`] of DMA memory (for a no-IOMMU group, opened as
//! `/dev/vfio/noiommu-<n>`: [`abi::VFIO_NOIOMMU_IOMMU`] and no mapping) → [`Group::device`] →
//! [`Device::map_region`] for memory BARs, [`Device::read_region`] for
//! I/O-port BARs and config space, [`Device::enable_irq_eventfds`] with
//! [`EventFd`]s. A secondary adopts the primary's fds with
//! [`Container::from_fd`] and [`Group::from_fd`].
//!
//! `unsafe` lives only in `ioctl.rs`, `mmio.rs`, `eventfd.rs` and
//! `pagemap.rs`.

pub mod abi;
mod config;
mod container;
mod device;
mod error;
mod eventfd;
mod group;
mod ioctl;
mod irq;
mod mmio;
mod pagemap;
mod pci_addr;
mod region;

pub use config::{
    bar_is_io, find_capability_with, PCI_BAR0, PCI_CAPABILITY_LIST, PCI_CAP_ID_EXP, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX,
    PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_IO, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_DEVICE_ID,
    PCI_STATUS, PCI_STATUS_CAP_LIST, PCI_VENDOR_ID,
};
pub use container::{Container, IommuInfo, CONTAINER_PATH};
pub use device::{Device, DeviceInfo, RegionInfo};
pub use error::{Result, VfioError};
pub use eventfd::EventFd;
pub use group::{Group, GroupStatus};
pub use irq::{borrow_all, IrqIndex, IrqInfo};
pub use mmio::MmioRegion;
pub use pagemap::{decode_entry, page_size, virt_to_phys};
pub use pci_addr::{iommu_group_in, iommu_group_of, normalize_pci_address};
