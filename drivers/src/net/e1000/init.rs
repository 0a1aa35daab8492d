//! Bring-up of the MAC (primary only): reset, the MAC address (RAL0/RAH0, or the EEPROM
//! when the receive address is not valid), the multicast table, link setup and link
//! reading; all but the link setup are the e1000 family's ([`e1000_family`]).

use super::regs;
use crate::net::intel::e1000_family;
use eal::vfio::MmioRegion;

pub use e1000_family::{clear_mta, read_link, read_mac, write_mac};

/// Reads register `off` (0 if outside BAR0, which the register map never is).
#[inline(always)]
pub fn rd(bar: &MmioRegion, off: usize) -> u32 {
    bar.read32(off).unwrap_or(0)
}

/// Writes register `off`.
#[inline(always)]
pub fn wr(bar: &MmioRegion, off: usize, v: u32) {
    let _ = bar.write32(off, v);
}

/// Masks every interrupt and disables RX and TX, then resets the MAC (CTRL.RST) and waits
/// for the reset to finish (see [`e1000_family::reset`]).
pub fn reset(bar: &MmioRegion) -> Result<(), String> {
    e1000_family::reset(bar, |bar| {
        wr(bar, regs::IMC, u32::MAX);
        let _ = rd(bar, regs::ICR);
    })
}

/// Sets the link up with auto-speed detection (copper, autonegotiated by the PHY).
pub fn link_setup(bar: &MmioRegion) {
    wr(bar, regs::CTRL, rd(bar, regs::CTRL) | regs::CTRL_SLU | regs::CTRL_ASDE);
}
