//! Link-status interrupts (primary only): the device's configuration-change MSI-X vector
//! (vector 0; `msix_config` of the modern common configuration, the legacy config vector
//! at I/O offset 20). The handler reads the ISR (clearing it), reads the link from the
//! device configuration and reports it to ethdev, which updates the shared state and tells
//! the secondaries.
//!
//! RX interrupts: RX virtqueue `q` gets MSI-X vector `1 + q` ([`rx_vector`], its
//! `queue_msix_vector` at start) as far as the device has vectors; the primary arms them as
//! polled vectors (no handler: the process polling the queue sleeps on the eventfd). The
//! gate is the available ring's `VIRTQ_AVAIL_F_NO_INTERRUPT` flag in shared memory (no
//! `VIRTIO_RING_F_EVENT_IDX` is negotiated, so the device honours it): set while the queue
//! is polled, cleared by [`VirtioRxIntr`] to ask for a used-buffer notification.

use super::error::VirtioError;
use super::net::{self, Features};
use super::pci::Transport;
use super::vring::AVAIL_F_NO_INTERRUPT;
use crate::net::common::rx_intr::RxIntrHw;
use eal::bus::{ArmedIrqs, BusDevice, IrqHandler, Vector};
use eal::vfio::IrqIndex;
use ethdev::{Link, PortCtx};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The speed reported for an up link (virtio has no speed without
/// `VIRTIO_NET_F_SPEED_DUPLEX`; 10 Gb/s as DPDK reports).
pub const SPEED_MBPS: u32 = 10_000;

/// The link as the device configuration says (always up without `VIRTIO_NET_F_STATUS`).
pub fn read_link(t: &Transport, features: Features) -> Link {
    if !features.contains(Features::STATUS) {
        return Link::up(SPEED_MBPS);
    }
    match t.cfg_r16(net::CFG_STATUS) {
        Ok(s) if s & net::S_LINK_UP != 0 => Link::up(SPEED_MBPS),
        Ok(_) => Link::down(),
        Err(e) => {
            tracing::warn!("reading the virtio-net link status: {e}");
            Link::down()
        }
    }
}

/// The MSI-X vector of RX queue `q`.
pub fn rx_vector(q: u16) -> u32 {
    1 + u32::from(q)
}

/// Arms and disarms RX queues' used-buffer notifications from the process polling them.
pub struct VirtioRxIntr(pub &'static ethdev::PortSlot);

impl RxIntrHw for VirtioRxIntr {
    fn vector(&self, q: u16) -> Option<u32> {
        (u32::from(q) < super::state(self.0).rx_vectors.load(Ordering::Relaxed)).then(|| rx_vector(q))
    }

    fn set(&self, q: u16, on: bool) {
        if let Some(r) = super::rx_ring(self.0, usize::from(q)) {
            r.set_avail_flags(if on { 0 } else { AVAIL_F_NO_INTERRUPT });
            // The flag must be visible to the device before the caller's next look at the
            // used ring (a frame used before it raised no interrupt: the caller polls once
            // more after arming).
            std::sync::atomic::fence(Ordering::SeqCst);
        }
    }
}

/// Arms MSI-X vector 0 with the link handler, and one polled vector per RX queue after it
/// as far as the device has vectors (recorded in the state's `rx_vectors`); None when the
/// device has no MSI-X (no link or RX interrupts then; the link is still read on demand).
pub fn arm(
    ctx: &PortCtx,
    dev: &Arc<BusDevice>,
    t: Arc<Transport>,
    features: Features,
    count: Arc<AtomicU64>,
) -> Result<Option<ArmedIrqs>, VirtioError> {
    let info = dev.vfio().irq_info(IrqIndex::Msix).map_err(VirtioError::vfio("MSI-X information"))?;
    if info.count == 0 {
        tracing::warn!(port = ctx.port, addr = %dev.addr(), "no MSI-X: link changes are not signalled (poll link_update)");
        return Ok(None);
    }
    let slot = ctx.slot;
    let ctx = ctx.clone();
    let handler: IrqHandler = Box::new(move |_n| {
        let _ = t.read_isr();
        count.fetch_add(1, Ordering::Relaxed);
        if super::state(ctx.slot).lsc.load(Ordering::Relaxed) == 1 {
            ctx.report_link(read_link(&t, features));
        }
    });
    let rx = super::MAX_PAIRS.min(info.count as usize - 1);
    let mut vectors = vec![Vector::Handler(handler)];
    vectors.extend((0..rx).map(|_| Vector::Polled));
    let armed = dev.arm_irq_vectors(IrqIndex::Msix, vectors).map_err(VirtioError::ArmIrqs)?;
    super::state(slot).rx_vectors.store(rx as u32, Ordering::Relaxed);
    Ok(Some(armed))
}
