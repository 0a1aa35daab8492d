//! The primary's control of a port: probe-time bring-up, queue setup, start/stop (each
//! queue enabled and disabled through RXDCTL/TXDCTL), RSS, promiscuous mode, MAC, MTU,
//! statistics and link.

use super::data::rx_params;
use super::{init, intr, regs, rss, rx_mem, state, stats, tx_mem, IgbState, MAX_MTU, MAX_QUEUES, NAME, RX_BUF};
use crate::net::common::queue_mem::{self, QueueSlot};
use crate::net::intel::adv::{queue, ring, rx, tx, AdvRing, RingRegs};
use crate::net::intel::error::IntelError;
use crate::net::intel::reg_io::poll_until;
use crate::net::intel::RegIo;
use crate::net::intel::{self, mac_filter, rx_filter};
use eal::bus::{ArmedIrqs, BusDevice};
use eal::vfio::MmioRegion;
use eal::PktMbufPool;
use ethdev::rss::{default_reta, RssConf};
use ethdev::{capa, Control, DescLimits, DevInfo, Dir, EthError, Link, PortConf, PortCtx, PortState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Descriptor limits: ring lengths are multiples of 128 bytes (8 descriptors).
const DESC_LIM: DescLimits = DescLimits { min: 32, max: 4096, align: queue::DESC_ALIGN };

/// How long a queue may take to report itself enabled or disabled.
const QUEUE_ENABLE_TIMEOUT: Duration = Duration::from_millis(100);

/// RXDCTL of an enabled queue: prefetch 8, host 8, write-back 1.
const RXDCTL_RUN: u32 = regs::XDCTL_ENABLE | 8 | (8 << 8) | (1 << 16);
/// TXDCTL of an enabled queue: prefetch 8, host 1, write-back 1 (every descriptor asks
/// for its own write-back).
const TXDCTL_RUN: u32 = regs::XDCTL_ENABLE | 8 | (1 << 8) | (1 << 16);

/// What `configure` asked for.
type Cfg = crate::net::intel::port_cfg::PortCfg;

/// Control of one igb port (primary).
pub(crate) struct IgbControl {
    ctx: PortCtx,
    dev: Arc<BusDevice>,
    bar: Arc<MmioRegion>,
    irqs: Mutex<Option<ArmedIrqs>>,
    lsc_count: Arc<AtomicU64>,
    cfg: Mutex<Cfg>,
}

/// What limits a frame that fits one receive buffer, for error messages.
const BUFFERS: &str = "the igb's 2048-byte receive buffers (SRRCTL.BSIZEPKT)";

impl IgbControl {
    /// Resets the device, reads its MAC address, sets the link up, clears the counters and
    /// arms the link interrupt.
    pub(crate) fn probe(ctx: &PortCtx, dev: &Arc<BusDevice>, bar: Arc<MmioRegion>) -> Result<Self, EthError> {
        let err = |e: IntelError| EthError::Device { port: ctx.port, msg: format!("{}: {e}", dev.addr()) };
        let r: &dyn RegIo = &*bar;
        init::reset(r).map_err(err)?;
        let mac = init::read_mac(r).map_err(err)?;
        ctx.slot.set_mac(mac);
        init::write_mac(r, mac);
        init::clear_mta(r);
        // Interrupts first: autonegotiation ends with a link-status interrupt.
        intr::setup(r);
        // Every queue off until start (the 82576 resets with queue 0 enabled).
        for q in 0..MAX_QUEUES {
            r.write32(regs::rxdctl(q), 0);
            r.write32(regs::txdctl(q), 0);
        }
        stats::STATS.reset(r, ctx.slot, &state(ctx.slot).stats);
        let lsc_count = Arc::new(AtomicU64::new(0));
        let irqs = intr::arm(ctx, dev, bar.clone(), lsc_count.clone())?;
        intr::enable(r);
        init::link_setup(r).map_err(err)?;
        let cfg = Cfg::default();
        Ok(IgbControl {
            ctx: ctx.clone(),
            dev: dev.clone(),
            bar,
            irqs: Mutex::new(Some(irqs)),
            lsc_count,
            cfg: Mutex::new(cfg),
        })
    }

    /// The registers, through [`RegIo`] (MmioRegion's own `read32` returns an Option).
    fn r(&self) -> &dyn RegIo {
        &*self.bar
    }

    fn err(&self, msg: impl std::fmt::Display) -> EthError {
        EthError::Device { port: self.ctx.port, msg: format!("{}: {msg}", self.dev.addr()) }
    }

    fn state(&self) -> &'static IgbState {
        state(self.ctx.slot)
    }

    /// The record of queue `q` in direction `dir` ("rx" or "tx").
    fn queue_slot(&self, dir: &str, q: usize) -> &'static QueueSlot {
        if dir == "rx" {
            &self.state().rxq[q]
        } else {
            &self.state().txq[q]
        }
    }

    fn cfg(&self) -> Cfg {
        *self.cfg.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn started(&self) -> bool {
        self.ctx.slot.state() == PortState::Started
    }

    fn queue_name(&self, dir: &str, q: usize) -> String {
        format!("igb{}_{dir}q{q}", self.ctx.port)
    }

    fn rctl(&self) -> u32 {
        let slot = self.ctx.slot;
        let mut v = regs::RCTL_EN | regs::RCTL_BAM | regs::RCTL_SECRC;
        if slot.promisc.load(Ordering::Relaxed) == 1 {
            v |= regs::RCTL_UPE | regs::RCTL_MPE;
        }
        if slot.mtu.load(Ordering::Relaxed) > 1500 {
            v |= regs::RCTL_LPE;
        }
        v | rx_filter::rctl_bits(slot)
    }

    fn program_mtu(&self, mtu: u16) {
        // Longest frame accepted with LPE: MTU + header + FCS + one VLAN tag.
        self.r().write32(regs::RLPML, u32::from(mtu) + 14 + 4 + 4);
    }

    /// Sets RXDCTL/TXDCTL register `reg` of `dir` ("RX" or "TX") queue `q` to `v` and
    /// waits until its enable bit reads back as `v`'s.
    fn set_queue_ctl(&self, reg: usize, v: u32, dir: &'static str, q: usize) -> Result<(), EthError> {
        self.r().write32(reg, v);
        let want = v & regs::XDCTL_ENABLE;
        let what = if want != 0 { "queue enable (XDCTL.ENABLE)" } else { "queue disable (XDCTL.ENABLE)" };
        poll_until(self.r(), reg, regs::XDCTL_ENABLE, want, QUEUE_ENABLE_TIMEOUT, what)
            .map(|_| ())
            .map_err(|source| self.err(IntelError::Queue { dir, q, source }))
    }

    fn queue_iova(&self, dir: &str, q: usize) -> Result<u64, EthError> {
        self.ctx
            .mem
            .memzone_lookup(&self.queue_name(dir, q))
            .map(|mz| mz.iova())
            .ok_or_else(|| self.err(format!("{dir} queue {q}: its memzone is gone; set the queue up again")))
    }

    /// Sets up queue `q` of direction `dir` with `nb` descriptors.
    fn setup_queue(&self, dir: Dir, q: usize, nb: u16) -> Result<(), EthError> {
        let (slot, name) = (self.queue_slot(dir.name(), q), self.queue_name(dir.name(), q));
        queue_mem::setup_queue::<AdvRing>(&self.ctx.mem, &name, slot, usize::from(nb))?;
        Ok(())
    }

    /// Fills RX queue `q` with mbufs, programs its ring and enables it.
    fn rx_queue_start(&self, q: usize) -> Result<(), EthError> {
        let slot = self.ctx.slot;
        let qm = rx_mem(slot, q).ok_or_else(|| self.err(format!("RX queue {q} is not set up")))?;
        let pool = PktMbufPool::from_header_addr(slot.rxq_pool[q].load(Ordering::Relaxed))?;
        let pa = crate::net::common::iova::pa_mode(self.ctx.mem);
        self.set_queue_ctl(regs::rxdctl(q), 0, "RX", q)?;
        self.r().write32(
            regs::srrctl(q),
            (u32::from(RX_BUF) >> regs::SRRCTL_BSIZEPKT_SHIFT)
                | regs::SRRCTL_DESCTYPE_ADV_ONEBUF
                | regs::SRRCTL_DROP_EN,
        );
        rx::fill(&qm, &rx_params(self.ctx.port, q), &pool, pa.as_ref()).map_err(|e| self.err(e))?;
        ring::program(self.r(), &RingRegs::block(regs::rx_block(q)), &qm, self.queue_iova("rx", q)?);
        self.set_queue_ctl(regs::rxdctl(q), RXDCTL_RUN, "RX", q)?;
        self.r().write32(regs::rdt(q), rx::initial_tail(&qm));
        Ok(())
    }

    /// Disables RX queue `q` and frees the mbufs of its ring.
    fn rx_queue_stop(&self, q: usize) -> Result<(), EthError> {
        let r = self.set_queue_ctl(regs::rxdctl(q), 0, "RX", q);
        if let Some(qm) = rx_mem(self.ctx.slot, q) {
            qm.release_all();
        }
        r
    }

    /// Empties TX queue `q`, programs its ring and enables it.
    fn tx_queue_start(&self, q: usize) -> Result<(), EthError> {
        let qm = tx_mem(self.ctx.slot, q).ok_or_else(|| self.err(format!("TX queue {q} is not set up")))?;
        self.set_queue_ctl(regs::txdctl(q), 0, "TX", q)?;
        tx::reset(&qm);
        ring::program(self.r(), &RingRegs::block(regs::tx_block(q)), &qm, self.queue_iova("tx", q)?);
        self.set_queue_ctl(regs::txdctl(q), TXDCTL_RUN, "TX", q)
    }

    /// Disables TX queue `q` and frees the mbufs still in its ring.
    fn tx_queue_stop(&self, q: usize) -> Result<(), EthError> {
        let r = self.set_queue_ctl(regs::txdctl(q), 0, "TX", q);
        if let Some(qm) = tx_mem(self.ctx.slot, q) {
            qm.release_all();
        }
        r
    }

    fn program_rss(&self, cfg: &Cfg) {
        let r = self.r();
        rss::REGS.write_key(r, &cfg.rss_conf.key);
        r.write32(regs::MRQC, rss::mrqc(cfg.rss && cfg.nb_rxq > 1, &cfg.rss_conf));
    }
}

