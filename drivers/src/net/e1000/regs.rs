//! Register offsets and bits of the 8254x/8257x family (Intel PCI/PCI-X Family of Gigabit
//! Ethernet Controllers Software Developer's Manual; 82574 GbE Controller Datasheet).
//! All registers are 32 bits wide, in BAR0.

pub use crate::net::intel::e1000_family::*;

/// Interrupt Cause Set.
pub const ICS: usize = 0x00c8;
/// 82574: Interrupt Vector Allocation (MSI-X).
pub const IVAR: usize = 0x00e4;
/// Transmit Inter-Packet Gap.
pub const TIPG: usize = 0x0410;
/// RX descriptor ring base, low 32 bits.
pub const RDBAL: usize = 0x2800;
/// RX descriptor ring base, high 32 bits.
pub const RDBAH: usize = 0x2804;
/// RX descriptor ring length in bytes (multiple of 128).
pub const RDLEN: usize = 0x2808;
/// RX descriptor head.
pub const RDH: usize = 0x2810;
/// RX descriptor tail.
pub const RDT: usize = 0x2818;
/// RX interrupt delay timer.
pub const RDTR: usize = 0x2820;
/// TX descriptor ring base, low 32 bits.
pub const TDBAL: usize = 0x3800;
/// TX descriptor ring base, high 32 bits.
pub const TDBAH: usize = 0x3804;
/// TX descriptor ring length in bytes (multiple of 128).
pub const TDLEN: usize = 0x3808;
/// TX descriptor head.
pub const TDH: usize = 0x3810;
/// TX descriptor tail.
pub const TDT: usize = 0x3818;
/// 82574: TX arbitration count, queue 0.
pub const TARC0: usize = 0x3840;
/// 82574: TX arbitration count, queue 1.
pub const TARC1: usize = 0x3940;
/// 82574: distance between the register blocks of queue 0 and queue 1 (RDBAL0 0x2800,
/// RDBAL1 0x2900; TDBAL0 0x3800, TDBAL1 0x3900).
pub const QUEUE_STRIDE: usize = 0x100;
/// 82574: Receive Filter Control.
pub const RFCTL: usize = 0x5008;
/// 82574: Multiple Receive Queues Command.
pub const MRQC: usize = 0x5818;
/// 82574: RSS redirection table (128 one-byte entries in 32 registers).
pub const RETA: usize = 0x5c00;
/// 82574: RSS random key (10 registers, 40 bytes).
pub const RSSRK: usize = 0x5c80;

/// Register `reg` of queue 0 moved to queue `q` (82574: queues 0 and 1).
pub const fn queue_reg(reg: usize, q: usize) -> usize {
    reg + q * QUEUE_STRIDE
}

/// CTRL: full duplex.
pub const CTRL_FD: u32 = 1 << 0;
/// CTRL: auto-speed detection enable.
pub const CTRL_ASDE: u32 = 1 << 5;

/// ICR/IMS: transmit descriptor written back.
pub const INT_TXDW: u32 = 1 << 0;
/// ICR/IMS: receiver overrun.
pub const INT_RXO: u32 = 1 << 6;
/// ICR/IMS: receive timer.
pub const INT_RXT0: u32 = 1 << 7;
/// 82574 ICR/IMS: "other" causes (LSC among them) in MSI-X mode.
pub const INT_OTHER: u32 = 1 << 24;
/// 82574 ICR/IMS: RX queue 0 (MSI-X mode).
pub const INT_RXQ0: u32 = 1 << 20;
/// 82574 ICR/IMS: RX queue 1 (MSI-X mode).
pub const INT_RXQ1: u32 = 1 << 21;
/// 82574 IVAR: RX queue 0 entry valid (bits 2:0 its vector).
pub const IVAR_VALID: u32 = 1 << 3;
/// 82574 EIAC: causes whose ICR bit clears itself when their MSI-X message is sent.
pub const EIAC_82574: usize = 0x00dc;
/// 82574 IVAR: "other" causes to MSI-X vector 0, entry valid.
pub const IVAR_OTHER_VEC0: u32 = 0x0008_0000;

/// RCTL: RX descriptor minimum threshold: half the ring.
pub const RCTL_RDMTS_HALF: u32 = 0;
/// RCTL: buffer size 2048 (BSIZE 00, BSEX 0).
pub const RCTL_BSIZE_2048: u32 = 0;

/// TIPG for copper: IPGT 10, IPGR1 8, IPGR2 6.
pub const TIPG_COPPER: u32 = 10 | (8 << 10) | (6 << 20);
/// 82574 TARC0/TARC1: queue enable bit that QEMU's e1000e requires for TX.
pub const TARC0_ENABLE: u32 = 1 << 10;
/// 82574 RFCTL: extended RX descriptors (EXSTEN): the write-back carries the RSS hash.
pub const RFCTL_EXTEN: u32 = 1 << 15;
/// 82574 RXCSUM: packet checksum disable: dword 1 of an extended write-back carries the
/// RSS hash (QEMU's e1000e computes RSS only with this bit and extended descriptors).
pub const RXCSUM_PCSD: u32 = 1 << 13;
/// 82574 IVAR: shift of the RX queue 1 entry (RX queue 0 at 0, TX queues at 8 and 12,
/// "other" at 16; each entry is a vector in bits 2:0 and the valid bit 3).
pub const IVAR_RXQ1_SHIFT: u32 = 4;
