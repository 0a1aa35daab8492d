//! RX interrupts of a PCI port, in whichever process polls the queue: a data path wrapped in
//! [`WithRxIntr`] gets each RX queue's eventfd from the bus (the primary's own, or a copy the
//! primary sends a secondary over IPC, fetched once and kept) and arms or disarms the queue's
//! interrupt through the driver's [`RxIntrHw`]. The bursts go straight to the wrapped data
//! path: no interrupt work happens on the fast path.
//!
//! The primary arms the queues' vectors at probe as [`eal::bus::Vector::Polled`]: no thread of
//! the primary watches them, the kernel signals the eventfd and the sleeping poller wakes.

use eal::bus::BusDevice;
use eal::vfio::EventFd;
use eal::Mbuf;
use ethdev::{DataPath, EthError, RxIntrSource};
use std::sync::{Arc, Mutex};

/// How a driver routes and gates its RX queues' interrupts.
pub trait RxIntrHw: Send + Sync + 'static {
    /// The interrupt vector of RX queue `q`, if it has one of its own.
    fn vector(&self, q: u16) -> Option<u32>;
    /// Arms (`on`) or disarms RX queue `q`'s interrupt. Called by the process polling the
    /// queue: it must touch only that queue's gate (no interrupt-cause read).
    fn set(&self, q: u16, on: bool);
}

/// A data path with per-queue RX interrupts (see the module).
pub struct WithRxIntr<D: DataPath, H: RxIntrHw> {
    inner: D,
    port: u16,
    dev: Arc<BusDevice>,
    hw: H,
    fds: Mutex<Vec<(u16, Arc<EventFd>)>>,
}

impl<D: DataPath, H: RxIntrHw> WithRxIntr<D, H> {
    /// `inner` with the RX interrupts of port `port` on device `dev`.
    pub fn new(inner: D, port: u16, dev: Arc<BusDevice>, hw: H) -> WithRxIntr<D, H> {
        WithRxIntr { inner, port, dev, hw, fds: Mutex::new(Vec::new()) }
    }

    fn vector(&self, q: u16) -> Result<u32, EthError> {
        self.hw.vector(q).ok_or_else(|| EthError::Unsupported {
            port: self.port,
            what: format!("rx queue {q} has no interrupt vector of its own (too few MSI-X vectors)"),
        })
    }
}

impl<D: DataPath, H: RxIntrHw> DataPath for WithRxIntr<D, H> {
    #[inline(always)]
    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize {
        self.inner.rx_burst(q, bufs, max)
    }

    #[inline(always)]
    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize {
        self.inner.tx_burst(q, bufs)
    }

    fn tx_check(&self, m: &Mbuf) -> Result<(), ethdev::TxReject> {
        self.inner.tx_check(m)
    }

    fn rx_intr_source(&self, q: u16) -> Result<RxIntrSource, EthError> {
        let v = self.vector(q)?;
        let mut fds = self.fds.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, e)) = fds.iter().find(|(x, _)| *x == q) {
            return Ok(RxIntrSource::Counter(e.clone()));
        }
        let e = self
            .dev
            .vector_eventfd(v)
            .map_err(|e| EthError::Device { port: self.port, msg: format!("rx queue {q} interrupt: {e}") })?;
        fds.push((q, e.clone()));
        Ok(RxIntrSource::Counter(e))
    }

    fn rx_intr_ctl(&self, q: u16, on: bool) -> Result<(), EthError> {
        self.vector(q)?;
        self.hw.set(q, on);
        Ok(())
    }

    fn rx_intr_steer(&self, q: u16, cpu: usize) -> Result<(), EthError> {
        let v = self.vector(q)?;
        self.dev
            .steer_vector_irq(v, cpu)
            .map(drop)
            .map_err(|e| EthError::Device { port: self.port, msg: format!("rx queue {q} interrupt: {e}") })
    }
}
