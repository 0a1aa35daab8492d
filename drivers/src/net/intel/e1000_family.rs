//! What the e1000 family (the 82540EM and 82574L of the `net_e1000_em` PMD, the 82576 of the
//! `net_igb` PMD) has in common: the register offsets and bits both drivers use at the
//! same place (Intel PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
//! Manual, 82574 and 82576 datasheets; QEMU's `e1000`, `e1000e` and `igb` models implement
//! the same map), the statistics registers with the totals they are folded into, and the
//! bring-up steps they share (reset, MAC address, multicast table, link reading). Each
//! driver's `regs` module re-exports the registers and adds its own.

use super::error::IntelError;
use crate::net::common::hw_stats::{Counter, Fold, Read};
use crate::net::common::reg_io::poll_until;
use crate::net::common::RegIo;
use ethdev::Link;
use std::time::Duration;

/// How long CTRL.RST may stay set after a reset.
pub const RESET_TIMEOUT: Duration = Duration::from_millis(100);
/// How long an EEPROM word read (EERD) may take.
pub const EEPROM_READ_TIMEOUT: Duration = Duration::from_millis(10);

/// Device Control.
pub const CTRL: usize = 0x0000;
/// Device Status.
pub const STATUS: usize = 0x0008;
/// EEPROM Read (EERD).
pub const EERD: usize = 0x0014;
/// Extended Device Control.
pub const CTRL_EXT: usize = 0x0018;
/// Interrupt Cause Read (clear on read on the 82540EM; on the 82576 with GPIE.NSICR).
pub const ICR: usize = 0x00c0;
/// Interrupt Mask Set/Read.
pub const IMS: usize = 0x00d0;
/// Interrupt Mask Clear.
pub const IMC: usize = 0x00d8;
/// Receive Control.
pub const RCTL: usize = 0x0100;
/// Transmit Control.
pub const TCTL: usize = 0x0400;
/// Multicast table array (128 words).
pub const MTA: usize = 0x5200;
/// Receive address low, entry 0.
pub const RAL0: usize = 0x5400;
/// Receive address high, entry 0.
pub const RAH0: usize = 0x5404;

/// CTRL: set link up.
pub const CTRL_SLU: u32 = 1 << 6;
/// CTRL: device reset (self-clearing).
pub const CTRL_RST: u32 = 1 << 26;

/// STATUS: full duplex.
pub const STATUS_FD: u32 = 1 << 0;
/// STATUS: link up.
pub const STATUS_LU: u32 = 1 << 1;
/// STATUS: speed field shift (bits 7:6: 00 10, 01 100, 1x 1000 Mb/s).
pub const STATUS_SPEED_SHIFT: u32 = 6;

/// ICR/IMS: link status change.
pub const INT_LSC: u32 = 1 << 2;

/// RCTL: receiver enable.
pub const RCTL_EN: u32 = 1 << 1;
/// RCTL: unicast promiscuous.
pub const RCTL_UPE: u32 = 1 << 3;
/// RCTL: multicast promiscuous.
pub const RCTL_MPE: u32 = 1 << 4;
/// RCTL: long packet enable (frames over 1522 bytes; on the 82576 up to RLPML).
pub const RCTL_LPE: u32 = 1 << 5;
/// RCTL: accept broadcast.
pub const RCTL_BAM: u32 = 1 << 15;
/// RCTL: strip the Ethernet CRC.
pub const RCTL_SECRC: u32 = 1 << 26;

/// TCTL: transmitter enable.
pub const TCTL_EN: u32 = 1 << 1;
/// TCTL: pad short packets.
pub const TCTL_PSP: u32 = 1 << 3;
/// TCTL: collision threshold (15, the recommended value).
pub const TCTL_CT: u32 = 0x0f << 4;
/// TCTL: collision distance for full duplex (63 byte times).
pub const TCTL_COLD: u32 = 0x3f << 12;

/// RAH: address valid.
pub const RAH_AV: u32 = 1 << 31;

