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
