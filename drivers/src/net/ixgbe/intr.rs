//! Interrupts. The port runs in MSI-X mode: vector 0 takes the "other" causes, the
//! link-status change among them, through IVAR_MISC (82599 datasheet 4.6.6, 7.3.4), handled
//! in the primary; RX queue `q` (below [`RX_VECTORS`]) is routed by IVAR to vector `1 + q`
//! ([`rx_vector`]), masked until the process polling the queue arms it (EIMS, by
//! [`IxgbeRxIntr`]); EIAC auto-clears and EIAM auto-masks a queue vector when it fires,
//! so each arming wakes the poller once. GPIE sets MSI-X
//! mode, PBA support and "other clear disable" (OCD: reading EICR does not clear the other
//! causes, the handler clears them by writing 1s), EIAC leaves the other causes out of
//! auto-clear, and EIMS enables LSC and OTHER.
//!
//! EICR is read in the primary's handler only: reading it changes the device's state, so a
//! secondary never does (the data path touches only the tail registers).

use super::hw::read_link;
use super::regs;
use crate::net::common::rx_intr::RxIntrHw;
use crate::net::intel::RegIo;
use ethdev::Link;

/// The MSI-X vector of the other causes (link).
pub const OTHER_VECTOR: u32 = 0;

/// RX queues with a vector of their own: vectors 1-15, the queue bits of EIMS.
pub const RX_VECTORS: usize = 15;
/// EIMS/EIAC/EIAM bits of the RX queue vectors.
pub const RX_BITS: u32 = 0xfffe;

/// The MSI-X vector of RX queue `q`.
pub fn rx_vector(q: usize) -> u32 {
    1 + q as u32
}

/// Arms and disarms RX queue vectors from the process polling them (its own register
/// mapping): EIMS/EIMC are write-1-to-set/-clear, no cause register is read.
pub struct IxgbeRxIntr<R: RegIo>(pub R);

impl<R: RegIo + Send + Sync + 'static> RxIntrHw for IxgbeRxIntr<R> {
    fn vector(&self, q: u16) -> Option<u32> {
        (usize::from(q) < RX_VECTORS.min(usize::from(super::control::MAX_QUEUES))).then(|| rx_vector(usize::from(q)))
    }

    fn set(&self, q: u16, on: bool) {
        let bit = 1 << rx_vector(usize::from(q));
        self.0.write32(if on { regs::EIMS } else { regs::EIMC }, bit);
    }
}

/// Causes enabled in EIMS.
pub const CAUSES: u32 = regs::EICR_LSC | regs::EICR_OTHER;

/// Programs MSI-X mode and routes the other causes to [`OTHER_VECTOR`] (4.6.6 steps 1-5).
/// Interrupts stay masked until [`enable`].
pub fn configure<R: RegIo + ?Sized>(r: &R) {
    r.write32(regs::EIMC, regs::EIMC_ALL);
    let gpie = r.read32(regs::GPIE) | regs::GPIE_MSIX_MODE | regs::GPIE_PBA_SUPPORT | regs::GPIE_OCD | regs::GPIE_EIAME;
    r.write32(regs::GPIE, gpie);
    // IVAR_MISC: bits 7:0 the TCP timer (unused), bits 15:8 the other causes.
    let ivar = r.read32(regs::IVAR_MISC) & !0xff00;
    r.write32(regs::IVAR_MISC, ivar | ((OTHER_VECTOR | regs::IVAR_ALLOC_VAL) << 8));
    // No auto-clear for the other causes (4.6.6: EIAC bits of other and TCP timer are 0).
    r.write32(regs::EIAC, r.read32(regs::EIAC) & !(regs::EICR_LSC | regs::EICR_OTHER));
    r.write32(regs::eitr(OTHER_VECTOR as usize), 0);
    // RX queue q to vector 1 + q: byte 0 (even q) or byte 2 (odd q) of IVAR(q / 2).
    let rxq = RX_VECTORS.min(usize::from(super::control::MAX_QUEUES));
    for q in 0..rxq {
        let shift = 16 * (q % 2);
        let ivar = r.read32(regs::ivar(q / 2)) & !(0xff << shift);
        r.write32(regs::ivar(q / 2), ivar | ((regs::IVAR_ALLOC_VAL | rx_vector(q)) << shift));
        r.write32(regs::eitr(rx_vector(q) as usize), 0);
    }
    r.write32(regs::EIAC, r.read32(regs::EIAC) | RX_BITS);
    r.write32(regs::EIAM, r.read32(regs::EIAM) | RX_BITS);
}

/// Clears stale causes (writing 1s) and enables the link interrupt.
pub fn enable<R: RegIo + ?Sized>(r: &R) {
    r.write32(regs::EICR, CAUSES);
    r.write32(regs::EIMS, CAUSES);
}

/// Masks every cause, the "other" summary bit (31) included, as the enable set it.
pub fn disable<R: RegIo + ?Sized>(r: &R) {
    r.write32(regs::EIMC, regs::EIMC_ALL | regs::EICR_OTHER);
}

/// The handler of the other-causes vector: reads EICR, clears the causes it saw (write 1
/// to clear, needed with GPIE.OCD), re-enables the causes when `rearm`, and returns the
/// link when the link status changed. Primary only.
pub fn handle_other<R: RegIo + ?Sized>(r: &R, rearm: bool) -> Option<Link> {
    let eicr = r.read32(regs::EICR);
    let other = eicr & !regs::EICR_RTX_QUEUE;
    if other != 0 {
        r.write32(regs::EICR, other);
    }
    let link = (eicr & regs::EICR_LSC != 0).then(|| read_link(r));
    if rearm {
        r.write32(regs::EIMS, CAUSES);
    }
    link
}
