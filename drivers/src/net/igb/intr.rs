//! Link-status interrupts (primary only) and the RX queues' vectors. GPIE is put in MSI-X
//! mode with non-selective ICR clear; IVAR_MISC routes the "other" causes (LSC among them) to
//! their own MSI-X vector [`LINK_VECTOR`]; IVAR routes RX queue `q` to vector `1 + q`
//! ([`rx_vector`]), masked until the process polling the queue arms it (EIMS, by
//! [`IgbRxIntr`]). EIAC auto-clears a vector's EICR bit when the message is sent, and EIAM
//! masks a queue vector again once it fired (one wake-up per arming, no storm while the
//! poller drains the queue). The link handler reads ICR (which clears it), reports the link
//! to ethdev (which updates the shared state and tells the secondaries), and re-enables the
//! vector. The queue vectors' eventfds are watched by no thread of the primary: the poller
//! sleeps on them (a secondary on a copy from the primary).

use super::init::read_link;
use super::regs;
use crate::net::common::rx_intr::RxIntrHw;
use crate::net::intel::RegIo;
use eal::bus::{ArmedIrqs, BusDevice, IrqHandler, Vector};
use eal::vfio::{IrqIndex, MmioRegion};
use ethdev::{EthError, PortCtx};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The MSI-X vector of the link (other) causes.
pub const LINK_VECTOR: u32 = 0;
const LINK_BIT: u32 = 1 << LINK_VECTOR;
/// EIMS/EIAC/EIAM bits of the RX queue vectors.
const RX_BITS: u32 = ((1 << super::MAX_QUEUES) - 1) << 1;

/// The MSI-X vector of RX queue `q` (`1 + q`).
pub fn rx_vector(q: usize) -> u32 {
    1 + q as u32
}

/// Puts interrupts in MSI-X mode and routes the other causes to [`LINK_VECTOR`]; no
/// queue cause is routed anywhere. Everything stays masked.
pub fn setup<R: RegIo + ?Sized>(r: &R) {
    r.write32(regs::GPIE, regs::GPIE_MSIX_MODE | regs::GPIE_NSICR | regs::GPIE_EIAME | regs::GPIE_PBA);
    // IVAR0[n]: byte 0 is RX queue n, byte 1 TX queue n (TX gets no vector).
    for i in 0..8 {
        let rx = if i < super::MAX_QUEUES { regs::IVAR_VALID | rx_vector(i) } else { 0 };
        r.write32(regs::IVAR0 + 4 * i, rx);
    }
    r.write32(regs::IVAR_MISC, (regs::IVAR_VALID | LINK_VECTOR) << 8);
    r.write32(regs::EIAC, LINK_BIT | RX_BITS);
    r.write32(regs::EIAM, RX_BITS);
}

/// Arms and disarms the RX queue vectors, from the process polling the queue (through its
/// own BAR mapping): EIMS and EIMC are write-1-to-set / write-1-to-clear, so processes
/// arming different queues never undo each other, and nothing reads a cause register.
pub struct IgbRxIntr(pub Arc<MmioRegion>);

impl RxIntrHw for IgbRxIntr {
    fn vector(&self, q: u16) -> Option<u32> {
        (usize::from(q) < super::MAX_QUEUES).then(|| rx_vector(usize::from(q)))
    }

    fn set(&self, q: u16, on: bool) {
        let r: &dyn RegIo = &*self.0;
        let bit = 1 << rx_vector(usize::from(q));
        r.write32(if on { regs::EIMS } else { regs::EIMC }, bit);
    }
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
    // Vectors are given from 0: the link's, then one per RX queue as far as MSI-X allows
    // (QEMU's igb has 10).
    const _: () = assert!(LINK_VECTOR == 0);
    let count = dev.vfio().irq_info(IrqIndex::Msix).map(|i| i.count as usize).unwrap_or(1);
    let mut vectors = vec![Vector::Handler(handler)];
    vectors.extend((0..super::MAX_QUEUES.min(count.saturating_sub(1))).map(|_| Vector::Polled));
    dev.arm_irq_vectors(IrqIndex::Msix, vectors).map_err(|e| EthError::Device { port, msg: e.to_string() })
}
