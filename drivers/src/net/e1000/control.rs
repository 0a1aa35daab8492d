//! The primary's control of a port: probe-time bring-up, queue setup, start/stop,
//! promiscuous mode, MAC, MTU, statistics and link.

use super::desc::Ring;
use super::init;
use super::{intr, regs, rx_mem, rxq, state, stats, tx_mem, txq, EmState, Model, NAME};
use crate::net::common::queue_mem;
use crate::net::common::RegIo;
use crate::net::intel::error::IntelError;
use crate::net::intel::{mac_filter, rx_filter};
use eal::bus::{ArmedIrqs, BusDevice};
use eal::vfio::MmioRegion;
use eal::PktMbufPool;
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

/// Control of one e1000 port (primary).
pub(crate) struct EmControl {
    ctx: PortCtx,
    dev: Arc<BusDevice>,
    bar: Arc<MmioRegion>,
    model: Model,
    irqs: Mutex<Option<ArmedIrqs>>,
    lsc_count: Arc<AtomicU64>,
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
        Ok(EmControl { ctx: ctx.clone(), dev: dev.clone(), bar, model, irqs: Mutex::new(Some(irqs)), lsc_count })
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

    fn queue_name(&self, dir: &str) -> String {
        format!("em{}_{dir}q0", self.ctx.port)
    }

    /// Sets up queue `q` (0, the only one) of direction `dir` with `nb` descriptors.
    fn setup_queue(&self, dir: Dir, q: usize, nb: u16) -> Result<(), EthError> {
        debug_assert_eq!(q, 0, "the e1000 has one queue per direction");
        let st = self.state();
        let (slot, iova) = match dir {
            Dir::Rx => (&st.rxq, &st.rx_iova),
            Dir::Tx => (&st.txq, &st.tx_iova),
        };
        let name = self.queue_name(dir.name());
        let (mz, _) = queue_mem::setup_queue::<Ring>(&self.ctx.mem, &name, slot, usize::from(nb))?;
        iova.store(mz.iova(), Ordering::Relaxed);
        Ok(())
    }
}

impl Control for EmControl {
    fn info(&self) -> DevInfo {
        DevInfo {
            driver_name: NAME,
            max_rx_queues: 1,
            max_tx_queues: 1,
            rx_desc_lim: DESC_LIM,
            tx_desc_lim: DESC_LIM,
            max_mtu: self.model.max_mtu(),
            capabilities: capa::LSC | capa::PROMISC | capa::MTU | capa::RX_INTR,
            reta_size: 0,
            rss_hash_types: 0,
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
        self.state().lsc.store(u32::from(conf.lsc_intr), Ordering::Relaxed);
        if conf.lsc_intr {
            intr::enable(self.r(), self.model);
        } else {
            intr::disable(self.r());
        }
        Ok(())
    }

    fn rx_queue_setup(&self, q: u16, nb_desc: u16, pool: PktMbufPool) -> Result<(), EthError> {
        rxq::params(self.ctx.port).check_setup(q, nb_desc, &pool)?;
        self.setup_queue(Dir::Rx, usize::from(q), nb_desc)
    }

    fn tx_queue_setup(&self, q: u16, nb_desc: u16) -> Result<(), EthError> {
        self.setup_queue(Dir::Tx, usize::from(q), nb_desc)
    }

    fn start(&self) -> Result<(), EthError> {
        let slot = self.ctx.slot;
        let (rx, tx) = (rx_mem(slot), tx_mem(slot));
        let (Some(rx), Some(tx)) = (rx, tx) else {
            return Err(self.err("set up the RX and TX queues before starting"));
        };
        let pool = PktMbufPool::from_header_addr(slot.rxq_pool[0].load(Ordering::Relaxed))?;
        txq::start(self.r(), &tx, self.state().tx_iova.load(Ordering::Relaxed), self.model == Model::E82574);
        let pa = crate::net::common::iova::pa_mode(self.ctx.mem);
        rxq::start(self.r(), &rx, self.state().rx_iova.load(Ordering::Relaxed), &pool, pa.as_ref())
            .map_err(|e| self.err(e))?;
        mac_filter::program(self.r(), self.model.rar_layout(), &slot.mac_filters.read());
        let promisc = slot.promisc.load(Ordering::Relaxed) == 1;
        self.r().write32(regs::RCTL, self.rctl(promisc, slot.mtu.load(Ordering::Relaxed) as u16));
        if self.state().lsc.load(Ordering::Relaxed) == 1 {
            intr::enable(self.r(), self.model);
        }
        if self.model == Model::E82540 {
            std::thread::sleep(RCTL_SETTLE_82540);
        }
        tracing::info!(port = self.ctx.port, rx = rx.nb(), tx = tx.nb(), "e1000 started");
        Ok(())
    }

    fn stop(&self) -> Result<(), EthError> {
        let slot = self.ctx.slot;
        rxq::stop(self.r(), rx_mem(slot).as_ref());
        txq::stop(self.r(), tx_mem(slot).as_ref());
        Ok(())
    }

    fn close(&self) {
        let _ = self.stop();
        intr::disable(self.r());
        drop(self.irqs.lock().unwrap_or_else(|p| p.into_inner()).take());
        for (dir, queue) in [("rx", &self.state().rxq), ("tx", &self.state().txq)] {
            let _ = queue.withdraw::<Ring>();
            if let Some(mz) = self.ctx.mem.memzone_lookup(&self.queue_name(dir)) {
                self.ctx.mem.memzone_free(mz);
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

    fn stats_reset(&self) {
        stats::STATS.reset(self.r(), self.ctx.slot, &self.state().stats);
    }

    fn xstats(&self) -> Vec<(&'static str, u64)> {
        let mut v = stats::STATS.totals(&self.state().stats);
        v.push(("lsc_interrupts", self.lsc_count.load(Ordering::Relaxed)));
        v.push(("rx_retired_mbufs", rx_mem(self.ctx.slot).map_or(0, |q| q.hdr().retired.load(Ordering::Relaxed))));
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
        v
    }
}
