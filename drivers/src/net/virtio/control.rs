//! The primary's control of a port: probe (features, MAC, link, interrupt), queue setup,
//! start (the full device initialisation: reset, features, queues, DRIVER_OK, then the
//! queue pairs and RX mode through the control queue), stop (a reset, which stops all DMA),
//! promiscuous mode, MAC, statistics and link.

use super::ctrl::CtrlQueue;
use super::error::VirtioError;
use super::mac_table;
use super::net::{self, Features};
use super::pci::{DeviceStatus, Notifier, Transport, NO_VECTOR};
use super::vring::{self, Layout, SplitRing};
use super::{intr, rx_ring, rxq, state, tx_ring, txq, VirtioState, MAX_MTU, MAX_PAIRS, NAME};
use crate::net::common::queue_mem;
use eal::bus::{ArmedIrqs, BusDevice};
use eal::mbuf::HEADROOM;
use eal::PktMbufPool;
use ethdev::{capa, Control, DescLimits, DevInfo, Dir, EthError, Link, PortConf, PortCtx, PortState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Descriptor limits the ethdev layer checks; the queue gets the largest power of two not
/// above the request and the device's maximum (legacy queues: always the device's size).
const DESC_LIM: DescLimits = DescLimits { min: 16, max: 32768, align: 1 };
/// Smallest receive room (after the headroom) an RX mbuf must have: a full frame.
const RX_ROOM: u16 = MAX_MTU + 18;
/// How long stopping waits for the device to send what the TX queues hold.
const TX_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Control of one virtio-net port (primary).
pub(crate) struct VirtioControl {
    ctx: PortCtx,
    dev: Arc<BusDevice>,
    t: Arc<Transport>,
    features: Features,
    kick: Notifier,
    /// The MAC address of the device configuration.
    dev_mac: [u8; 6],
    ctrl: Mutex<Option<CtrlQueue>>,
    irqs: Mutex<Option<ArmedIrqs>>,
    lsc_count: Arc<AtomicU64>,
    /// The VLAN ids let through (`vlan_filter`), given to the device again at each start
    /// (a reset empties its filter).
    vlans: Mutex<VlanSet>,
}

/// A set of VLAN ids (0-4095), one bit each.
struct VlanSet([u64; 64]);

impl VlanSet {
    fn set(&mut self, vid: u16, on: bool) {
        let (w, b) = (usize::from(vid >> 6) & 63, vid & 63);
        if on {
            self.0[w] |= 1 << b;
        } else {
            self.0[w] &= !(1 << b);
        }
    }

    fn contains(&self, vid: u16) -> bool {
        self.0[usize::from(vid >> 6) & 63] & (1 << (vid & 63)) != 0
    }
}

impl VirtioControl {
    /// Resets the device, negotiates the features, reads the MAC address and the number of
    /// queue pairs, and arms the configuration interrupt. The device stays short of
    /// DRIVER_OK until the port starts.
    pub(crate) fn probe(ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Self, EthError> {
        let msg = |m: String| EthError::Device { port: ctx.port, msg: format!("{}: {m}", dev.addr()) };
        let err = |e: VirtioError| msg(e.to_string());
        let t = Arc::new(Transport::probe(dev).map_err(&err)?);
        let iova_pa = ctx.mem.config().iova_pa.load(Ordering::Acquire) == 1;
        let offered = {
            t.reset().map_err(&err)?;
            t.set_status(DeviceStatus::ACKNOWLEDGE).map_err(&err)?;
            t.set_status(DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER).map_err(&err)?;
            t.device_features().map_err(&err)?
        };
        let features = match net::negotiate(offered, t.is_modern(), iova_pa) {
            Ok(f) => f,
            Err(e) => {
                let _ = t.set_status(DeviceStatus::FAILED);
                return Err(msg(format!("feature negotiation failed: {e} (offered {:#x})", offered.bits())));
            }
        };
        negotiate_on_device(&t, features).map_err(&err)?;
        let kick = t.notifier(dev).map_err(&err)?;
        let st = state(ctx.slot);
        let (nb, nbase, nmult) = t.notify_params();
        st.kind.store(t.kind(), Ordering::Relaxed);
        st.features.store(features.bits(), Ordering::Relaxed);
        st.hdr_len.store(u32::from(net::hdr_len(features)), Ordering::Relaxed);
        st.notify_bar.store(nb, Ordering::Relaxed);
        st.notify_base.store(nbase, Ordering::Relaxed);
        st.notify_mult.store(nmult, Ordering::Relaxed);
        st.lsc.store(1, Ordering::Relaxed);
        let lsc_count = Arc::new(AtomicU64::new(0));
        // Arm MSI-X first: on the legacy interface the device configuration moves once it
        // is enabled.
        let irqs = intr::arm(ctx, dev, t.clone(), features, lsc_count.clone()).map_err(&err)?;
        if irqs.is_some() {
            set_config_vector(&t).map_err(&err)?;
        }
        let dev_mac = if features.contains(Features::MAC) {
            let mut m = [0u8; 6];
            for (i, b) in m.iter_mut().enumerate() {
                *b = t.cfg_r8(net::CFG_MAC + i as u64).map_err(&err)?;
            }
            m
        } else {
            let m = super::super::virtual_mac(ctx.port);
            tracing::warn!(port = ctx.port, "the device offers no VIRTIO_NET_F_MAC: using {m:02x?}");
            m
        };
        ctx.slot.set_mac(dev_mac);
        let max_pairs =
            if features.contains(Features::MQ) { t.cfg_r16(net::CFG_MAX_PAIRS).map_err(&err)?.max(1) } else { 1 };
        let max_pairs = usize::from(max_pairs).min(MAX_PAIRS);
        st.max_pairs.store(max_pairs as u32, Ordering::Relaxed);
        st.rx_max.store(u32::from(t.queue_max(0).map_err(&err)?), Ordering::Relaxed);
        let max_mtu = if features.contains(Features::MTU) {
            t.cfg_r16(net::CFG_MTU).map_err(&err)?.clamp(68, u16::MAX)
        } else if features.contains(Features::MRG_RXBUF) {
            net::MRG_MAX_MTU
        } else {
            MAX_MTU
        };
        // Without mergeable buffers a frame must fit one buffer, whatever the device takes.
        let max_mtu = if features.contains(Features::MRG_RXBUF) { max_mtu } else { max_mtu.min(MAX_MTU) };
        st.max_mtu.store(u32::from(max_mtu), Ordering::Relaxed);
        st.tx_max.store(u32::from(t.queue_max(1).map_err(&err)?), Ordering::Relaxed);
        tracing::info!(
            port = ctx.port,
            addr = %dev.addr(),
            transport = if t.is_modern() { "modern" } else { "legacy" },
            features = %net::feature_names(features),
            max_pairs,
            mac = ?dev_mac,
            "virtio-net probed"
        );
        Ok(VirtioControl {
            ctx: ctx.clone(),
            dev: dev.clone(),
            t,
            features,
            kick,
            dev_mac,
            ctrl: Mutex::new(None),
            irqs: Mutex::new(irqs),
            lsc_count,
            vlans: Mutex::new(VlanSet([0; 64])),
        })
    }

    /// The doorbell, for the primary's data path.
    pub(crate) fn notifier(&self) -> Notifier {
        self.kick.clone()
    }

    fn err(&self, msg: impl std::fmt::Display) -> EthError {
        EthError::Device { port: self.ctx.port, msg: format!("{}: {msg}", self.dev.addr()) }
    }

    fn state(&self) -> &'static VirtioState {
        state(self.ctx.slot)
    }

    fn started(&self) -> bool {
        self.ctx.slot.state() == PortState::Started
    }

    fn has(&self, bit: Features) -> bool {
        self.features.contains(bit)
    }

    /// The features the port uses as configured (those of its offloads among the
    /// negotiated ones; see [`net::for_offloads`]).
    fn active_features(&self) -> Features {
        Features::from_bits_retain(self.state().features.load(Ordering::Relaxed))
    }

    fn max_pairs(&self) -> usize {
        self.state().max_pairs.load(Ordering::Relaxed) as usize
    }

    fn unsupported(&self, what: String) -> EthError {
        EthError::Unsupported { port: self.ctx.port, what }
    }

    /// The device's index of the control queue.
    fn ctrl_index(&self) -> u16 {
        if self.has(Features::MQ) {
            2 * self.max_pairs() as u16
        } else {
            2
        }
    }

    fn queue_name(&self, what: &str) -> String {
        format!("vio{}_{what}", self.ctx.port)
    }

    /// The memzone of TX queue `q`'s indirect descriptor tables.
    fn ind_name(&self, q: usize) -> String {
        self.queue_name(&format!("txq{q}_ind"))
    }

    /// Queue size for a request of `nb` on a queue whose device maximum is `max`.
    fn queue_size(&self, nb: u16, max: u32) -> Result<u16, EthError> {
        let max = u16::try_from(max).unwrap_or(0);
        if max == 0 || !max.is_power_of_two() {
            return Err(self.err(format!("the device reports a queue size of {max}")));
        }
        if !self.t.is_modern() {
            if nb != max {
                tracing::info!(port = self.ctx.port, "legacy virtio queues have the device's size {max}, not {nb}");
            }
            return Ok(max);
        }
        let want = if nb.is_power_of_two() { nb } else { 1 << (15 - nb.leading_zeros()) };
        Ok(want.min(max))
    }

    /// Sets up data queue `q` of direction `dir` with `nb` entries.
    fn setup_queue(&self, dir: Dir, q: usize, nb: u16) -> Result<(), EthError> {
        let st = self.state();
        let slot = match dir {
            Dir::Rx => &st.rxq[q],
            Dir::Tx => &st.txq[q],
        };
        let name = self.queue_name(&format!("{}q{q}", dir.name()));
        queue_mem::setup_queue::<SplitRing>(&self.ctx.mem, &name, slot, usize::from(nb))?;
        Ok(())
    }

    /// Sets up the control queue with `nb` entries (once: its software words hold command
    /// bytes, not mbufs).
    fn setup_ctrl_queue(&self, nb: u16) -> Result<(), EthError> {
        let (mz, _) = vring::reserve(&self.ctx.mem, &self.queue_name("ctrlq"), nb)?;
        self.state().ctrlq.publish(mz.addr(), usize::from(nb));
        Ok(())
    }

    /// Gives the device queue `index` the rings of `q`; records its doorbell offset.
    /// Gives virtqueue `index` to the device, with MSI-X vector `vector` ([`NO_VECTOR`]:
    /// none; RX queues with an RX-interrupt vector get theirs, see [`intr::rx_vector`]).
    fn enable_queue(&self, q: &vring::Vring, index: u16, vector: u16) -> Result<(), VirtioError> {
        let base = self.ring_iova(q);
        let l = Layout::of(q.size());
        let noff = self.t.setup_queue(index, q.size(), base, base + l.avail, base + l.used, vector)?;
        q.hdr().index.store(u64::from(index), Ordering::Release);
        q.hdr().notify_off.store(u64::from(noff), Ordering::Release);
        Ok(())
    }

    fn ring_iova(&self, q: &vring::Vring) -> u64 {
        // The descriptor table is at the start of the memzone; the `desc` view's address is
        // that start.
        self.ctx.mem.iova(q_addr(q))
    }

    /// Frees the mbufs of every data queue.
    fn release_queues(&self) {
        for i in 0..MAX_PAIRS {
            if let Some(q) = rx_ring(self.ctx.slot, i) {
                q.release_all();
            }
            if let Some(q) = tx_ring(self.ctx.slot, i) {
                q.release_all();
            }
        }
    }

    fn ctrl_cmd(&self, class: u8, cmd: u8, data: &[u8]) -> Result<(), EthError> {
        let mut g = self.ctrl.lock().unwrap_or_else(|p| p.into_inner());
        let c = g.as_mut().ok_or_else(|| self.err("the control queue is not set up (port not started)"))?;
        c.command(class, cmd, data).map_err(|e| self.err(e))
    }

    /// The full device initialisation of `start`.
    fn init_device(&self, pairs: usize) -> Result<(), VirtioError> {
        let t = &self.t;
        t.reset()?;
        t.set_status(DeviceStatus::ACKNOWLEDGE)?;
        t.set_status(DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER)?;
        negotiate_on_device(t, self.active_features())?;
        if self.irqs.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
            set_config_vector(t)?;
        }
        let slot = self.ctx.slot;
        let pa = crate::net::common::iova::pa_mode(self.ctx.mem);
        let hdr = net::hdr_len(self.features);
        for i in 0..pairs {
            if let Some(q) = rx_ring(slot, i) {
                let pool = PktMbufPool::from_header_addr(slot.rxq_pool[i].load(Ordering::Relaxed))
                    .map_err(|source| VirtioError::RxPool { q: i, source })?;
                rxq::fill(&q, &pool, pa.as_ref(), hdr)?;
                let with_vector = (i as u32) < state(slot).rx_vectors.load(Ordering::Relaxed);
                let vector = if with_vector { intr::rx_vector(i as u16) as u16 } else { NO_VECTOR };
                self.enable_queue(&q, 2 * i as u16, vector)?;
            }
            if let Some(q) = tx_ring(slot, i) {
                txq::reset(&q);
                if self.active_features().contains(Features::INDIRECT_DESC) {
                    if let Some(mz) = self.ctx.mem.memzone_lookup(&self.ind_name(i)) {
                        q.hdr().ind_addr.store(mz.addr(), Ordering::Release);
                    }
                }
                self.enable_queue(&q, 2 * i as u16 + 1, NO_VECTOR)?;
            }
        }
        let mut ctrl = self.ctrl.lock().unwrap_or_else(|p| p.into_inner());
        *ctrl = None;
        if self.has(Features::CTRL_VQ) {
            let q = self.state().ctrlq.get::<SplitRing>().ok_or(VirtioError::CtrlQueueMissing)?;
            // Its software words hold the last command's bytes, not mbufs.
            q.zero();
            self.enable_queue(&q, self.ctrl_index(), NO_VECTOR)?;
            *ctrl = Some(CtrlQueue::new(
                q,
                &self.ctx.mem,
                self.ctrl_index(),
                q.hdr().notify_off.load(Ordering::Relaxed) as u16,
                self.kick.clone(),
            ));
        }
        t.add_status(DeviceStatus::DRIVER_OK)?;
        let s = t.status()?;
        if !s.contains(DeviceStatus::DRIVER_OK) || s.contains(DeviceStatus::NEEDS_RESET) {
            return Err(VirtioError::DriverOkRefused(s));
        }
        if let Some(c) = ctrl.as_mut() {
            if self.has(Features::MQ) {
                c.command(net::CTRL_MQ, net::CTRL_MQ_VQ_PAIRS_SET, &(pairs as u16).to_le_bytes()).map_err(|e| {
                    start_command(format!("enabling {pairs} queue pair(s) (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)"), e)
                })?;
            }
            if self.has(Features::CTRL_RX) {
                let on = slot.promisc.load(Ordering::Relaxed) == 1;
                c.command(net::CTRL_RX, net::CTRL_RX_PROMISC, &[u8::from(on)])
                    .map_err(|e| start_command(format!("promiscuous {on} (VIRTIO_NET_CTRL_RX_PROMISC)"), e))?;
                if slot.allmulti.load(Ordering::Relaxed) == 1 {
                    c.command(net::CTRL_RX, net::CTRL_RX_ALLMULTI, &[1])
                        .map_err(|e| start_command("all-multicast (VIRTIO_NET_CTRL_RX_ALLMULTI)".into(), e))?;
                }
                // A reset empties the device's table: the port's lists go back in.
                let lists = slot.mac_filters.read();
                if !lists.unicast.is_empty() || !lists.multicast.is_empty() {
                    let (uc, mc) = (mac_table::encode(&lists.unicast), mac_table::encode(&lists.multicast));
                    c.command_parts(net::CTRL_MAC, net::CTRL_MAC_TABLE_SET, &[&uc, &mc])
                        .map_err(|e| start_command("MAC table (VIRTIO_NET_CTRL_MAC_TABLE_SET)".into(), e))?;
                }
            }
            if self.active_features().contains(Features::CTRL_VLAN) {
                // The specification leaves the table's state after a reset open, and QEMU
                // (since 8.1) lets every VLAN through until told otherwise: every entry is
                // written, so that exactly the added VLANs pass.
                let vlans = self.vlans.lock().unwrap_or_else(|p| p.into_inner());
                for vid in 0..=net::MAX_VLAN_ID {
                    let (cmd, name) = if vlans.contains(vid) {
                        (net::CTRL_VLAN_ADD, "VIRTIO_NET_CTRL_VLAN_ADD")
                    } else {
                        (net::CTRL_VLAN_DEL, "VIRTIO_NET_CTRL_VLAN_DEL")
                    };
                    c.command(net::CTRL_VLAN, cmd, &vid.to_le_bytes())
                        .map_err(|e| start_command(format!("VLAN {vid} ({name})"), e))?;
                }
            }
            let mac = slot.mac();
            if self.has(Features::CTRL_MAC_ADDR) && mac != self.dev_mac {
                c.command(net::CTRL_MAC, net::CTRL_MAC_ADDR_SET, &mac)
                    .map_err(|e| start_command("MAC address (VIRTIO_NET_CTRL_MAC_ADDR_SET)".into(), e))?;
            }
        }
        Ok(())
    }
}

