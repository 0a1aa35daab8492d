//! Bypass poll-mode drivers. Each implements the `ethdev` driver traits; [`all`] lists them
//! for `Ethdev::init`.

pub mod net;

use ethdev::Pmd;
use net::common::pci_pmd::PciPmd;

/// Declares to the EAL what the PCI drivers of this crate need of its bus (today: the
/// devices whose DMA bypasses the IOMMU, for which `--iova-mode` unset selects IOVA = PA).
/// Call it before `Eal::init`; idempotent.
pub fn declare_to_eal() {
    eal::bus::declare_pci_driver(net::virtio::EAL_NEEDS);
}

/// Every driver of this crate.
pub fn all() -> Vec<&'static dyn Pmd> {
    vec![
        &net::null::NullPmd,
        &net::ring::RingPmd,
        &net::tap::TapPmd,
        &PciPmd(net::e1000::EmPmd),
        &PciPmd(net::igb::IgbPmd),
        &PciPmd(net::ixgbe::IxgbePmd),
        &PciPmd(net::virtio::VirtioPmd),
    ]
}