/// The 82576's 24 receive address entries (82576 datasheet's RAL/RAH: 0-15 at 0x5400,
/// 16-23 at 0x54E0; DPDK igb's `max_mac_addrs` is 24 too).
const RAR: mac_filter::RarLayout = mac_filter::RarLayout { entries: 24, ral: mac_filter::ral_82576 };

impl Control for IgbControl {
    fn info(&self) -> DevInfo {
        DevInfo {
            driver_name: NAME,
            max_rx_queues: MAX_QUEUES as u16,
            max_tx_queues: MAX_QUEUES as u16,
            rx_desc_lim: DESC_LIM,
            tx_desc_lim: DESC_LIM,
            max_mtu: MAX_MTU,
            capabilities: capa::RSS | capa::LSC | capa::PROMISC | capa::MTU | capa::RX_INTR,
            reta_size: rss::RETA_SIZE as u16,
            rss_hash_types: rss::HASH_TYPES,
            rx_offload_capa: crate::net::intel::rx_cksum::CAPA
                | ethdev::RxOffloads::SCATTER
                | ethdev::RxOffloads::VLAN_STRIP,
            tx_offload_capa: ethdev::TxOffloads::MULTI_SEGS.union(crate::net::intel::tx_offload::CAPA),
            tx_max_segs: crate::net::intel::txq::MAX_SEGS,
            max_mac_addrs: RAR.entries as u16,
            max_mc_addrs: ethdev::mac_filters::MAX_MC_ADDRS as u16,
        }
    }