/// A control command of `start` that failed.
fn start_command(what: String, e: VirtioError) -> VirtioError {
    VirtioError::StartCommand { what, source: Box::new(e) }
}

/// Address of a queue's memory (its descriptor table).
fn q_addr(q: &vring::Vring) -> u64 {
    q.addr()
}

/// Writes the negotiated features and, on the modern interface, completes the negotiation
/// with FEATURES_OK (checking that the device kept it).
fn negotiate_on_device(t: &Transport, features: Features) -> Result<(), VirtioError> {
    t.set_driver_features(features)?;
    if t.is_modern() {
        t.add_status(DeviceStatus::FEATURES_OK)?;
        let s = t.status()?;
        if !s.contains(DeviceStatus::FEATURES_OK) {
            let _ = t.set_status(DeviceStatus::FAILED);
            return Err(VirtioError::FeaturesRefused { names: net::feature_names(features), features, status: s });
        }
    }
    Ok(())
}

/// Points configuration changes at MSI-X vector 0 and checks the device took it.
fn set_config_vector(t: &Transport) -> Result<(), VirtioError> {
    let back = t.set_config_vector(0)?;
    if back == NO_VECTOR {
        return Err(VirtioError::ConfigVectorRefused);
    }
    Ok(())
}

impl Control for VirtioControl {
    fn info(&self) -> DevInfo {
        let pairs = self.max_pairs() as u16;
        let mut capabilities = capa::MTU;
        if self.irqs.lock().unwrap_or_else(|p| p.into_inner()).is_some() && self.has(Features::STATUS) {
            capabilities |= capa::LSC;
        }
        if self.has(Features::CTRL_RX) {
            capabilities |= capa::PROMISC;
        }
        if state(self.ctx.slot).rx_vectors.load(Ordering::Relaxed) > 0 {
            capabilities |= capa::RX_INTR;
        }
        DevInfo {
            driver_name: NAME,
            max_rx_queues: pairs,
            max_tx_queues: pairs,
            rx_desc_lim: DESC_LIM,
            tx_desc_lim: DESC_LIM,
            max_mtu: state(self.ctx.slot).max_mtu.load(Ordering::Relaxed) as u16,
            capabilities,
            reta_size: 0,
            rss_hash_types: 0,
            rx_offload_capa: net::offload_capa(self.features).0
                | if self.has(Features::MRG_RXBUF) { ethdev::RxOffloads::SCATTER } else { ethdev::RxOffloads::empty() },
            tx_offload_capa: net::offload_capa(self.features).1 | ethdev::TxOffloads::MULTI_SEGS,
            tx_max_segs: txq::MAX_SEGS,
            max_mac_addrs: if self.has(Features::CTRL_RX) { 1 + mac_table::MAX_UC as u16 } else { 1 },
            max_mc_addrs: if self.has(Features::CTRL_RX) { mac_table::MAX_MC as u16 } else { 0 },
        }
    }

