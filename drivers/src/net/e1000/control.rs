//! The primary's control of a port: probe-time bring-up, queue setup, start/stop, RSS
//! (82574L), promiscuous mode, MAC, MTU, statistics and link.

use super::desc::Ring;
use super::init;
use super::{intr, regs, rss, rx_mem, rxq, state, stats, tx_mem, txq, EmState, Model, MAX_QUEUES, NAME};
use crate::net::common::queue_mem;
use crate::net::common::RegIo;
use crate::net::intel::error::IntelError;
use crate::net::intel::{self, mac_filter, rx_filter};
use eal::bus::{ArmedIrqs, BusDevice};
use eal::vfio::MmioRegion;
use eal::PktMbufPool;
use ethdev::rss::{default_reta, RssConf};
use ethdev::{capa, Control, DescLimits, DevInfo, Dir, EthError, Link, PortConf, PortCtx, PortState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// QEMU's e1000 holds back received frames for 1 s after every RCTL write (its "flush
/// queue" timer); starting waits this long so that the port receives when `start` returns.
/// What limits a frame that fits one receive buffer, for error messages.
const BUFFERS: &str = "the e1000's 2048-byte receive buffers (RCTL.BSIZE)";

const RCTL_SETTLE_82540: Duration = Duration::from_millis(1100);

/// Descriptor limits: RDLEN/TDLEN are multiples of 128 bytes (8 descriptors).
const DESC_LIM: DescLimits = DescLimits { min: 32, max: 4096, align: 8 };

/// What `configure` asked for.
type Cfg = crate::net::intel::port_cfg::PortCfg;

/// Control of one e1000 port (primary).
pub(crate) struct EmControl {
    ctx: PortCtx,
    dev: Arc<BusDevice>,
    bar: Arc<MmioRegion>,
    model: Model,
    irqs: Mutex<Option<ArmedIrqs>>,
    lsc_count: Arc<AtomicU64>,
    cfg: Mutex<Cfg>,
}

impl EmControl {
    /// Resets the device, reads its MAC address, sets the link up, clears the counters and
    /// arms the link interrupt.
    pub(crate) fn probe(
        ctx: &PortCtx,
        dev: &Arc<BusDevice>,
        bar: Arc<MmioRegion>,
        model: Model,
    ) -> Result<Self, EthError> {
        let err = |e: IntelError| EthError::Device { port: ctx.port, msg: format!("{}: {e}", dev.addr()) };
        let r: &dyn RegIo = &*bar;
        init::reset(r).map_err(err)?;
        let layout = match model {
            Model::E82540 => regs::EERD_82540,
            Model::E82574 => regs::EERD_82574,
        };
        let mac = init::read_mac(r, layout).map_err(err)?;
        ctx.slot.set_mac(mac);
        init::write_mac(r, mac);
        init::clear_mta(r);
        init::link_setup(r);
        stats::STATS.reset(r, ctx.slot, &state(ctx.slot).stats);
        let lsc_count = Arc::new(AtomicU64::new(0));
        let irqs = intr::arm(ctx, dev, bar.clone(), model, lsc_count.clone())?;
        intr::enable(r, model);
        let cfg = Mutex::new(Cfg::default());
        Ok(EmControl { ctx: ctx.clone(), dev: dev.clone(), bar, model, irqs: Mutex::new(Some(irqs)), lsc_count, cfg })
    }

    /// The registers, through [`RegIo`] (MmioRegion's own `read32` returns an Option).
    fn r(&self) -> &dyn RegIo {
        &*self.bar
    }

    fn err(&self, msg: impl std::fmt::Display) -> EthError {
        EthError::Device { port: self.ctx.port, msg: format!("{}: {msg}", self.dev.addr()) }
    }

    fn state(&self) -> &'static EmState {
        state(self.ctx.slot)
    }

    fn started(&self) -> bool {
        self.ctx.slot.state() == PortState::Started
    }

    fn rctl(&self, promisc: bool, mtu: u16) -> u32 {
        rxq::rctl(promisc, mtu > 1500) | rx_filter::rctl_bits(self.ctx.slot)
    }

    fn queue_name(&self, dir: &str, q: usize) -> String {
        format!("em{}_{dir}q{q}", self.ctx.port)
    }

    fn cfg(&self) -> Cfg {
        *self.cfg.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets up queue `q` of direction `dir` with `nb` descriptors (ethdev checked `q`
    /// against the configured count).
    fn setup_queue(&self, dir: Dir, q: usize, nb: u16) -> Result<(), EthError> {
        let st = self.state();
        let (slot, iova) = match dir {
            Dir::Rx => (&st.rxq[q], &st.rx_iova[q]),
            Dir::Tx => (&st.txq[q], &st.tx_iova[q]),
        };
        let name = self.queue_name(dir.name(), q);
        let (mz, _) = queue_mem::setup_queue::<Ring>(&self.ctx.mem, &name, slot, usize::from(nb))?;
        iova.store(mz.iova(), Ordering::Relaxed);
        Ok(())
    }

    /// Forgets queue `q` of direction `dir` ("rx" or "tx"), freeing its memory.
    fn free_queue(&self, dir: &str, q: usize) {
        let slot = if dir == "rx" { &self.state().rxq[q] } else { &self.state().txq[q] };
        if let Some(old) = slot.withdraw::<Ring>() {
            old.release_all();
        }
        if let Some(mz) = self.ctx.mem.memzone_lookup(&self.queue_name(dir, q)) {
            self.ctx.mem.memzone_free(mz);
        }
    }

    /// 82574L: extended RX descriptors with the RSS hash in the write-back (RFCTL.EXSTEN,
    /// RXCSUM.PCSD, keeping the checksum bits), and RSS over the RX queues when asked for
    /// with more than one.
    fn program_rss(&self, cfg: &Cfg) {
        if self.model != Model::E82574 {
            return;
        }
        let r = self.r();
        r.write32(regs::RFCTL, r.read32(regs::RFCTL) | regs::RFCTL_EXTEN);
        r.write32(
            crate::net::intel::rx_cksum::RXCSUM,
            r.read32(crate::net::intel::rx_cksum::RXCSUM) | regs::RXCSUM_PCSD,
        );
        rss::program(r, cfg.rss && cfg.nb_rxq > 1, &cfg.rss_conf);
    }

    fn rss_unsupported(&self) -> EthError {
        EthError::Unsupported {
            port: self.ctx.port,
            what: "RSS on the 82540EM (one RX queue); the 82574L has it".into(),
        }
    }
}

impl Control for EmControl {
    fn info(&self) -> DevInfo {
        DevInfo {
            driver_name: NAME,
            max_rx_queues: self.model.queues() as u16,
            max_tx_queues: self.model.queues() as u16,
            rx_desc_lim: DESC_LIM,
            tx_desc_lim: DESC_LIM,
            max_mtu: self.model.max_mtu(),
            capabilities: capa::LSC
                | capa::PROMISC
                | capa::MTU
                | capa::RX_INTR
                | if self.model == Model::E82574 { capa::RSS } else { 0 },
            reta_size: if self.model == Model::E82574 { rss::RETA_SIZE as u16 } else { 0 },
            rss_hash_types: if self.model == Model::E82574 { rss::HASH_TYPES } else { 0 },
            rx_offload_capa: crate::net::intel::rx_cksum::CAPA
                | ethdev::RxOffloads::SCATTER
                | ethdev::RxOffloads::VLAN_STRIP,
            tx_offload_capa: ethdev::TxOffloads::MULTI_SEGS.union(crate::net::intel::tx_offload::CAPA),
            tx_max_segs: crate::net::intel::txq::MAX_SEGS,
            max_mac_addrs: self.model.rar_layout().entries as u16,
            max_mc_addrs: ethdev::mac_filters::MAX_MC_ADDRS as u16,
        }
    }

    fn mac_filters(&self, lists: &ethdev::MacLists) -> Result<(), EthError> {
        mac_filter::program(self.r(), self.model.rar_layout(), lists);
        Ok(())
    }

    fn vlan_strip(&self, on: bool) -> Result<(), EthError> {
        let tx = ethdev::TxOffloads::from_bits_retain(self.ctx.slot.tx_offloads.load(Ordering::Relaxed));
        if !on && tx.contains(ethdev::TxOffloads::VLAN_INSERT) {
            return Err(EthError::Unsupported {
                port: self.ctx.port,
                what: "VLAN stripping off while the port inserts VLAN tags: on the 8254x/82574 one bit \
                       (CTRL.VME) does both; configure the port without VLAN_INSERT first"
                    .into(),
            });
        }
        crate::net::intel::vlan_offload::program(self.r(), on);
        Ok(())
    }

    fn configure(&self, conf: &PortConf) -> Result<(), EthError> {
        let (strip, insert) = (
            conf.rx_offloads.contains(ethdev::RxOffloads::VLAN_STRIP),
            conf.tx_offloads.contains(ethdev::TxOffloads::VLAN_INSERT),
        );
        if insert && !strip {
            return Err(EthError::Unsupported {
                port: self.ctx.port,
                what: "TX offload VLAN_INSERT without RX offload VLAN_STRIP: on the 8254x/82574 one bit \
                       (CTRL.VME) turns both on; ask for VLAN_STRIP too"
                    .into(),
            });
        }
        crate::net::intel::vlan_offload::program(self.r(), strip);
        crate::net::intel::rx_cksum::program(self.r(), crate::net::intel::rx_cksum::wanted(conf.rx_offloads));
        if conf.rx_offloads.contains(ethdev::RxOffloads::VLAN_FILTER) {
            rx_filter::reset_vlans(self.r());
        }
        let mtu = conf.mtu.unwrap_or(self.ctx.slot.mtu.load(Ordering::Relaxed) as u16);
        ethdev::scatter::check_scatter(self.ctx.port, mtu, conf.rx_offloads, rxq::RX_BUF.into(), BUFFERS)?;
        let cfg = Cfg::from(conf);
        // Queues beyond the new counts are forgotten (their memory freed).
        for (first, dir) in [(cfg.nb_rxq, "rx"), (cfg.nb_txq, "tx")] {
            for q in first..MAX_QUEUES {
                self.free_queue(dir, q);
            }
        }
        self.program_rss(&cfg);
        if self.model == Model::E82574 {
            rss::REGS.write_reta(self.r(), &default_reta(rss::RETA_SIZE, conf.nb_rxq));
        }
        *self.cfg.lock().unwrap_or_else(|p| p.into_inner()) = cfg;
        self.state().lsc.store(u32::from(conf.lsc_intr), Ordering::Relaxed);
        if conf.lsc_intr {
            intr::enable(self.r(), self.model);
        } else {
            intr::disable(self.r());
        }
        Ok(())
    }

    fn rx_queue_setup(&self, q: u16, nb_desc: u16, pool: PktMbufPool) -> Result<(), EthError> {
        rxq::params(self.ctx.port, usize::from(q)).check_setup(q, nb_desc, &pool)?;
        self.setup_queue(Dir::Rx, usize::from(q), nb_desc)
    }

    fn tx_queue_setup(&self, q: u16, nb_desc: u16) -> Result<(), EthError> {
        self.setup_queue(Dir::Tx, usize::from(q), nb_desc)
    }

    fn start(&self) -> Result<(), EthError> {
        let slot = self.ctx.slot;
        let cfg = self.cfg();
        let rx: Vec<_> = (0..cfg.nb_rxq).map(|q| rx_mem(slot, q)).collect();
        let tx: Vec<_> = (0..cfg.nb_txq).map(|q| tx_mem(slot, q)).collect();
        if rx.iter().chain(&tx).any(Option::is_none) {
            return Err(self.err(format!("set up the {} RX and {} TX queues before starting", cfg.nb_rxq, cfg.nb_txq)));
        }
        let (rx, tx): (Vec<_>, Vec<_>) = (rx.into_iter().flatten().collect(), tx.into_iter().flatten().collect());
        let st = self.state();
        let e82574 = self.model == Model::E82574;
        for (q, tq) in tx.iter().enumerate() {
            txq::program(self.r(), q, tq, st.tx_iova[q].load(Ordering::Relaxed), e82574);
        }
        for q in cfg.nb_txq..self.model.queues() {
            self.r().write32(regs::queue_reg(regs::TDLEN, q), 0);
            self.r().write32(regs::TARC1, self.r().read32(regs::TARC1) & !regs::TARC0_ENABLE);
        }
        txq::enable(self.r());
        let pa = crate::net::common::iova::pa_mode(self.ctx.mem);
        for (q, rq) in rx.iter().enumerate() {
            let pool = PktMbufPool::from_header_addr(slot.rxq_pool[q].load(Ordering::Relaxed))?;
            if let Err(e) = rxq::start(self.r(), q, rq, st.rx_iova[q].load(Ordering::Relaxed), &pool, pa.as_ref()) {
                rx.iter().take(q).for_each(|r| r.release_all());
                return Err(self.err(e));
            }
        }
        for q in cfg.nb_rxq..self.model.queues() {
            rxq::unprogram(self.r(), q);
        }
        // RFCTL before RCTL: QEMU's e1000e sizes its descriptors at the RCTL write.
        self.program_rss(&cfg);
        mac_filter::program(self.r(), self.model.rar_layout(), &slot.mac_filters.read());
        let promisc = slot.promisc.load(Ordering::Relaxed) == 1;
        self.r().write32(regs::RCTL, self.rctl(promisc, slot.mtu.load(Ordering::Relaxed) as u16));
        if self.state().lsc.load(Ordering::Relaxed) == 1 {
            intr::enable(self.r(), self.model);
        }
        if self.model == Model::E82540 {
            std::thread::sleep(RCTL_SETTLE_82540);
        }
        tracing::info!(port = self.ctx.port, rxq = cfg.nb_rxq, txq = cfg.nb_txq, rss = cfg.rss, "e1000 started");
        Ok(())
    }

    fn stop(&self) -> Result<(), EthError> {
        let slot = self.ctx.slot;
        rxq::stop(self.r(), &(0..MAX_QUEUES).map(|q| rx_mem(slot, q)).collect::<Vec<_>>());
        txq::stop(self.r(), &(0..MAX_QUEUES).map(|q| tx_mem(slot, q)).collect::<Vec<_>>());
        Ok(())
    }

    fn close(&self) {
        let _ = self.stop();
        intr::disable(self.r());
        drop(self.irqs.lock().unwrap_or_else(|p| p.into_inner()).take());
        for q in 0..MAX_QUEUES {
            for dir in ["rx", "tx"] {
                self.free_queue(dir, q);
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
            self.r().write32(regs::RCTL, self.rctl(on, self.ctx.slot.mtu.load(Ordering::Relaxed) as u16));
        }
        Ok(())
    }

    fn allmulticast(&self, on: bool) -> Result<(), EthError> {
        if self.started() {
            let slot = self.ctx.slot;
            let promisc = slot.promisc.load(Ordering::Relaxed) == 1;
            let v = self.rctl(promisc, slot.mtu.load(Ordering::Relaxed) as u16);
            self.r().write32(regs::RCTL, rx_filter::with_allmulti(v, on, promisc));
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
        ethdev::scatter::check_scatter(self.ctx.port, mtu, offloads, rxq::RX_BUF.into(), BUFFERS)?;
        if self.started() {
            let promisc = self.ctx.slot.promisc.load(Ordering::Relaxed) == 1;
            self.r().write32(regs::RCTL, self.rctl(promisc, mtu));
        }
        Ok(())
    }

    fn stats_update(&self) {
        stats::STATS.update(self.r(), self.ctx.slot, &self.state().stats);
    }

    fn rss_hash_update(&self, conf: &RssConf) -> Result<(), EthError> {
        if self.model != Model::E82574 {
            return Err(self.rss_unsupported());
        }
        let mut cfg = self.cfg.lock().unwrap_or_else(|p| p.into_inner());
        cfg.rss_conf = *conf;
        self.program_rss(&cfg);
        Ok(())
    }

    fn reta_update(&self, reta: &[u16]) -> Result<(), EthError> {
        if self.model != Model::E82574 {
            return Err(self.rss_unsupported());
        }
        intel::rss::check_reta(self.ctx.port, reta, MAX_QUEUES)?;
        rss::REGS.write_reta(self.r(), reta);
        Ok(())
    }

    fn reta_query(&self) -> Result<Vec<u16>, EthError> {
        if self.model != Model::E82574 {
            return Err(self.rss_unsupported());
        }
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
        for (name, reg) in [
            ("reg_rctl", regs::RCTL),
            ("reg_status", regs::STATUS),
            ("reg_rdh", regs::RDH),
            ("reg_rdt", regs::RDT),
            ("reg_tdh", regs::TDH),
            ("reg_tdt", regs::TDT),
        ] {
            v.push((name, u64::from(self.r().read32(reg))));
        }
        if self.model == Model::E82574 {
            for (name, reg) in [
                ("reg_mrqc", regs::MRQC),
                ("reg_rfctl", regs::RFCTL),
                ("reg_rdh1", regs::queue_reg(regs::RDH, 1)),
                ("reg_rdt1", regs::queue_reg(regs::RDT, 1)),
                ("reg_tdh1", regs::queue_reg(regs::TDH, 1)),
                ("reg_tdt1", regs::queue_reg(regs::TDT, 1)),
            ] {
                v.push((name, u64::from(self.r().read32(reg))));
            }
        }
        v
    }
}
