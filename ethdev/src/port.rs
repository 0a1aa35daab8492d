//! Port handles. [`Port`] is what every process gets: the data path and read-only calls.
//! [`PortControl`] exists only in the primary and adds the control operations, so a
//! secondary cannot configure, start, stop, reset or close a device: it has no such methods.

use crate::capture::CaptureDir;
use crate::driver::{Control, DataPath, DevInfo, Dir, PortConf};
use crate::error::{BurstError, EthError};
use crate::link::Link;
use crate::offload::{RxOffloads, TxLimits, TxOffloads, TxPrepareError};
use crate::port_table::{PortSlot, PortState};
use crate::rss::RssConf;
use crate::stats::{Stats, MAX_QUEUES};
use eal::{Mbuf, PktMbufPool};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "port_filters.rs"]
mod filters;
#[path = "port_mac_addrs.rs"]
mod mac_addrs;

/// A port as seen by any process: bursts, link, stats, MAC.
///
/// This is the only handle a secondary gets, and it has no control operations: reading
/// compiles,
/// ```
/// fn look(port: &ethdev::Port) -> bool {
///     port.is_started() && port.link().0.up
/// }
/// ```
/// but configuring, starting, stopping, closing or resetting a device does not:
/// ```compile_fail
/// fn stop_it(port: &ethdev::Port) {
///     let _ = port.stop();
/// }
/// ```
/// ```compile_fail
/// fn start_it(port: &ethdev::Port) {
///     let _ = port.start();
/// }
/// ```
/// ```compile_fail
/// fn configure_it(port: &ethdev::Port) {
///     let _ = port.configure(&ethdev::PortConf::default());
/// }
/// ```
/// ```compile_fail
/// fn close_it(port: &ethdev::Port) {
///     port.close();
/// }
/// ```
/// ```compile_fail
/// fn reset_counters(port: &ethdev::Port) {
///     port.stats_reset();
/// }
/// ```
#[derive(Clone)]
pub struct Port {
    id: u16,
    slot: &'static PortSlot,
    data: Arc<dyn DataPath>,
}

impl Port {
    pub(crate) fn new(id: u16, slot: &'static PortSlot, data: Arc<dyn DataPath>) -> Port {
        Port { id, slot, data }
    }

    /// The driver's data path (for the ethdev modules that extend `Port`).
    pub(crate) fn data(&self) -> &Arc<dyn DataPath> {
        &self.data
    }