    fn mac_filters(&self, lists: &ethdev::MacLists) -> Result<(), EthError> {
        mac_filter::program(self.r(), RAR, lists);
        Ok(())
    }

    fn vlan_strip(&self, on: bool) -> Result<(), EthError> {
        crate::net::intel::vlan_offload::program(self.r(), on);
        Ok(())
    }

    fn configure(&self, conf: &PortConf) -> Result<(), EthError> {
        let strip = conf.rx_offloads.contains(ethdev::RxOffloads::VLAN_STRIP);
        crate::net::intel::vlan_offload::program(self.r(), strip);
        let mtu = conf.mtu.unwrap_or(self.ctx.slot.mtu.load(Ordering::Relaxed) as u16);
        ethdev::scatter::check_scatter(self.ctx.port, mtu, conf.rx_offloads, RX_BUF.into(), BUFFERS)?;
        let cfg = Cfg::from(conf);
        // Queues beyond the new counts are forgotten (their memory freed).
        for (first, dir) in [(cfg.nb_rxq, "rx"), (cfg.nb_txq, "tx")] {
            for q in first..MAX_QUEUES {
                if let Some(old) = self.queue_slot(dir, q).withdraw::<AdvRing>() {
                    old.release_all();
                }
                if let Some(mz) = self.ctx.mem.memzone_lookup(&self.queue_name(dir, q)) {
                    self.ctx.mem.memzone_free(mz);
                }
            }
        }
        self.program_rss(&cfg);
        crate::net::intel::rx_cksum::program(self.r(), crate::net::intel::rx_cksum::wanted(conf.rx_offloads));
        if conf.rx_offloads.contains(ethdev::RxOffloads::VLAN_FILTER) {
            rx_filter::reset_vlans(self.r());
        }
        rss::REGS.write_reta(self.r(), &default_reta(rss::RETA_SIZE, conf.nb_rxq));
        *self.cfg.lock().unwrap_or_else(|p| p.into_inner()) = cfg;
        self.state().lsc.store(u32::from(conf.lsc_intr), Ordering::Relaxed);
        if conf.lsc_intr {
            intr::enable(self.r());
        } else {
            intr::disable(self.r());
        }
        Ok(())
    }

