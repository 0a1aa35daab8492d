//! A driver's own extended statistics (hardware counters by DPDK's names, driver
//! counters), published in the port's shared slot so that every process of the group —
//! a secondary, `procinfo`, the telemetry socket — reads the same names and values.
//!
//! Only the primary reads a device's clear-on-read registers (it folds them into totals);
//! each time it does ([`crate::PortControl::stats_get`], [`crate::Ethdev::xstats`], or a
//! refresh asked for by another process) it publishes the driver's whole list here.
//! Readers see the list as of the last publication, never a torn name: a publication
//! bumps `seq` to odd, writes, then bumps it to even, and a reader retries on a change.

use eal::name::SharedName;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Most driver counters a port publishes (more are left out, with a warning).
pub const MAX_DEVICE_XSTATS: usize = 40;

crate::shared_state! {
    /// The published driver counters of one port.
    pub struct DeviceXstats {
        /// Publication sequence: odd while the primary writes.
        seq: AtomicU32,
        /// Entries in use.
        count: AtomicU32,
        /// Counter names.
        names: [SharedName<4>; MAX_DEVICE_XSTATS],
        /// Counter values.
        values: [AtomicU64; MAX_DEVICE_XSTATS],
    }
}

impl DeviceXstats {
    /// Publishes `xstats` (the driver's full list, in its order). Primary only: one writer.
    pub fn publish(&self, xstats: &[(&str, u64)]) {
        if xstats.len() > MAX_DEVICE_XSTATS {
            tracing::warn!(
                "{} driver counters, {MAX_DEVICE_XSTATS} published: the rest are readable in the primary only",
                xstats.len()
            );
        }
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1) | 1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        let mut n = 0;
        for (name, value) in xstats.iter().take(MAX_DEVICE_XSTATS) {
            if self.names[n].get() != *name && !self.names[n].set(name) {
                tracing::warn!("driver counter name {name:?} is too long to publish; left out");
                continue;
            }
            self.values[n].store(*value, Ordering::Relaxed);
            n += 1;
        }
        self.count.store(n as u32, Ordering::Relaxed);
        self.seq.store((s | 1).wrapping_add(1), Ordering::Release);
    }

    /// Forgets the published list (the port went away).
    pub fn clear(&self) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1) | 1, Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
        self.seq.store((s | 1).wrapping_add(1), Ordering::Release);
    }

    /// The list as last published (empty before the first publication). Retries while the
    /// primary is writing; after about ten thousand tries returns what it read (the primary
    /// may have died mid-publication), each value whole.
    pub fn read(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for attempt in 0..10_000 {
            let before = self.seq.load(Ordering::Acquire);
            out.clear();
            let n = (self.count.load(Ordering::Relaxed) as usize).min(MAX_DEVICE_XSTATS);
            for i in 0..n {
                out.push((self.names[i].get(), self.values[i].load(Ordering::Relaxed)));
            }
            std::sync::atomic::fence(Ordering::Acquire);
            if before & 1 == 0 && self.seq.load(Ordering::Relaxed) == before {
                break;
            }
            if attempt < 100 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        out
    }
}

/// Appends the driver's counters `device` to the generic ones in `list`, leaving out a
/// driver counter whose name a generic one has (e.g. `rx_good_packets`, which the primary
/// folds from the same register): one name, one value, as DPDK's xstats list has.
pub fn append_unique(list: &mut Vec<(String, u64)>, device: Vec<(String, u64)>) {
    let generic = list.len();
    for (name, value) in device {
        if !list[..generic].iter().any(|(g, _)| *g == name) {
            list.push((name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> &'static DeviceXstats {
        let mem = eal::Memory::anonymous(1 << 20).unwrap();
        let mz = mem.memzone_reserve("dx_test", std::mem::size_of::<DeviceXstats>() as u64, 64).unwrap();
        eal::shm::shared_ref::<DeviceXstats>(mz.addr()).unwrap()
    }

    #[test]
    fn reads_back_what_was_published_and_nothing_after_clear() {
        let t = table();
        assert!(t.read().is_empty());
        t.publish(&[("rx_crc_errors", 3), ("rx_undersize_errors", 7)]);
        assert_eq!(t.read(), vec![("rx_crc_errors".to_string(), 3), ("rx_undersize_errors".to_string(), 7)]);
        t.publish(&[("rx_crc_errors", 4)]);
        assert_eq!(t.read(), vec![("rx_crc_errors".to_string(), 4)]);
        t.clear();
        assert!(t.read().is_empty());
    }

    #[test]
    fn a_driver_counter_named_like_a_generic_one_is_left_out() {
        let mut list = vec![("rx_good_packets".to_string(), 5), ("rx_errors".to_string(), 1)];
        append_unique(&mut list, vec![("rx_good_packets".into(), 5), ("rx_crc_errors".into(), 2)]);
        let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["rx_good_packets", "rx_errors", "rx_crc_errors"]);
    }

    #[test]
    fn a_too_long_name_is_left_out_and_the_list_is_capped() {
        let t = table();
        let long = "x".repeat(40);
        let many: Vec<(String, u64)> = (0..MAX_DEVICE_XSTATS + 5).map(|i| (format!("c{i}"), i as u64)).collect();
        let mut list: Vec<(&str, u64)> = vec![(long.as_str(), 1)];
        list.extend(many.iter().map(|(k, v)| (k.as_str(), *v)));
        t.publish(&list);
        let got = t.read();
        assert_eq!(got.len(), MAX_DEVICE_XSTATS - 1, "the long name is dropped, the rest capped");
        assert_eq!(got[0], ("c0".to_string(), 0));
    }

    #[test]
    fn a_reader_never_sees_a_name_with_another_counters_value() {
        let t = table();
        let a: Vec<(&str, u64)> = vec![("alpha", 1), ("beta", 2)];
        let b: Vec<(&str, u64)> = vec![("gamma", 30), ("delta", 40)];
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..5_000 {
                    t.publish(if i % 2 == 0 { &a } else { &b });
                    std::thread::yield_now();
                }
            });
            for _ in 0..5_000 {
                let got = t.read();
                for (k, v) in &got {
                    let ok = matches!((k.as_str(), *v), ("alpha", 1) | ("beta", 2) | ("gamma", 30) | ("delta", 40));
                    assert!(ok || got.is_empty(), "torn entry {k}={v}");
                }
            }
        });
    }
}