    /// The port id.
    pub fn id(&self) -> u16 {
        self.id
    }
    /// How many handles of this port exist in this process (this one, its clones and the
    /// ethdev layer's own); a detach waits until the application's are dropped.
    pub fn handles(&self) -> usize {
        Arc::strong_count(&self.data)
    }
    /// The port's name (vdev name or PCI address).
    pub fn name(&self) -> String {
        self.slot.name.get()
    }
    /// The driver's name.
    pub fn driver_name(&self) -> String {
        self.slot.driver.get()
    }
    /// The MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.slot.mac()
    }
    /// Configured RX queues.
    pub fn nb_rx_queues(&self) -> u16 {
        self.slot.nb_rxq.load(Ordering::Relaxed) as u16
    }
    /// Configured TX queues.
    pub fn nb_tx_queues(&self) -> u16 {
        self.slot.nb_txq.load(Ordering::Relaxed) as u16
    }
    /// True when started.
    pub fn is_started(&self) -> bool {
        self.slot.state() == PortState::Started
    }
    /// True in promiscuous mode.
    pub fn promiscuous(&self) -> bool {
        self.slot.promisc.load(Ordering::Relaxed) == 1
    }
    /// The MTU.
    pub fn mtu(&self) -> u16 {
        self.slot.mtu.load(Ordering::Relaxed) as u16
    }

    /// Receives up to `max` packets from queue `q` into `bufs` (appended).
    #[inline]
    pub fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> Result<usize, BurstError> {
        self.check(q, &self.slot.nb_rxq, &self.slot.rxq_stopped)?;
        let n = self.data.rx_burst(q, bufs, max);
        // The capture hook: one relaxed load of a word beside `state` when no capture runs.
        if self.slot.capture.load(Ordering::Relaxed) & CaptureDir::RX.bits() != 0 {
            crate::capture::tap(self.slot, self.id, q, CaptureDir::RX, &bufs[bufs.len() - n..]);
        }
        Ok(n)
    }

    /// Sends from the front of `bufs` on queue `q`; sent packets leave `bufs`, the rest
    /// stay the caller's (to retry or drop). Returns how many were sent.
    #[inline]
    pub fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> Result<usize, BurstError> {
        self.check(q, &self.slot.nb_txq, &self.slot.txq_stopped)?;
        if self.slot.capture.load(Ordering::Relaxed) & CaptureDir::TX.bits() != 0 {
            crate::capture::tap(self.slot, self.id, q, CaptureDir::TX, bufs);
        }
        Ok(self.data.tx_burst(q, bufs))
    }

    /// Checks packets before [`Port::tx_burst`] against what the port was configured to
    /// send (as `rte_eth_tx_prepare`): segment count, offload requests the port was not
    /// configured with, TSO and checksum requests without the header lengths they need,
    /// frames longer than the MTU allows without TSO, then what the driver checks
    /// ([`DataPath::tx_check`]: header lengths its offload
    /// descriptors hold). Returns the first refused packet and why; the packets before it
    /// are fine.
    pub fn tx_prepare(&self, bufs: &[Mbuf]) -> Result<(), TxPrepareError> {
        let limits = self.tx_limits();
        for (index, m) in bufs.iter().enumerate() {
            limits.check(m).and_then(|()| self.data.tx_check(m)).map_err(|reason| TxPrepareError { index, reason })?;
        }
        Ok(())
    }

    /// What the port accepts on transmit, as configured.
    pub fn tx_limits(&self) -> TxLimits {
        let s = &self.slot;
        TxLimits {
            offloads: TxOffloads::from_bits_retain(s.tx_offloads.load(Ordering::Relaxed)),
            max_segs: s.tx_max_segs.load(Ordering::Relaxed).clamp(1, u32::from(u16::MAX)) as u16,
            max_frame: s.mtu.load(Ordering::Relaxed) + 14 + 4,
        }
    }

    /// The RX offloads the port was configured with.
    pub fn rx_offloads(&self) -> RxOffloads {
        RxOffloads::from_bits_retain(self.slot.rx_offloads.load(Ordering::Relaxed))
    }

    #[inline(always)]
    fn check(&self, q: u16, nb: &AtomicU32, stopped: &AtomicU32) -> Result<(), BurstError> {
        if self.slot.state.load(Ordering::Relaxed) != PortState::Started as u32 {
            return Err(BurstError::NotStarted(self.id));
        }
        let nb = nb.load(Ordering::Relaxed);
        if q as u32 >= nb {
            return Err(BurstError::BadQueue { port: self.id, queue: q, nb: nb as u16 });
        }
        if stopped.load(Ordering::Relaxed) & (1 << q) != 0 {
            return Err(BurstError::QueueStopped { port: self.id, queue: q });
        }
        Ok(())
    }

    /// True while queue `q` of direction `dir` ("rx" or "tx") is stopped on its own
    /// (`rx_queue_stop` / `tx_queue_stop`) in a started port.
    pub fn queue_stopped(&self, dir: Dir, q: u16) -> bool {
        let m = match dir {
            Dir::Rx => &self.slot.rxq_stopped,
            Dir::Tx => &self.slot.txq_stopped,
        };
        q < 32 && m.load(Ordering::Acquire) & (1 << q) != 0
    }

    /// The link now, without waiting, and its sequence number (bumped on every change).
    pub fn link(&self) -> (Link, u32) {
        self.slot.link.get()
    }

    /// Waits up to `timeout` for the link to come up; returns the last state seen.
    pub fn link_wait_up(&self, timeout: Duration) -> Link {
        let end = Instant::now() + timeout;
        loop {
            let (l, _) = self.link();
            if l.up || Instant::now() >= end {
                return l;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The port's counters (software counters plus what the primary folded in from the
    /// device).
    pub fn stats(&self) -> Stats {
        self.slot.counters.snapshot(self.nb_rx_queues() as usize, self.nb_tx_queues() as usize)
    }

    /// The port's extended statistics, the same in every process: DPDK's generic ones
    /// (`rx_good_packets`, ..., `rx_q0_packets`, ...) from the shared counters, then the
    /// driver's own (hardware counters by DPDK's names) as the primary last read them.
    pub fn xstats(&self) -> Vec<(String, u64)> {
        let mut x = crate::stats::generic_xstats(
            &self.slot.counters,
            self.nb_rx_queues() as usize,
            self.nb_tx_queues() as usize,
        );
        crate::device_xstats::append_unique(&mut x, self.slot.device_xstats.read());
        x
    }
}

/// The primary's handle on a port: everything [`Port`] has, plus control. It holds the
/// port (see [`Port::handles`]) while it lives, so a detach waits for it to be dropped.
pub struct PortControl<'a> {
    pub(crate) port: Port,
    pub(crate) ctl: Arc<dyn Control>,
    pub(crate) _ethdev: std::marker::PhantomData<&'a ()>,
}

impl std::ops::Deref for PortControl<'_> {
    type Target = Port;
    fn deref(&self) -> &Port {
        &self.port
    }
}

