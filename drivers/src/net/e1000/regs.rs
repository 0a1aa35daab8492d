//! Register offsets and bits of the 8254x/8257x family (Intel PCI/PCI-X Family of Gigabit
//! Ethernet Controllers Software Developer's Manual; 82574 GbE Controller Datasheet).
//! All registers are 32 bits wide, in BAR0.

/// Device Control.
pub const CTRL: usize = 0x0000;
/// Device Status.
pub const STATUS: usize = 0x0008;
/// EEPROM Read (EERD).
pub const EERD: usize = 0x0014;
/// Extended Device Control.
pub const CTRL_EXT: usize = 0x0018;
/// Interrupt Cause Read (clear on read on the 82540EM).
pub const ICR: usize = 0x00c0;
/// Interrupt Cause Set.
pub const ICS: usize = 0x00c8;
/// Interrupt Mask Set/Read.
pub const IMS: usize = 0x00d0;
/// Interrupt Mask Clear.
pub const IMC: usize = 0x00d8;
/// 82574: Interrupt Vector Allocation (MSI-X).
pub const IVAR: usize = 0x00e4;
/// Receive Control.
pub const RCTL: usize = 0x0100;
/// Transmit Control.
pub const TCTL: usize = 0x0400;
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
/// Multicast table array (128 words).
pub const MTA: usize = 0x5200;
/// Receive address low, entry 0.
pub const RAL0: usize = 0x5400;
/// Receive address high, entry 0.
pub const RAH0: usize = 0x5404;

/// CTRL: full duplex.
pub const CTRL_FD: u32 = 1 << 0;
/// CTRL: auto-speed detection enable.
pub const CTRL_ASDE: u32 = 1 << 5;
/// CTRL: set link up.
pub const CTRL_SLU: u32 = 1 << 6;
/// CTRL: device reset (self-clearing).
pub const CTRL_RST: u32 = 1 << 26;

/// STATUS: full duplex.
pub const STATUS_FD: u32 = 1 << 0;
/// STATUS: link up.
pub const STATUS_LU: u32 = 1 << 1;
/// STATUS: speed field shift (2 bits: 00 10, 01 100, 1x 1000 Mb/s).
pub const STATUS_SPEED_SHIFT: u32 = 6;

/// ICR/IMS: transmit descriptor written back.
pub const INT_TXDW: u32 = 1 << 0;
/// ICR/IMS: link status change.
pub const INT_LSC: u32 = 1 << 2;
/// ICR/IMS: receiver overrun.
pub const INT_RXO: u32 = 1 << 6;
/// ICR/IMS: receive timer.
pub const INT_RXT0: u32 = 1 << 7;
/// 82574 ICR/IMS: "other" causes (LSC among them) in MSI-X mode.
pub const INT_OTHER: u32 = 1 << 24;
/// 82574 IVAR: "other" causes to MSI-X vector 0, entry valid.
pub const IVAR_OTHER_VEC0: u32 = 0x0008_0000;

/// RCTL: receiver enable.
pub const RCTL_EN: u32 = 1 << 1;
/// RCTL: unicast promiscuous.
pub const RCTL_UPE: u32 = 1 << 3;
/// RCTL: multicast promiscuous.
pub const RCTL_MPE: u32 = 1 << 4;
/// RCTL: long packet enable (frames over 1522 bytes).
pub const RCTL_LPE: u32 = 1 << 5;
/// RCTL: RX descriptor minimum threshold: half the ring.
pub const RCTL_RDMTS_HALF: u32 = 0;
/// RCTL: accept broadcast.
pub const RCTL_BAM: u32 = 1 << 15;
/// RCTL: buffer size 2048 (BSIZE 00, BSEX 0).
pub const RCTL_BSIZE_2048: u32 = 0;
/// RCTL: strip the Ethernet CRC.
pub const RCTL_SECRC: u32 = 1 << 26;

/// TCTL: transmitter enable.
pub const TCTL_EN: u32 = 1 << 1;
/// TCTL: pad short packets.
pub const TCTL_PSP: u32 = 1 << 3;
/// TCTL: collision threshold (15, the recommended value).
pub const TCTL_CT: u32 = 0x0f << 4;
/// TCTL: collision distance for full duplex (63 byte times).
pub const TCTL_COLD_FD: u32 = 0x3f << 12;
/// TIPG for copper: IPGT 10, IPGR1 8, IPGR2 6.
pub const TIPG_COPPER: u32 = 10 | (8 << 10) | (6 << 20);
/// 82574 TARC0: queue enable bit that QEMU's e1000e requires for TX.
pub const TARC0_ENABLE: u32 = 1 << 10;

/// RAH: address valid.
pub const RAH_AV: u32 = 1 << 31;

/// Statistics registers (all clear on read in the datasheets).
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
    /// Good octets received, low (the high register follows).
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

/// EERD bits, which differ between the 82540EM and the 82574L.
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
/// 82574L: start bit 0, done bit 1, address at bit 2.
pub const EERD_82574: EerdLayout = EerdLayout { start: 1, done: 1 << 1, addr_shift: 2 };