    fn mac_filters(&self, lists: &ethdev::MacLists) -> Result<(), EthError> {
        if !self.has(Features::CTRL_RX) {
            return Err(self.unsupported(
                "secondary MAC addresses and multicast lists: the device does not offer VIRTIO_NET_F_CTRL_RX (and VIRTIO_NET_F_CTRL_VQ)"
                    .into(),
            ));
        }
        if self.started() {
            let (uc, mc) = (mac_table::encode(&lists.unicast), mac_table::encode(&lists.multicast));
            let mut g = self.ctrl.lock().unwrap_or_else(|p| p.into_inner());
            let c = g.as_mut().ok_or_else(|| self.err("the control queue is not set up"))?;
            c.command_parts(net::CTRL_MAC, net::CTRL_MAC_TABLE_SET, &[&uc, &mc]).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn configure(&self, conf: &PortConf) -> Result<(), EthError> {
        if conf.rss && conf.nb_rxq > 1 {
            return Err(self.unsupported(
                "RSS: this driver does not negotiate VIRTIO_NET_F_RSS; with several queue pairs the device spreads flows itself (configure with rss off)".into(),
            ));
        }
        let pairs = usize::from(conf.nb_rxq.max(conf.nb_txq));
        if pairs > 1 && !self.has(Features::MQ) {
            return Err(self.unsupported(format!(
                "{pairs} queue pairs: the device does not offer VIRTIO_NET_F_MQ (with its control queue, VIRTIO_NET_F_CTRL_VQ)"
            )));
        }
        self.state().pairs.store(pairs as u32, Ordering::Relaxed);
        let active = net::for_offloads(self.features, conf.rx_offloads, conf.tx_offloads);
        self.state().features.store(active.bits(), Ordering::Relaxed);
        self.state().lsc.store(u32::from(conf.lsc_intr), Ordering::Relaxed);
        if self.has(Features::CTRL_VQ) && !self.state().ctrlq.is_set() {
            let nb = self.t.queue_max(self.ctrl_index()).map_err(|e| self.err(e))?;
            let nb = if nb.is_power_of_two() { nb.min(64) } else { 0 };
            if nb == 0 {
                return Err(self.err(format!("the control queue {} has no valid size", self.ctrl_index())));
            }
            self.setup_ctrl_queue(nb)?;
        }
        Ok(())
    }

    fn rx_queue_setup(&self, q: u16, nb_desc: u16, pool: PktMbufPool) -> Result<(), EthError> {
        if usize::from(q) >= MAX_PAIRS {
            return Err(self.unsupported(format!("RX queue {q}: at most {MAX_PAIRS} queue pairs")));
        }
        if u32::from(pool.data_room()) < u32::from(HEADROOM) + u32::from(RX_ROOM) {
            return Err(self.unsupported(format!(
                "mbufs of pool '{}' have {} bytes of data room; virtio needs {} (headroom + a {RX_ROOM}-byte frame): create the pool with eal::mbuf::DEFAULT_BUF_SIZE",
                pool.mempool().name(),
                pool.data_room(),
                HEADROOM + RX_ROOM
            )));
        }
        let nb = self.queue_size(nb_desc, self.state().rx_max.load(Ordering::Relaxed))?;
        if (pool.mempool().avail_count() as usize) < usize::from(nb) + 32 {
            tracing::warn!(
                port = self.ctx.port,
                "mempool '{}' has fewer free mbufs than the RX ring needs",
                pool.mempool().name()
            );
        }
        self.setup_queue(Dir::Rx, usize::from(q), nb)
    }

    fn tx_queue_setup(&self, q: u16, nb_desc: u16) -> Result<(), EthError> {
        if usize::from(q) >= MAX_PAIRS {
            return Err(self.unsupported(format!("TX queue {q}: at most {MAX_PAIRS} queue pairs")));
        }
        let nb = self.queue_size(nb_desc, self.state().tx_max.load(Ordering::Relaxed))?;
        self.setup_queue(Dir::Tx, usize::from(q), nb)?;
        let name = self.ind_name(usize::from(q));
        if let Some(old) = self.ctx.mem.memzone_lookup(&name) {
            self.ctx.mem.memzone_free(old);
        }
        if self.has(Features::INDIRECT_DESC) {
            // Each table lies within one page (1 KiB tables, 4 KiB-aligned zone): its
            // device address is found per table, so the zone need not be contiguous.
            if let Err(e) = self.ctx.mem.memzone_reserve(&name, u64::from(nb) * vring::IND_BYTES, 4096) {
                tracing::warn!(
                    port = self.ctx.port,
                    "TX queue {q}: no memory for indirect descriptor tables ({e}): chains take one ring entry per segment"
                );
            }
        }
        Ok(())
    }

    fn start(&self) -> Result<(), EthError> {
        let pairs = (self.state().pairs.load(Ordering::Relaxed) as usize).max(1);
        if let Err(e) = self.init_device(pairs) {
            let _ = self.t.set_status(DeviceStatus::FAILED);
            self.release_queues();
            return Err(self.err(e));
        }
        let link = intr::read_link(&self.t, self.features);
        self.ctx.report_link(link);
        tracing::info!(port = self.ctx.port, pairs, %link, "virtio-net started");
        Ok(())
    }

    fn stop(&self) -> Result<(), EthError> {
        // Frames handed to the device go out before the reset (QEMU sends them from a
        // bottom half after the notification), for up to TX_DRAIN.
        let t0 = std::time::Instant::now();
        for i in 0..MAX_PAIRS {
            if let Some(q) = tx_ring(self.ctx.slot, i) {
                while q.used_idx() != q.hdr().avail.load(Ordering::Relaxed) as u16 && t0.elapsed() < TX_DRAIN {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
        // A reset stops all DMA before the mbufs go back to their pools.
        let r = self.t.reset();
        *self.ctrl.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.release_queues();
        r.map_err(|e| self.err(e))
    }

    fn close(&self) {
        let _ = self.stop();
        drop(self.irqs.lock().unwrap_or_else(|p| p.into_inner()).take());
        let st = self.state();
        let mut names = vec![(&st.ctrlq, "ctrlq".to_string())];
        for i in 0..MAX_PAIRS {
            names.push((&st.rxq[i], format!("rxq{i}")));
            names.push((&st.txq[i], format!("txq{i}")));
            if let Some(mz) = self.ctx.mem.memzone_lookup(&self.ind_name(i)) {
                self.ctx.mem.memzone_free(mz);
            }
        }
        for (queue, name) in names {
            let _ = queue.withdraw::<SplitRing>();
            if let Some(mz) = self.ctx.mem.memzone_lookup(&self.queue_name(&name)) {
                self.ctx.mem.memzone_free(mz);
            }
        }
    }

    fn link_update(&self) -> Link {
        let l = intr::read_link(&self.t, self.features);
        self.ctx.report_link(l);
        l
    }

    fn promiscuous(&self, on: bool) -> Result<(), EthError> {
        if !self.has(Features::CTRL_RX) {
            return Err(self.unsupported(
                "promiscuous mode: the device does not offer VIRTIO_NET_F_CTRL_RX (and VIRTIO_NET_F_CTRL_VQ)".into(),
            ));
        }
        if self.started() {
            self.ctrl_cmd(net::CTRL_RX, net::CTRL_RX_PROMISC, &[u8::from(on)])?;
        }
        Ok(())
    }

    fn allmulticast(&self, on: bool) -> Result<(), EthError> {
        if !self.has(Features::CTRL_RX) {
            return Err(self.unsupported(
                "all-multicast mode: the device does not offer VIRTIO_NET_F_CTRL_RX (and VIRTIO_NET_F_CTRL_VQ)".into(),
            ));
        }
        if self.started() {
            self.ctrl_cmd(net::CTRL_RX, net::CTRL_RX_ALLMULTI, &[u8::from(on)])?;
        }
        Ok(())
    }

    fn mac_set(&self, mac: [u8; 6]) -> Result<(), EthError> {
        if !self.has(Features::CTRL_MAC_ADDR) {
            return Err(self
                .unsupported("setting the MAC address: the device does not offer VIRTIO_NET_F_CTRL_MAC_ADDR".into()));
        }
        if self.started() {
            self.ctrl_cmd(net::CTRL_MAC, net::CTRL_MAC_ADDR_SET, &mac)?;
        }
        Ok(())
    }

    fn vlan_filter(&self, vid: u16, on: bool) -> Result<(), EthError> {
        if !self.has(Features::CTRL_VLAN) {
            return Err(self.unsupported(
                "the VLAN filter: the device does not offer VIRTIO_NET_F_CTRL_VLAN (and VIRTIO_NET_F_CTRL_VQ)".into(),
            ));
        }
        if self.started() && self.active_features().contains(Features::CTRL_VLAN) {
            let cmd = if on { net::CTRL_VLAN_ADD } else { net::CTRL_VLAN_DEL };
            self.ctrl_cmd(net::CTRL_VLAN, cmd, &vid.to_le_bytes())?;
        }
        self.vlans.lock().unwrap_or_else(|p| p.into_inner()).set(vid, on);
        Ok(())
    }

    fn mtu_set(&self, _mtu: u16) -> Result<(), EthError> {
        Ok(())
    }

    fn xstats(&self) -> Vec<(&'static str, u64)> {
        let slot = self.ctx.slot;
        let (mut rx_kicks, mut tx_kicks, mut retired, mut rx_large, mut tx_large) = (0, 0, 0, 0, 0);
        for i in 0..MAX_PAIRS {
            if let Some(q) = rx_ring(slot, i) {
                rx_kicks += q.hdr().kicks.load(Ordering::Relaxed);
                retired += q.hdr().retired.load(Ordering::Relaxed);
                rx_large += q.hdr().large_segs.load(Ordering::Relaxed);
            }
            if let Some(q) = tx_ring(slot, i) {
                tx_kicks += q.hdr().kicks.load(Ordering::Relaxed);
                tx_large += q.hdr().large_segs.load(Ordering::Relaxed);
            }
        }
        let ctrl_cmds = self.ctrl.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map_or(0, |c| c.done);
        vec![
            ("lsc_interrupts", self.lsc_count.load(Ordering::Relaxed)),
            ("ctrl_commands", ctrl_cmds),
            ("rx_kicks", rx_kicks),
            ("tx_kicks", tx_kicks),
            ("rx_retired_mbufs", retired),
            ("rx_lro_packets", rx_large),
            ("tx_tso_packets", tx_large),
            ("queue_pairs", u64::from(self.state().pairs.load(Ordering::Relaxed))),
            ("max_queue_pairs", self.max_pairs() as u64),
            ("features", self.active_features().bits()),
            ("modern", u64::from(self.t.is_modern())),
            ("device_status", u64::from(self.t.status().map_or(0xff, |s| s.bits()))),
        ]
    }
}
