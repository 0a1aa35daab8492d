//! Link-status interrupts (primary only). The 82540EM signals on INTx: the handler reads
//! ICR (which clears it) and then unmasks INTx through VFIO. The 82574L uses MSI-X with the
//! "other" causes (LSC among them) routed to vector 0 by IVAR; its ICR is not cleared by
//! the read while interrupts are enabled, so the handler writes the value back, then
//! re-enables the causes. Either way it reads the link and reports it to ethdev, which
//! updates the shared state and tells the secondaries.

use super::init::read_link;
use super::regs;
use super::Model;
use crate::net::common::RegIo;
use eal::bus::{ArmedIrqs, BusDevice, IrqHandler};
use eal::vfio::{IrqIndex, MmioRegion};
use ethdev::{EthError, PortCtx};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Interrupt causes enabled for `model`.
pub fn causes(model: Model) -> u32 {
    match model {
        Model::E82540 => regs::INT_LSC,
        Model::E82574 => regs::INT_LSC | regs::INT_OTHER,
    }
}

/// Arms the device's interrupt vector with the link handler. `count` counts handled link
/// changes.
pub fn arm(
    ctx: &PortCtx,
    dev: &Arc<BusDevice>,
    bar: Arc<MmioRegion>,
    model: Model,
    count: Arc<AtomicU64>,
) -> Result<ArmedIrqs, EthError> {
    let bar: Arc<dyn RegIo> = bar;
    let ctx = ctx.clone();
    let port = ctx.port;
    let (index, handler): (IrqIndex, IrqHandler) = match model {
        Model::E82540 => {
            let vfio = dev.vfio().clone();
            (
                IrqIndex::Intx,
                Box::new(move |_n| {
                    let icr = bar.read32(regs::ICR);
                    if icr & regs::INT_LSC != 0 {
                        count.fetch_add(1, Ordering::Relaxed);
                        ctx.report_link(read_link(&bar));
                    }
                    if let Err(e) = vfio.unmask_intx() {
                        tracing::error!(port, "cannot unmask INTx: {e}");
                    }
                }),
            )
        }
        Model::E82574 => {
            bar.write32(regs::IVAR, regs::IVAR_OTHER_VEC0);
            (
                IrqIndex::Msix,
                Box::new(move |_n| {
                    let icr = bar.read32(regs::ICR);
                    bar.write32(regs::ICR, icr);
                    if icr & regs::INT_LSC != 0 {
                        count.fetch_add(1, Ordering::Relaxed);
                        ctx.report_link(read_link(&bar));
                    }
                    if super::state(ctx.slot).lsc.load(Ordering::Relaxed) == 1 {
                        bar.write32(regs::IMS, causes(Model::E82574));
                    }
                }),
            )
        }
    };
    dev.arm_irqs(index, vec![handler]).map_err(|e| EthError::Device { port, msg: e.to_string() })
}

/// Clears stale causes and enables the link interrupt.
pub fn enable<R: RegIo + ?Sized>(bar: &R, model: Model) {
    let icr = bar.read32(regs::ICR);
    if model == Model::E82574 {
        bar.write32(regs::ICR, icr);
    }
    bar.write32(regs::IMS, causes(model));
}

/// Masks every cause.
pub fn disable<R: RegIo + ?Sized>(bar: &R) {
    bar.write32(regs::IMC, u32::MAX);
}
