//! What every virtual port (no device behind it) does the same way: its limits, a link that
//! is up exactly while the port is started, and promiscuous/MAC/MTU changes that need no
//! device. A virtual PMD implements [`VirtualQueues`] and gets [`Control`] from
//! [`VirtualControl`].

use eal::PktMbufPool;
use ethdev::{capa, Control, DescLimits, DevInfo, EthError, Link, PortConf, PortCtx, PortState, MAX_QUEUES};

/// Speed a virtual link reports.
pub const VIRTUAL_SPEED_MBPS: u32 = 10_000;

/// The queue operations that differ between virtual PMDs.
pub trait VirtualQueues: Send + Sync {
    /// Sets up RX queue `q`.
    fn rx_queue_setup(&self, ctx: &PortCtx, q: u16, pool: PktMbufPool) -> Result<(), EthError>;
    /// Sets up TX queue `q`.
    fn tx_queue_setup(&self, ctx: &PortCtx, q: u16) -> Result<(), EthError>;
    /// Releases what the port holds (e.g. mbufs waiting in rings).
    fn close(&self, _ctx: &PortCtx) {}
}

/// [`Control`] for a virtual port whose queues `Q` handles.
pub struct VirtualControl<Q> {
    /// The port.
    pub ctx: PortCtx,
    /// Driver name.
    pub driver_name: &'static str,
    /// Queue operations.
    pub queues: Q,
}

impl<Q: VirtualQueues> Control for VirtualControl<Q> {
    fn info(&self) -> DevInfo {
        let lim = DescLimits { min: 1, max: u16::MAX, align: 1 };
        DevInfo {
            driver_name: self.driver_name,
            max_rx_queues: MAX_QUEUES as u16,
            max_tx_queues: MAX_QUEUES as u16,
            rx_desc_lim: lim,
            tx_desc_lim: lim,
            max_mtu: 9000,
            capabilities: capa::PROMISC | capa::MTU,
            reta_size: 0,
            rss_hash_types: 0,
            rx_offload_capa: ethdev::RxOffloads::empty(),
            tx_offload_capa: ethdev::TxOffloads::MULTI_SEGS,
            tx_max_segs: u16::MAX,
            // No filter: the lists are kept (see `ethdev::mac_filters`) and nothing changes.
            max_mac_addrs: 1 + ethdev::mac_filters::MAX_EXTRA_MACS as u16,
            max_mc_addrs: ethdev::mac_filters::MAX_MC_ADDRS as u16,
        }
    }
    fn configure(&self, _conf: &PortConf) -> Result<(), EthError> {
        Ok(())
    }
    fn rx_queue_setup(&self, q: u16, _nb_desc: u16, pool: PktMbufPool) -> Result<(), EthError> {
        self.queues.rx_queue_setup(&self.ctx, q, pool)
    }
    fn tx_queue_setup(&self, q: u16, _nb_desc: u16) -> Result<(), EthError> {
        self.queues.tx_queue_setup(&self.ctx, q)
    }
    fn start(&self) -> Result<(), EthError> {
        self.ctx.report_link(Link::up(VIRTUAL_SPEED_MBPS));
        Ok(())
    }
    fn stop(&self) -> Result<(), EthError> {
        self.ctx.report_link(Link::down());
        Ok(())
    }
    fn close(&self) {
        self.queues.close(&self.ctx)
    }
    fn link_update(&self) -> Link {
        if self.ctx.slot.state() == PortState::Started {
            Link::up(VIRTUAL_SPEED_MBPS)
        } else {
            Link::down()
        }
    }
    fn promiscuous(&self, _on: bool) -> Result<(), EthError> {
        Ok(())
    }
    /// A virtual port receives every frame: the lists are only kept.
    fn mac_filters(&self, _lists: &ethdev::MacLists) -> Result<(), EthError> {
        Ok(())
    }
    fn mac_set(&self, _mac: [u8; 6]) -> Result<(), EthError> {
        Ok(())
    }
    fn mtu_set(&self, _mtu: u16) -> Result<(), EthError> {
        Ok(())
    }
}
