//! `fwd <port> <frames> <ms>`: echoes the frames received on queue 0 of a port back out of
//! it, source and destination MAC addresses swapped, until `frames` were echoed or `ms`
//! passed; in whichever process types it (the queue must be polled by one process at a
//! time). The guest hot-attach test uses it to show that a port attached at run time works
//! in the primary and in a secondary.

use eal::Mbuf;
use ethdev::Port;
use std::time::{Duration, Instant};

const BURST: usize = 32;

/// Frames received and sent back by [`echo`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Echoed {
    /// Frames received.
    pub rx: u64,
    /// Frames sent back.
    pub tx: u64,
}

/// Swaps the destination and source MAC addresses of an Ethernet frame.
fn swap_macs(d: &mut [u8]) {
    if d.len() >= 12 {
        for i in 0..6 {
            d.swap(i, 6 + i);
        }
    }
}

/// Echoes frames on queue 0 of `port` until `frames` went back or `limit` passed.
pub fn echo(port: &Port, frames: u64, limit: Duration) -> Echoed {
    let deadline = Instant::now() + limit;
    let mut out = Echoed::default();
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    while out.tx < frames && Instant::now() < deadline {
        let n = port.rx_burst(0, &mut bufs, BURST).unwrap_or(0);
        if n == 0 {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        out.rx += n as u64;
        for m in &mut bufs {
            swap_macs(m.data_mut());
        }
        // A full TX ring frees its done descriptors on the next call: retry briefly.
        let t0 = Instant::now();
        while !bufs.is_empty() && t0.elapsed() < Duration::from_millis(100) {
            out.tx += port.tx_burst(0, &mut bufs).unwrap_or(0) as u64;
        }
        eal::mbuf::free_bulk(&mut bufs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_swapped() {
        let mut f: Vec<u8> = (0..14).collect();
        swap_macs(&mut f);
        assert_eq!(&f[..12], &[6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5]);
        let mut short = vec![1, 2, 3];
        swap_macs(&mut short);
        assert_eq!(short, [1, 2, 3]);
    }
}
