//! `net_igb`: the PMD for the Intel 82576 (8086:10c9), as QEMU's `igb` model emulates it.
//!
//! Up to [`MAX_QUEUES`] RX and TX queues of advanced descriptors (the shared
//! [`crate::net::intel::adv`] code, one memzone per queue), RSS over the RX queues (key,
//! hash types and the 128-entry redirection table), CRC stripping, 2 KiB receive buffers,
//! promiscuous mode, statistics folded by the primary from the clear-on-read registers,
//! link-status interrupts on their own MSI-X vector (GPIE in MSI-X mode, the "other"
//! causes routed by IVAR_MISC), and RX interrupts per queue on vectors of their own, armed by
//! whichever process polls the queue. All queue state lives in shared memory (the driver's state
//! in the port slot, `IgbState`, and the queue memzones), so a secondary can poll the queues the
//! application gives it; a secondary only ever writes the tail registers (RDT/TDT) of its
//! queues and never reads interrupt causes.

mod control;
mod data;
mod init;
mod intr;
pub mod regs;
pub mod rss;
mod stats;

use crate::net::common::hw_stats::HwTotals;
use crate::net::common::pci_pmd::{bar0, PciDriver};
use crate::net::common::queue_mem::QueueSlot;
use crate::net::common::rx_intr::WithRxIntr;
use crate::net::intel::adv::QueueMem;
use crate::net::intel::data::QueueMap;
use eal::bus::BusDevice;
use ethdev::{DataPath, EthError, PortCtx, PortSlot, Probed};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The driver's name.
pub const NAME: &str = "net_igb";
/// PCI ids taken: the 82576 (copper), QEMU's `igb`.
pub const PCI_IDS: &[(u16, u16)] = &[(0x8086, 0x10c9)];
/// RX/TX queues per direction (the 82576 has 16 in VMDq mode, 8 for RSS).
pub const MAX_QUEUES: usize = 8;
/// Receive buffer size (SRRCTL.BSIZEPKT) every RX mbuf must hold after the headroom.
pub const RX_BUF: u16 = 2048;
/// Largest MTU: RLPML, the longest frame the 82576 takes with RCTL.LPE, is a 14-bit field
/// (16383 bytes with the FCS, DPDK igb's `max_rx_pktlen`), less the Ethernet header, one
/// VLAN tag and the FCS. Frames over one [`RX_BUF`] buffer need `RxOffloads::SCATTER`.
pub const MAX_MTU: u16 = 0x3FFF - 22;

/// The igb PMD (registered as a [`PciPmd`](crate::net::common::pci_pmd::PciPmd)).
pub struct IgbPmd;

ethdev::shared_state! {
    /// The igb driver's shared state in the port slot.
    pub(crate) struct IgbState {
        /// 1 when link-status interrupts are wanted.
        pub lsc: AtomicU32,
        /// RX queue `q` at index `q` (0: not set up).
        pub rxq: [QueueSlot; MAX_QUEUES],
        /// TX queue `q` at index `q`.
        pub txq: [QueueSlot; MAX_QUEUES],
        /// Totals of the statistics registers.
        pub stats: HwTotals,
    }
}

/// The igb state of the port in `slot`.
#[inline(always)]
pub(crate) fn state(slot: &PortSlot) -> &IgbState {
    slot.driver_state()
}

/// RX queue `q` of the port in `slot`, if set up.
#[inline]
pub(crate) fn rx_mem(slot: &PortSlot, q: usize) -> Option<QueueMem> {
    data::IgbQueues::rx_mem(slot, q)
}

/// TX queue `q` of the port in `slot`, if set up.
#[inline]
pub(crate) fn tx_mem(slot: &PortSlot, q: usize) -> Option<QueueMem> {
    data::IgbQueues::tx_mem(slot, q)
}

/// The data path of this process, with RX interrupts on the queue vectors.
fn data_path(ctx: &PortCtx, dev: &Arc<BusDevice>, bar: Arc<eal::vfio::MmioRegion>) -> Arc<dyn DataPath> {
    let data = data::IgbData::new(ctx.port, ctx.slot, ctx.mem, bar.clone());
    Arc::new(WithRxIntr::new(data, ctx.port, dev.clone(), intr::IgbRxIntr(bar)))
}

impl PciDriver for IgbPmd {
    const NAME: &'static str = NAME;
    const PCI_IDS: &'static [(u16, u16)] = PCI_IDS;

    fn probe(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Probed, EthError> {
        let bar = bar0(ctx, dev)?;
        state(ctx.slot).lsc.store(1, Ordering::Relaxed);
        let control = control::IgbControl::probe(ctx, dev, bar.clone())?;
        tracing::info!(port = ctx.port, addr = %dev.addr(), mac = ?ctx.slot.mac(), "igb probed");
        Ok(Probed { control: Box::new(control), data: data_path(ctx, dev, bar) })
    }

    fn attach(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Arc<dyn DataPath>, EthError> {
        Ok(data_path(ctx, dev, bar0(ctx, dev)?))
    }
}
