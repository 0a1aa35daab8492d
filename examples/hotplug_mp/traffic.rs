//! The traffic that flows on one port while others come and go: bursts of 60-byte frames
//! sent and received on a looping port (`net_ring` loops back), counted; paused on demand
//! with every frame in flight drained back to the pool.

use eal::{Mbuf, PktMbufPool};
use ethdev::Port;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Shared between the traffic loop and the command loop.
#[derive(Default)]
pub struct Traffic {
    /// Send while true.
    pub on: AtomicBool,
    /// Leave the loop.
    pub stop: AtomicBool,
    /// Frames sent.
    pub tx: AtomicU64,
    /// Frames received.
    pub rx: AtomicU64,
    /// True while paused and drained (nothing in flight).
    pub idle: AtomicBool,
}

const BURST: usize = 32;

/// Runs until `t.stop`: sends and receives bursts on queue 0 of `port` while `t.on`.
pub fn run(port: Port, pool: PktMbufPool, t: &Traffic) {
    let mut tx: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut rx: Vec<Mbuf> = Vec::with_capacity(BURST);
    while !t.stop.load(Ordering::Relaxed) {
        let on = t.on.load(Ordering::Relaxed);
        if on && pool.alloc_bulk(&mut tx, BURST) {
            for m in &mut tx {
                if let Some(d) = m.append(60) {
                    d.fill(0);
                    d[..6].fill(0xff);
                }
            }
            if let Ok(n) = port.tx_burst(0, &mut tx) {
                t.tx.fetch_add(n as u64, Ordering::Relaxed);
            }
            eal::mbuf::free_bulk(&mut tx);
        }
        let n = port.rx_burst(0, &mut rx, BURST).unwrap_or(0);
        t.rx.fetch_add(n as u64, Ordering::Relaxed);
        eal::mbuf::free_bulk(&mut rx);
        if !on {
            t.idle.store(n == 0, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(if n == 0 { 10 } else { 0 }));
        } else {
            t.idle.store(false, Ordering::Relaxed);
            // A steady trickle (about 30,000 frames/s), not a core spent on it.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    pool.mempool().flush_cache();
}