    fn rx_queue_setup(&self, q: u16, nb_desc: u16, pool: PktMbufPool) -> Result<(), EthError> {
        rx_params(self.ctx.port, usize::from(q)).check_setup(q, nb_desc, &pool)?;
        let q = usize::from(q);
        self.setup_queue(Dir::Rx, q, nb_desc)
    }

    fn tx_queue_setup(&self, q: u16, nb_desc: u16) -> Result<(), EthError> {
        let q = usize::from(q);
        self.setup_queue(Dir::Tx, q, nb_desc)
    }

    fn start(&self) -> Result<(), EthError> {
        let cfg = self.cfg();
        let r = self.r();
        r.write32(regs::RCTL, 0);
        for q in 0..cfg.nb_txq {
            self.tx_queue_start(q)?;
        }
        r.write32(regs::TCTL, regs::TCTL_EN | regs::TCTL_PSP | regs::TCTL_CT | regs::TCTL_COLD | regs::TCTL_RTLC);
        for q in 0..cfg.nb_rxq {
            if let Err(e) = self.rx_queue_start(q) {
                for started in 0..q {
                    let _ = self.rx_queue_stop(started);
                }
                return Err(e);
            }
        }
        // The descriptor's dword 1 carries the RSS hash, not a checksum.
        r.write32(regs::RXCSUM, regs::RXCSUM_PCSD);
        let rx_offloads = ethdev::RxOffloads::from_bits_retain(self.ctx.slot.rx_offloads.load(Ordering::Relaxed));
        crate::net::intel::rx_cksum::program(r, crate::net::intel::rx_cksum::wanted(rx_offloads));
        self.program_rss(&cfg);
        self.program_mtu(self.ctx.slot.mtu.load(Ordering::Relaxed) as u16);
        mac_filter::program(r, RAR, &self.ctx.slot.mac_filters.read());
        r.write32(regs::RCTL, self.rctl());
        if self.state().lsc.load(Ordering::Relaxed) == 1 {
            intr::enable(r);
        }
        tracing::info!(port = self.ctx.port, rxq = cfg.nb_rxq, txq = cfg.nb_txq, rss = cfg.rss, "igb started");
        Ok(())
    }

    fn queue_state(&self, dir: Dir, q: u16, on: bool) -> Result<(), EthError> {
        let q = usize::from(q);
        match (dir, on) {
            (Dir::Rx, true) => self.rx_queue_start(q),
            (Dir::Rx, false) => self.rx_queue_stop(q),
            (Dir::Tx, true) => self.tx_queue_start(q),
            (Dir::Tx, false) => self.tx_queue_stop(q),
        }
    }

