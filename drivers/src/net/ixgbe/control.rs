//! The primary's control of a port: probe-time bring-up, configuration (queues, RSS),
//! queue setup, start/stop, promiscuous mode, MAC, MTU, statistics and link. Generic over
//! the register access so that the host tests drive it against the 82599 model.

use super::queues::{self, rx_mem, tx_mem};
use super::{addr_filter, hw, intr, offload, regs, rss, state, stats, IxgbeState, MacType, MAX_MTU, NAME};
use crate::net::common::queue_mem::{self, QueueSlot};
use crate::net::intel::adv::{queue, AdvRing, QueueMem};
use crate::net::intel::error::IntelError;
use crate::net::intel::{self, RegIo};
use eal::bus::ArmedIrqs;
use eal::{Memory, PktMbufPool};
use ethdev::rss::{default_reta, RssConf};
use ethdev::{capa, Control, DescLimits, DevInfo, Dir, EthError, Link, PortConf, PortSlot};

/// What limits a frame that fits one receive buffer, for error messages.
const BUFFERS: &str = "the ixgbe's 2048-byte receive buffers (SRRCTL.BSIZEPACKET)";
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Descriptor limits: RDLEN/TDLEN are multiples of 128 bytes (8 descriptors).
const DESC_LIM: DescLimits = DescLimits { min: 32, max: 4096, align: queue::DESC_ALIGN };

/// Queues per direction offered (the RSS limit of 16; the device has 128).
pub const MAX_QUEUES: u16 = rss::MAX_RSS_QUEUES;

/// Where link changes go (the ethdev port context in the PMD; a recorder in tests).
pub type LinkReport = Arc<dyn Fn(Link) + Send + Sync>;

/// Control of one ixgbe port (primary).
pub struct IxgbeControl<R: RegIo> {
    port: u16,
    /// Names the device in errors (its PCI address).
    label: String,
    slot: &'static PortSlot,
    mem: Memory,
    regs: R,
    report: LinkReport,
    irqs: Mutex<Option<ArmedIrqs>>,
    lsc_count: Arc<AtomicU64>,
}

