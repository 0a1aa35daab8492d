//! Port statistics. Software counters live in shared memory, one cache line per queue, and
//! are written only by the lcore that polls the queue (a load and a store, no locked
//! instruction); any process reads them.

use std::sync::atomic::{AtomicU64, Ordering};

crate::shared_state! {
    /// Counters of one queue (one cache line).
    #[repr(align(64))]
    pub struct QueueCounters {
        /// Packets.
        pub packets: AtomicU64,
        /// Bytes.
        pub bytes: AtomicU64,
        /// Errors (RX: bad frames; TX: frames the device refused).
        pub errors: AtomicU64,
        /// RX: frames dropped for want of an mbuf.
        pub nombuf: AtomicU64,
    }
}
const _: () = assert!(std::mem::size_of::<QueueCounters>() == 64 && std::mem::align_of::<QueueCounters>() == 64);

impl QueueCounters {
    /// Adds to the counters. Only the queue's owner calls it, so a plain read-modify-write
    /// is enough.
    #[inline(always)]
    pub fn add(&self, packets: u64, bytes: u64) {
        self.packets.store(self.packets.load(Ordering::Relaxed) + packets, Ordering::Relaxed);
        self.bytes.store(self.bytes.load(Ordering::Relaxed) + bytes, Ordering::Relaxed);
    }
    /// Adds errors.
    #[inline]
    pub fn add_errors(&self, n: u64) {
        self.errors.store(self.errors.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }
    /// Adds mbuf allocation failures.
    #[inline]
    pub fn add_nombuf(&self, n: u64) {
        self.nombuf.store(self.nombuf.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }
    fn reset(&self) {
        for c in [&self.packets, &self.bytes, &self.errors, &self.nombuf] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// A snapshot of a port's statistics, as `rte_eth_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets dropped by the device (no room).
    pub imissed: u64,
    /// Bad packets received.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// RX mbuf allocation failures.
    pub rx_nombuf: u64,
    /// Per RX queue packets.
    pub q_ipackets: Vec<u64>,
    /// Per TX queue packets.
    pub q_opackets: Vec<u64>,
}

impl Stats {
    /// The counter lines of testpmd's and dpdk-proc-info's "NIC statistics" block, in their
    /// layout: packets, missed and bytes received, RX errors, RX allocation failures, and
    /// packets, errors and bytes sent.
    pub fn nic_stats_lines(&self) -> [String; 4] {
        [
            format!("  RX-packets: {:<10} RX-missed: {:<10} RX-bytes:  {}", self.ipackets, self.imissed, self.ibytes),
            format!("  RX-errors:  {}", self.ierrors),
            format!("  RX-nombuf:  {:<10}", self.rx_nombuf),
            format!("  TX-packets: {:<10} TX-errors: {:<10} TX-bytes:  {}", self.opackets, self.oerrors, self.obytes),
        ]
    }
}

/// Maximum queues per direction per port.
pub const MAX_QUEUES: usize = 16;

crate::shared_state! {
    /// All software counters of a port, in shared memory.
    pub struct PortCounters {
        /// Per RX queue.
        pub rx: [QueueCounters; MAX_QUEUES],
        /// Per TX queue.
        pub tx: [QueueCounters; MAX_QUEUES],
        /// Device-level drops (hardware PMDs fold their registers in here).
        pub imissed: AtomicU64,
        /// Device-level RX errors.
        pub ierrors: AtomicU64,
        /// Device-level packets received that the software counters do not see (hardware).
        pub hw_ipackets: AtomicU64,
        /// Device-level packets sent, likewise.
        pub hw_opackets: AtomicU64,
    }
}

impl PortCounters {
    /// Sums the counters into a snapshot over the first `nb_rx`/`nb_tx` queues.
    pub fn snapshot(&self, nb_rx: usize, nb_tx: usize) -> Stats {
        let mut s = Stats::default();
        for q in &self.rx[..nb_rx.min(MAX_QUEUES)] {
            let p = q.packets.load(Ordering::Relaxed);
            s.ipackets += p;
            s.ibytes += q.bytes.load(Ordering::Relaxed);
            s.ierrors += q.errors.load(Ordering::Relaxed);
            s.rx_nombuf += q.nombuf.load(Ordering::Relaxed);
            s.q_ipackets.push(p);
        }
        for q in &self.tx[..nb_tx.min(MAX_QUEUES)] {
            let p = q.packets.load(Ordering::Relaxed);
            s.opackets += p;
            s.obytes += q.bytes.load(Ordering::Relaxed);
            s.oerrors += q.errors.load(Ordering::Relaxed);
            s.q_opackets.push(p);
        }
        s.imissed += self.imissed.load(Ordering::Relaxed);
        s.ierrors += self.ierrors.load(Ordering::Relaxed);
        s
    }

    /// Zeroes every counter.
    pub fn reset(&self) {
        for q in self.rx.iter().chain(self.tx.iter()) {
            q.reset();
        }
        for c in [&self.imissed, &self.ierrors, &self.hw_ipackets, &self.hw_opackets] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// DPDK's generic extended statistics (`rte_eth_xstats_get` names) from a port's counters:
/// the port totals, then per RX queue packets, bytes and errors and per TX queue packets
/// and bytes, for the first `nb_rx`/`nb_tx` queues.
pub fn generic_xstats(c: &PortCounters, nb_rx: usize, nb_tx: usize) -> Vec<(String, u64)> {
    let s = c.snapshot(nb_rx, nb_tx);
    let mut v: Vec<(String, u64)> = [
        ("rx_good_packets", s.ipackets),
        ("tx_good_packets", s.opackets),
        ("rx_good_bytes", s.ibytes),
        ("tx_good_bytes", s.obytes),
        ("rx_missed_errors", s.imissed),
        ("rx_errors", s.ierrors),
        ("tx_errors", s.oerrors),
        ("rx_mbuf_allocation_errors", s.rx_nombuf),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (q, c) in c.rx[..nb_rx.min(MAX_QUEUES)].iter().enumerate() {
        v.push((format!("rx_q{q}_packets"), c.packets.load(Ordering::Relaxed)));
        v.push((format!("rx_q{q}_bytes"), c.bytes.load(Ordering::Relaxed)));
        v.push((format!("rx_q{q}_errors"), c.errors.load(Ordering::Relaxed)));
    }
    for (q, c) in c.tx[..nb_tx.min(MAX_QUEUES)].iter().enumerate() {
        v.push((format!("tx_q{q}_packets"), c.packets.load(Ordering::Relaxed)));
        v.push((format!("tx_q{q}_bytes"), c.bytes.load(Ordering::Relaxed)));
    }
    v
}

/// Per-queue counters as DPDK's `rte_eth_stats` has them, each [`MAX_QUEUES`] long (queues
/// past the configured ones read 0): `q_ipackets`, `q_opackets`, `q_ibytes`, `q_obytes`,
/// `q_errors` (RX errors).
pub fn queue_arrays(c: &PortCounters, nb_rx: usize, nb_tx: usize) -> [(&'static str, Vec<u64>); 5] {
    let get = |qs: &[QueueCounters], n: usize, f: fn(&QueueCounters) -> u64| -> Vec<u64> {
        (0..MAX_QUEUES).map(|i| if i < n { f(&qs[i]) } else { 0 }).collect()
    };
    let (nr, nt) = (nb_rx.min(MAX_QUEUES), nb_tx.min(MAX_QUEUES));
    [
        ("q_ipackets", get(&c.rx, nr, |q| q.packets.load(Ordering::Relaxed))),
        ("q_opackets", get(&c.tx, nt, |q| q.packets.load(Ordering::Relaxed))),
        ("q_ibytes", get(&c.rx, nr, |q| q.bytes.load(Ordering::Relaxed))),
        ("q_obytes", get(&c.tx, nt, |q| q.bytes.load(Ordering::Relaxed))),
        ("q_errors", get(&c.rx, nr, |q| q.errors.load(Ordering::Relaxed))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_xstats_names_and_values() {
        let m = eal::Memory::anonymous(1 << 20).unwrap();
        let mz = m.memzone_reserve("c", std::mem::size_of::<PortCounters>() as u64, 64).unwrap();
        let c: &PortCounters = eal::shm::shared_ref(mz.addr()).unwrap();
        c.rx[0].add(3, 300);
        c.rx[1].add(1, 60);
        c.tx[0].add(2, 128);
        c.rx[1].add_errors(5);
        c.imissed.store(7, Ordering::Relaxed);
        let x: std::collections::HashMap<String, u64> = generic_xstats(c, 2, 1).into_iter().collect();
        assert_eq!(x["rx_good_packets"], 4);
        assert_eq!(x["rx_good_bytes"], 360);
        assert_eq!(x["tx_good_packets"], 2);
        assert_eq!(x["tx_good_bytes"], 128);
        assert_eq!(x["rx_missed_errors"], 7);
        assert_eq!(x["rx_errors"], 5);
        assert_eq!(x["rx_q1_errors"], 5);
        assert_eq!(x["rx_q1_bytes"], 60);
        assert_eq!(x["tx_q0_bytes"], 128);
        assert!(!x.contains_key("tx_q1_packets"), "only configured queues");
        assert_eq!(x.len(), 8 + 2 * 3 + 2);
        let q = queue_arrays(c, 2, 1);
        assert_eq!(q[0], ("q_ipackets", [vec![3, 1], vec![0; 14]].concat()));
        c.reset();
        assert!(generic_xstats(c, 2, 1).iter().all(|(_, v)| *v == 0));
    }
}
