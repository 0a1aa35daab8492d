//! 82599 register offsets and bits, as the Intel 82599 10 GbE Controller Datasheet
//! (331520) lists them in chapter 8.2.3 (register descriptions); the section of each group
//! is given. X540 and X550 keep these offsets and bits for everything this driver touches.
//! Several 82599 registers also answer at the 82598's older addresses (aliases); this driver
//! uses the 82599's own addresses throughout.

// ---- 8.2.3.1 General control registers ----

/// Device Control (8.2.3.1.1).
pub const CTRL: usize = 0x00000;
/// CTRL: PCIe master disable (5.2.5.3.2: stop issuing new master requests before a reset).
pub const CTRL_PCIE_MASTER_DISABLE: u32 = 1 << 2;
/// CTRL: link reset.
pub const CTRL_LRST: u32 = 1 << 3;
/// CTRL: device (software) reset; self-clearing (4.2.1.6.1 / 4.6.3.2).
pub const CTRL_RST: u32 = 1 << 26;
/// Device Status (8.2.3.1.2).
pub const STATUS: usize = 0x00008;
/// STATUS: PCIe master enable status; clears once no master request is pending after
/// CTRL.PCIE_MASTER_DISABLE is set.
pub const STATUS_GIO_MASTER_ENABLE: u32 = 1 << 19;
/// Extended Device Control (8.2.3.1.3).
pub const CTRL_EXT: usize = 0x00018;
/// CTRL_EXT: no-snoop disable (4.6.7: set it when no snoop is not used).
pub const CTRL_EXT_NS_DIS: u32 = 1 << 16;
/// CTRL_EXT: driver loaded (tells the manageability firmware a driver owns the port).
pub const CTRL_EXT_DRV_LOAD: u32 = 1 << 28;

// ---- 8.2.3.2 EEPROM / flash registers ----

/// EEPROM/Flash Control (8.2.3.2.1).
pub const EEC: usize = 0x10010;
/// EEC: EEPROM present.
pub const EEC_PRES: u32 = 1 << 8;
/// EEC: EEPROM auto-read done (set once the hardware has loaded its defaults after reset).
pub const EEC_ARD: u32 = 1 << 9;

// ---- 8.2.3.5 Interrupt registers ----

/// Extended Interrupt Cause (8.2.3.5.1): clear on read, or write 1 to clear.
pub const EICR: usize = 0x00800;
/// Extended Interrupt Cause Set.
pub const EICS: usize = 0x00808;
/// Extended Interrupt Auto Clear.
pub const EIAC: usize = 0x00810;
/// Extended Interrupt Throttle of vector `n` (0..=23).
pub const fn eitr(n: usize) -> usize {
    0x00820 + 4 * n
}
/// Extended Interrupt Mask Set/Read.
pub const EIMS: usize = 0x00880;
/// Extended Interrupt Mask Clear.
pub const EIMC: usize = 0x00888;
/// Extended Interrupt Auto Mask enable.
pub const EIAM: usize = 0x00890;
/// General Purpose Interrupt Enable.
pub const GPIE: usize = 0x00898;
/// GPIE: MSI-X mode (EICR bits map to MSI-X vectors through IVAR).
pub const GPIE_MSIX_MODE: u32 = 1 << 4;
/// GPIE: other clear disable (EICR "other" bits are not cleared by reading EICR in MSI-X
/// mode; the handler clears them by writing 1s).
pub const GPIE_OCD: u32 = 1 << 5;
/// GPIE: extended interrupt auto-mask enable.
pub const GPIE_EIAME: u32 = 1 << 30;
/// GPIE: PBA support (MSI-X pending bits).
pub const GPIE_PBA_SUPPORT: u32 = 1 << 31;
/// Interrupt Vector Allocation of queue pair `n / 2` (8.2.3.5: 64 registers).
pub const fn ivar(n: usize) -> usize {
    0x00900 + 4 * n
}
/// IVAR for the "other" causes and the TCP timer.
pub const IVAR_MISC: usize = 0x00A00;
/// IVAR entry valid bit.
pub const IVAR_ALLOC_VAL: u32 = 0x80;
/// EICR/EIMS: the 16 RX/TX queue cause bits (non MSI-X mapping).
pub const EICR_RTX_QUEUE: u32 = 0x0000_ffff;
/// EICR/EIMS: link status change.
pub const EICR_LSC: u32 = 1 << 20;
/// EICR/EIMS: "other" cause active (an interrupt of the other-causes group).
pub const EICR_OTHER: u32 = 1 << 31;
/// The value 4.6.3.1 writes to EIMC to mask every interrupt at initialisation (bits 30:0).
pub const EIMC_ALL: u32 = 0x7fff_ffff;