impl<R: RegIo> IxgbeControl<R> {
    /// Brings the device up (primary, at probe): reset and the datasheet's waits, the MAC
    /// address from RAL0/RAH0, general configuration, link start, counters cleared, MSI-X
    /// routing of the link interrupt (armed with VFIO by the caller, see [`Self::set_irqs`])
    /// and the link interrupt enabled.
    pub fn probe(
        port: u16,
        label: String,
        slot: &'static PortSlot,
        mem: Memory,
        regs: R,
        mac_type: MacType,
        report: LinkReport,
    ) -> Result<Self, EthError> {
        let err = |e: IntelError| EthError::Device { port, msg: format!("{label}: {e}") };
        hw::reset(&regs).map_err(err)?;
        let mac = hw::read_mac(&regs).map_err(err)?;
        slot.clear_driver_state();
        state(slot).mac_type.store(mac_type.code(), Ordering::Relaxed);
        state(slot).lsc.store(1, Ordering::Relaxed);
        slot.set_mac(mac);
        hw::write_mac(&regs, mac);
        hw::general_config(&regs);
        hw::set_max_frame(&regs, 1500);
        if mac_type.autoc_link() {
            hw::link_setup(&regs);
        }
        stats::STATS.reset(&regs, slot, &state(slot).stats);
        intr::configure(&regs);
        intr::enable(&regs);
        Ok(IxgbeControl {
            port,
            label,
            slot,
            mem,
            regs,
            report,
            irqs: Mutex::new(None),
            lsc_count: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Keeps the armed interrupt vectors (dropping them disarms).
    pub fn set_irqs(&self, irqs: ArmedIrqs) {
        *self.irqs.lock().unwrap_or_else(|p| p.into_inner()) = Some(irqs);
    }

    /// The counter of handled link interrupts (shared with the interrupt handler).
    pub fn lsc_counter(&self) -> Arc<AtomicU64> {
        self.lsc_count.clone()
    }

    /// The register access.
    pub fn regs(&self) -> &R {
        &self.regs
    }

    /// Runs the other-causes interrupt handler (what the interrupt thread calls in the
    /// primary): a link change is counted and reported.
    pub fn on_other_interrupt(&self) {
        on_other_interrupt(&self.regs, self.slot, &self.lsc_count, &self.report);
    }

    fn err(&self, msg: impl std::fmt::Display) -> EthError {
        EthError::Device { port: self.port, msg: format!("{}: {msg}", self.label) }
    }

    fn state(&self) -> &'static IxgbeState {
        state(self.slot)
    }

    /// The records of the queues in direction `dir` ("rx" or "tx").
    fn queue_slots(&self, dir: &str) -> &'static [QueueSlot] {
        if dir == "rx" {
            &self.state().rxq
        } else {
            &self.state().txq
        }
    }

    fn queue_name(&self, dir: &str, q: u16) -> String {
        format!("ixgbe{}_{dir}q{q}", self.port)
    }

    /// Sets up queue `q` of direction `dir` with `nb` descriptors.
    fn setup_queue(&self, dir: Dir, q: usize, nb: u16) -> Result<(), EthError> {
        let slot = &self.queue_slots(dir.name())[q];
        let name = self.queue_name(dir.name(), q as u16);
        queue_mem::setup_queue::<AdvRing>(&self.mem, &name, slot, usize::from(nb))?;
        Ok(())
    }

    /// Fills RX queue `q` with mbufs, programs and enables it.
    fn rx_queue_start(&self, q: usize) -> Result<(), EthError> {
        let m = rx_mem(self.slot, q).ok_or_else(|| self.err(format!("set up RX queue {q} before starting")))?;
        let pool = PktMbufPool::from_header_addr(self.slot.rxq_pool[q].load(Ordering::Relaxed))?;
        let iova = self.mem.iova(self.state().rxq[q].addr());
        let pa = crate::net::common::iova::pa_mode(self.mem);
        offload::vlan_strip(&self.regs, q, self.rx_offloads().contains(ethdev::RxOffloads::VLAN_STRIP));
        queues::rx_start(&self.regs, q, &m, iova, &pool, pa.as_ref(), self.port).map_err(|e| self.err(e))
    }

    /// Empties TX queue `q`, programs and enables it.
    fn tx_queue_start(&self, q: usize) -> Result<(), EthError> {
        let m = tx_mem(self.slot, q).ok_or_else(|| self.err(format!("set up TX queue {q} before starting")))?;
        let iova = self.mem.iova(self.state().txq[q].addr());
        queues::tx_start(&self.regs, q, &m, iova).map_err(|e| self.err(e))
    }

    /// The RX offloads the port was configured with (recorded in the slot by ethdev).
    fn rx_offloads(&self) -> ethdev::RxOffloads {
        ethdev::RxOffloads::from_bits_retain(self.slot.rx_offloads.load(Ordering::Relaxed))
    }

    fn nb_queues(&self) -> (usize, usize) {
        (self.slot.nb_rxq.load(Ordering::Relaxed) as usize, self.slot.nb_txq.load(Ordering::Relaxed) as usize)
    }

    fn all_queues(&self, dir: &str) -> impl Iterator<Item = (usize, Option<QueueMem>)> + '_ {
        self.queue_slots(dir)[..usize::from(MAX_QUEUES)].iter().map(|s| s.get::<AdvRing>()).enumerate()
    }
}

/// The body of the other-causes handler, shared by [`IxgbeControl::on_other_interrupt`] and
/// the closure given to the interrupt thread.
pub fn on_other_interrupt<R: RegIo + ?Sized>(r: &R, slot: &PortSlot, count: &AtomicU64, report: &LinkReport) {
    let rearm = state(slot).lsc.load(Ordering::Relaxed) == 1;
    if let Some(link) = intr::handle_other(r, rearm) {
        count.fetch_add(1, Ordering::Relaxed);
        report(link);
    }
}

