//! `net_virtio`: the virtio-net PMD for PCI devices, modern (1af4:1041, virtio 1.x
//! structures in memory BARs) and legacy or transitional (1af4:1000; a transitional device
//! is driven through its modern interface, a legacy-only one through its I/O-port BAR0).
//!
//! Split virtqueues in DMA memory (one memzone per queue, [`vring`]), one descriptor per
//! frame with the virtio-net header in the mbuf headroom, no offloads. The MAC address and
//! link status come from the device configuration (`VIRTIO_NET_F_MAC`,
//! `VIRTIO_NET_F_STATUS`); several queue pairs (`VIRTIO_NET_F_MQ`), promiscuous mode
//! (`VIRTIO_NET_F_CTRL_RX`) and the MAC address (`VIRTIO_NET_F_CTRL_MAC_ADDR`) go through
//! the control queue. Link changes arrive on the configuration MSI-X vector. Statistics are
//! the software per-queue counters.
//!
//! A device that bypasses the IOMMU (legacy interface, or modern without
//! `VIRTIO_F_ACCESS_PLATFORM`) needs IOVA = physical address: the driver declares legacy
//! and transitional devices to the EAL ([`EAL_NEEDS`]), which then chooses it by itself;
//! for a modern one without ACCESS_PLATFORM probing fails and says to pass `--iova-mode pa`.
//!
//! All queue state lives in shared memory (the port slot's driver words and the queue
//! memzones), so a secondary can poll the queues the application gives it; a secondary
//! only rings doorbells, and never resets or configures the device (not even at exit).

mod control;
mod ctrl;
mod data;
mod intr;
pub mod net;
pub mod pci;
mod rxq;
mod txq;
pub mod vring;

use crate::net::common::pci_pmd::PciDriver;
use eal::bus::BusDevice;
use ethdev::{DataPath, EthError, PortCtx, PortSlot, Probed};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The driver's name.
pub const NAME: &str = "net_virtio";
/// PCI ids taken: the transitional (or legacy) and the modern network device.
pub const PCI_IDS: &[(u16, u16)] = &[(0x1af4, 0x1000), (0x1af4, 0x1041)];
/// True for legacy and transitional virtio devices (1af4:1000-103f): they never offer
/// `VIRTIO_F_ACCESS_PLATFORM`, so their DMA bypasses the IOMMU.
pub fn bypasses_iommu(vendor: u16, device: u16) -> bool {
    vendor == 0x1af4 && (0x1000..=0x103f).contains(&device)
}

/// What this driver needs of the EAL's bus (see `drivers::declare_to_eal`).
pub const EAL_NEEDS: eal::bus::PciDriverNeeds = eal::bus::PciDriverNeeds { driver: NAME, bypasses_iommu };

/// Largest MTU: one receive buffer holds a whole frame (no mergeable buffers).
pub const MAX_MTU: u16 = 1500;
/// Most queue pairs this driver drives.
pub const MAX_PAIRS: usize = 8;

/// Driver words of the port slot.
pub(crate) mod w {
    /// Transport code ([`super::pci::KIND_MODERN`] or [`super::pci::KIND_LEGACY`]).
    pub const KIND: usize = 0;
    /// Negotiated features.
    pub const FEATURES: usize = 1;
    /// virtio-net header length.
    pub const HDR_LEN: usize = 2;
    /// Notification BAR (modern).
    pub const NOTIFY_BAR: usize = 3;
    /// Offset of the notification structure in its BAR.
    pub const NOTIFY_BASE: usize = 4;
    /// `notify_off_multiplier`.
    pub const NOTIFY_MULT: usize = 5;
    /// 1 when link interrupts are wanted.
    pub const LSC: usize = 6;
    /// Queue pairs the device offers.
    pub const MAX_PAIRS: usize = 7;
    /// Queue pairs in use.
    pub const PAIRS: usize = 8;
    /// Largest RX queue size.
    pub const RX_MAX: usize = 9;
    /// Largest TX queue size.
    pub const TX_MAX: usize = 10;
    /// Control queue memzone and size (`queue_mem::pack`).
    pub const CTRLQ: usize = 11;
    /// RX queue `q` memzone and size (`queue_mem::pack`), from this word.
    pub const RXQ: usize = 16;
    /// TX queue `q` memzone and size, from this word.
    pub const TXQ: usize = RXQ + super::MAX_PAIRS;
    const _: () = assert!(TXQ + super::MAX_PAIRS <= ethdev::port_table::PRIVATE_WORDS);
}

/// RX queue `q` of the port in `slot`, if set up.
#[inline]
pub(crate) fn rx_ring(slot: &PortSlot, q: usize) -> Option<vring::Vring> {
    (q < MAX_PAIRS).then(|| vring::Vring::unpack(slot.private[w::RXQ + q].load(Ordering::Acquire))).flatten()
}

/// TX queue `q` of the port in `slot`, if set up.
#[inline]
pub(crate) fn tx_ring(slot: &PortSlot, q: usize) -> Option<vring::Vring> {
    (q < MAX_PAIRS).then(|| vring::Vring::unpack(slot.private[w::TXQ + q].load(Ordering::Acquire))).flatten()
}

fn device_err(ctx: &PortCtx, dev: &BusDevice, msg: impl std::fmt::Display) -> EthError {
    EthError::Device { port: ctx.port, msg: format!("{}: {msg}", dev.addr()) }
}

/// The virtio-net PMD (registered as a [`PciPmd`](crate::net::common::pci_pmd::PciPmd)).
pub struct VirtioPmd;

impl PciDriver for VirtioPmd {
    const NAME: &'static str = NAME;
    const PCI_IDS: &'static [(u16, u16)] = PCI_IDS;

    fn probe(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Probed, EthError> {
        let control = control::VirtioControl::probe(ctx, dev)?;
        let data = Arc::new(data::VirtioData::new(ctx, control.notifier()));
        Ok(Probed { control: Box::new(control), data })
    }

    fn attach(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Arc<dyn DataPath>, EthError> {
        let p = &ctx.slot.private;
        let get = |i: usize| p[i].load(Ordering::Acquire);
        let kick = pci::notifier(dev, get(w::KIND), get(w::NOTIFY_BAR), get(w::NOTIFY_BASE), get(w::NOTIFY_MULT))
            .map_err(|e| device_err(ctx, dev, e))?;
        Ok(Arc::new(data::VirtioData::new(ctx, kick)))
    }
}

#[cfg(test)]
mod tests {
    use super::bypasses_iommu;

    #[test]
    fn legacy_and_transitional_virtio_bypass_the_iommu() {
        assert!(bypasses_iommu(0x1af4, 0x1000), "transitional virtio-net");
        assert!(bypasses_iommu(0x1af4, 0x103f));
        assert!(!bypasses_iommu(0x1af4, 0x1041), "modern virtio-net may use the IOMMU");
        assert!(!bypasses_iommu(0x8086, 0x1000));
    }

    #[test]
    fn the_declaration_reaches_the_bus() {
        crate::declare_to_eal();
        assert_eq!(eal::bus::iommu_bypassed_by(0x1af4, 0x1000), Some(super::NAME));
        assert_eq!(eal::bus::iommu_bypassed_by(0x1af4, 0x1041), None);
    }
}