impl PortControl<'_> {
    fn slot(&self) -> &'static PortSlot {
        self.port.slot
    }

    fn bad_state(&self, op: &'static str, fix: &'static str) -> EthError {
        EthError::BadState { port: self.port.id, op, state: self.slot().state().name(), fix }
    }

    /// Capabilities and limits.
    pub fn info(&self) -> DevInfo {
        self.ctl.info()
    }

    /// Configures queue counts and RSS; the port must be stopped.
    pub fn configure(&self, conf: &PortConf) -> Result<(), EthError> {
        let st = self.slot().state();
        if !matches!(st, PortState::Probed | PortState::Configured) {
            return Err(self.bad_state("configure", "stop the port first"));
        }
        let info = self.info();
        if conf.nb_rxq == 0 || conf.nb_txq == 0 {
            return Err(EthError::Unsupported { port: self.id(), what: "at least one RX and one TX queue".into() });
        }
        if conf.nb_rxq > info.max_rx_queues.min(MAX_QUEUES as u16)
            || conf.nb_txq > info.max_tx_queues.min(MAX_QUEUES as u16)
        {
            return Err(EthError::Unsupported {
                port: self.id(),
                what: format!(
                    "{} RX / {} TX queues asked, the device has at most {} / {}",
                    conf.nb_rxq, conf.nb_txq, info.max_rx_queues, info.max_tx_queues
                ),
            });
        }
        if conf.rss && conf.nb_rxq > 1 && info.capabilities & crate::driver::capa::RSS == 0 {
            return Err(EthError::Unsupported { port: self.id(), what: "RSS is not supported by this device".into() });
        }
        if conf.rss && conf.nb_rxq > 1 && conf.rss_conf.hash_types & !info.rss_hash_types != 0 {
            return Err(EthError::Unsupported {
                port: self.id(),
                what: format!(
                    "RSS hash types {:#x}: the device hashes only {:#x} (see ethdev::rss::hash)",
                    conf.rss_conf.hash_types, info.rss_hash_types
                ),
            });
        }
        let unsupported = conf.rx_offloads - info.rx_offload_capa;
        if !unsupported.is_empty() {
            return Err(EthError::Unsupported {
                port: self.id(),
                what: format!(
                    "RX offload {} is not supported by {} (it has: {})",
                    unsupported.names(),
                    info.driver_name,
                    info.rx_offload_capa.names()
                ),
            });
        }
        let unsupported = conf.tx_offloads - info.tx_offload_capa;
        if !unsupported.is_empty() {
            return Err(EthError::Unsupported {
                port: self.id(),
                what: format!(
                    "TX offload {} is not supported by {} (it has: {})",
                    unsupported.names(),
                    info.driver_name,
                    info.tx_offload_capa.names()
                ),
            });
        }
        if let Some(mtu) = conf.mtu {
            Self::check_mtu(self.id(), mtu, info.max_mtu)?;
        }
        self.ctl.configure(conf)?;
        let s = self.slot();
        // The offloads first: a driver's mtu_set checks the MTU against them (scatter).
        s.rx_offloads.store(conf.rx_offloads.bits(), Ordering::Relaxed);
        s.tx_offloads.store(conf.tx_offloads.bits(), Ordering::Relaxed);
        if let Some(mtu) = conf.mtu {
            self.ctl.mtu_set(mtu)?;
            s.mtu.store(u32::from(mtu), Ordering::Relaxed);
        }
        s.tx_max_segs.store(u32::from(info.tx_max_segs.max(1)), Ordering::Relaxed);
        s.nb_rxq.store(conf.nb_rxq as u32, Ordering::Relaxed);
        s.nb_txq.store(conf.nb_txq as u32, Ordering::Relaxed);
        s.rss.store(u32::from(conf.rss), Ordering::Relaxed);
        s.rxq_ready.store(0, Ordering::Relaxed);
        s.txq_ready.store(0, Ordering::Relaxed);
        s.state.store(PortState::Configured as u32, Ordering::Release);
        Ok(())
    }

    fn check_desc(
        &self,
        dir: &'static str,
        q: u16,
        nb: u16,
        lim: crate::driver::DescLimits,
        nbq: u16,
    ) -> Result<(), EthError> {
        if self.slot().state() != PortState::Configured {
            return Err(self.bad_state("queue setup", "configure the port (and stop it) first"));
        }
        if q >= nbq {
            return Err(EthError::QueueOutOfRange { port: self.id(), dir, queue: q, nb: nbq });
        }
        if nb < lim.min || nb > lim.max || !nb.is_multiple_of(lim.align.max(1)) {
            return Err(EthError::Unsupported {
                port: self.id(),
                what: format!(
                    "{nb} {dir} descriptors: must be {}..={} and a multiple of {}",
                    lim.min, lim.max, lim.align
                ),
            });
        }
        Ok(())
    }

    /// Sets up RX queue `q` with `nb_desc` descriptors and mbufs from `pool`.
    pub fn rx_queue_setup(&self, q: u16, nb_desc: u16, pool: PktMbufPool) -> Result<(), EthError> {
        self.check_desc("rx", q, nb_desc, self.info().rx_desc_lim, self.nb_rx_queues())?;
        self.check_pool_room(self.mtu(), &pool)?;
        self.ctl.rx_queue_setup(q, nb_desc, pool)?;
        self.slot().rxq_pool[q as usize].store(pool.mempool().header_addr(), Ordering::Relaxed);
        self.slot().rxq_ready.fetch_or(1 << q, Ordering::AcqRel);
        Ok(())
    }

    /// Sets up TX queue `q` with `nb_desc` descriptors.
    pub fn tx_queue_setup(&self, q: u16, nb_desc: u16) -> Result<(), EthError> {
        self.check_desc("tx", q, nb_desc, self.info().tx_desc_lim, self.nb_tx_queues())?;
        self.ctl.tx_queue_setup(q, nb_desc)?;
        self.slot().txq_ready.fetch_or(1 << q, Ordering::AcqRel);
        Ok(())
    }

    /// Starts the port; every configured queue must be set up. The link state is read
    /// from the device once started (events fire if it changed).
    pub fn start(&self) -> Result<(), EthError> {
        let s = self.slot();
        match s.state() {
            PortState::Started => return Ok(()),
            PortState::Configured => {}
            _ => return Err(self.bad_state("start", "configure the port and set up its queues first")),
        }
        let all = |n: u32| if n >= 32 { u32::MAX } else { (1u32 << n) - 1 };
        if s.rxq_ready.load(Ordering::Acquire) != all(s.nb_rxq.load(Ordering::Relaxed))
            || s.txq_ready.load(Ordering::Acquire) != all(s.nb_txq.load(Ordering::Relaxed))
        {
            return Err(self.bad_state("start", "set up every configured RX and TX queue first"));
        }
        self.ctl.start()?;
        s.rxq_stopped.store(0, Ordering::Relaxed);
        s.txq_stopped.store(0, Ordering::Relaxed);
        s.state.store(PortState::Started as u32, Ordering::Release);
        // The link as the device reports it now, not as it was before the start: a NIC
        // whose link came up during start (or was up all along) is not shown down until
        // its next link interrupt.
        self.ctl.link_update();
        Ok(())
    }

    /// Stops the port; queues keep their setup, bursts fail until the next start.
    pub fn stop(&self) -> Result<(), EthError> {
        if self.slot().state() != PortState::Started {
            return Ok(());
        }
        self.slot().state.store(PortState::Configured as u32, Ordering::Release);
        self.ctl.stop()
    }

    /// Stops and releases the device.
    pub fn close(&self) {
        let _ = self.stop();
        self.ctl.close();
        self.slot().state.store(PortState::Closed as u32, Ordering::Release);
    }

    /// Reads the link from the device now and records it (events fire if it changed).
    pub fn link_update(&self) -> Link {
        self.ctl.link_update()
    }

    /// Promiscuous mode on or off.
    pub fn set_promiscuous(&self, on: bool) -> Result<(), EthError> {
        self.ctl.promiscuous(on)?;
        self.slot().promisc.store(u32::from(on), Ordering::Relaxed);
        Ok(())
    }

    /// Sets the MAC address.
    pub fn set_mac(&self, mac: [u8; 6]) -> Result<(), EthError> {
        if mac[0] & 1 != 0 || mac == [0; 6] {
            return Err(EthError::Unsupported {
                port: self.id(),
                what: "a MAC address must be unicast and non-zero".into(),
            });
        }
        self.ctl.mac_set(mac)?;
        self.slot().set_mac(mac);
        Ok(())
    }

    /// Sets the MTU.
    pub fn set_mtu(&self, mtu: u16) -> Result<(), EthError> {
        Self::check_mtu(self.id(), mtu, self.info().max_mtu)?;
        let ready = self.slot().rxq_ready.load(Ordering::Acquire);
        for q in (0..self.nb_rx_queues().min(32)).filter(|q| ready & (1 << q) != 0) {
            if let Ok(pool) = PktMbufPool::from_header_addr(self.slot().rxq_pool[q as usize].load(Ordering::Relaxed)) {
                self.check_pool_room(mtu, &pool)?;
            }
        }
        self.ctl.mtu_set(mtu)?;
        self.slot().mtu.store(mtu as u32, Ordering::Relaxed);
        Ok(())
    }

    /// Frames of MTU `mtu` must fit one mbuf of `pool` unless the port scatters.
    fn check_pool_room(&self, mtu: u16, pool: &PktMbufPool) -> Result<(), EthError> {
        let room = u32::from(pool.data_room()).saturating_sub(u32::from(eal::mbuf::HEADROOM));
        let name = format!(
            "mempool '{}' (data room {}, use bigger mbufs: testpmd --mbuf-size)",
            pool.mempool().name(),
            pool.data_room()
        );
        crate::scatter::check_scatter(self.id(), mtu, self.rx_offloads(), room, &name)
    }

    fn check_mtu(port: u16, mtu: u16, max: u16) -> Result<(), EthError> {
        if !(68..=max).contains(&mtu) {
            return Err(EthError::Unsupported { port, what: format!("MTU {mtu}: must be 68..={max} on this device") });
        }
        Ok(())
    }

    fn rss_checks(&self, op: &'static str) -> Result<DevInfo, EthError> {
        let info = self.info();
        if info.reta_size == 0 {
            return Err(EthError::Unsupported { port: self.id(), what: format!("{op}: the device has no RSS") });
        }
        if self.slot().state() == PortState::Probed {
            return Err(self.bad_state(op, "configure the port first"));
        }
        Ok(info)
    }

    /// Changes the RSS key and hash types (as `rte_eth_dev_rss_hash_update`); the port must
    /// be configured and the device must hash on every type asked.
    pub fn rss_hash_update(&self, conf: &RssConf) -> Result<(), EthError> {
        let info = self.rss_checks("RSS hash update")?;
        let missing = conf.hash_types & !info.rss_hash_types;
        if missing != 0 {
            return Err(EthError::Unsupported {
                port: self.id(),
                what: format!(
                    "RSS hash types {missing:#x}: the device hashes only {:#x} (see ethdev::rss::hash)",
                    info.rss_hash_types
                ),
            });
        }
        self.ctl.rss_hash_update(conf)
    }

    /// Programs the RSS redirection table (as `rte_eth_dev_rss_reta_update`): exactly
    /// `info().reta_size` entries, each an RX queue of the port.
    pub fn reta_update(&self, reta: &[u16]) -> Result<(), EthError> {
        let info = self.rss_checks("RSS redirection table update")?;
        if reta.len() != usize::from(info.reta_size) {
            return Err(EthError::Unsupported {
                port: self.id(),
                what: format!("a redirection table of {} entries: the device has {}", reta.len(), info.reta_size),
            });
        }
        let nbq = self.nb_rx_queues();
        if let Some(&q) = reta.iter().find(|&&q| q >= nbq) {
            return Err(EthError::QueueOutOfRange {
                port: self.id(),
                dir: "rx (redirection table entry)",
                queue: q,
                nb: nbq,
            });
        }
        self.ctl.reta_update(reta)
    }

    /// Stops (`on == false`) or starts again queue `q` of a started port; bursts on a stopped
    /// queue fail with [`BurstError::QueueStopped`] in every process. A port start starts
    /// every queue. Stopping a queue another lcore is polling is the application's race to
    /// avoid, as in DPDK.
    pub fn set_queue_state(&self, dir: Dir, q: u16, on: bool) -> Result<(), EthError> {
        let s = self.slot();
        if s.state() != PortState::Started {
            return Err(self.bad_state("queue start/stop", "start the port first"));
        }
        let (nb, mask) = match dir {
            Dir::Rx => (self.nb_rx_queues(), &s.rxq_stopped),
            Dir::Tx => (self.nb_tx_queues(), &s.txq_stopped),
        };
        if q >= nb {
            return Err(EthError::QueueOutOfRange { port: self.id(), dir: dir.name(), queue: q, nb });
        }
        if on {
            self.ctl.queue_state(dir, q, true)?;
            mask.fetch_and(!(1 << q), Ordering::AcqRel);
        } else {
            // Gate the bursts first, then let the driver take the queue down.
            mask.fetch_or(1 << q, Ordering::AcqRel);
            self.ctl.queue_state(dir, q, false)?;
        }
        Ok(())
    }

    /// Stops RX queue `q` (as `rte_eth_dev_rx_queue_stop`).
    pub fn rx_queue_stop(&self, q: u16) -> Result<(), EthError> {
        self.set_queue_state(Dir::Rx, q, false)
    }
    /// Starts RX queue `q` again (as `rte_eth_dev_rx_queue_start`).
    pub fn rx_queue_start(&self, q: u16) -> Result<(), EthError> {
        self.set_queue_state(Dir::Rx, q, true)
    }
    /// Stops TX queue `q` (as `rte_eth_dev_tx_queue_stop`).
    pub fn tx_queue_stop(&self, q: u16) -> Result<(), EthError> {
        self.set_queue_state(Dir::Tx, q, false)
    }
    /// Starts TX queue `q` again (as `rte_eth_dev_tx_queue_start`).
    pub fn tx_queue_start(&self, q: u16) -> Result<(), EthError> {
        self.set_queue_state(Dir::Tx, q, true)
    }

    /// The RSS redirection table the device holds.
    pub fn reta_query(&self) -> Result<Vec<u16>, EthError> {
        self.rss_checks("RSS redirection table query")?;
        self.ctl.reta_query()
    }

    /// Refreshes and returns the counters (the driver's own are published for every
    /// process too, see [`Port::xstats`]).
    pub fn stats_get(&self) -> Stats {
        self.refresh_stats();
        self.port.stats()
    }

    /// Reads the device's counters now and publishes the driver's list in the shared slot.
    pub fn refresh_stats(&self) {
        self.device_xstats();
    }

    /// Reads the device's counters now, publishes the driver's list in the shared slot for
    /// every process ([`Port::xstats`]), and returns it.
    pub fn device_xstats(&self) -> Vec<(&'static str, u64)> {
        self.ctl.stats_update();
        let x = self.ctl.xstats();
        self.slot().device_xstats.publish(&x);
        x
    }

    /// Zeroes the counters.
    pub fn stats_reset(&self) {
        self.ctl.stats_reset();
        self.slot().counters.reset();
        self.slot().device_xstats.publish(&self.ctl.xstats());
    }
}
