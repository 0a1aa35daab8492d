//! Link-status interrupts (primary only): the device's configuration-change MSI-X vector
//! (vector 0; `msix_config` of the modern common configuration, the legacy config vector
//! at I/O offset 20). The handler reads the ISR (clearing it), reads the link from the
//! device configuration and reports it to ethdev, which updates the shared state and tells
//! the secondaries.

use super::error::VirtioError;
use super::net::{self, Features};
use super::pci::Transport;
use eal::bus::{ArmedIrqs, BusDevice, IrqHandler};
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

/// Arms MSI-X vector 0 with the link handler; None when the device has no MSI-X (no link
/// interrupts then; the link is still read on demand).
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
    let ctx = ctx.clone();
    let handler: IrqHandler = Box::new(move |_n| {
        let _ = t.read_isr();
        count.fetch_add(1, Ordering::Relaxed);
        if super::state(ctx.slot).lsc.load(Ordering::Relaxed) == 1 {
            ctx.report_link(read_link(&t, features));
        }
    });
    dev.arm_irqs(IrqIndex::Msix, vec![handler]).map(Some).map_err(VirtioError::ArmIrqs)
}
