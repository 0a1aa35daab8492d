//! Bypass poll-mode drivers. Each implements the `ethdev` driver traits; [`all`] lists them
//! for `Ethdev::init`.

pub mod net;

use ethdev::Pmd;
use net::common::pci_pmd::PciPmd;

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
