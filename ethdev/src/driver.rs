//! What a poll-mode driver implements. A PMD is probed in the primary (it gets the control
//! operations and the data path) and attached in each secondary (data path only). Its
//! shared state lives in the port's slot; its process-local state (BAR mappings, fds) in
//! the objects it returns.

use crate::devargs::VdevArgs;
use crate::error::EthError;
use crate::events::EventHub;
use crate::link::Link;
use crate::offload::{RxOffloads, TxOffloads};
use crate::port_table::PortSlot;
use crate::rss::RssConf;
use crate::rx_intr::{RxIntrSource, RX_INTR_UNSUPPORTED};
use eal::bus::BusDevice;
use eal::{Mbuf, Memory, PktMbufPool};
use std::sync::Arc;

/// Limits on a queue's descriptor count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescLimits {
    /// Smallest count.
    pub min: u16,
    /// Largest count.
    pub max: u16,
    /// The count must be a multiple of this.
    pub align: u16,
}

/// Capability bits of [`DevInfo::capabilities`].
pub mod capa {
    /// Receive-side scaling over several queues.
    pub const RSS: u32 = 1;
    /// Link-status-change interrupts.
    pub const LSC: u32 = 2;
    /// Promiscuous mode.
    pub const PROMISC: u32 = 4;
    /// MTU can be changed.
    pub const MTU: u32 = 8;
    /// Per-queue RX interrupts ([`Port::rx_intr_enable`](crate::Port::rx_intr_enable),
    /// [`RxInterruptWaiter`](crate::RxInterruptWaiter)), in whichever process polls the queue.
    pub const RX_INTR: u32 = 16;
}

/// What a device can do, as `rte_eth_dev_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevInfo {
    /// Driver name.
    pub driver_name: &'static str,
    /// Most RX queues.
    pub max_rx_queues: u16,
    /// Most TX queues.
    pub max_tx_queues: u16,
    /// RX descriptor limits.
    pub rx_desc_lim: DescLimits,
    /// TX descriptor limits.
    pub tx_desc_lim: DescLimits,
    /// Largest MTU.
    pub max_mtu: u16,
    /// [`capa`] bits.
    pub capabilities: u32,
    /// Entries of the RSS redirection table (0: no RSS).
    pub reta_size: u16,
    /// [`crate::rss::hash`] bits the device can hash on.
    pub rss_hash_types: u64,
    /// RX offloads the device has.
    pub rx_offload_capa: RxOffloads,
    /// TX offloads the device has.
    pub tx_offload_capa: TxOffloads,
    /// Most segments in one transmitted packet (with [`TxOffloads::MULTI_SEGS`]).
    pub tx_max_segs: u16,
    /// Most unicast addresses the port receives, its own (index 0) included
    /// (`rte_eth_dev_info.max_mac_addrs`); 1 when the device holds no other.
    pub max_mac_addrs: u16,
    /// Most addresses in the multicast list: the device's own limit, or for a hash filter
    /// with none (Intel's MTA) the list's storage, [`MAX_MC_ADDRS`](crate::mac_filters::MAX_MC_ADDRS);
    /// 0 when the device has no multicast list.
    pub max_mc_addrs: u16,
}

impl DevInfo {
    /// The longest frame the device receives: the largest MTU plus the Ethernet header,
    /// one VLAN tag and the FCS.
    pub fn max_rx_pktlen(&self) -> u32 {
        u32::from(self.max_mtu) + 14 + 4 + 4
    }
}

/// A queue direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Receive.
    Rx,
    /// Transmit.
    Tx,
}

impl Dir {
    /// "rx" or "tx".
    pub fn name(self) -> &'static str {
        match self {
            Dir::Rx => "rx",
            Dir::Tx => "tx",
        }
    }
}

/// Port configuration, as `rte_eth_conf` plus the queue counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConf {
    /// RX queues.
    pub nb_rxq: u16,
    /// TX queues.
    pub nb_txq: u16,
    /// Spread received flows over the RX queues.
    pub rss: bool,
    /// The key and hash types used when `rss` is on.
    pub rss_conf: RssConf,
    /// Ask for link-status interrupts.
    pub lsc_intr: bool,
    /// RX offloads asked for (each must be in [`DevInfo::rx_offload_capa`]).
    pub rx_offloads: RxOffloads,
    /// TX offloads asked for (each must be in [`DevInfo::tx_offload_capa`]).
    pub tx_offloads: TxOffloads,
    /// The MTU to set (`None`: keep the port's, 1500 after probe).
    pub mtu: Option<u16>,
}

