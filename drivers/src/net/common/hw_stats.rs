//! Folding a device's clear-on-read statistics registers into totals (primary only). Every
//! read is added to a total kept in the driver's shared state ([`HwTotals`], so secondaries
//! can read them) and, for the counters that have one, to the port's ethdev counter (packets the
//! device received or sent, missed packets, receive errors). A driver describes its
//! registers in a [`HwStats`] table; the folding is the same for all.
//!
//! Some emulated devices (QEMU's e1000 and igb) do not clear a few error counters on read:
//! for a [`Read::MaybeSticky`] register, a read twice in a row giving the same non-zero
//! value marks the counter sticky, and from then on only its growth is added.

use super::RegIo;
use ethdev::PortSlot;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a counter is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// One 32-bit register.
    Reg(usize),
    /// The sum of 32-bit registers, read in order.
    Sum(&'static [usize]),
    /// A 64-bit counter: the low register, then the high one at +4 (reading high clears
    /// both).
    Reg64(usize),
    /// A 36-bit counter: the low register first, then the high one (bits 3:0).
    Reg36(usize, usize),
    /// A 32-bit register that should clear on read but may be sticky (see the module
    /// documentation).
    MaybeSticky(usize),
}

/// Which ethdev port counter a total also feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// None: the total only.
    No,
    /// `hw_ipackets`.
    RxPackets,
    /// `hw_opackets`.
    TxPackets,
    /// `imissed`.
    Missed,
    /// `ierrors`.
    Errors,
}

/// One counter: its name among the totals, how it is read, where it is folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Name in the extended statistics.
    pub name: &'static str,
    /// Its register(s).
    pub read: Read,
    /// The ethdev counter it also adds to.
    pub fold: Fold,
}

/// Most counters a [`HwTotals`] keeps.
pub const MAX_HW_COUNTERS: usize = 16;
/// Most counters of a [`HwTotals`] that may be sticky ([`Read::MaybeSticky`]).
pub const MAX_STICKY: usize = 6;

ethdev::shared_state! {
    /// The totals of a device's counters, in its driver's shared state: one per counter of
    /// its [`HwStats`], in order, and what the sticky-counter detection remembers.
    pub struct HwTotals {
        /// Total of counter `i`.
        totals: [AtomicU64; MAX_HW_COUNTERS],
        /// Bit `k`: sticky candidate `k` was found sticky.
        sticky: AtomicU64,
        /// The last value read of sticky candidate `k`.
        last: [AtomicU64; MAX_STICKY],
    }
}

/// A device's counters (their totals live in a [`HwTotals`]).
#[derive(Debug, Clone, Copy)]
pub struct HwStats {
    /// The counters, in the order the registers are read.
    pub counters: &'static [Counter],
}

impl HwStats {
    /// How many counters may be sticky.
    const fn sticky_count(&self) -> usize {
        let (mut i, mut n) = (0, 0);
        while i < self.counters.len() {
            if matches!(self.counters[i].read, Read::MaybeSticky(_)) {
                n += 1;
            }
            i += 1;
        }
        n
    }

    /// True when the totals of these counters fit a [`HwTotals`] (check it at compile time).
    pub const fn fits(&self) -> bool {
        self.counters.len() <= MAX_HW_COUNTERS && self.sticky_count() <= MAX_STICKY
    }

    /// Reads every counter register once, adds each to its total in `t` and to its ethdev
    /// counter in `slot`.
    pub fn update<R: RegIo + ?Sized>(&self, r: &R, slot: &PortSlot, t: &HwTotals) {
        let rd = |off: usize| u64::from(r.read32(off));
        let (mut fold, mut sticky_k) = ([0u64; 4], 0);
        for (i, c) in self.counters.iter().enumerate() {
            let v = match c.read {
                Read::Reg(off) => rd(off),
                Read::Sum(regs) => regs.iter().map(|&off| rd(off)).sum(),
                Read::Reg64(low) => {
                    let l = rd(low);
                    (rd(low + 4) << 32) | l
                }
                Read::Reg36(low, high) => {
                    let l = rd(low);
                    ((rd(high) & 0xf) << 32) | l
                }
                Read::MaybeSticky(off) => {
                    sticky_k += 1;
                    self.read_maybe_sticky(r, t, sticky_k - 1, off)
                }
            };
            t.totals[i].fetch_add(v, Ordering::Relaxed);
            match c.fold {
                Fold::No => {}
                Fold::RxPackets => fold[0] += v,
                Fold::TxPackets => fold[1] += v,
                Fold::Missed => fold[2] += v,
                Fold::Errors => fold[3] += v,
            }
        }
        let c = &slot.counters;
        c.hw_ipackets.fetch_add(fold[0], Ordering::Relaxed);
        c.hw_opackets.fetch_add(fold[1], Ordering::Relaxed);
        c.imissed.fetch_add(fold[2], Ordering::Relaxed);
        c.ierrors.fetch_add(fold[3], Ordering::Relaxed);
    }

