//! Bypass poll-mode drivers. Each implements the `ethdev` driver traits; [`all`] lists them
//! for `Ethdev::init`.

pub mod net;

use ethdev::Pmd;

/// Every driver of this crate.
pub fn all() -> Vec<&'static dyn Pmd> {
    vec![
        &net::null::NullPmd,
        &net::ring::RingPmd,
        &net::tap::TapPmd,
        &net::e1000::EmPmd,
        &net::igb::IgbPmd,
        &net::ixgbe::IxgbePmd,
        &net::virtio::VirtioPmd,
    ]
}
