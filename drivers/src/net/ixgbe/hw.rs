//! Bring-up of the MAC (primary only), following the 82599 datasheet's initialisation
//! sequence (4.6.3): interrupts masked, master disable (5.2.5.3.2), software reset
//! (4.6.3.2), EEPROM auto-read done, DMA initialisation done, then the general
//! configuration this driver needs (receive address 0, multicast table, CRC stripping,
//! maximum frame size) and link reading (AUTOC/LINKS, 4.6.4).
//!
//! Everything goes through [`RegIo`], so the same code runs on a mapped BAR and against
//! the register model of the host tests.

use super::regs;
use crate::net::intel::error::IntelError;
use crate::net::intel::RegIo;
use ethdev::Link;
use std::time::Duration;

/// How long the device may take to clear STATUS.GIO_MASTER_ENABLE after master disable.
pub const MASTER_DISABLE_TIMEOUT: Duration = Duration::from_millis(100);
/// How long CTRL.RST may stay set.
pub const RESET_TIMEOUT: Duration = Duration::from_millis(100);
/// How long after a reset the driver waits before touching the device (4.6.3.2: at least
/// 10 ms).
pub const POST_RESET_WAIT: Duration = Duration::from_millis(10);
/// How long EEC.ARD and RDRXCTL.DMAIDONE may take to come up after a reset.
pub const AUTOLOAD_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a queue enable bit (RXDCTL/TXDCTL.ENABLE) may take to read back set.
pub const QUEUE_ENABLE_TIMEOUT: Duration = Duration::from_millis(100);

pub use crate::net::common::reg_io::{clear_bits, poll_until, set_bits};

/// Masks every interrupt cause (EIMC) and clears pending causes (EICR read). Primary only:
/// reading EICR clears it.
pub fn mask_interrupts<R: RegIo + ?Sized>(r: &R) {
    r.write32(regs::EIMC, regs::EIMC_ALL);
    let _ = r.read32(regs::EICR);
}

/// The datasheet's reset flow: interrupts masked (4.6.3.1), receive disabled, master
/// disable with a wait for outstanding requests (5.2.5.3.2), CTRL.RST and its self-clearing
/// (4.6.3.2), the 10 ms settling time, interrupts masked again (the reset unmasks nothing,
/// but causes may have latched), then EEC.ARD and RDRXCTL.DMAIDONE (4.6.3 steps 3 and 5).
///
/// When the master enable status does not clear (a known case with flow control or a
/// down link, per the 82599 specification update), the reset is issued twice, as the
/// specification update recommends.
pub fn reset<R: RegIo + ?Sized>(r: &R) -> Result<(), IntelError> {
    mask_interrupts(r);
    clear_bits(r, regs::RXCTRL, regs::RXCTRL_RXEN);
    set_bits(r, regs::CTRL, regs::CTRL_PCIE_MASTER_DISABLE);
    let double_reset = match poll_until(
        r,
        regs::STATUS,
        regs::STATUS_GIO_MASTER_ENABLE,
        0,
        MASTER_DISABLE_TIMEOUT,
        "master disable (STATUS.GIO_MASTER_ENABLE)",
    ) {
        Ok(_) => false,
        Err(e) => {
            tracing::warn!("{e}: resetting twice, as the 82599 specification update advises");
            true
        }
    };
    for _ in 0..if double_reset { 2 } else { 1 } {
        set_bits(r, regs::CTRL, regs::CTRL_RST);
        // At least 1 µs before the next access (4.6.3.2).
        std::thread::sleep(Duration::from_micros(10));
        poll_until(r, regs::CTRL, regs::CTRL_RST, 0, RESET_TIMEOUT, "device reset (CTRL.RST)")
            .map_err(IntelError::ResetStuck)?;
    }
    std::thread::sleep(POST_RESET_WAIT);
    mask_interrupts(r);
    poll_until(r, regs::EEC, regs::EEC_ARD, regs::EEC_ARD, AUTOLOAD_TIMEOUT, "EEPROM auto-read (EEC.ARD)")
        .map_err(IntelError::NvmAutoRead)?;
    poll_until(
        r,
        regs::RDRXCTL,
        regs::RDRXCTL_DMAIDONE,
        regs::RDRXCTL_DMAIDONE,
        AUTOLOAD_TIMEOUT,
        "DMA init (RDRXCTL.DMAIDONE)",
    )?;
    Ok(())
}

/// The MAC address the EEPROM loaded into receive address 0 (RAL0/RAH0 with AV set).
pub fn read_mac<R: RegIo + ?Sized>(r: &R) -> Result<[u8; 6], IntelError> {
    let (ral, rah) = (r.read32(regs::ral(0)), r.read32(regs::rah(0)));
    if rah & regs::RAH_AV == 0 {
        return Err(IntelError::NoMacAddress { rah });
    }
    let (a, b) = (ral.to_le_bytes(), rah.to_le_bytes());
    Ok([a[0], a[1], a[2], a[3], b[0], b[1]])
}

