//! The PCI bus as Linux sysfs shows it: addresses and device arguments, scanning devices,
//! binding them to drivers, IOMMU group viability, and the EAL's allow/block list.
//!
//! Everything works on a [`Sysfs`] root (`/sys` by default) so that tests and tools can
//! point it at a fake tree (`fake`, with the `test-util` feature or in tests). Nothing here
//! loads modules or needs other EAL parts.
//!
//! ```no_run
//! use eal::pci::{Binder, Sysfs};
//! let sysfs = Sysfs::default();
//! for dev in sysfs.scan()?.iter().filter(|d| d.is_network()) {
//!     println!("{} {:04x}:{:04x} drv={:?}", dev.addr, dev.vendor, dev.device, dev.driver);
//! }
//! let addr = "0000:00:03.0".parse()?;
//! Binder::new(&sysfs).bind(addr, "vfio-pci")?;
//! # Ok::<(), eal::pci::PciError>(())
//! ```

mod address;
mod attr;
mod bar;
mod bind;
mod class;
mod devargs;
mod device;
mod error;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
mod filter;
mod iommu;
mod sysfs;

pub use address::PciAddr;
pub use bar::{
    parse_resource, Bar, BarKind, BAR_COUNT, IORESOURCE_IO, IORESOURCE_MEM, IORESOURCE_MEM_64, IORESOURCE_PREFETCH,
};
pub use bind::{BindOutcome, Binder, SysfsWrite, UnbindOutcome, DEFAULT_SETTLE};
pub use class::PciClass;
pub use devargs::Devargs;
pub use device::{is_vfio_friendly_driver, PciDevice, PCI_STUB, VFIO_PCI};
pub use error::{PciError, Restore};
pub use filter::PciFilter;
pub use iommu::{GroupKind, GroupMember, IommuGroup, NOIOMMU_GROUP_NAME};
pub use sysfs::{Sysfs, DEFAULT_SYSFS_ROOT};

#[cfg(test)]
mod tests;
