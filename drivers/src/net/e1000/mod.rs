//! `net_e1000_em`: the e1000-family PMD for the 82540EM (8086:100e, INTx) and the 82574L
//! (8086:10d3, MSI-X), as QEMU's `e1000` and `e1000e` models emulate them.
//!
//! One RX and one TX queue of legacy descriptors in DMA memory (a memzone per queue) on the
//! 82540EM; on the 82574L two of each, RX on extended descriptors with RSS ([`rss`]); CRC
//! stripping, 2 KiB receive buffers, promiscuous mode (RCTL.UPE|MPE), MTU up to
//! [`MAX_MTU`] in one buffer (up to [`Model::max_mtu`] with scattered receive), statistics folded by the primary from the clear-on-read registers, and
//! link-status interrupts. All queue state lives in shared memory (the driver's state in the
//! port slot, `EmState`, and the queue memzones), so a secondary can poll a queue the
//! application hands it; a secondary only ever writes the tail registers.

mod control;
mod data;
pub mod desc;
pub mod ext_desc;
mod init;
mod intr;
pub mod regs;
mod ring;
pub mod rss;
mod rxq;
mod stats;
mod tx_ctx;
mod txq;

use crate::net::common::hw_stats::HwTotals;
use crate::net::common::pci_pmd::{bar0, device_err, PciDriver};
use crate::net::common::queue_mem::QueueSlot;
use crate::net::common::rx_intr::WithRxIntr;
use crate::net::intel::data::QueueMap;
use eal::bus::BusDevice;
use ethdev::{DataPath, EthError, PortCtx, PortSlot, Probed};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// The driver's name.
pub const NAME: &str = "net_e1000_em";
/// PCI ids taken: 82540EM and 82574L.
pub const PCI_IDS: &[(u16, u16)] = &[(0x8086, 0x100e), (0x8086, 0x10d3)];
/// Largest MTU without scattered receive: a frame (MTU + 18) must fit one 2 KiB receive
/// buffer.
pub const MAX_MTU: u16 = rxq::RX_BUF - 18;

/// Queues per direction of the 82574L (the 82540EM has one).
pub const MAX_QUEUES: usize = 2;

/// The e1000 PMD (registered as a [`PciPmd`](crate::net::common::pci_pmd::PciPmd)).
pub struct EmPmd;

/// The device model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// 82540EM: INTx, EERD done at bit 4.
    E82540,
    /// 82574L: MSI-X, TARC0 queue enable, EERD done at bit 1.
    E82574,
}

impl Model {
    /// The model of PCI device id `id`.
    pub fn from_device_id(id: u16) -> Option<Model> {
        match id {
            0x100e => Some(Model::E82540),
            0x10d3 => Some(Model::E82574),
            _ => None,
        }
    }
    /// The longest frame the model receives with RCTL.LPE (FCS and one VLAN tag included,
    /// as DPDK counts `max_rx_pktlen`): 16128 bytes on the 82540EM (DPDK em's
    /// `MAX_JUMBO_FRAME_SIZE`, 0x3F00; QEMU's model takes up to 16380), 9234 on the 82574L
    /// (its 9 KiB jumbo limit, 0x2412 in DPDK em).
    pub fn max_rx_pktlen(self) -> u32 {
        match self {
            Model::E82540 => 0x3F00,
            Model::E82574 => 0x2412,
        }
    }

    /// The receive address entries: 16 on the 8254x (RAL/RAH 0-15, SDM 13.4.x; QEMU's
    /// model matches all 16), 15 on the 82574L (DPDK em's and Linux e1000e's
    /// `E1000_RAR_ENTRIES`, which keeps the last for the locally administered address).
    pub fn rar_layout(self) -> crate::net::intel::mac_filter::RarLayout {
        let entries = match self {
            Model::E82540 => 16,
            Model::E82574 => 15,
        };
        crate::net::intel::mac_filter::RarLayout { entries, ral: crate::net::intel::mac_filter::ral_e1000 }
    }

    /// The largest MTU: [`Self::max_rx_pktlen`] less the Ethernet header, one VLAN tag and
    /// the FCS (frames over one 2 KiB buffer need `RxOffloads::SCATTER`).
    pub fn max_mtu(self) -> u16 {
        (self.max_rx_pktlen() - 22) as u16
    }