/// Statistics registers (all clear on read in the datasheets; QEMU keeps some of the error
/// counters sticky).
pub mod stat {
    /// CRC errors.
    pub const CRCERRS: usize = 0x4000;
    /// Receive errors.
    pub const RXERRC: usize = 0x400c;
    /// Missed packets (no room in the RX FIFO / ring).
    pub const MPC: usize = 0x4010;
    /// Receive length errors.
    pub const RLEC: usize = 0x4040;
    /// Good packets received.
    pub const GPRC: usize = 0x4074;
    /// Broadcast packets received.
    pub const BPRC: usize = 0x4078;
    /// Multicast packets received.
    pub const MPRC: usize = 0x407c;
    /// Good packets transmitted.
    pub const GPTC: usize = 0x4080;
    /// Good octets received, low (the high register follows; read it last).
    pub const GORCL: usize = 0x4088;
    /// Good octets transmitted, low (the high register follows).
    pub const GOTCL: usize = 0x4090;
    /// Receive no buffers.
    pub const RNBC: usize = 0x40a0;
    /// Receive undersize.
    pub const RUC: usize = 0x40a4;
    /// Receive oversize.
    pub const ROC: usize = 0x40ac;
    /// Total packets received.
    pub const TPR: usize = 0x40d0;
    /// Total packets transmitted.
    pub const TPT: usize = 0x40d4;
}

/// The statistics counters of the family, in the order they are read, with the ethdev
/// counters they feed. QEMU's models do not clear MPC, RNBC, CRCERRS, RXERRC and RLEC on
/// read: those may be sticky.
pub const STATS: &[Counter] = &[
    Counter { name: "rx_good_packets", read: Read::Reg(stat::GPRC), fold: Fold::RxPackets },
    Counter { name: "tx_good_packets", read: Read::Reg(stat::GPTC), fold: Fold::TxPackets },
    Counter { name: "rx_good_bytes", read: Read::Reg64(stat::GORCL), fold: Fold::No },
    Counter { name: "tx_good_bytes", read: Read::Reg64(stat::GOTCL), fold: Fold::No },
    Counter { name: "rx_total_packets", read: Read::Reg(stat::TPR), fold: Fold::No },
    Counter { name: "tx_total_packets", read: Read::Reg(stat::TPT), fold: Fold::No },
    Counter { name: "rx_broadcast_packets", read: Read::Reg(stat::BPRC), fold: Fold::No },
    Counter { name: "rx_multicast_packets", read: Read::Reg(stat::MPRC), fold: Fold::No },
    Counter { name: "rx_missed", read: Read::MaybeSticky(stat::MPC), fold: Fold::Missed },
    Counter { name: "rx_no_buffers", read: Read::MaybeSticky(stat::RNBC), fold: Fold::No },
    Counter { name: "rx_crc_errors", read: Read::MaybeSticky(stat::CRCERRS), fold: Fold::Errors },
    Counter { name: "rx_errors", read: Read::MaybeSticky(stat::RXERRC), fold: Fold::Errors },
    Counter { name: "rx_length_errors", read: Read::MaybeSticky(stat::RLEC), fold: Fold::Errors },
    // Named apart (DPDK's igb names) so an operator tells runt frames, which QEMU's e1000e
    // and igb count yet deliver padded, from oversized ones; both stay in `ierrors` as in
    // DPDK's em/igb.
    Counter { name: "rx_undersize_errors", read: Read::Reg(stat::RUC), fold: Fold::Errors },
    Counter { name: "rx_oversize_errors", read: Read::Reg(stat::ROC), fold: Fold::Errors },
];

/// EERD bits, which differ between the 82540EM and the later parts.
#[derive(Debug, Clone, Copy)]
pub struct EerdLayout {
    /// Start bit.
    pub start: u32,
    /// Done bit.
    pub done: u32,
    /// Shift of the word address.
    pub addr_shift: u32,
}

/// 82540EM: start bit 0, done bit 4, address at bit 8.
pub const EERD_82540: EerdLayout = EerdLayout { start: 1, done: 1 << 4, addr_shift: 8 };
/// 82574L and 82576: start bit 0, done bit 1, address at bit 2.
pub const EERD_82574: EerdLayout = EerdLayout { start: 1, done: 1 << 1, addr_shift: 2 };

/// Runs `mask_all` (mask every interrupt, read stale causes away) and disables RX and TX,
/// then resets the MAC (CTRL.RST) and waits for the reset to finish; `mask_all` runs again
/// afterwards.
pub fn reset<R: RegIo + ?Sized>(r: &R, mask_all: impl Fn(&R)) -> Result<(), IntelError> {
    mask_all(r);
    r.write32(RCTL, 0);
    r.write32(TCTL, 0);
    let _ = r.read32(STATUS); // flush posted writes
    std::thread::sleep(Duration::from_millis(10));
    r.write32(CTRL, r.read32(CTRL) | CTRL_RST);
    // The datasheets ask for a wait of at least 1 µs before the next access; the bit
    // clears itself when the reset is done.
    std::thread::sleep(Duration::from_millis(1));
    poll_until(r, CTRL, CTRL_RST, 0, RESET_TIMEOUT, "device reset (CTRL.RST)").map_err(IntelError::ResetStuck)?;
    mask_all(r);
    Ok(())
}