// ---- 8.2.3.7 Receive registers (filters, RSS) ----

/// Receive Checksum Control.
pub const RXCSUM: usize = 0x05000;
/// RXCSUM: packet checksum disable (the RSS hash then fills the descriptor; 7.1.2.8).
pub const RXCSUM_PCSD: u32 = 1 << 13;
/// Filter Control.
pub const FCTRL: usize = 0x05080;
/// FCTRL: multicast promiscuous.
pub const FCTRL_MPE: u32 = 1 << 8;
/// FCTRL: unicast promiscuous.
pub const FCTRL_UPE: u32 = 1 << 9;
/// FCTRL: broadcast accept.
pub const FCTRL_BAM: u32 = 1 << 10;
/// Multicast Control: the MTA's enable and hash offset.
pub const MCSTCTRL: usize = 0x05090;
/// MCSTCTRL: multicast (MTA) filter enable; MO (bits 1:0) 0 hashes address bits 47:36.
pub const MCSTCTRL_MFE: u32 = 1 << 2;
/// Multicast Table Array entry `n` (0..128).
pub const fn mta(n: usize) -> usize {
    0x05200 + 4 * n
}
/// Receive Address Low of entry `n` (0..128).
pub const fn ral(n: usize) -> usize {
    0x0A200 + 8 * n
}
/// Receive Address High of entry `n`.
pub const fn rah(n: usize) -> usize {
    0x0A204 + 8 * n
}
/// RAH: address valid.
pub const RAH_AV: u32 = 1 << 31;
/// MAC Pool Select Array, low word, of receive address `n` (pool 0 = the PF).
pub const fn mpsar_lo(n: usize) -> usize {
    0x0A600 + 8 * n
}
/// Packet Split Receive Type of pool `n`.
pub const fn psrtype(n: usize) -> usize {
    0x0EA00 + 4 * n
}
/// RSS redirection table register `n` (0..32): four 8-bit entries, entry 4n in bits 7:0
/// (8.2.3.7.15; 7.1.2.8.2).
pub const fn reta(n: usize) -> usize {
    0x0EB00 + 4 * n
}
/// Redirection table entries.
pub const RETA_ENTRIES: usize = 128;
/// RSS random key register `n` (0..10): key byte 4n in bits 7:0.
pub const fn rssrk(n: usize) -> usize {
    0x0EB80 + 4 * n
}
/// Multiple Receive Queues Command.
pub const MRQC: usize = 0x0EC80;
/// MRQC.MRQE = 0001b: RSS only (no DCB, no virtualisation).
pub const MRQC_RSS_EN: u32 = 0x1;
/// MRQC field enables (bits 31:16): hash IPv4 with TCP ports.
pub const MRQC_IPV4_TCP: u32 = 1 << 16;
/// MRQC: hash IPv4 addresses.
pub const MRQC_IPV4: u32 = 1 << 17;
/// MRQC: hash IPv6 addresses.
pub const MRQC_IPV6: u32 = 1 << 20;
/// MRQC: hash IPv6 with TCP ports.
pub const MRQC_IPV6_TCP: u32 = 1 << 21;
/// MRQC: hash IPv4 with UDP ports.
pub const MRQC_IPV4_UDP: u32 = 1 << 22;
/// MRQC: hash IPv6 with UDP ports.
pub const MRQC_IPV6_UDP: u32 = 1 << 23;

// ---- 8.2.3.8 Receive DMA registers ----

