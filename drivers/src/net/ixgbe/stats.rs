//! The device's statistics registers (82599 datasheet 8.2.3.23; primary only). They clear
//! on read (4.6.5: software reads them once after reset to start from zero), so the
//! primary folds every read into totals in the port's shared slot (the shared [`HwStats`]
//! code); secondaries read only those totals. The octet counters are 36 bits wide: the low
//! register must be read first, then the high one (bits 3:0).

use super::regs::stat;
use crate::net::common::hw_stats::{Counter, Fold, HwStats, Read};

/// The counters, in the order they are read, with the ethdev counters they feed.
const COUNTERS: &[Counter] = &[
    Counter { name: "rx_good_packets", read: Read::Reg(stat::GPRC), fold: Fold::RxPackets },
    Counter { name: "tx_good_packets", read: Read::Reg(stat::GPTC), fold: Fold::TxPackets },
    Counter { name: "rx_good_bytes", read: Read::Reg36(stat::GORCL, stat::GORCH), fold: Fold::No },
    Counter { name: "tx_good_bytes", read: Read::Reg36(stat::GOTCL, stat::GOTCH), fold: Fold::No },
    Counter { name: "rx_total_packets", read: Read::Reg(stat::TPR), fold: Fold::No },
    Counter { name: "tx_total_packets", read: Read::Reg(stat::TPT), fold: Fold::No },
    Counter { name: "rx_broadcast_packets", read: Read::Reg(stat::BPRC), fold: Fold::No },
    Counter { name: "rx_multicast_packets", read: Read::Reg(stat::MPRC), fold: Fold::No },
    Counter { name: "rx_missed", read: Read::Sum(&MPC), fold: Fold::Missed },
    Counter { name: "rx_crc_errors", read: Read::Reg(stat::CRCERRS), fold: Fold::Errors },
    Counter { name: "rx_length_errors", read: Read::Reg(stat::RLEC), fold: Fold::Errors },
    Counter {
        name: "rx_size_errors",
        read: Read::Sum(&[stat::RUC, stat::RFC, stat::ROC, stat::RJC]),
        fold: Fold::Errors,
    },
    Counter { name: "rx_illegal_byte_errors", read: Read::Reg(stat::ILLERRC), fold: Fold::Errors },
    Counter { name: "rx_error_bytes", read: Read::Reg(stat::ERRBC), fold: Fold::No },
];

/// The missed-packet counters of the eight packet buffers.
const MPC: [usize; 8] =
    [stat::mpc(0), stat::mpc(1), stat::mpc(2), stat::mpc(3), stat::mpc(4), stat::mpc(5), stat::mpc(6), stat::mpc(7)];

/// The counters (their totals are `IxgbeState::stats`).
pub const STATS: HwStats = HwStats { counters: COUNTERS };
const _: () = assert!(STATS.fits());