impl<R: RegIo> Control for IxgbeControl<R> {
    fn info(&self) -> DevInfo {
        DevInfo {
            driver_name: NAME,
            max_rx_queues: MAX_QUEUES,
            max_tx_queues: MAX_QUEUES,
            rx_desc_lim: DESC_LIM,
            tx_desc_lim: DESC_LIM,
            max_mtu: MAX_MTU,
            capabilities: capa::RSS | capa::LSC | capa::PROMISC | capa::MTU | capa::RX_INTR,
            reta_size: regs::RETA_ENTRIES as u16,
            rss_hash_types: rss::HASH_TYPES,
            rx_offload_capa: offload::RX_CAPA,
            tx_offload_capa: offload::TX_CAPA,
            tx_max_segs: crate::net::intel::txq::MAX_SEGS,
            max_mac_addrs: addr_filter::RAR.entries as u16,
            max_mc_addrs: ethdev::mac_filters::MAX_MC_ADDRS as u16,
        }
    }

    fn mac_filters(&self, lists: &ethdev::MacLists) -> Result<(), EthError> {
        addr_filter::program(&self.regs, lists);
        Ok(())
    }

    fn configure(&self, conf: &PortConf) -> Result<(), EthError> {
        let mtu = conf.mtu.unwrap_or(self.slot.mtu.load(Ordering::Relaxed) as u16);
        ethdev::scatter::check_scatter(self.port, mtu, conf.rx_offloads, super::queues::RX_BUF.into(), BUFFERS)?;
        offload::program_rx_cksum(&self.regs, conf.rx_offloads);
        self.state().lsc.store(u32::from(conf.lsc_intr), Ordering::Relaxed);
        if conf.lsc_intr {
            intr::enable(&self.regs);
        } else {
            intr::disable(&self.regs);
        }
        if conf.rss && conf.nb_rxq > 1 {
            rss::REGS.write_key(&self.regs, &conf.rss_conf.key);
            rss::REGS.write_reta(&self.regs, &default_reta(regs::RETA_ENTRIES, conf.nb_rxq));
            rss::enable(&self.regs, conf.rss_conf.hash_types);
        } else {
            rss::disable(&self.regs);
        }
        Ok(())
    }

    fn rx_queue_setup(&self, q: u16, nb_desc: u16, pool: PktMbufPool) -> Result<(), EthError> {
        queues::rx_params(self.port, usize::from(q)).check_setup(q, nb_desc, &pool)?;
        self.setup_queue(Dir::Rx, usize::from(q), nb_desc)
    }

    fn tx_queue_setup(&self, q: u16, nb_desc: u16) -> Result<(), EthError> {
        self.setup_queue(Dir::Tx, usize::from(q), nb_desc)
    }

    fn start(&self) -> Result<(), EthError> {
        let (nb_rx, nb_tx) = self.nb_queues();
        queues::tx_enable(&self.regs);
        for q in 0..nb_tx {
            self.tx_queue_start(q)?;
        }
        for q in 0..nb_rx {
            self.rx_queue_start(q)?;
        }
        hw::set_promiscuous(&self.regs, self.slot.promisc.load(Ordering::Relaxed) == 1);
        addr_filter::program(&self.regs, &self.slot.mac_filters.read());
        hw::set_max_frame(&self.regs, self.slot.mtu.load(Ordering::Relaxed) as u16);
        queues::rx_enable(&self.regs).map_err(|e| self.err(e))?;
        if self.state().lsc.load(Ordering::Relaxed) == 1 {
            intr::enable(&self.regs);
        }
        tracing::info!(port = self.port, nb_rx, nb_tx, "ixgbe started");
        Ok(())
    }

    fn stop(&self) -> Result<(), EthError> {
        hw::clear_bits(&self.regs, regs::RXCTRL, regs::RXCTRL_RXEN);
        for (q, m) in self.all_queues("rx") {
            if m.is_some() {
                queues::rx_stop(&self.regs, q, m.as_ref());
            }
        }
        for (q, m) in self.all_queues("tx") {
            if m.is_some() {
                queues::tx_stop(&self.regs, q, m.as_ref());
            }
        }
        Ok(())
    }

