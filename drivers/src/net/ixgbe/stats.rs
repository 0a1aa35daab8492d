//! The device's statistics registers (82599 datasheet 8.2.3.23; primary only). They clear
//! on read (4.6.5: software reads them once after reset to start from zero), so the
//! primary folds every read into totals in the port's shared slot; secondaries read only
//! those totals. The octet counters are 36 bits wide: the low register must be read first,
//! then the high one (bits 3:0).

use super::regs::stat;
use super::w;
use crate::net::intel::RegIo;
use ethdev::PortSlot;
use std::sync::atomic::{AtomicU64, Ordering};

/// The totals, by name, in the order of their words from [`w::STATS`].
pub const NAMES: [&str; 14] = [
    "rx_good_packets",
    "tx_good_packets",
    "rx_good_bytes",
    "tx_good_bytes",
    "rx_total_packets",
    "tx_total_packets",
    "rx_broadcast_packets",
    "rx_multicast_packets",
    "rx_missed",
    "rx_crc_errors",
    "rx_length_errors",
    "rx_size_errors",
    "rx_illegal_byte_errors",
    "rx_error_bytes",
];
const GPRC: usize = 0;
const GPTC: usize = 1;
const GORC: usize = 2;
const GOTC: usize = 3;
const TPR: usize = 4;
const TPT: usize = 5;
const BPRC: usize = 6;
const MPRC: usize = 7;
const MPC: usize = 8;
const CRCERRS: usize = 9;
const RLEC: usize = 10;
const SIZE: usize = 11;
const ILLERRC: usize = 12;
const ERRBC: usize = 13;
const _: () = assert!(w::STATS + NAMES.len() <= ethdev::port_table::PRIVATE_WORDS);

fn word(slot: &PortSlot, i: usize) -> &AtomicU64 {
    &slot.private[w::STATS + i]
}

fn add(slot: &PortSlot, i: usize, v: u64) -> u64 {
    word(slot, i).fetch_add(v, Ordering::Relaxed);
    v
}

/// A 36-bit octet counter: low first, then high.
fn read36<R: RegIo + ?Sized>(r: &R, low: usize, high: usize) -> u64 {
    let l = u64::from(r.read32(low));
    let h = u64::from(r.read32(high) & 0xf);
    (h << 32) | l
}

/// Reads every counter register once and adds it to the totals and to the port's
/// device-level counters (packets seen by the device, drops, errors).
pub fn update<R: RegIo + ?Sized>(r: &R, slot: &PortSlot) {
    let rd = |off| u64::from(r.read32(off));
    let gprc = add(slot, GPRC, rd(stat::GPRC));
    let gptc = add(slot, GPTC, rd(stat::GPTC));
    add(slot, GORC, read36(r, stat::GORCL, stat::GORCH));
    add(slot, GOTC, read36(r, stat::GOTCL, stat::GOTCH));
    add(slot, TPR, rd(stat::TPR));
    add(slot, TPT, rd(stat::TPT));
    add(slot, BPRC, rd(stat::BPRC));
    add(slot, MPRC, rd(stat::MPRC));
    let mpc = add(slot, MPC, (0..8).map(|i| rd(stat::mpc(i))).sum());
    let crc = add(slot, CRCERRS, rd(stat::CRCERRS));
    let rlec = add(slot, RLEC, rd(stat::RLEC));
    let size = add(slot, SIZE, rd(stat::RUC) + rd(stat::RFC) + rd(stat::ROC) + rd(stat::RJC));
    let ill = add(slot, ILLERRC, rd(stat::ILLERRC));
    add(slot, ERRBC, rd(stat::ERRBC));
    let c = &slot.counters;
    c.hw_ipackets.fetch_add(gprc, Ordering::Relaxed);
    c.hw_opackets.fetch_add(gptc, Ordering::Relaxed);
    c.imissed.fetch_add(mpc, Ordering::Relaxed);
    c.ierrors.fetch_add(crc + rlec + size + ill, Ordering::Relaxed);
}

/// Clears the registers (by reading them) and the totals.
pub fn reset<R: RegIo + ?Sized>(r: &R, slot: &PortSlot) {
    update(r, slot);
    for i in 0..NAMES.len() {
        word(slot, i).store(0, Ordering::Relaxed);
    }
}

/// The totals by name.
pub fn totals(slot: &PortSlot) -> Vec<(&'static str, u64)> {
    NAMES.iter().enumerate().map(|(i, n)| (*n, word(slot, i).load(Ordering::Relaxed))).collect()
}
