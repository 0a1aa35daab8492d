//! Bring-up of the MAC (primary only): global reset, the MAC address, the multicast table,
//! link setup and link reading.

use super::regs;
use crate::net::intel::error::IntelError;
use crate::net::intel::reg_io::poll_until;
use crate::net::intel::{e1000_family, RegIo};
use std::time::Duration;

pub use e1000_family::{clear_mta, read_link, write_mac};

/// Masks every interrupt, disables RX and TX, then resets the device (CTRL.RST) and waits
/// for the reset to finish (see [`e1000_family::reset`]).
pub fn reset<R: RegIo + ?Sized>(r: &R) -> Result<(), IntelError> {
    e1000_family::reset(r, mask_all)
}

/// Masks every interrupt cause and vector and reads the causes away.
pub fn mask_all<R: RegIo + ?Sized>(r: &R) {
    r.write32(regs::IMC, u32::MAX);
    r.write32(regs::EIMC, u32::MAX);
    let _ = r.read32(regs::ICR);
    let _ = r.read32(regs::EICR);
}

/// The MAC address: receive address 0 if valid, else EEPROM words 0-2.
pub fn read_mac<R: RegIo + ?Sized>(r: &R) -> Result<[u8; 6], IntelError> {
    e1000_family::read_mac(r, e1000_family::EERD_82574)
}

/// MDI control (PHY register access).
const MDIC: usize = 0x0020;
/// MDIC: PHY address 1 (the internal PHY).
const MDIC_PHY1: u32 = 1 << 21;
/// MDIC: write operation.
const MDIC_OP_WRITE: u32 = 1 << 26;
/// MDIC: operation done.
const MDIC_READY: u32 = 1 << 28;
/// MDIC: the operation failed.
const MDIC_ERROR: u32 = 1 << 30;
/// How long a PHY register write may take.
const PHY_WRITE_TIMEOUT: Duration = Duration::from_millis(10);
/// PHY control register value: autonegotiation on and restarted, 1000 Mb/s full duplex
/// advertised.
const BMCR_AUTONEG_RESTART: u32 = 0x1000 | 0x0200 | 0x0040 | 0x0100;
/// CTRL: link reset (set after a device reset; the link stays down while it is set).
const CTRL_LRST: u32 = 1 << 3;

/// Writes PHY register `reg` through MDIC.
fn phy_write<R: RegIo + ?Sized>(r: &R, reg: u32, v: u16) -> Result<(), IntelError> {
    r.write32(MDIC, u32::from(v) | (reg << 16) | MDIC_PHY1 | MDIC_OP_WRITE);
    // MDIC.E is valid once MDIC.R is set.
    let mdic = poll_until(r, MDIC, MDIC_READY, MDIC_READY, PHY_WRITE_TIMEOUT, "PHY register write (MDIC.R)")?;
    if mdic & MDIC_ERROR != 0 {
        return Err(IntelError::PhyWrite { reg, mdic });
    }
    Ok(())
}

/// Brings the link up after a reset: clears CTRL.LRST, sets SLU, restarts
/// autonegotiation in the PHY (the link-status interrupt reports the result; on QEMU about
/// 0.5 s later), and tells the firmware a driver is loaded.
pub fn link_setup<R: RegIo + ?Sized>(r: &R) -> Result<(), IntelError> {
    r.write32(regs::CTRL, (r.read32(regs::CTRL) & !CTRL_LRST) | regs::CTRL_SLU);
    r.write32(regs::CTRL_EXT, r.read32(regs::CTRL_EXT) | regs::CTRL_EXT_DRV_LOAD);
    phy_write(r, 0, BMCR_AUTONEG_RESTART as u16)
}