    fn queue_state(&self, dir: Dir, q: u16, on: bool) -> Result<(), EthError> {
        let q = usize::from(q);
        match (dir, on) {
            (Dir::Rx, true) => self.rx_queue_start(q),
            (Dir::Tx, true) => self.tx_queue_start(q),
            (Dir::Rx, false) => {
                queues::rx_stop(&self.regs, q, rx_mem(self.slot, q).as_ref());
                Ok(())
            }
            (Dir::Tx, false) => {
                queues::tx_stop(&self.regs, q, tx_mem(self.slot, q).as_ref());
                Ok(())
            }
        }
    }

    fn close(&self) {
        let _ = self.stop();
        intr::disable(&self.regs);
        drop(self.irqs.lock().unwrap_or_else(|p| p.into_inner()).take());
        for dir in ["rx", "tx"] {
            for q in 0..MAX_QUEUES {
                let _ = self.queue_slots(dir)[usize::from(q)].withdraw::<AdvRing>();
                if let Some(mz) = self.mem.memzone_lookup(&self.queue_name(dir, q)) {
                    self.mem.memzone_free(mz);
                }
            }
        }
        hw::clear_bits(&self.regs, regs::CTRL_EXT, regs::CTRL_EXT_DRV_LOAD);
        if let Err(e) = hw::reset(&self.regs) {
            tracing::warn!(port = self.port, "{e}");
        }
    }

    fn link_update(&self) -> Link {
        let l = hw::read_link(&self.regs);
        (self.report)(l);
        l
    }

    fn vlan_strip(&self, on: bool) -> Result<(), EthError> {
        for q in 0..self.nb_queues().0 {
            offload::vlan_strip(&self.regs, q, on);
        }
        Ok(())
    }

    fn promiscuous(&self, on: bool) -> Result<(), EthError> {
        hw::set_promiscuous(&self.regs, on);
        Ok(())
    }

    fn mac_set(&self, mac: [u8; 6]) -> Result<(), EthError> {
        hw::write_mac(&self.regs, mac);
        Ok(())
    }

    fn mtu_set(&self, mtu: u16) -> Result<(), EthError> {
        let offloads = ethdev::RxOffloads::from_bits_retain(self.slot.rx_offloads.load(Ordering::Relaxed));
        ethdev::scatter::check_scatter(self.port, mtu, offloads, super::queues::RX_BUF.into(), BUFFERS)?;
        hw::set_max_frame(&self.regs, mtu);
        Ok(())
    }

    fn stats_update(&self) {
        stats::STATS.update(&self.regs, self.slot, &self.state().stats);
    }

    fn stats_reset(&self) {
        stats::STATS.reset(&self.regs, self.slot, &self.state().stats);
    }

    fn rss_hash_update(&self, conf: &RssConf) -> Result<(), EthError> {
        rss::REGS.write_key(&self.regs, &conf.key);
        rss::enable(&self.regs, conf.hash_types);
        Ok(())
    }

    fn reta_update(&self, reta: &[u16]) -> Result<(), EthError> {
        intel::rss::check_reta(self.port, reta, usize::from(MAX_QUEUES))?;
        rss::REGS.write_reta(&self.regs, reta);
        Ok(())
    }

    fn reta_query(&self) -> Result<Vec<u16>, EthError> {
        Ok(rss::REGS.read_reta(&self.regs))
    }

    fn xstats(&self) -> Vec<(&'static str, u64)> {
        let mut v = stats::STATS.totals(&self.state().stats);
        v.push(("lsc_interrupts", self.lsc_count.load(Ordering::Relaxed)));
        let retired: u64 = (0..usize::from(MAX_QUEUES))
            .filter_map(|q| rx_mem(self.slot, q))
            .map(|m| m.hdr().retired.load(Ordering::Relaxed))
            .sum();
        v.push(("rx_retired_mbufs", retired));
        for (name, reg) in [
            ("reg_rxctrl", regs::RXCTRL),
            ("reg_fctrl", regs::FCTRL),
            ("reg_links", regs::LINKS),
            ("reg_rdh0", regs::rdh(0)),
            ("reg_rdt0", regs::rdt(0)),
            ("reg_tdh0", regs::tdh(0)),
            ("reg_tdt0", regs::tdt(0)),
        ] {
            v.push((name, u64::from(self.regs.read32(reg))));
        }
        v
    }
}