/// Reads one 16-bit EEPROM word through EERD; None on timeout.
pub fn eeprom_read<R: RegIo + ?Sized>(r: &R, l: EerdLayout, word: u32) -> Option<u16> {
    r.write32(EERD, (word << l.addr_shift) | l.start);
    let v = poll_until(r, EERD, l.done, l.done, EEPROM_READ_TIMEOUT, "EEPROM read (EERD)").ok()?;
    Some((v >> 16) as u16)
}

/// The MAC address: receive address 0 if the device marked it valid (the hardware loads it
/// from the EEPROM at reset), else EEPROM words 0-2.
pub fn read_mac<R: RegIo + ?Sized>(r: &R, l: EerdLayout) -> Result<[u8; 6], IntelError> {
    let (ral, rah) = (r.read32(RAL0), r.read32(RAH0));
    if rah & RAH_AV != 0 {
        let (a, b) = (ral.to_le_bytes(), rah.to_le_bytes());
        return Ok([a[0], a[1], a[2], a[3], b[0], b[1]]);
    }
    let mut mac = [0u8; 6];
    for w in 0..3u32 {
        let v = eeprom_read(r, l, w).ok_or(IntelError::EepromSilent)?;
        mac[2 * w as usize..2 * w as usize + 2].copy_from_slice(&v.to_le_bytes());
    }
    Ok(mac)
}

/// Programs receive address 0 with `mac` and marks it valid (82576 pool bits 0: no VMDq).
pub fn write_mac<R: RegIo + ?Sized>(r: &R, mac: [u8; 6]) {
    r.write32(RAL0, u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
    r.write32(RAH0, u32::from(u16::from_le_bytes([mac[4], mac[5]])) | RAH_AV);
}

/// Zeroes the multicast table (no multicast group joined; MPE covers promiscuous mode).
pub fn clear_mta<R: RegIo + ?Sized>(r: &R) {
    for i in 0..128 {
        r.write32(MTA + 4 * i, 0);
    }
}

/// Decodes STATUS into a link.
pub fn link_from_status(status: u32) -> Link {
    if status & STATUS_LU == 0 {
        return Link::down();
    }
    let speed = match (status >> STATUS_SPEED_SHIFT) & 3 {
        0 => 10,
        1 => 100,
        _ => 1000,
    };
    Link { up: true, speed_mbps: speed, full_duplex: status & STATUS_FD != 0, autoneg: true }
}

/// Reads the link from STATUS.
pub fn read_link<R: RegIo + ?Sized>(r: &R) -> Link {
    link_from_status(r.read32(STATUS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::common::reg_io::SoftRegs;

    #[test]
    fn status_decodes_to_links() {
        // QEMU's e1000 reset value: LU | FD | speed 1000 and more.
        assert_eq!(link_from_status(0x8008_0783), Link::up(1000));
        assert_eq!(link_from_status(0x8008_0781), Link::down());
        assert_eq!(link_from_status(STATUS_LU | STATUS_FD | (2 << 6)), Link::up(1000));
        assert_eq!(link_from_status(STATUS_FD | (2 << 6)), Link::down());
        let l = link_from_status(STATUS_LU | (1 << 6));
        assert_eq!((l.up, l.speed_mbps, l.full_duplex), (true, 100, false));
        assert_eq!(link_from_status(STATUS_LU | STATUS_FD).speed_mbps, 10);
    }

    #[test]
    fn mac_round_trips_through_ral_rah() {
        let r = SoftRegs::new(0x6000);
        let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        write_mac(&r, mac);
        assert_eq!(r.read32(RAH0), 0x8000_5634);
        assert_eq!(read_mac(&r, EERD_82574), Ok(mac));
    }

    #[test]
    fn without_a_valid_rah_the_mac_comes_from_the_eeprom() {
        // The register file echoes the EERD write back, whose done bit stays clear: the
        // EEPROM read times out and the error names the registers to check.
        let r = SoftRegs::new(0x6000);
        let e = read_mac(&r, EERD_82540).unwrap_err().to_string();
        assert!(e.contains("RAH0") && e.contains("EERD"), "{e}");
    }
}
