//! `net_virtio`: the virtio-net PMD for PCI devices, modern (1af4:1041, virtio 1.x
//! structures in memory BARs) and legacy or transitional (1af4:1000; a transitional device
//! is driven through its modern interface, a legacy-only one through its I/O-port BAR0).
//!
//! Split virtqueues in DMA memory (one memzone per queue, [`vring`]), one descriptor per
//! segment with the virtio-net header in the first mbuf's headroom. TCP/UDP checksum
//! offload on both sides and TSO on transmit (`VIRTIO_NET_F_CSUM`, `GUEST_CSUM`,
//! `HOST_TSO4/6`, [`offload`]), large TCP segments on receive (`GUEST_TSO4/6` over
//! mergeable buffers, `RxOffloads::TCP_LRO`, sent on whole by another virtio port: [`gso`])
//! and the VLAN filter (`VIRTIO_NET_F_CTRL_VLAN`) are used when the port is configured
//! with them. The MAC address and
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
//! All queue state lives in shared memory (the driver's state in the port slot,
//! `VirtioState`, and the queue memzones), so a secondary can poll the queues the application gives it; a secondary
//! only rings doorbells, and never resets or configures the device (not even at exit).

mod control;
mod ctrl;
mod data;
pub mod error;
pub mod gso;
mod intr;
mod mac_table;
pub mod net;
pub mod offload;
pub mod pci;
mod rx_merge;
mod rxq;
mod txq;
pub mod vring;

use crate::net::common::pci_pmd::PciDriver;
use crate::net::common::queue_mem::QueueSlot;
use crate::net::common::rx_intr::WithRxIntr;
use eal::bus::BusDevice;
use ethdev::{DataPath, EthError, PortCtx, PortSlot, Probed};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
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

/// Largest MTU without mergeable buffers: one receive buffer holds a whole frame.
pub const MAX_MTU: u16 = 1500;
/// Most queue pairs this driver drives.
pub const MAX_PAIRS: usize = 8;

ethdev::shared_state! {
    /// The virtio driver's shared state in the port slot.
    pub(crate) struct VirtioState {
        /// Transport code ([`pci::KIND_MODERN`] or [`pci::KIND_LEGACY`]).
        pub kind: AtomicU64,
        /// Negotiated features.
        pub features: AtomicU64,
        /// Notification BAR (modern).
        pub notify_bar: AtomicU64,
        /// Offset of the notification structure in its BAR.
        pub notify_base: AtomicU64,
        /// `notify_off_multiplier`.
        pub notify_mult: AtomicU64,
        /// virtio-net header length.
        pub hdr_len: AtomicU32,
        /// 1 when link interrupts are wanted.
        pub lsc: AtomicU32,
        /// Queue pairs the device offers (at most [`MAX_PAIRS`]).
        pub max_pairs: AtomicU32,
        /// Queue pairs in use.
        pub pairs: AtomicU32,
        /// Largest RX queue size.
        pub rx_max: AtomicU32,
        /// Largest MTU: the device's (`VIRTIO_NET_F_MTU`), else [`net::MRG_MAX_MTU`] with
        /// mergeable buffers, else [`MAX_MTU`].
        pub max_mtu: AtomicU32,
        /// Largest TX queue size.
        pub tx_max: AtomicU32,
        /// The control queue (0: not set up).
        pub ctrlq: QueueSlot,
        /// RX queue `q` at index `q`.
        pub rxq: [QueueSlot; MAX_PAIRS],
        /// TX queue `q` at index `q`.
        pub txq: [QueueSlot; MAX_PAIRS],
        /// RX queues `0..rx_vectors` have an MSI-X vector of their own (`1 + q`) armed for
        /// RX interrupts (0: no RX interrupts).
        pub rx_vectors: AtomicU32,
    }
}

/// The virtio state of the port in `slot`.
#[inline(always)]
pub(crate) fn state(slot: &PortSlot) -> &VirtioState {
    slot.driver_state()
}

/// RX queue `q` of the port in `slot`, if set up.
#[inline]
pub(crate) fn rx_ring(slot: &PortSlot, q: usize) -> Option<vring::Vring> {
    state(slot).rxq.get(q)?.get()
}

/// TX queue `q` of the port in `slot`, if set up.
#[inline]
pub(crate) fn tx_ring(slot: &PortSlot, q: usize) -> Option<vring::Vring> {
    state(slot).txq.get(q)?.get()
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
        let (vendor, device) = dev.ids();
        if bypasses_iommu(vendor, device) && crate::net::common::iova::pa_mode(ctx.mem).is_none() {
            // The bus chose IOVA = VA: this device would DMA to virtual addresses as if they
            // were physical ones. Refuse rather than corrupt memory.
            return Err(device_err(
                ctx,
                dev,
                "this legacy/transitional virtio device bypasses the IOMMU and needs IOVA = physical address, \
                 but the group runs IOVA = VA: call drivers::declare_to_eal() before Eal::init (the samples' \
                 start-up helper does), or start with --iova-mode pa",
            ));
        }
        let control = control::VirtioControl::probe(ctx, dev)?;
        let data = data::VirtioData::new(ctx, control.notifier());
        Ok(Probed {
            control: Box::new(control),
            data: Arc::new(WithRxIntr::new(data, ctx.port, dev.clone(), intr::VirtioRxIntr(ctx.slot))),
        })
    }

    fn attach(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Arc<dyn DataPath>, EthError> {
        let st = state(ctx.slot);
        let get = |v: &AtomicU64| v.load(Ordering::Acquire);
        let kick = pci::notifier(dev, get(&st.kind), get(&st.notify_bar), get(&st.notify_base), get(&st.notify_mult))
            .map_err(|e| device_err(ctx, dev, e))?;
        let data = data::VirtioData::new(ctx, kick);
        Ok(Arc::new(WithRxIntr::new(data, ctx.port, dev.clone(), intr::VirtioRxIntr(ctx.slot))))
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
