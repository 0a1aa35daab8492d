//! The device's statistics registers (primary only). They clear on read, so the primary
//! folds them into totals kept in the port's shared slot (driver words and the port
//! counters); secondaries read only those totals.
//!
//! QEMU's igb does not clear some of them on read (CRCERRS, RXERRC, MPC, RLEC, RNBC): a
//! register read twice in a row giving the same non-zero value is taken as such a sticky
//! counter, and from then on only its growth is added.

use super::regs::stat;
use crate::net::intel::RegIo;
use ethdev::PortSlot;
use std::sync::atomic::{AtomicU64, Ordering};

/// First driver word used for the totals.
pub const FIRST_WORD: usize = 24;

/// The totals, by name, in the order of their words from [`FIRST_WORD`].
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
    "rx_no_buffers",
    "rx_crc_errors",
    "rx_errors",
    "rx_length_errors",
    "rx_size_errors",
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
const RNBC: usize = 9;
const CRCERRS: usize = 10;
const RXERRC: usize = 11;
const RLEC: usize = 12;
const SIZE_ERR: usize = 13;
/// Word: bit i set when counter i was found sticky.
const W_STICKY: usize = FIRST_WORD + NAMES.len();
/// Words: last raw value of each sticky candidate.
const W_LAST: usize = W_STICKY + 1;
/// The counters that may be sticky, with their registers.
const MAYBE_STICKY: [(usize, usize); 5] =
    [(MPC, stat::MPC), (RNBC, stat::RNBC), (CRCERRS, stat::CRCERRS), (RXERRC, stat::RXERRC), (RLEC, stat::RLEC)];
/// One past the last word used.
const END_WORD: usize = W_LAST + MAYBE_STICKY.len();
const _: () = assert!(END_WORD <= ethdev::port_table::PRIVATE_WORDS);

fn word(slot: &PortSlot, i: usize) -> &AtomicU64 {
    &slot.private[FIRST_WORD + i]
}

fn add(slot: &PortSlot, i: usize, v: u64) -> u64 {
    word(slot, i).fetch_add(v, Ordering::Relaxed);
    v
}

/// The increment of a counter that should clear on read but may be sticky.
fn read_maybe_sticky<R: RegIo + ?Sized>(r: &R, slot: &PortSlot, k: usize, reg: usize) -> u64 {
    let bit = 1u64 << k;
    let sticky = &slot.private[W_STICKY];
    let last = &slot.private[W_LAST + k];
    let v = u64::from(r.read32(reg));
    if sticky.load(Ordering::Relaxed) & bit != 0 {
        let prev = last.swap(v, Ordering::Relaxed);
        return v.wrapping_sub(prev) & 0xffff_ffff;
    }
    if v == 0 {
        return 0;
    }
    let again = u64::from(r.read32(reg));
    if again == v {
        sticky.fetch_or(bit, Ordering::Relaxed);
        last.store(v, Ordering::Relaxed);
        v
    } else {
        v + again
    }
}

/// 64-bit octet counters: low then high (reading high clears both).
fn read64<R: RegIo + ?Sized>(r: &R, low: usize) -> u64 {
    let l = u64::from(r.read32(low));
    let h = u64::from(r.read32(low + 4));
    (h << 32) | l
}

/// Reads every counter register and adds it to the totals and the port counters.
pub fn update<R: RegIo + ?Sized>(r: &R, slot: &PortSlot) {
    let c = &slot.counters;
    let gprc = add(slot, GPRC, u64::from(r.read32(stat::GPRC)));
    let gptc = add(slot, GPTC, u64::from(r.read32(stat::GPTC)));
    add(slot, GORC, read64(r, stat::GORCL));
    add(slot, GOTC, read64(r, stat::GOTCL));
    add(slot, TPR, u64::from(r.read32(stat::TPR)));
    add(slot, TPT, u64::from(r.read32(stat::TPT)));
    add(slot, BPRC, u64::from(r.read32(stat::BPRC)));
    add(slot, MPRC, u64::from(r.read32(stat::MPRC)));
    let mut d = [0u64; MAYBE_STICKY.len()];
    for (k, &(i, reg)) in MAYBE_STICKY.iter().enumerate() {
        d[k] = add(slot, i, read_maybe_sticky(r, slot, k, reg));
    }
    let size_err = add(slot, SIZE_ERR, u64::from(r.read32(stat::RUC)) + u64::from(r.read32(stat::ROC)));
    let [mpc, _rnbc, crc, rxerr, rlec] = d;
    c.hw_ipackets.fetch_add(gprc, Ordering::Relaxed);
    c.hw_opackets.fetch_add(gptc, Ordering::Relaxed);
    c.imissed.fetch_add(mpc, Ordering::Relaxed);
    c.ierrors.fetch_add(crc + rxerr + rlec + size_err, Ordering::Relaxed);
}

/// Clears the registers (by reading them) and the totals.
pub fn reset<R: RegIo + ?Sized>(r: &R, slot: &PortSlot) {
    update(r, slot);
    for i in FIRST_WORD..FIRST_WORD + NAMES.len() {
        slot.private[i].store(0, Ordering::Relaxed);
    }
}

/// The totals by name.
pub fn totals(slot: &PortSlot) -> Vec<(&'static str, u64)> {
    NAMES.iter().enumerate().map(|(i, n)| (*n, word(slot, i).load(Ordering::Relaxed))).collect()
}
