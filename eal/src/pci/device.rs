//! One PCI device as sysfs describes it.

use std::path::PathBuf;

use super::address::PciAddr;
use super::bar::Bar;
use super::class::PciClass;

/// Name of the VFIO PCI driver.
pub const VFIO_PCI: &str = "vfio-pci";
/// Name of the stub driver that only claims a device.
pub const PCI_STUB: &str = "pci-stub";

/// Whether a device bound to `driver` leaves its IOMMU group usable by VFIO:
/// `vfio-pci`, a vendor variant of it (`*-vfio-pci`), or `pci-stub`.
pub fn is_vfio_friendly_driver(driver: &str) -> bool {
    driver == VFIO_PCI || driver.ends_with("-vfio-pci") || driver == PCI_STUB
}

/// A snapshot of one device's sysfs attributes, taken by [`super::Sysfs::device`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PciDevice {
    /// Its address.
    pub addr: PciAddr,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Subsystem vendor id, where sysfs has one.
    pub subsystem_vendor: Option<u16>,
    /// Subsystem device id, where sysfs has one.
    pub subsystem_device: Option<u16>,
    /// Class code.
    pub class: PciClass,
    /// Config-space header type (without the multi-function bit), when `config` was readable.
    pub header_type: Option<u8>,
    /// The driver bound now, if any.
    pub driver: Option<String>,
    /// The `driver_override` set, if any.
    pub driver_override: Option<String>,
    /// The IOMMU group number, if the device is behind an IOMMU.
    pub iommu_group: Option<u32>,
    /// The NUMA node, if the kernel knows it.
    pub numa_node: Option<u32>,
    /// Populated BARs 0..=5.
    pub bars: Vec<Bar>,
    /// Network interface names (`net/*`), sorted; empty unless a kernel net driver owns it.
    pub interfaces: Vec<String>,
    /// The device's directory under the sysfs root.
    pub sysfs_path: PathBuf,
}

impl PciDevice {
    /// Whether it is a network controller (class 0x02xxxx).
    pub fn is_network(&self) -> bool {
        self.class.is_network()
    }

    /// Whether it is a bridge (config header type other than 0; by class when the header
    /// type could not be read). VFIO accepts bridges in a group whatever their driver.
    pub fn is_bridge(&self) -> bool {
        match self.header_type {
            Some(h) => h != 0,
            None => self.class.is_pci_bridge(),
        }
    }

    /// Whether it is bound to `vfio-pci`.
    pub fn is_vfio_bound(&self) -> bool {
        self.driver.as_deref() == Some(VFIO_PCI)
    }

    /// The ids as `vendor:device` in hex (`8086:100e`): the EAL names no NIC.
    pub fn ids(&self) -> String {
        format!("{:04x}:{:04x}", self.vendor, self.device)
    }

    /// The BAR with index `index`, if populated.
    pub fn bar(&self, index: u8) -> Option<&Bar> {
        self.bars.iter().find(|b| b.index == index)
    }
}
