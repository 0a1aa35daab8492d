//! 82576 register offsets and bits used by the driver (from the 82576 datasheet; QEMU's
//! `igb` model implements the same map).

/// Device control.
pub const CTRL: usize = 0x0000;
/// Device status.
pub const STATUS: usize = 0x0008;
/// Extended device control.
pub const CTRL_EXT: usize = 0x0018;
/// Interrupt cause read (clear on read with GPIE.NSICR).
pub const ICR: usize = 0x00c0;
/// Interrupt mask set.
pub const IMS: usize = 0x00d0;
/// Interrupt mask clear.
pub const IMC: usize = 0x00d8;
/// Receive control.
pub const RCTL: usize = 0x0100;
/// Transmit control.
pub const TCTL: usize = 0x0400;
/// General purpose interrupt enable.
pub const GPIE: usize = 0x1514;
/// Extended interrupt cause read.
pub const EICR: usize = 0x1580;
/// Extended interrupt mask set.
pub const EIMS: usize = 0x1524;
/// Extended interrupt mask clear.
pub const EIMC: usize = 0x1528;
/// Extended interrupt auto clear.
pub const EIAC: usize = 0x152c;
/// Extended interrupt auto mask.
pub const EIAM: usize = 0x1530;
/// Interrupt vector allocation of queue causes (8 registers).
pub const IVAR0: usize = 0x1700;
/// Interrupt vector allocation of the "other" causes (byte 1) and TCP timer (byte 0).
pub const IVAR_MISC: usize = 0x1740;
/// RX checksum control.
pub const RXCSUM: usize = 0x5000;
/// Long packet maximum length.
pub const RLPML: usize = 0x5004;
/// Multicast table array (128 registers).
pub const MTA: usize = 0x5200;
/// Receive address low/high 0.
pub const RAL0: usize = 0x5400;
/// Receive address high 0.
pub const RAH0: usize = 0x5404;
/// Multiple receive queues control.
pub const MRQC: usize = 0x5818;
/// Redirection table (32 registers, one byte per entry).
pub const RETA: usize = 0x5c00;
/// RSS random key (10 registers).
pub const RSSRK: usize = 0x5c80;

/// Base of RX queue `n`'s register block (RDBAL).
pub const fn rx_block(n: usize) -> usize {
    0xc000 + 0x40 * n
}
/// Base of TX queue `n`'s register block (TDBAL).
pub const fn tx_block(n: usize) -> usize {
    0xe000 + 0x40 * n
}
/// Split and replication RX control of queue `n`.
pub const fn srrctl(n: usize) -> usize {
    rx_block(n) + 0x0c
}
/// RX descriptor tail of queue `n`.
pub const fn rdt(n: usize) -> usize {
    rx_block(n) + 0x18
}
/// RX descriptor head of queue `n`.
pub const fn rdh(n: usize) -> usize {
    rx_block(n) + 0x10
}
/// RX descriptor control of queue `n`.
pub const fn rxdctl(n: usize) -> usize {
    rx_block(n) + 0x28
}
/// TX descriptor tail of queue `n`.
pub const fn tdt(n: usize) -> usize {
    tx_block(n) + 0x18
}
/// TX descriptor head of queue `n`.
pub const fn tdh(n: usize) -> usize {
    tx_block(n) + 0x10
}
/// TX descriptor control of queue `n`.
pub const fn txdctl(n: usize) -> usize {
    tx_block(n) + 0x28
}

/// CTRL: set link up.
pub const CTRL_SLU: u32 = 1 << 6;
/// CTRL: device reset (self-clearing).
pub const CTRL_RST: u32 = 1 << 26;
/// STATUS: full duplex.
pub const STATUS_FD: u32 = 1 << 0;
/// STATUS: link up.
pub const STATUS_LU: u32 = 1 << 1;
/// STATUS: speed field shift (bits 7:6).
pub const STATUS_SPEED_SHIFT: u32 = 6;
/// CTRL_EXT: driver loaded (firmware hand-off).
pub const CTRL_EXT_DRV_LOAD: u32 = 1 << 28;

/// ICR/IMS: link status change.
pub const INT_LSC: u32 = 1 << 2;

/// GPIE: non-selective interrupt clear on read of ICR.
pub const GPIE_NSICR: u32 = 1 << 0;
/// GPIE: MSI-X mode (EICR bits per vector).
pub const GPIE_MSIX_MODE: u32 = 1 << 4;
/// GPIE: extended interrupt auto mask enable.
pub const GPIE_EIAME: u32 = 1 << 30;
/// GPIE: PBA support (MSI-X pending bits).
pub const GPIE_PBA: u32 = 1 << 31;
/// IVAR entry: valid.
pub const IVAR_VALID: u32 = 0x80;