    fn stop(&self) -> Result<(), EthError> {
        let r = self.r();
        r.write32(regs::RCTL, r.read32(regs::RCTL) & !regs::RCTL_EN);
        let mut first_err = None;
        for q in 0..MAX_QUEUES {
            if let Err(e) = self.rx_queue_stop(q) {
                first_err.get_or_insert(e);
            }
        }
        r.write32(regs::TCTL, r.read32(regs::TCTL) & !regs::TCTL_EN);
        for q in 0..MAX_QUEUES {
            if let Err(e) = self.tx_queue_stop(q) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn close(&self) {
        let _ = self.stop();
        intr::disable(self.r());
        drop(self.irqs.lock().unwrap_or_else(|p| p.into_inner()).take());
        for q in 0..MAX_QUEUES {
            for dir in ["rx", "tx"] {
                let _ = self.queue_slot(dir, q).withdraw::<AdvRing>();
                if let Some(mz) = self.ctx.mem.memzone_lookup(&self.queue_name(dir, q)) {
                    self.ctx.mem.memzone_free(mz);
                }
            }
        }
        if let Err(e) = init::reset(self.r()) {
            tracing::warn!(port = self.ctx.port, "{e}");
        }
    }

    fn link_update(&self) -> Link {
        let l = init::read_link(self.r());
        self.ctx.report_link(l);
        l
    }

    fn promiscuous(&self, on: bool) -> Result<(), EthError> {
        if self.started() {
            let v = self.rctl() & !(regs::RCTL_UPE | regs::RCTL_MPE);
            let p = if on { regs::RCTL_UPE | regs::RCTL_MPE } else { 0 };
            let all = self.ctx.slot.allmulti.load(Ordering::Relaxed) == 1;
            self.r().write32(regs::RCTL, rx_filter::with_allmulti(v | p, all, on));
        }
        Ok(())
    }

    fn allmulticast(&self, on: bool) -> Result<(), EthError> {
        if self.started() {
            let promisc = self.ctx.slot.promisc.load(Ordering::Relaxed) == 1;
            self.r().write32(regs::RCTL, rx_filter::with_allmulti(self.rctl(), on, promisc));
        }
        Ok(())
    }

    fn vlan_filter(&self, vid: u16, on: bool) -> Result<(), EthError> {
        rx_filter::set_vlan(self.r(), vid, on);
        Ok(())
    }

    fn mac_set(&self, mac: [u8; 6]) -> Result<(), EthError> {
        init::write_mac(self.r(), mac);
        Ok(())
    }

    fn mtu_set(&self, mtu: u16) -> Result<(), EthError> {
        let offloads = ethdev::RxOffloads::from_bits_retain(self.ctx.slot.rx_offloads.load(Ordering::Relaxed));
        ethdev::scatter::check_scatter(self.ctx.port, mtu, offloads, RX_BUF.into(), BUFFERS)?;
        self.program_mtu(mtu);
        if self.started() {
            let v = self.rctl() & !regs::RCTL_LPE;
            self.r().write32(regs::RCTL, if mtu > 1500 { v | regs::RCTL_LPE } else { v });
        }
        Ok(())
    }

    fn stats_update(&self) {
        stats::STATS.update(self.r(), self.ctx.slot, &self.state().stats);
    }

    fn rss_hash_update(&self, conf: &RssConf) -> Result<(), EthError> {
        let mut cfg = self.cfg.lock().unwrap_or_else(|p| p.into_inner());
        cfg.rss_conf = *conf;
        self.program_rss(&cfg);
        Ok(())
    }

    fn reta_update(&self, reta: &[u16]) -> Result<(), EthError> {
        intel::rss::check_reta(self.ctx.port, reta, MAX_QUEUES)?;
        rss::REGS.write_reta(self.r(), reta);
        Ok(())
    }

    fn reta_query(&self) -> Result<Vec<u16>, EthError> {
        Ok(rss::REGS.read_reta(self.r()))
    }

    fn stats_reset(&self) {
        stats::STATS.reset(self.r(), self.ctx.slot, &self.state().stats);
    }

    fn xstats(&self) -> Vec<(&'static str, u64)> {
        let mut v = stats::STATS.totals(&self.state().stats);
        v.push(("lsc_interrupts", self.lsc_count.load(Ordering::Relaxed)));
        let retired: u64 = (0..MAX_QUEUES)
            .filter_map(|q| rx_mem(self.ctx.slot, q))
            .map(|q| q.hdr().retired.load(Ordering::Relaxed))
            .sum();
        v.push(("rx_retired_mbufs", retired));
        let r = self.r();
        for (name, reg) in [
            ("reg_rctl", regs::RCTL),
            ("reg_status", regs::STATUS),
            ("reg_mrqc", regs::MRQC),
            ("reg_gpie", regs::GPIE),
            ("reg_rdh0", regs::rdh(0)),
            ("reg_rdt0", regs::rdt(0)),
            ("reg_rxdctl0", regs::rxdctl(0)),
            ("reg_tdh0", regs::tdh(0)),
            ("reg_tdt0", regs::tdt(0)),
        ] {
            v.push((name, u64::from(r.read32(reg))));
        }
        v
    }
}