impl Default for PortConf {
    fn default() -> Self {
        PortConf {
            nb_rxq: 1,
            nb_txq: 1,
            rss: false,
            rss_conf: RssConf::default(),
            lsc_intr: true,
            rx_offloads: RxOffloads::empty(),
            tx_offloads: TxOffloads::empty(),
            mtu: None,
        }
    }
}

/// The fast path of a port, bound in every process. A queue is used by one lcore at a time.
pub trait DataPath: Send + Sync {
    /// Receives up to `max` packets from queue `q`, appending them to `bufs`.
    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize;
    /// Sends packets from the front of `bufs` on queue `q`; those sent are removed from
    /// `bufs` (the device frees them when done), the rest stay with the caller.
    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize;
    /// Checks one packet against what the device can send beyond the port's configuration
    /// (header lengths its offload descriptors hold, ...), for
    /// [`Port::tx_prepare`](crate::Port::tx_prepare). The default: nothing more to check.
    fn tx_check(&self, m: &Mbuf) -> Result<(), crate::offload::TxReject> {
        let _ = m;
        Ok(())
    }
    /// What becomes readable when RX queue `q` interrupts, in this process (see
    /// [`crate::rx_intr`]). The default: the driver has no RX interrupts.
    fn rx_intr_source(&self, q: u16) -> Result<RxIntrSource, EthError> {
        let _ = q;
        Err(EthError::Unsupported { port: u16::MAX, what: RX_INTR_UNSUPPORTED.into() })
    }
    /// Arms (`on`) or disarms RX queue `q`'s interrupt; called from the process polling the
    /// queue. Arming must be cheap and touch only that queue's interrupt (no cause read).
    fn rx_intr_ctl(&self, q: u16, on: bool) -> Result<(), EthError> {
        let _ = (q, on);
        Err(EthError::Unsupported { port: u16::MAX, what: RX_INTR_UNSUPPORTED.into() })
    }
    /// Has RX queue `q`'s interrupt taken on CPU `cpu` (where its poller sleeps), if the
    /// queue has an interrupt of its own that the OS lets us steer.
    fn rx_intr_steer(&self, q: u16, cpu: usize) -> Result<(), EthError> {
        let _ = (q, cpu);
        Err(EthError::Unsupported { port: u16::MAX, what: RX_INTR_UNSUPPORTED.into() })
    }
}

