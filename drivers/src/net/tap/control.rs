//! Control of a TAP port (primary): queue attachment, MTU, MAC and promiscuous mode go to the
//! interface; the link is the interface's, followed by the watcher thread.

use super::fds::FdServer;
use super::link::LinkReporter;
use super::netlink::LinkWatcher;
use super::shared;
use super::tun::{self, IfCtl};
use eal::PktMbufPool;
use ethdev::{capa, Control, DescLimits, DevInfo, EthError, Link, PortConf, PortCtx};
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Largest MTU offered (frames must fit one mbuf of the RX pools).
pub const MAX_MTU: u16 = 9000;
/// Bytes of a frame beyond its MTU: Ethernet header and one VLAN tag.
const L2_OVERHEAD: u32 = 18;

/// The primary's handle on a TAP port.
pub struct TapControl {
    ctx: PortCtx,
    iface: String,
    ifctl: IfCtl,
    queues: Arc<Vec<File>>,
    multi_queue: bool,
    link: Arc<LinkReporter>,
    watcher: Mutex<Option<LinkWatcher>>,
    server: Mutex<Option<FdServer>>,
}

/// The parts a probe assembled.
pub struct Parts {
    /// The port.
    pub ctx: PortCtx,
    /// The interface's actual name.
    pub iface: String,
    /// Queue fds.
    pub queues: Arc<Vec<File>>,
    /// True when the interface has several queues.
    pub multi_queue: bool,
    /// Link reporting.
    pub link: Arc<LinkReporter>,
    /// The link watcher thread.
    pub watcher: LinkWatcher,
    /// The fd endpoint for secondaries.
    pub server: FdServer,
}

impl TapControl {
    /// Assembles the control of a probed port.
    pub fn new(p: Parts) -> std::io::Result<TapControl> {
        Ok(TapControl {
            ctx: p.ctx,
            iface: p.iface,
            ifctl: IfCtl::open()?,
            queues: p.queues,
            multi_queue: p.multi_queue,
            link: p.link,
            watcher: Mutex::new(Some(p.watcher)),
            server: Mutex::new(Some(p.server)),
        })
    }

    fn dev_err(&self, what: &str, e: std::io::Error) -> EthError {
        EthError::Device { port: self.ctx.port, msg: format!("TAP interface '{}': {what}: {e}", self.iface) }
    }

    /// Attaches queues `0..n` and detaches the others, so the kernel steers frames only to
    /// queues that are polled.
    fn attach_queues(&self, n: usize) -> Result<(), EthError> {
        if self.multi_queue {
            for (i, f) in self.queues.iter().enumerate() {
                let on = i < n;
                match tun::set_queue_attached(f, on) {
                    Ok(()) => {}
                    // Already in the state asked for.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                    Err(e) => return Err(self.dev_err(if on { "attaching a queue" } else { "detaching a queue" }, e)),
                }
            }
        }
        shared::state(self.ctx.slot).attached.store(n as u32, Ordering::Relaxed);
        Ok(())
    }

    fn rx_room_fits(&self, mtu: u32) -> bool {
        let nb = self.ctx.slot.nb_rxq.load(Ordering::Relaxed) as usize;
        self.ctx.slot.rxq_pool[..nb.min(self.ctx.slot.rxq_pool.len())]
            .iter()
            .filter_map(|a| PktMbufPool::from_header_addr(a.load(Ordering::Relaxed)).ok())
            .all(|p| p.data_room() as u32 >= eal::mbuf::HEADROOM as u32 + mtu + L2_OVERHEAD)
    }
}

impl Control for TapControl {
    fn info(&self) -> DevInfo {
        let n = self.queues.len() as u16;
        DevInfo {
            driver_name: "net_tap",
            max_rx_queues: n,
            max_tx_queues: n,
            rx_desc_lim: DescLimits { min: 1, max: u16::MAX, align: 1 },
            tx_desc_lim: DescLimits { min: 1, max: u16::MAX, align: 1 },
            max_mtu: MAX_MTU,
            capabilities: capa::LSC | capa::PROMISC | capa::MTU | capa::RX_INTR | if n > 1 { capa::RSS } else { 0 },
            // The kernel spreads flows over the queues by its own flow hash; no table to program.
            reta_size: 0,
            rss_hash_types: if n > 1 { ethdev::rss::hash::ALL } else { 0 },
            rx_offload_capa: ethdev::RxOffloads::empty(),
            // A chained mbuf is copied into one write.
            tx_offload_capa: ethdev::TxOffloads::MULTI_SEGS,
            tx_max_segs: u16::MAX,
            // The tap device hands every frame to the port: the lists are kept, nothing
            // filters (DPDK's tap PMD takes a multicast list the same way).
            max_mac_addrs: 1 + ethdev::mac_filters::MAX_EXTRA_MACS as u16,
            max_mc_addrs: ethdev::mac_filters::MAX_MC_ADDRS as u16,
        }
    }

    fn mac_filters(&self, _lists: &ethdev::MacLists) -> Result<(), EthError> {
        Ok(())
    }

    fn configure(&self, conf: &PortConf) -> Result<(), EthError> {
        self.attach_queues(conf.nb_rxq as usize)
    }

    fn rx_queue_setup(&self, _q: u16, _nb_desc: u16, pool: PktMbufPool) -> Result<(), EthError> {
        let mtu = self.ctx.slot.mtu.load(Ordering::Relaxed);
        if (pool.data_room() as u32) < eal::mbuf::HEADROOM as u32 + mtu + L2_OVERHEAD {
            return Err(EthError::Unsupported {
                port: self.ctx.port,
                what: format!(
                    "mbufs of pool '{}' ({} bytes) cannot hold a frame of MTU {mtu}: use a data room of at least {}",
                    pool.mempool().name(),
                    pool.data_room(),
                    eal::mbuf::HEADROOM as u32 + mtu + L2_OVERHEAD
                ),
            });
        }
        Ok(())
    }

    fn tx_queue_setup(&self, _q: u16, _nb_desc: u16) -> Result<(), EthError> {
        Ok(())
    }

    fn start(&self) -> Result<(), EthError> {
        // The interface's administrative state is the operator's: start only reads the link.
        self.link.refresh();
        Ok(())
    }

    fn stop(&self) -> Result<(), EthError> {
        Ok(())
    }

    fn close(&self) {
        if let Some(mut w) = self.watcher.lock().unwrap_or_else(|e| e.into_inner()).take() {
            w.stop();
        }
        drop(self.server.lock().unwrap_or_else(|e| e.into_inner()).take());
        tracing::info!(port = self.ctx.port, iface = %self.iface, "TAP port closed");
    }

    fn link_update(&self) -> Link {
        self.link.refresh()
    }

    fn promiscuous(&self, on: bool) -> Result<(), EthError> {
        self.ifctl.update_flags(&self.iface, libc::IFF_PROMISC as u32, on).map_err(|e| self.dev_err("SIOCSIFFLAGS", e))
    }

    fn mac_set(&self, mac: [u8; 6]) -> Result<(), EthError> {
        self.ifctl.set_mac(&self.iface, mac).map_err(|e| self.dev_err("SIOCSIFHWADDR", e))
    }

    fn mtu_set(&self, mtu: u16) -> Result<(), EthError> {
        if !self.rx_room_fits(mtu as u32) {
            return Err(EthError::Unsupported {
                port: self.ctx.port,
                what: format!("MTU {mtu}: frames would not fit the mbufs of the RX queues' pools"),
            });
        }
        self.ifctl.set_mtu(&self.iface, mtu as u32).map_err(|e| self.dev_err("SIOCSIFMTU", e))
    }
}