/// RCTL: receiver enable.
pub const RCTL_EN: u32 = 1 << 1;
/// RCTL: unicast promiscuous.
pub const RCTL_UPE: u32 = 1 << 3;
/// RCTL: multicast promiscuous.
pub const RCTL_MPE: u32 = 1 << 4;
/// RCTL: long packet enable (frames up to RLPML).
pub const RCTL_LPE: u32 = 1 << 5;
/// RCTL: accept broadcast.
pub const RCTL_BAM: u32 = 1 << 15;
/// RCTL: strip the Ethernet CRC.
pub const RCTL_SECRC: u32 = 1 << 26;

/// TCTL: transmitter enable.
pub const TCTL_EN: u32 = 1 << 1;
/// TCTL: pad short packets.
pub const TCTL_PSP: u32 = 1 << 3;
/// TCTL: collision threshold 15.
pub const TCTL_CT: u32 = 15 << 4;
/// TCTL: collision distance 63 (full duplex).
pub const TCTL_COLD: u32 = 63 << 12;
/// TCTL: retransmit on late collision.
pub const TCTL_RTLC: u32 = 1 << 24;

/// SRRCTL: packet buffer size field unit (1 KiB).
pub const SRRCTL_BSIZEPKT_SHIFT: u32 = 10;
/// SRRCTL: advanced descriptors, one buffer.
pub const SRRCTL_DESCTYPE_ADV_ONEBUF: u32 = 1 << 25;
/// SRRCTL: drop frames for this queue when it has no descriptors (instead of stalling
/// every queue behind it).
pub const SRRCTL_DROP_EN: u32 = 1 << 31;
/// RXDCTL/TXDCTL: queue enable.
pub const XDCTL_ENABLE: u32 = 1 << 25;

/// RXCSUM: packet checksum disable: the descriptor's dword 1 carries the RSS hash (QEMU
/// computes RSS only with this bit set).
pub const RXCSUM_PCSD: u32 = 1 << 13;

/// MRQC: RSS on (multiple receive queues, no VMDq).
pub const MRQC_RSS: u32 = 0x2;
/// MRQC hash field: TCP over IPv4.
pub const MRQC_TCP_IPV4: u32 = 1 << 16;
/// MRQC hash field: IPv4 addresses.
pub const MRQC_IPV4: u32 = 1 << 17;
/// MRQC hash field: TCP over IPv6 with extension headers.
pub const MRQC_TCP_IPV6_EX: u32 = 1 << 18;
/// MRQC hash field: IPv6 with extension headers.
pub const MRQC_IPV6_EX: u32 = 1 << 19;
/// MRQC hash field: IPv6 addresses.
pub const MRQC_IPV6: u32 = 1 << 20;
/// MRQC hash field: TCP over IPv6.
pub const MRQC_TCP_IPV6: u32 = 1 << 21;
/// MRQC hash field: UDP over IPv4.
pub const MRQC_UDP_IPV4: u32 = 1 << 22;
/// MRQC hash field: UDP over IPv6.
pub const MRQC_UDP_IPV6: u32 = 1 << 23;
/// MRQC hash field: UDP over IPv6 with extension headers.
pub const MRQC_UDP_IPV6_EX: u32 = 1 << 24;

/// RAH: address valid.
pub const RAH_AV: u32 = 1 << 31;

/// Statistics registers (clear on read on the 82576; QEMU keeps some of the error
/// counters sticky).
pub mod stat {
    /// CRC errors.
    pub const CRCERRS: usize = 0x4000;
    /// RX errors.
    pub const RXERRC: usize = 0x400c;
    /// Missed packets.
    pub const MPC: usize = 0x4010;
    /// RX length errors.
    pub const RLEC: usize = 0x4040;
    /// Good packets received.
    pub const GPRC: usize = 0x4074;
    /// Broadcast packets received.
    pub const BPRC: usize = 0x4078;
    /// Multicast packets received.
    pub const MPRC: usize = 0x407c;
    /// Good packets sent.
    pub const GPTC: usize = 0x4080;
    /// Good octets received (low; high at +4, read high last).
    pub const GORCL: usize = 0x4088;
    /// Good octets sent (low).
    pub const GOTCL: usize = 0x4090;
    /// RX no buffers.
    pub const RNBC: usize = 0x40a0;
    /// RX undersize.
    pub const RUC: usize = 0x40a4;
    /// RX oversize.
    pub const ROC: usize = 0x40ac;
    /// Total packets received.
    pub const TPR: usize = 0x40d0;
    /// Total packets sent.
    pub const TPT: usize = 0x40d4;
}