/// Programs receive address 0 with `mac`, valid, in pool 0 (the physical function).
pub fn write_mac<R: RegIo + ?Sized>(r: &R, mac: [u8; 6]) {
    r.write32(regs::ral(0), u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
    r.write32(regs::rah(0), u32::from(u16::from_le_bytes([mac[4], mac[5]])) | regs::RAH_AV);
    r.write32(regs::mpsar_lo(0), 1);
}

/// General receive/transmit configuration after reset: no multicast group (the MTA
/// cleared), broadcast accepted, CRC stripped on receive (HLREG0.RXCRCSTRP and
/// RDRXCTL.CRCSTRIP agree, as 4.6.7 requires, with RSCFRSTSIZE 0, RSCACKC and FCOE_WRFIX
/// set), CRC added and short frames padded on transmit, no snoop disabled, and the driver
/// marked loaded for the manageability firmware.
pub fn general_config<R: RegIo + ?Sized>(r: &R) {
    for i in 0..128 {
        r.write32(regs::mta(i), 0);
    }
    set_bits(r, regs::HLREG0, regs::HLREG0_RXCRCSTRP | regs::HLREG0_TXCRCEN | regs::HLREG0_TXPADEN);
    let rdrxctl = r.read32(regs::RDRXCTL) & !regs::RDRXCTL_RSCFRSTSIZE;
    r.write32(regs::RDRXCTL, rdrxctl | regs::RDRXCTL_CRCSTRIP | regs::RDRXCTL_RSCACKC | regs::RDRXCTL_FCOE_WRFIX);
    set_bits(r, regs::FCTRL, regs::FCTRL_BAM);
    set_bits(r, regs::CTRL_EXT, regs::CTRL_EXT_NS_DIS | regs::CTRL_EXT_DRV_LOAD);
}

/// FCTRL with unicast and multicast promiscuous on or off (broadcast stays accepted).
pub fn set_promiscuous<R: RegIo + ?Sized>(r: &R, on: bool) {
    let v = r.read32(regs::FCTRL) | regs::FCTRL_BAM;
    let p = regs::FCTRL_UPE | regs::FCTRL_MPE;
    r.write32(regs::FCTRL, if on { v | p } else { v & !p });
}

/// Frames up to `mtu` + 22 bytes (Ethernet header, one VLAN tag and the CRC: the datasheet
/// counts MAXFRS.MFS with the CRC, 8.2.3.22.13) are accepted once HLREG0.JUMBOEN is set
/// (8.2.3.22.8), which it is for an MTU over 1500; without it the 82599 takes frames up to
/// 1518 bytes (1522 tagged).
pub fn set_max_frame<R: RegIo + ?Sized>(r: &R, mtu: u16) {
    let frame = u32::from(mtu) + 22;
    r.write32(regs::MAXFRS, (r.read32(regs::MAXFRS) & 0xffff) | (frame << 16));
    if mtu > 1500 {
        set_bits(r, regs::HLREG0, regs::HLREG0_JUMBOEN);
    } else {
        clear_bits(r, regs::HLREG0, regs::HLREG0_JUMBOEN);
    }
}

/// Starts link establishment (4.6.4): the link mode (AUTOC.LMS) the EEPROM loaded fits
/// the board (SFI for SFP+, KX4/KX/KR for backplane, XAUI to an external PHY), so it is
/// kept; auto-negotiation is restarted.
///
/// Not done: the SW/FW semaphore that the datasheet asks for around AUTOC writes when the
/// manageability firmware (LESM) is active, SFP+ module identification over I2C, and
/// multispeed-fiber fallback.
pub fn link_setup<R: RegIo + ?Sized>(r: &R) {
    set_bits(r, regs::AUTOC, regs::AUTOC_AN_RESTART);
}

/// Decodes LINKS (82599 encoding of LINK_SPEED; full duplex always at these speeds).
pub fn link_from_links(links: u32) -> Link {
    if links & regs::LINKS_UP == 0 {
        return Link::down();
    }
    let speed = match (links >> regs::LINKS_SPEED_SHIFT) & 0x3 {
        0b11 => 10_000,
        0b10 => 1_000,
        0b01 => 100,
        _ => 10,
    };
    Link::up(speed)
}

/// Reads the link from LINKS.
pub fn read_link<R: RegIo + ?Sized>(r: &R) -> Link {
    link_from_links(r.read32(regs::LINKS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_decodes_the_82599_speed_encoding() {
        assert_eq!(link_from_links(0), Link::down());
        assert_eq!(link_from_links(0x3000_0000), Link::down(), "speed bits without LINKS.UP");
        assert_eq!(link_from_links(regs::LINKS_UP | 0x3000_0000).speed_mbps, 10_000);
        assert_eq!(link_from_links(regs::LINKS_UP | 0x2000_0000).speed_mbps, 1_000);
        assert_eq!(link_from_links(regs::LINKS_UP | 0x1000_0000).speed_mbps, 100);
        assert_eq!(link_from_links(regs::LINKS_UP).speed_mbps, 10);
        assert!(link_from_links(regs::LINKS_UP | 0x3000_0080).full_duplex);
    }
}
