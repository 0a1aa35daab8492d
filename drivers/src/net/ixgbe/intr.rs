//! Interrupts (primary only). The port runs in MSI-X mode with one vector: vector 0 takes
//! the "other" causes, the link-status change among them, through IVAR_MISC (82599
//! datasheet 4.6.6, 7.3.4); the queues are polled and raise no interrupt. GPIE sets MSI-X
//! mode, PBA support and "other clear disable" (OCD: reading EICR does not clear the other
//! causes, the handler clears them by writing 1s), EIAC leaves the other causes out of
//! auto-clear, and EIMS enables LSC and OTHER.
//!
//! EICR is read in the primary's handler only: reading it changes the device's state, so a
//! secondary never does (the data path touches only the tail registers).

use super::hw::read_link;
use super::regs;
use crate::net::intel::RegIo;
use ethdev::Link;

/// The MSI-X vector of the other causes (link).
pub const OTHER_VECTOR: u32 = 0;

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