/// Receive queue `n` register at offset `off` of its 0x40-byte block (queues 0..64).
const fn rxq(n: usize, off: usize) -> usize {
    if n < 64 {
        0x01000 + 0x40 * n + off
    } else {
        0x0D000 + 0x40 * (n - 64) + off
    }
}
/// Receive Descriptor Base Address Low of queue `n`.
pub const fn rdbal(n: usize) -> usize {
    rxq(n, 0x00)
}
/// Receive Descriptor Base Address High.
pub const fn rdbah(n: usize) -> usize {
    rxq(n, 0x04)
}
/// Receive Descriptor Length (bytes, a multiple of 128).
pub const fn rdlen(n: usize) -> usize {
    rxq(n, 0x08)
}
/// Receive Descriptor Head.
pub const fn rdh(n: usize) -> usize {
    rxq(n, 0x10)
}
/// Split and Replication Receive Control.
pub const fn srrctl(n: usize) -> usize {
    rxq(n, 0x14)
}
/// Receive Descriptor Tail.
pub const fn rdt(n: usize) -> usize {
    rxq(n, 0x18)
}
/// Receive Descriptor Control.
pub const fn rxdctl(n: usize) -> usize {
    rxq(n, 0x28)
}
/// SRRCTL.BSIZEPACKET: packet buffer size in KiB (bits 4:0).
pub const SRRCTL_BSIZEPKT_MASK: u32 = 0x1f;
/// SRRCTL.BSIZEHEADER field (bits 13:8, 64-byte units; only used with header split).
pub const SRRCTL_BSIZEHDR_SHIFT: u32 = 8;
/// SRRCTL.DESCTYPE (bits 27:25).
pub const SRRCTL_DESCTYPE_MASK: u32 = 0x7 << 25;
/// SRRCTL.DESCTYPE = 001b: advanced descriptors, one buffer.
pub const SRRCTL_DESCTYPE_ADV_ONEBUF: u32 = 0x1 << 25;
/// SRRCTL: drop frames for this queue when it has no free descriptor (instead of
/// stalling the shared packet buffer).
pub const SRRCTL_DROP_EN: u32 = 1 << 28;
/// RXDCTL: queue enable; reads back 1 once the queue is actually enabled (4.6.7).
pub const RXDCTL_ENABLE: u32 = 1 << 25;
/// Receive DMA Control.
pub const RDRXCTL: usize = 0x02F00;
/// RDRXCTL: strip the Ethernet CRC (must match HLREG0.RXCRCSTRP).
pub const RDRXCTL_CRCSTRIP: u32 = 1 << 1;
/// RDRXCTL: DMA initialisation done (read only).
pub const RDRXCTL_DMAIDONE: u32 = 1 << 3;
/// RDRXCTL.RSCFRSTSIZE (bits 21:17): must be 0 (4.6.7).
pub const RDRXCTL_RSCFRSTSIZE: u32 = 0x1f << 17;
/// RDRXCTL.RSCACKC: must be 1 (4.6.7).
pub const RDRXCTL_RSCACKC: u32 = 1 << 25;
/// RDRXCTL.FCOE_WRFIX: must be 1 (4.6.7).
pub const RDRXCTL_FCOE_WRFIX: u32 = 1 << 26;
/// Receive Control.
pub const RXCTRL: usize = 0x03000;
/// RXCTRL: receive enable.
pub const RXCTRL_RXEN: u32 = 1 << 0;
/// Receive packet buffer size of traffic class `n` (0..8).
pub const fn rxpbsize(n: usize) -> usize {
    0x03C00 + 4 * n
}
/// RX DCA control of queue `n` (bit 12 must be cleared: relaxed ordering of descriptor
/// write-back).
pub const fn dca_rxctrl(n: usize) -> usize {
    rxq(n, 0x0C)
}
/// DCA_RXCTRL: relaxed ordering of descriptor write-back.
pub const DCA_RXCTRL_DESC_WRO_EN: u32 = 1 << 12;

/// Security RX control (8.2.3.12).
pub const SECRXCTRL: usize = 0x08D00;
/// SECRXCTRL: halt the receive data path (set around RXCTRL.RXEN changes, 4.6.7).
pub const SECRXCTRL_RX_DIS: u32 = 1 << 1;
/// Security RX status.
pub const SECRXSTAT: usize = 0x08D04;
/// SECRXSTAT: the receive security path is empty (safe to change RXCTRL.RXEN).
pub const SECRXSTAT_SECRX_RDY: u32 = 1 << 0;

// ---- 8.2.3.9 Transmit registers ----

/// DMA Tx Control.
pub const DMATXCTL: usize = 0x04A80;
/// DMATXCTL: transmit enable.
pub const DMATXCTL_TE: u32 = 1 << 0;
/// DCB transmit descriptor plane control.
pub const RTTDCS: usize = 0x04900;
/// RTTDCS: arbiter disable (set while MTQC changes; 4.6.11.3).
pub const RTTDCS_ARBDIS: u32 = 1 << 6;
/// Multiple Transmit Queues Command (0 = 64 queues, one packet buffer, no DCB/VT).
pub const MTQC: usize = 0x08120;
/// Transmit queue `n` register at offset `off` of its 0x40-byte block (queues 0..128).
const fn txq(n: usize, off: usize) -> usize {
    0x06000 + 0x40 * n + off
}
/// Transmit Descriptor Base Address Low of queue `n`.
pub const fn tdbal(n: usize) -> usize {
    txq(n, 0x00)
}
/// Transmit Descriptor Base Address High.
pub const fn tdbah(n: usize) -> usize {
    txq(n, 0x04)
}
/// Transmit Descriptor Length.
pub const fn tdlen(n: usize) -> usize {
    txq(n, 0x08)
}
/// Transmit Descriptor Head.
pub const fn tdh(n: usize) -> usize {
    txq(n, 0x10)
}
/// Transmit Descriptor Tail.
pub const fn tdt(n: usize) -> usize {
    txq(n, 0x18)
}
/// Transmit Descriptor Control.
pub const fn txdctl(n: usize) -> usize {
    txq(n, 0x28)
}
/// TXDCTL: queue enable; reads back 1 once the queue is enabled (4.6.8).
pub const TXDCTL_ENABLE: u32 = 1 << 25;
/// TXDCTL.PTHRESH (bits 6:0), HTHRESH (14:8), WTHRESH (22:16).
pub const TXDCTL_WTHRESH_SHIFT: u32 = 16;
/// TXDCTL.HTHRESH shift.
pub const TXDCTL_HTHRESH_SHIFT: u32 = 8;