    /// The increment of sticky candidate `k` (register `reg`).
    fn read_maybe_sticky<R: RegIo + ?Sized>(&self, r: &R, t: &HwTotals, k: usize, reg: usize) -> u64 {
        let bit = 1u64 << k;
        let (sticky, last) = (&t.sticky, &t.last[k]);
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

    /// Clears the registers (by reading them) and the totals.
    pub fn reset<R: RegIo + ?Sized>(&self, r: &R, slot: &PortSlot, t: &HwTotals) {
        self.update(r, slot, t);
        for total in &t.totals[..self.counters.len()] {
            total.store(0, Ordering::Relaxed);
        }
    }

    /// The totals in `t` by name.
    pub fn totals(&self, t: &HwTotals) -> Vec<(&'static str, u64)> {
        self.counters.iter().zip(&t.totals).map(|(c, total)| (c.name, total.load(Ordering::Relaxed))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::common::reg_io::SoftRegs;

    const COUNTERS: &[Counter] = &[
        Counter { name: "rx", read: Read::Reg(0x10), fold: Fold::RxPackets },
        Counter { name: "bytes", read: Read::Reg64(0x20), fold: Fold::No },
        Counter { name: "bytes36", read: Read::Reg36(0x30, 0x34), fold: Fold::No },
        Counter { name: "missed", read: Read::Sum(&[0x40, 0x44]), fold: Fold::Missed },
        Counter { name: "crc", read: Read::MaybeSticky(0x50), fold: Fold::Errors },
    ];
    const STATS: HwStats = HwStats { counters: COUNTERS };
    const _: () = assert!(STATS.fits());

    fn slot() -> &'static PortSlot {
        let mem = eal::Memory::anonymous(8 << 20).unwrap();
        let table = ethdev::port_table::PortTable::create(&mem).unwrap();
        table.slot(0).unwrap()
    }

    #[test]
    fn folds_totals_and_port_counters() {
        let (r, s) = (SoftRegs::new(0x100), slot());
        let t = s.driver_state::<HwTotals>();
        r.write32(0x10, 7);
        r.write32(0x20, 5);
        r.write32(0x24, 1);
        r.write32(0x30, 9);
        r.write32(0x34, 0x12);
        r.write32(0x40, 2);
        r.write32(0x44, 3);
        STATS.update(&r, s, t);
        let v = STATS.totals(t);
        assert_eq!(v[0], ("rx", 7));
        assert_eq!(v[1], ("bytes", (1 << 32) | 5));
        assert_eq!(v[2], ("bytes36", (2 << 32) | 9), "only bits 3:0 of the high register count");
        assert_eq!(v[3], ("missed", 5));
        assert_eq!(s.counters.hw_ipackets.load(Ordering::Relaxed), 7);
        assert_eq!(s.counters.imissed.load(Ordering::Relaxed), 5);
        // The soft registers do not clear on read: a non-zero CRC count read twice is
        // sticky, and from then on only its growth counts.
        r.write32(0x50, 4);
        STATS.update(&r, s, t);
        r.write32(0x50, 6);
        STATS.update(&r, s, t);
        assert_eq!(STATS.totals(t)[4], ("crc", 6));
        assert_eq!(s.counters.ierrors.load(Ordering::Relaxed), 6);
        STATS.reset(&r, s, t);
        assert!(STATS.totals(t).iter().all(|&(_, v)| v == 0));
    }
}
