//! 82576 register offsets and bits used by the driver (from the 82576 datasheet; QEMU's
//! `igb` model implements the same map).

pub use crate::net::intel::e1000_family::*;

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

/// CTRL_EXT: driver loaded (firmware hand-off).
pub const CTRL_EXT_DRV_LOAD: u32 = 1 << 28;

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
