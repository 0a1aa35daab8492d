//! What PCI drivers need of the bus, declared by the drivers themselves so that the EAL
//! names no device: today, devices whose DMA bypasses the IOMMU and so need IOVA = physical
//! address (DPDK's per-driver IOVA flags, asked by `rte_bus_get_iommu_class`).
//!
//! The bus decides the IOVA mode while `Eal::init` probes it, before any driver runs, so
//! drivers declare their needs first: applications call their driver crate's declaration
//! (`drivers::declare_to_eal()`) before `Eal::init`. Undeclared devices are assumed to use
//! the IOMMU; a driver that finds its device in a group with the wrong IOVA mode refuses it
//! with an error that names this call (virtio does).

use std::sync::Mutex;

/// One PCI driver's declaration.
#[derive(Debug, Clone, Copy)]
pub struct PciDriverNeeds {
    /// The driver's name (for logs and errors).
    pub driver: &'static str,
    /// True for a `(vendor, device)` this driver takes whose DMA bypasses the IOMMU: the
    /// group then needs IOVA = physical address.
    pub bypasses_iommu: fn(u16, u16) -> bool,
}

static DECLARED: Mutex<Vec<PciDriverNeeds>> = Mutex::new(Vec::new());

/// Records `needs` for the bus of this process (a second declaration under the same
/// driver name replaces the first).
pub fn declare_pci_driver(needs: PciDriverNeeds) {
    let mut v = DECLARED.lock().unwrap_or_else(|e| e.into_inner());
    v.retain(|d| d.driver != needs.driver);
    v.push(needs);
}

/// The driver that declared `(vendor, device)` as bypassing the IOMMU, if any.
pub fn iommu_bypassed_by(vendor: u16, device: u16) -> Option<&'static str> {
    let v = DECLARED.lock().unwrap_or_else(|e| e.into_inner());
    v.iter().find(|d| (d.bypasses_iommu)(vendor, device)).map(|d| d.driver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bus_asks_the_declared_drivers() {
        assert_eq!(iommu_bypassed_by(0xabcd, 0x0001), None);
        declare_pci_driver(PciDriverNeeds { driver: "net_test_bypass", bypasses_iommu: |v, d| v == 0xabcd && d < 2 });
        assert_eq!(iommu_bypassed_by(0xabcd, 0x0001), Some("net_test_bypass"));
        assert_eq!(iommu_bypassed_by(0xabcd, 0x0002), None);
    }
}
