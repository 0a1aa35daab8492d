//! Bring-up of the MAC (primary only): global reset, the MAC address, the multicast table,
//! link setup and link reading.

use super::regs;
use crate::net::intel::RegIo;
use ethdev::Link;
use std::time::{Duration, Instant};

/// EEPROM read register.
const EERD: usize = 0x0014;
/// EERD: start a read.
const EERD_START: u32 = 1 << 0;
/// EERD: read done.
const EERD_DONE: u32 = 1 << 1;
/// EERD: word address shift.
const EERD_ADDR_SHIFT: u32 = 2;

/// Masks every interrupt, disables RX and TX, then resets the device (CTRL.RST) and waits
/// for the reset to finish; interrupts are masked again afterwards and stale causes read.
pub fn reset<R: RegIo + ?Sized>(r: &R) -> Result<(), String> {
    mask_all(r);
    r.write32(regs::RCTL, 0);
    r.write32(regs::TCTL, 0);
    let _ = r.read32(regs::STATUS); // flush posted writes
    std::thread::sleep(Duration::from_millis(10));
    r.write32(regs::CTRL, r.read32(regs::CTRL) | regs::CTRL_RST);
    // At least 1 µs before the next access; the bit clears itself when the reset is done.
    std::thread::sleep(Duration::from_millis(1));
    let t0 = Instant::now();
    while r.read32(regs::CTRL) & regs::CTRL_RST != 0 {
        if t0.elapsed() > Duration::from_millis(100) {
            return Err("the device did not come out of reset within 100 ms (CTRL.RST stays set)".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    mask_all(r);
    Ok(())
}

/// Masks every interrupt cause and vector and reads the causes away.
pub fn mask_all<R: RegIo + ?Sized>(r: &R) {
    r.write32(regs::IMC, u32::MAX);
    r.write32(regs::EIMC, u32::MAX);
    let _ = r.read32(regs::ICR);
    let _ = r.read32(regs::EICR);
}

fn eeprom_read<R: RegIo + ?Sized>(r: &R, word: u32) -> Option<u16> {
    r.write32(EERD, (word << EERD_ADDR_SHIFT) | EERD_START);
    let t0 = Instant::now();
    loop {
        let v = r.read32(EERD);
        if v & EERD_DONE != 0 {
            return Some((v >> 16) as u16);
        }
        if t0.elapsed() > Duration::from_millis(10) {
            return None;
        }
        std::hint::spin_loop();
    }
}

/// The MAC address: receive address 0 if the device marked it valid (loaded from the
/// EEPROM at reset), else EEPROM words 0-2.
pub fn read_mac<R: RegIo + ?Sized>(r: &R) -> Result<[u8; 6], String> {
    let (ral, rah) = (r.read32(regs::RAL0), r.read32(regs::RAH0));
    if rah & regs::RAH_AV != 0 {
        let (a, b) = (ral.to_le_bytes(), rah.to_le_bytes());
        return Ok([a[0], a[1], a[2], a[3], b[0], b[1]]);
    }
    let mut mac = [0u8; 6];
    for w in 0..3u32 {
        let v = eeprom_read(r, w).ok_or("RAH0 has no valid address and the EEPROM does not answer (EERD)")?;
        mac[2 * w as usize..2 * w as usize + 2].copy_from_slice(&v.to_le_bytes());
    }
    Ok(mac)
}

/// Programs receive address 0 with `mac` and marks it valid (pool bits 0: no VMDq).
pub fn write_mac<R: RegIo + ?Sized>(r: &R, mac: [u8; 6]) {
    r.write32(regs::RAL0, u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
    r.write32(regs::RAH0, u32::from(u16::from_le_bytes([mac[4], mac[5]])) | regs::RAH_AV);
}

/// Zeroes the multicast table.
pub fn clear_mta<R: RegIo + ?Sized>(r: &R) {
    for i in 0..128 {
        r.write32(regs::MTA + 4 * i, 0);
    }
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
/// PHY control register value: autonegotiation on and restarted, 1000 Mb/s full duplex
/// advertised.
const BMCR_AUTONEG_RESTART: u32 = 0x1000 | 0x0200 | 0x0040 | 0x0100;
/// CTRL: link reset (set after a device reset; the link stays down while it is set).
const CTRL_LRST: u32 = 1 << 3;

/// Writes PHY register `reg` through MDIC.
fn phy_write<R: RegIo + ?Sized>(r: &R, reg: u32, v: u16) -> Result<(), String> {
    r.write32(MDIC, u32::from(v) | (reg << 16) | MDIC_PHY1 | MDIC_OP_WRITE);
    let t0 = Instant::now();
    loop {
        let m = r.read32(MDIC);
        if m & MDIC_ERROR != 0 {
            return Err(format!("PHY register {reg} write failed (MDIC {m:#010x})"));
        }
        if m & MDIC_READY != 0 {
            return Ok(());
        }
        if t0.elapsed() > Duration::from_millis(10) {
            return Err(format!("PHY register {reg} write did not complete within 10 ms"));
        }
        std::hint::spin_loop();
    }
}

/// Brings the link up after a reset: clears CTRL.LRST, sets SLU, restarts
/// autonegotiation in the PHY (the link-status interrupt reports the result; on QEMU about
/// 0.5 s later), and tells the firmware a driver is loaded.
pub fn link_setup<R: RegIo + ?Sized>(r: &R) -> Result<(), String> {
    r.write32(regs::CTRL, (r.read32(regs::CTRL) & !CTRL_LRST) | regs::CTRL_SLU);
    r.write32(regs::CTRL_EXT, r.read32(regs::CTRL_EXT) | regs::CTRL_EXT_DRV_LOAD);
    phy_write(r, 0, BMCR_AUTONEG_RESTART as u16)
}

/// Decodes STATUS into a link.
pub fn link_from_status(status: u32) -> Link {
    if status & regs::STATUS_LU == 0 {
        return Link::down();
    }
    let speed = match (status >> regs::STATUS_SPEED_SHIFT) & 3 {
        0 => 10,
        1 => 100,
        _ => 1000,
    };
    Link { up: true, speed_mbps: speed, full_duplex: status & regs::STATUS_FD != 0, autoneg: true }
}

/// Reads the link from STATUS.
pub fn read_link<R: RegIo + ?Sized>(r: &R) -> Link {
    link_from_status(r.read32(regs::STATUS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::intel::reg_io::SoftRegs;

    #[test]
    fn status_decodes_to_links() {
        assert_eq!(link_from_status(regs::STATUS_LU | regs::STATUS_FD | (2 << 6)), Link::up(1000));
        assert_eq!(link_from_status(regs::STATUS_FD | (2 << 6)), Link::down());
        let l = link_from_status(regs::STATUS_LU | (1 << 6));
        assert_eq!((l.up, l.speed_mbps, l.full_duplex), (true, 100, false));
    }

    #[test]
    fn mac_round_trips_through_ral_rah() {
        let r = SoftRegs::new(0x6000);
        let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        write_mac(&r, mac);
        assert_eq!(r.read32(regs::RAH0), 0x8000_5634);
        assert_eq!(read_mac(&r), Ok(mac));
    }
}
