//! Bring-up of the MAC (primary only): reset, the MAC address (RAL0/RAH0, or the EEPROM
//! when the receive address is not valid), the multicast table, link setup and link
//! reading; all but the link setup are the e1000 family's ([`e1000_family`]).

use super::regs;
use crate::net::intel::error::IntelError;
use crate::net::intel::reg_io::set_bits;
use crate::net::intel::{e1000_family, RegIo};

pub use e1000_family::{clear_mta, read_link, read_mac, write_mac};

/// Masks every interrupt and disables RX and TX, then resets the MAC (CTRL.RST) and waits
/// for the reset to finish (see [`e1000_family::reset`]).
pub fn reset<R: RegIo + ?Sized>(r: &R) -> Result<(), IntelError> {
    e1000_family::reset(r, |r| {
        r.write32(regs::IMC, u32::MAX);
        let _ = r.read32(regs::ICR);
    })
}

/// Sets the link up with auto-speed detection (copper, autonegotiated by the PHY).
pub fn link_setup<R: RegIo + ?Sized>(r: &R) {
    set_bits(r, regs::CTRL, regs::CTRL_SLU | regs::CTRL_ASDE);
}
