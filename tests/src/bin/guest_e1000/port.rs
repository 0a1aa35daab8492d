//! Port bring-up and the packet loops the scenarios share: receive N test frames and check
//! them, send N test frames, with the rate each achieved.

use crate::frames;
use eal::{Eal, Mbuf, PktMbufPool};
use ethdev::{Ethdev, Port, PortConf};
use std::time::{Duration, Instant};

/// RX descriptors (QEMU drops what it holds beyond the free descriptors at an RDT write:
/// a large ring keeps the blocks it frees large).
pub const RX_RING: u16 = 1024;
/// TX descriptors.
pub const TX_RING: u16 = 256;
/// Burst size.
pub const BURST: usize = 32;

/// Prints one `guest_e1000: key=value` finding.
pub fn say(key: &str, value: impl std::fmt::Display) {
    println!("guest_e1000: {key}={value}");
}

/// The packet pool of this process group (created by the primary).
pub fn pool(eal: &Eal) -> Result<PktMbufPool, String> {
    let mem = eal.memory();
    if eal.is_primary() {
        PktMbufPool::create(&mem, "guest_mbufs", 8191, 128, eal::mbuf::DEFAULT_BUF_SIZE).map_err(|e| e.to_string())
    } else {
        PktMbufPool::lookup(&mem, "guest_mbufs").map_err(|e| e.to_string())
    }
}

/// Configures port `id` (one queue each way), starts it and waits for the link.
pub fn start(eth: &Ethdev, id: u16, pool: PktMbufPool) -> Result<(), String> {
    let pc = eth.control(id).map_err(|e| e.to_string())?;
    pc.configure(&PortConf::default()).map_err(|e| e.to_string())?;
    pc.rx_queue_setup(0, RX_RING, pool).map_err(|e| e.to_string())?;
    pc.tx_queue_setup(0, TX_RING).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    pc.start().map_err(|e| e.to_string())?;
    let link = pc.link_wait_up(Duration::from_secs(10));
    say(
        &format!("port{id}"),
        format!(
            "{} driver={} mac={} start={:?} {link}",
            pc.name(),
            pc.driver_name(),
            frames::mac_str(pc.mac()),
            t0.elapsed()
        ),
    );
    if !link.up {
        return Err(format!("port {id}: link still down 10 s after start"));
    }
    Ok(())
}

/// Result of a traffic loop.
pub struct Run {
    /// Frames moved.
    pub frames: u64,
    /// Bytes moved.
    pub bytes: u64,
    /// First problem found, if any.
    pub error: Option<String>,
    /// From the first frame to the last.
    pub elapsed: Duration,
}

impl Run {
    /// Frames per second.
    pub fn pps(&self) -> u64 {
        (self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)) as u64
    }
}

/// Receives `n` frames on queue 0 of `port`, checking each against the test pattern
/// (sequence numbers from `first`, in order, from the host to this port).
pub fn receive(port: &Port, n: u32, first: u32, tag: u8, src: [u8; 6], timeout: Duration) -> Run {
    receive_with(port, n, first, tag, src, timeout, &|| {})
}

/// [`receive`], calling `idle` after every 2 s without a frame (to print diagnostics).
pub fn receive_with(port: &Port, n: u32, first: u32, tag: u8, src: [u8; 6], timeout: Duration, idle: &dyn Fn()) -> Run {
    let dst = port.mac();
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let (mut got, mut bytes, mut error) = (0u32, 0u64, None);
    let deadline = Instant::now() + timeout;
    let mut t0 = None;
    let mut last = Instant::now();
    while got < n {
        bufs.clear();
        match port.rx_burst(0, &mut bufs, BURST) {
            Ok(0) => {
                if Instant::now() > deadline {
                    error.get_or_insert(format!("timeout: {got} of {n} frames received"));
                    break;
                }
                if last.elapsed() > Duration::from_secs(2) {
                    say("rx_idle", format!("{got} of {n} frames so far; {:?}", port.stats()));
                    idle();
                    last = Instant::now();
                }
                std::hint::spin_loop();
                continue;
            }
            Ok(_) => last = Instant::now(),
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
        t0.get_or_insert_with(Instant::now);
        for m in bufs.drain(..) {
            let data = m.data();
            if let Err(e) = frames::check(data, first + got, tag, dst, src) {
                error.get_or_insert(e);
            }
            bytes += data.len() as u64;
            got += 1;
        }
    }
    Run { frames: u64::from(got), bytes, error, elapsed: t0.map(|t| t.elapsed()).unwrap_or_default() }
}

/// Sends `n` test frames (sequence numbers from `first`) on queue 0 of `port` to `dst`.
pub fn send(port: &Port, pool: &PktMbufPool, n: u32, first: u32, tag: u8, dst: [u8; 6], timeout: Duration) -> Run {
    let src = port.mac();
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let (mut next, mut bytes) = (0u32, 0u64);
    let t0 = Instant::now();
    let deadline = t0 + timeout;
    while next < n || !bufs.is_empty() {
        while bufs.len() < BURST && next < n {
            let Some(mut m) = pool.alloc() else { break };
            let seq = first + next;
            let len = frames::len_of(seq);
            match m.append(len as u16) {
                Some(d) => frames::fill(d, seq, tag, dst, src),
                None => {
                    return Run {
                        frames: u64::from(next),
                        bytes,
                        error: Some("mbuf too small".into()),
                        elapsed: t0.elapsed(),
                    }
                }
            }
            bytes += len as u64;
            bufs.push(m);
            next += 1;
        }
        if let Err(e) = port.tx_burst(0, &mut bufs) {
            return Run { frames: u64::from(next), bytes, error: Some(e.to_string()), elapsed: t0.elapsed() };
        }
        if Instant::now() > deadline {
            let left = bufs.len();
            return Run {
                frames: u64::from(next),
                bytes,
                error: Some(format!("timeout with {left} frames unsent")),
                elapsed: t0.elapsed(),
            };
        }
    }
    Run { frames: u64::from(n), bytes, error: None, elapsed: t0.elapsed() }
}

/// Prints a run and turns its error into a failure.
pub fn report(what: &str, r: &Run) -> Result<(), String> {
    say(what, format!("frames={} bytes={} elapsed_ms={} pps={}", r.frames, r.bytes, r.elapsed.as_millis(), r.pps()));
    match &r.error {
        Some(e) => Err(format!("{what}: {e}")),
        None => Ok(()),
    }
}