// ---- 8.2.3.22 MAC registers ----

/// MAC core control 0.
pub const HLREG0: usize = 0x04240;
/// HLREG0: TX CRC enable.
pub const HLREG0_TXCRCEN: u32 = 1 << 0;
/// HLREG0: RX CRC strip (must match RDRXCTL.CRCSTRIP).
pub const HLREG0_RXCRCSTRP: u32 = 1 << 1;
/// HLREG0: jumbo frames enable.
pub const HLREG0_JUMBOEN: u32 = 1 << 2;
/// HLREG0: TX pad short frames.
pub const HLREG0_TXPADEN: u32 = 1 << 10;
/// Max frame size (MFS in bits 31:16).
pub const MAXFRS: usize = 0x04268;
/// Auto-negotiation control.
pub const AUTOC: usize = 0x042A0;
/// AUTOC: restart auto-negotiation.
pub const AUTOC_AN_RESTART: u32 = 1 << 12;
/// AUTOC.LMS (link mode select, bits 15:13).
pub const AUTOC_LMS_SHIFT: u32 = 13;
/// AUTOC.LMS mask.
pub const AUTOC_LMS_MASK: u32 = 0x7 << AUTOC_LMS_SHIFT;
/// Link status.
pub const LINKS: usize = 0x042A4;
/// LINKS: link up.
pub const LINKS_UP: u32 = 1 << 30;
/// LINKS.LINK_SPEED (bits 29:28, 82599 encoding): 11b 10G, 10b 1G, 01b 100M, 00b 10M
/// (10M only on X550 parts with a copper PHY).
pub const LINKS_SPEED_SHIFT: u32 = 28;

// ---- 8.2.3.23 Statistics registers (all clear on read) ----

/// Statistics registers.
pub mod stat {
    /// CRC error count.
    pub const CRCERRS: usize = 0x04000;
    /// Illegal byte error count.
    pub const ILLERRC: usize = 0x04004;
    /// Error byte count.
    pub const ERRBC: usize = 0x04008;
    /// Missed packets of packet buffer `n` (0..8).
    pub const fn mpc(n: usize) -> usize {
        0x03FA0 + 4 * n
    }
    /// Receive length error count.
    pub const RLEC: usize = 0x04040;
    /// Good packets received.
    pub const GPRC: usize = 0x04074;
    /// Broadcast packets received.
    pub const BPRC: usize = 0x04078;
    /// Multicast packets received.
    pub const MPRC: usize = 0x0407C;
    /// Good packets transmitted.
    pub const GPTC: usize = 0x04080;
    /// Good octets received, low 32 bits (read before GORCH).
    pub const GORCL: usize = 0x04088;
    /// Good octets received, high bits.
    pub const GORCH: usize = 0x0408C;
    /// Good octets transmitted, low.
    pub const GOTCL: usize = 0x04090;
    /// Good octets transmitted, high.
    pub const GOTCH: usize = 0x04094;
    /// Receive undersize count.
    pub const RUC: usize = 0x040A4;
    /// Receive fragment count.
    pub const RFC: usize = 0x040A8;
    /// Receive oversize count.
    pub const ROC: usize = 0x040AC;
    /// Receive jabber count.
    pub const RJC: usize = 0x040B0;
    /// Total packets received.
    pub const TPR: usize = 0x040D0;
    /// Total packets transmitted.
    pub const TPT: usize = 0x040D4;
    /// Multicast packets transmitted.
    pub const MPTC: usize = 0x040F0;
    /// Broadcast packets transmitted.
    pub const BPTC: usize = 0x040F4;
}