/// Control operations, primary only. The ethdev layer checks states and arguments before
/// calling them and records the results in the port's slot.
pub trait Control: Send + Sync {
    /// Capabilities and limits.
    fn info(&self) -> DevInfo;
    /// Applies a configuration (port stopped).
    fn configure(&self, conf: &PortConf) -> Result<(), EthError>;
    /// Sets up RX queue `q` with `nb_desc` descriptors filled from `pool`.
    fn rx_queue_setup(&self, q: u16, nb_desc: u16, pool: PktMbufPool) -> Result<(), EthError>;
    /// Sets up TX queue `q`.
    fn tx_queue_setup(&self, q: u16, nb_desc: u16) -> Result<(), EthError>;
    /// Starts the device.
    fn start(&self) -> Result<(), EthError>;
    /// Stops the device (queues keep their setup).
    fn stop(&self) -> Result<(), EthError>;
    /// Releases the device.
    fn close(&self);
    /// Reads the link from the device.
    fn link_update(&self) -> Link;
    /// Promiscuous mode on or off.
    fn promiscuous(&self, on: bool) -> Result<(), EthError>;
    /// Sets the MAC address.
    fn mac_set(&self, mac: [u8; 6]) -> Result<(), EthError>;
    /// Sets the MTU.
    fn mtu_set(&self, mtu: u16) -> Result<(), EthError>;
    /// Folds device counters into the shared software counters (hardware PMDs).
    fn stats_update(&self) {}
    /// Changes the RSS key and hash types of a configured port (the ethdev layer has
    /// checked that RSS is on and the types are supported).
    fn rss_hash_update(&self, conf: &RssConf) -> Result<(), EthError> {
        let _ = conf;
        Err(EthError::Unsupported { port: u16::MAX, what: "RSS hash update".into() })
    }
    /// All-multicast mode on or off (every multicast frame accepted). The default: not
    /// supported.
    fn allmulticast(&self, on: bool) -> Result<(), EthError> {
        let _ = on;
        Err(EthError::Unsupported { port: u16::MAX, what: "all-multicast mode".into() })
    }
    /// Programs the port's secondary unicast addresses and multicast list, each list whole
    /// (the ethdev layer has checked them against [`DevInfo::max_mac_addrs`] and
    /// [`DevInfo::max_mc_addrs`] and records them in the port's slot when this succeeds; a
    /// driver programs the slot's lists again at start). The default: not supported.
    fn mac_filters(&self, lists: &crate::mac_filters::MacLists) -> Result<(), EthError> {
        let _ = lists;
        Err(EthError::Unsupported { port: u16::MAX, what: "secondary MAC addresses and multicast lists".into() })
    }
    /// Adds (`on`) or removes VLAN id `vid` (0-4095, checked by the ethdev layer) in the
    /// receive VLAN filter. The default: not supported.
    fn vlan_filter(&self, vid: u16, on: bool) -> Result<(), EthError> {
        let _ = (vid, on);
        Err(EthError::Unsupported { port: u16::MAX, what: "VLAN filter".into() })
    }
    /// VLAN stripping on or off on a configured port (the ethdev layer has checked that the
    /// device has [`RxOffloads::VLAN_STRIP`] and records the result in the port's RX
    /// offloads). The default: not supported.
    fn vlan_strip(&self, on: bool) -> Result<(), EthError> {
        let _ = on;
        Err(EthError::Unsupported { port: u16::MAX, what: "VLAN stripping".into() })
    }
    /// Programs the redirection table (one queue per entry, `reta_size` entries, each
    /// below the RX queue count: checked by the ethdev layer).
    fn reta_update(&self, reta: &[u16]) -> Result<(), EthError> {
        let _ = reta;
        Err(EthError::Unsupported { port: u16::MAX, what: "RSS redirection table".into() })
    }
    /// Stops (`on == false`) or starts again one queue of a started port, as
    /// `rte_eth_dev_{rx,tx}_queue_{stop,start}`. The ethdev layer has checked the queue
    /// and gates bursts on a stopped queue in every process. The default does nothing more:
    /// a driver that can disable a queue in hardware (igb, ixgbe) overrides it.
    fn queue_state(&self, dir: Dir, q: u16, on: bool) -> Result<(), EthError> {
        let _ = (dir, q, on);
        Ok(())
    }
    /// The redirection table as the device holds it.
    fn reta_query(&self) -> Result<Vec<u16>, EthError> {
        Err(EthError::Unsupported { port: u16::MAX, what: "RSS redirection table".into() })
    }
    /// Clears device counters.
    fn stats_reset(&self) {}
    /// Driver-specific counters (name, value), e.g. the device's own packet counters.
    fn xstats(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// Everything a driver gets when it probes or attaches a port.
#[derive(Clone)]
pub struct PortCtx {
    /// The port id.
    pub port: u16,
    /// The port's shared slot.
    pub slot: &'static PortSlot,
    /// The group's shared memory.
    pub mem: Memory,
    pub(crate) hub: Arc<EventHub>,
}

impl PortCtx {
    /// Reports the device's link (primary: from an interrupt or a poll). When it changed,
    /// the shared state is updated with a new sequence number, local callbacks run and the
    /// event is broadcast to the secondaries.
    pub fn report_link(&self, link: Link) {
        self.hub.report(self.port, self.slot, link);
    }
}

/// What probing a port gives the ethdev layer (primary).
pub struct Probed {
    /// Control operations.
    pub control: Box<dyn Control>,
    /// Data path.
    pub data: Arc<dyn DataPath>,
}

/// A poll-mode driver.
pub trait Pmd: Sync {
    /// The driver's name; `--vdev` names start with it (`net_null` for `net_null0`).
    fn name(&self) -> &'static str;
    /// Creates a virtual port from `args` (primary).
    fn probe_vdev(&self, ctx: &PortCtx, args: &VdevArgs) -> Result<Probed, EthError>;
    /// Binds the data path of a port the primary probed (secondary).
    fn attach(&self, ctx: &PortCtx) -> Result<Arc<dyn DataPath>, EthError>;
    /// The PCI `(vendor, device)` ids this driver takes; empty for virtual drivers.
    fn pci_ids(&self) -> &'static [(u16, u16)] {
        &[]
    }
    /// Creates a port from a PCI device the EAL opened (primary): reset, read the MAC, arm
    /// interrupts. Queue state the data path needs must go to shared memory (the slot's
    /// driver state, [`PortSlot::driver_state`](crate::PortSlot::driver_state), or a memzone)
    /// so that secondaries can attach.
    fn probe_pci(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Probed, EthError> {
        let _ = dev;
        Err(EthError::Unsupported { port: ctx.port, what: format!("driver {} has no PCI support", self.name()) })
    }
    /// Binds the data path of a PCI port the primary probed (secondary), using this
    /// process's BAR mappings of `dev`. Must not touch the device's control registers.
    fn attach_pci(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Arc<dyn DataPath>, EthError> {
        let _ = dev;
        Err(EthError::Unsupported { port: ctx.port, what: format!("driver {} has no PCI support", self.name()) })
    }
}
