//! Bring-up of the MAC (primary only): reset, the MAC address (RAL0/RAH0, or the EEPROM
//! when the receive address is not valid), the multicast table, link setup and link
//! reading.

use super::regs::{self, EerdLayout};
use eal::vfio::MmioRegion;
use ethdev::Link;
use std::time::{Duration, Instant};

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
/// for the reset to finish. Interrupts are masked again afterwards and stale causes read.
pub fn reset(bar: &MmioRegion) -> Result<(), String> {
    wr(bar, regs::IMC, u32::MAX);
    wr(bar, regs::RCTL, 0);
    wr(bar, regs::TCTL, 0);
    let _ = rd(bar, regs::STATUS); // flush posted writes
    std::thread::sleep(Duration::from_millis(10));
    wr(bar, regs::CTRL, rd(bar, regs::CTRL) | regs::CTRL_RST);
    // The datasheets ask for a wait of at least 1 µs before the next access; the bit
    // clears itself when the reset is done.
    std::thread::sleep(Duration::from_millis(1));
    let t0 = Instant::now();
    while rd(bar, regs::CTRL) & regs::CTRL_RST != 0 {
        if t0.elapsed() > Duration::from_millis(100) {
            return Err("the device did not come out of reset within 100 ms (CTRL.RST stays set)".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    wr(bar, regs::IMC, u32::MAX);
    let _ = rd(bar, regs::ICR);
    Ok(())
}

/// Reads one 16-bit EEPROM word through EERD; None on timeout.
pub fn eeprom_read(bar: &MmioRegion, l: EerdLayout, word: u32) -> Option<u16> {
    wr(bar, regs::EERD, (word << l.addr_shift) | l.start);
    let t0 = Instant::now();
    loop {
        let v = rd(bar, regs::EERD);
        if v & l.done != 0 {
            return Some((v >> 16) as u16);
        }
        if t0.elapsed() > Duration::from_millis(10) {
            return None;
        }
        std::hint::spin_loop();
    }
}

/// The MAC address: receive address 0 if the device marked it valid (the hardware loads it
/// from the EEPROM at reset), else EEPROM words 0-2.
pub fn read_mac(bar: &MmioRegion, l: EerdLayout) -> Result<[u8; 6], String> {
    let (ral, rah) = (rd(bar, regs::RAL0), rd(bar, regs::RAH0));
    if rah & regs::RAH_AV != 0 {
        let (a, b) = (ral.to_le_bytes(), rah.to_le_bytes());
        return Ok([a[0], a[1], a[2], a[3], b[0], b[1]]);
    }
    let mut mac = [0u8; 6];
    for w in 0..3u32 {
        let v = eeprom_read(bar, l, w).ok_or("RAH0 has no valid address and the EEPROM does not answer (EERD)")?;
        mac[2 * w as usize..2 * w as usize + 2].copy_from_slice(&v.to_le_bytes());
    }
    Ok(mac)
}

/// Programs receive address 0 with `mac` and marks it valid.
pub fn write_mac(bar: &MmioRegion, mac: [u8; 6]) {
    wr(bar, regs::RAL0, u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
    wr(bar, regs::RAH0, u32::from(u16::from_le_bytes([mac[4], mac[5]])) | regs::RAH_AV);
}

/// Zeroes the multicast table (no multicast group joined; MPE covers promiscuous mode).
pub fn clear_mta(bar: &MmioRegion) {
    for i in 0..128 {
        wr(bar, regs::MTA + 4 * i, 0);
    }
}

/// Sets the link up with auto-speed detection (copper, autonegotiated by the PHY).
pub fn link_setup(bar: &MmioRegion) {
    wr(bar, regs::CTRL, rd(bar, regs::CTRL) | regs::CTRL_SLU | regs::CTRL_ASDE);
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
pub fn read_link(bar: &MmioRegion) -> Link {
    link_from_status(rd(bar, regs::STATUS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_decodes_to_links() {
        // QEMU's reset value: LU | FD | speed 1000 and more.
        assert_eq!(link_from_status(0x8008_0783), Link::up(1000));
        assert_eq!(link_from_status(0x8008_0781), Link::down());
        let l = link_from_status(regs::STATUS_LU | (1 << 6));
        assert_eq!((l.up, l.speed_mbps, l.full_duplex), (true, 100, false));
        assert_eq!(link_from_status(regs::STATUS_LU | regs::STATUS_FD).speed_mbps, 10);
    }
}
