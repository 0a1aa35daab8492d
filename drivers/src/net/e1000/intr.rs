//! Link-status interrupts (primary only). The 82540EM signals on INTx: the handler reads
//! ICR (which clears it) and then unmasks INTx through VFIO. The 82574L uses MSI-X with the
//! "other" causes (LSC among them) routed to vector 0 by IVAR; its ICR is not cleared by
//! the read while interrupts are enabled, so the handler writes the value back, then
//! re-enables the causes. Either way it reads the link and reports it to ethdev, which
//! updates the shared state and tells the secondaries.
//!
//! RX interrupts (82574L): IVAR also routes RX queue 0 to MSI-X vector [`RX_VECTOR`] and RX
//! queue 1 to the next one, which the primary arms as polled vectors (no handler; the
//! process polling a queue, a secondary too, sleeps on its eventfd). A queue's cause
//! (ICR.RXQ0, ICR.RXQ1) is gated by its own IMS bit, set and cleared only by the poller ([`EmRxIntr`]; IMS/IMC are
//! write-1-to-set/-clear, so it never undoes the link handler's bits, nor the handler its
//! bit), and EIAC auto-clears ICR.RXQ0 when the message goes out, so each arming can fire
//! again. The link handler's ICR read-and-write-back may clear a pending RXQ0 cause, but
//! only after its message was sent: the poller is woken either way. Sharing one cause
//! register is safe because the poller never reads ICR. (QEMU's 82574L raises RXQ0 about
//! twice per received frame, so a poller there wakes about twice per frame: measured in
//! `guest_rx_intr`, harmless.) The 82540EM has INTx only, one line
//! shared with the link, which the primary's interrupt thread must service (read ICR, which
//! clears every cause, then unmask INTx): there the handler relays. The poller arms with IMS
//! bit RXT0; when the handler's ICR read shows RXT0 while IMS has it (the poller armed), it
//! signals a relay eventfd published as vector [`RX_VECTOR`], on which the poller (a
//! secondary too) sleeps. The poller never reads ICR; a wake-up costs one pass through the
//! primary's interrupt thread more than on MSI-X.

use super::init::read_link;
use super::regs;
use super::Model;
use crate::net::common::rx_intr::RxIntrHw;
use crate::net::common::RegIo;
use eal::bus::{ArmedIrqs, BusDevice, IrqHandler, Vector};
use eal::vfio::{EventFd, IrqIndex, MmioRegion};
use ethdev::{EthError, PortCtx};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The 82574L's MSI-X vector of RX queue 0 (queue 1 has the next).
pub const RX_VECTOR: u32 = 1;

/// Arms and disarms an RX queue's interrupt from the process polling it.
pub struct EmRxIntr {
    /// This process's BAR0 mapping.
    pub bar: Arc<MmioRegion>,
    /// The device model.
    pub model: Model,
}

impl RxIntrHw for EmRxIntr {
    fn vector(&self, q: u16) -> Option<u32> {
        (usize::from(q) < self.model.queues()).then_some(RX_VECTOR + u32::from(q))
    }

    fn set(&self, q: u16, on: bool) {
        let r: &dyn RegIo = &*self.bar;
        r.write32(if on { regs::IMS } else { regs::IMC }, rx_cause(self.model, q));
    }
}

/// The cause bit of RX queue `q`: RXQ0/RXQ1 on the 82574L (MSI-X), RXT0 on the 82540EM.
pub fn rx_cause(model: Model, q: u16) -> u32 {
    match (model, q) {
        (Model::E82540, _) => regs::INT_RXT0,
        (Model::E82574, 0) => regs::INT_RXQ0,
        (Model::E82574, _) => regs::INT_RXQ1,
    }
}

/// The 82574L's IVAR: "other" causes to vector 0, RX queue `q` to vector [`RX_VECTOR`] + `q`,
/// every entry valid (the TX queues' entries stay invalid: no TX interrupts).
pub const IVAR_82574: u32 = regs::IVAR_OTHER_VEC0
    | (regs::IVAR_VALID | RX_VECTOR)
    | ((regs::IVAR_VALID | (RX_VECTOR + 1)) << regs::IVAR_RXQ1_SHIFT);

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
    let relay = Arc::new(EventFd::new().map_err(|e| EthError::Device { port: ctx.port, msg: e.to_string() })?);
    let ctx = ctx.clone();
    let port = ctx.port;
    let (index, handler): (IrqIndex, IrqHandler) = match model {
        Model::E82540 => {
            let vfio = dev.vfio().clone();
            let relay = relay.clone();
            (
                IrqIndex::Intx,
                Box::new(move |_n| {
                    let icr = bar.read32(regs::ICR);
                    if icr & regs::INT_RXT0 != 0 && bar.read32(regs::IMS) & regs::INT_RXT0 != 0 {
                        relay.signal();
                    }
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
            bar.write32(regs::IVAR, IVAR_82574);
            bar.write32(regs::EIAC_82574, regs::INT_RXQ0 | regs::INT_RXQ1);
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
    let mut vectors = vec![Vector::Handler(handler)];
    if index == IrqIndex::Msix {
        vectors.extend([Vector::Polled, Vector::Polled]);
    }
    let mut armed = dev.arm_irq_vectors(index, vectors).map_err(|e| EthError::Device { port, msg: e.to_string() })?;
    if index == IrqIndex::Intx {
        armed.publish_relay(RX_VECTOR, relay);
    }
    Ok(armed)
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