    /// Queues per direction: 1 on the 82540EM, [`MAX_QUEUES`] on the 82574L.
    pub fn queues(self) -> usize {
        match self {
            Model::E82540 => 1,
            Model::E82574 => MAX_QUEUES,
        }
    }

    fn code(self) -> u32 {
        match self {
            Model::E82540 => 1,
            Model::E82574 => 2,
        }
    }
}

ethdev::shared_state! {
    /// The e1000 driver's shared state in the port slot.
    pub(crate) struct EmState {
        /// The model code ([`Model::code`]).
        pub model: AtomicU32,
        /// 1 when link-status interrupts are wanted.
        pub lsc: AtomicU32,
        /// RX queue `q` at index `q` (0: not set up).
        pub rxq: [QueueSlot; MAX_QUEUES],
        /// TX queue `q` at index `q`, likewise.
        pub txq: [QueueSlot; MAX_QUEUES],
        /// Device address of RX ring `q`.
        pub rx_iova: [AtomicU64; MAX_QUEUES],
        /// Device address of TX ring `q`.
        pub tx_iova: [AtomicU64; MAX_QUEUES],
        /// Totals of the statistics registers.
        pub stats: HwTotals,
    }
}

/// The e1000 state of the port in `slot`.
#[inline(always)]
pub(crate) fn state(slot: &PortSlot) -> &EmState {
    slot.driver_state()
}

/// RX queue `q`'s memory of the port in `slot`, if set up.
pub(crate) fn rx_mem(slot: &PortSlot, q: usize) -> Option<ring::QueueMem> {
    data::EmQueues::<desc::Ring>::rx_mem(slot, q)
}

/// TX queue `q`'s memory of the port in `slot`, if set up.
pub(crate) fn tx_mem(slot: &PortSlot, q: usize) -> Option<ring::QueueMem> {
    data::EmQueues::<desc::Ring>::tx_mem(slot, q)
}

/// The data path of this process, with the RX interrupts of its queues (see [`intr`]):
/// legacy descriptors on the 82540EM, extended RX descriptors on the 82574L.
fn data_path(ctx: &PortCtx, dev: &Arc<BusDevice>, bar: Arc<eal::vfio::MmioRegion>) -> Arc<dyn DataPath> {
    let code = state(ctx.slot).model.load(Ordering::Relaxed);
    let model = if code == Model::E82574.code() { Model::E82574 } else { Model::E82540 };
    let hw = intr::EmRxIntr { bar: bar.clone(), model };
    match model {
        Model::E82540 => {
            let data = data::EmData::new(ctx.port, ctx.slot, ctx.mem, bar);
            Arc::new(WithRxIntr::new(data, ctx.port, dev.clone(), hw))
        }
        Model::E82574 => {
            let data = data::EmExtData::new(ctx.port, ctx.slot, ctx.mem, bar);
            Arc::new(WithRxIntr::new(data, ctx.port, dev.clone(), hw))
        }
    }
}

impl PciDriver for EmPmd {
    const NAME: &'static str = NAME;
    const PCI_IDS: &'static [(u16, u16)] = PCI_IDS;

    fn probe(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Probed, EthError> {
        let model = Model::from_device_id(dev.ids().1).ok_or_else(|| {
            device_err(ctx, format!("{}: device id {:04x} is not an 82540EM or 82574L", dev.addr(), dev.ids().1))
        })?;
        let bar = bar0(ctx, dev)?;
        state(ctx.slot).model.store(model.code(), Ordering::Relaxed);
        state(ctx.slot).lsc.store(1, Ordering::Relaxed);
        let control = control::EmControl::probe(ctx, dev, bar.clone(), model)?;
        tracing::info!(port = ctx.port, addr = %dev.addr(), ?model, mac = ?ctx.slot.mac(), "e1000 probed");
        Ok(Probed { control: Box::new(control), data: data_path(ctx, dev, bar) })
    }

    fn attach(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Arc<dyn DataPath>, EthError> {
        Ok(data_path(ctx, dev, bar0(ctx, dev)?))
    }
}
