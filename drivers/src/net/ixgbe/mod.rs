//! `net_ixgbe`: the PMD of the Intel 82599 10 GbE family (X520/X540/X550 adapters use it
//! too), written from the 82599 datasheet (331520). QEMU has no 82599 model: the driver is
//! verified against a register-level model of the 82599 in the host tests
//! (`model`, test builds only); nothing here has run on hardware yet.
//!
//! Up to 16 RX and 16 TX queues with RSS (MRQC, the 128-entry RETA, the 40-byte RSSRK
//! key), advanced descriptors through the code the igb PMD shares
//! (`crate::net::intel::adv`), 2 KiB receive buffers, CRC stripping, promiscuous mode
//! (FCTRL.UPE|MPE), MTU up to [`MAX_MTU`], TX checksum/TSO/VLAN insertion through
//! context descriptors and RX checksum flags and VLAN stripping ([`offload`]), statistics folded by the primary from the
//! clear-on-read registers, and the link-status interrupt on its own MSI-X vector. All
//! queue state lives in shared memory (the driver's state in the port slot, `IxgbeState`,
//! and one memzone per queue), so a secondary can poll a queue the application hands it; a secondary only ever
//! writes tail registers and never reads an interrupt-cause register.
//!
//! # Devices
//! Taken (see [`PCI_IDS`]): every 82599 variant (SFP+, KX4, KX4 mezzanine, KR, combo
//! backplane, CX4, XAUI LOM, T3 LOM, FCoE SKUs, SF2/QSFP, 82599EN, LS), whose bring-up is
//! the datasheet's; and the X540-T/T1 and X550-T/T1, whose MAC registers used here
//! (reset, EEC/RDRXCTL waits, queues, RSS, statistics, EICR/IVAR) are the 82599's and whose
//! link is run by the on-chip copper PHY's own firmware, so the driver only reads LINKS.
//! Not taken: the 82598 (other queue, IVAR and SRRCTL layouts, no DMAIDONE), the virtual
//! functions (another register set), and the X550EM/X552/X553 SoC parts (NVM control at
//! another offset, link through the IOSF sideband or firmware commands).

mod addr_filter;
mod control;
mod data;
pub mod hw;
mod intr;
pub mod offload;
mod queues;
pub mod regs;
mod rss;
mod stats;

#[cfg(test)]
mod model;

pub use control::IxgbeControl;
pub use data::IxgbeData;

use crate::net::common::hw_stats::HwTotals;
use crate::net::common::pci_pmd::{bar0, device_err, PciDriver};
use crate::net::common::queue_mem::QueueSlot;
use crate::net::common::rx_intr::WithRxIntr;
use eal::bus::{BusDevice, IrqHandler, Vector};
use eal::vfio::IrqIndex;
use ethdev::{DataPath, EthError, PortCtx, PortSlot, Probed};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

/// The driver's name.
pub const NAME: &str = "net_ixgbe";

/// PCI ids taken (vendor 8086).
pub const PCI_IDS: &[(u16, u16)] = &[
    (0x8086, 0x10F7), // 82599 KX4
    (0x8086, 0x1514), // 82599 KX4 mezzanine
    (0x8086, 0x1517), // 82599 KR
    (0x8086, 0x10F8), // 82599 combo backplane
    (0x8086, 0x10F9), // 82599 CX4
    (0x8086, 0x10FB), // 82599 SFP+ (X520)
    (0x8086, 0x152A), // 82599 backplane FCoE
    (0x8086, 0x1529), // 82599 SFP+ FCoE
    (0x8086, 0x1507), // 82599 SFP+ EM
    (0x8086, 0x154D), // 82599 SFP+ SF2
    (0x8086, 0x154A), // 82599 SFP+ SF QP
    (0x8086, 0x1558), // 82599 QSFP+ SF QP
    (0x8086, 0x1557), // 82599EN SFP+
    (0x8086, 0x10FC), // 82599 XAUI LOM
    (0x8086, 0x151C), // 82599 T3 LOM
    (0x8086, 0x154F), // 82599 LS
    (0x8086, 0x1528), // X540-T
    (0x8086, 0x1560), // X540-T1
    (0x8086, 0x1563), // X550-T
    (0x8086, 0x15D1), // X550-T1
];

/// Largest MTU: MAXFRS.MFS takes frames up to 15872 bytes with the CRC (82599 datasheet
/// 8.2.3.22.13; DPDK ixgbe's `max_rx_pktlen`), less the Ethernet header, one VLAN tag and
/// the CRC. Frames over one 2 KiB receive buffer need `RxOffloads::SCATTER`.
pub const MAX_MTU: u16 = 15872 - 22;

