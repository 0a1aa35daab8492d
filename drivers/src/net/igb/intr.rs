//! Link-status interrupts (primary only). GPIE is put in MSI-X mode with non-selective ICR
//! clear; IVAR_MISC routes the "other" causes (LSC among them) to their own MSI-X vector
//! [`LINK_VECTOR`]; the queues get no vector (they are polled). EIAC auto-clears the
//! vector's EICR bit when the message is sent. The handler reads ICR (which clears it),
//! reports the link to ethdev (which updates the shared state and tells the secondaries),
//! and re-enables the vector.

use super::init::read_link;
use super::regs;
use crate::net::intel::RegIo;
use eal::bus::{ArmedIrqs, BusDevice, IrqHandler};
use eal::vfio::{IrqIndex, MmioRegion};
use ethdev::{EthError, PortCtx};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The MSI-X vector of the link (other) causes.
pub const LINK_VECTOR: u32 = 0;
const LINK_BIT: u32 = 1 << LINK_VECTOR;

/// Puts interrupts in MSI-X mode and routes the other causes to [`LINK_VECTOR`]; no
/// queue cause is routed anywhere. Everything stays masked.
pub fn setup<R: RegIo + ?Sized>(r: &R) {
    r.write32(regs::GPIE, regs::GPIE_MSIX_MODE | regs::GPIE_NSICR | regs::GPIE_EIAME | regs::GPIE_PBA);
    for i in 0..8 {
        r.write32(regs::IVAR0 + 4 * i, 0);
    }
    r.write32(regs::IVAR_MISC, (regs::IVAR_VALID | LINK_VECTOR) << 8);
    r.write32(regs::EIAC, LINK_BIT);
}

/// Clears stale causes and enables the link interrupt.
pub fn enable<R: RegIo + ?Sized>(r: &R) {
    let _ = r.read32(regs::ICR);
    r.write32(regs::EICR, LINK_BIT);
    r.write32(regs::IMS, regs::INT_LSC);
    r.write32(regs::EIMS, LINK_BIT);
}

/// Masks the link interrupt.
pub fn disable<R: RegIo + ?Sized>(r: &R) {
    r.write32(regs::IMC, regs::INT_LSC);
    r.write32(regs::EIMC, LINK_BIT);
}

/// Arms the link vector with the handler. `count` counts handled link changes.
pub fn arm(
    ctx: &PortCtx,
    dev: &Arc<BusDevice>,
    bar: Arc<MmioRegion>,
    count: Arc<AtomicU64>,
) -> Result<ArmedIrqs, EthError> {
    let ctx = ctx.clone();
    let port = ctx.port;
    let handler: IrqHandler = Box::new(move |_n| {
        let r: &dyn RegIo = &*bar;
        let icr = r.read32(regs::ICR);
        r.write32(regs::EICR, LINK_BIT);
        if icr & regs::INT_LSC != 0 {
            count.fetch_add(1, Ordering::Relaxed);
            ctx.report_link(read_link(r));
        }
        if super::state(ctx.slot).lsc.load(Ordering::Relaxed) == 1 {
            r.write32(regs::EIMS, LINK_BIT);
        }
    });
    // Handlers are given per vector from 0: the link vector is the only one.
    const _: () = assert!(LINK_VECTOR == 0);
    dev.arm_irqs(IrqIndex::Msix, vec![handler]).map_err(|e| EthError::Device { port, msg: e.to_string() })
}