/// The MAC generation of a device id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacType {
    /// 82599 (X520 and the other 82599 adapters).
    M82599,
    /// X540 (copper PHY on chip).
    X540,
    /// X550 (copper PHY on chip).
    X550,
}

impl MacType {
    /// The MAC type of PCI device id `id`, if this driver takes it.
    pub fn from_device_id(id: u16) -> Option<MacType> {
        if !PCI_IDS.iter().any(|&(_, d)| d == id) {
            return None;
        }
        Some(match id {
            0x1528 | 0x1560 => MacType::X540,
            0x1563 | 0x15D1 => MacType::X550,
            _ => MacType::M82599,
        })
    }

    /// The value kept in the slot.
    pub fn code(self) -> u64 {
        match self {
            MacType::M82599 => 1,
            MacType::X540 => 2,
            MacType::X550 => 3,
        }
    }

    /// True when the driver starts the link through AUTOC (the 82599); the X540/X550 copper
    /// PHYs negotiate on their own.
    pub fn autoc_link(self) -> bool {
        self == MacType::M82599
    }
}

ethdev::shared_state! {
    /// The ixgbe driver's shared state in the port slot.
    pub struct IxgbeState {
        /// The MAC type code ([`MacType::code`]).
        pub mac_type: AtomicU64,
        /// 1 when link-status interrupts are wanted.
        pub lsc: AtomicU32,
        /// RX queue `q` at index `q` (0: not set up).
        pub rxq: [QueueSlot; ethdev::MAX_QUEUES],
        /// TX queue `q` at index `q`.
        pub txq: [QueueSlot; ethdev::MAX_QUEUES],
        /// Totals of the statistics registers.
        pub stats: HwTotals,
    }
}

/// The ixgbe state of the port in `slot`.
#[inline(always)]
pub fn state(slot: &PortSlot) -> &IxgbeState {
    slot.driver_state()
}

/// The ixgbe PMD (registered as a [`PciPmd`](crate::net::common::pci_pmd::PciPmd)).
pub struct IxgbePmd;

impl PciDriver for IxgbePmd {
    const NAME: &'static str = NAME;
    const PCI_IDS: &'static [(u16, u16)] = PCI_IDS;

    fn probe(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Probed, EthError> {
        let mac_type = MacType::from_device_id(dev.ids().1).ok_or_else(|| {
            device_err(ctx, format!("{}: device id {:04x} is not an 82599/X540/X550", dev.addr(), dev.ids().1))
        })?;
        let bar = bar0(ctx, dev)?;
        let report_ctx = ctx.clone();
        let report: control::LinkReport = Arc::new(move |l| report_ctx.report_link(l));
        let control = IxgbeControl::probe(
            ctx.port,
            dev.addr().to_string(),
            ctx.slot,
            ctx.mem,
            bar.clone(),
            mac_type,
            report.clone(),
        )?;
        // The link interrupt: MSI-X vector 0 (intr::OTHER_VECTOR), handled in the primary.
        let count: Arc<AtomicU64> = control.lsc_counter();
        let (slot, hbar) = (ctx.slot, bar.clone());
        let handler: IrqHandler = Box::new(move |_n| control::on_other_interrupt(&*hbar, slot, &count, &report));
        // Then one polled vector per RX queue, as far as the device has vectors.
        let count = dev.vfio().irq_info(IrqIndex::Msix).map(|i| i.count as usize).unwrap_or(1);
        let rx = intr::RX_VECTORS.min(usize::from(control::MAX_QUEUES)).min(count.saturating_sub(1));
        let mut vectors = vec![Vector::Handler(handler)];
        vectors.extend((0..rx).map(|_| Vector::Polled));
        let irqs = dev
            .arm_irq_vectors(IrqIndex::Msix, vectors)
            .map_err(|e| device_err(ctx, format!("{}: arming the MSI-X link vector: {e}", dev.addr())))?;
        control.set_irqs(irqs);
        tracing::info!(port = ctx.port, addr = %dev.addr(), ?mac_type, mac = ?ctx.slot.mac(), "ixgbe probed");
        Ok(Probed { control: Box::new(control), data: data_path(ctx, dev, bar) })
    }

    fn attach(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Arc<dyn DataPath>, EthError> {
        Ok(data_path(ctx, dev, bar0(ctx, dev)?))
    }
}

/// The data path of this process, with RX interrupts on the queue vectors.
fn data_path(ctx: &PortCtx, dev: &Arc<BusDevice>, bar: Arc<eal::vfio::MmioRegion>) -> Arc<dyn DataPath> {
    let data = IxgbeData::new(ctx.port, ctx.slot, ctx.mem, bar.clone());
    Arc::new(WithRxIntr::new(data, ctx.port, dev.clone(), intr::IxgbeRxIntr(bar)))
}
