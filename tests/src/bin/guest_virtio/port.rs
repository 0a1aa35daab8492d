//! Port bring-up and the packet loops the scenarios share: receive N test frames and check
//! them, send N test frames, with the rate each achieved.

use crate::frames;
use eal::{Eal, Mbuf, PktMbufPool};
use ethdev::{Ethdev, Port, PortConf};
use std::time::{Duration, Instant};

/// Descriptors per queue (QEMU's virtio-net queues hold 256 by default).
pub const RING: u16 = 256;
/// Burst size.
pub const BURST: usize = 32;

/// Prints one `guest_virtio: key=value` finding.
pub fn say(key: &str, value: impl std::fmt::Display) {
    println!("guest_virtio: {key}={value}");
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

/// Configures port `id` with one queue pair, starts it and waits for the link.
pub fn start(eth: &Ethdev, id: u16, pool: PktMbufPool) -> Result<(), String> {
    start_pairs(eth, id, pool, 1)
}

/// Configures port `id` with `pairs` queue pairs (no RSS), starts it and waits for the link.
pub fn start_pairs(eth: &Ethdev, id: u16, pool: PktMbufPool, pairs: u16) -> Result<(), String> {
    let pc = eth.control(id).map_err(|e| e.to_string())?;
    let conf = PortConf { nb_rxq: pairs, nb_txq: pairs, ..PortConf::default() };
    pc.configure(&conf).map_err(|e| e.to_string())?;
    for q in 0..pairs {
        pc.rx_queue_setup(q, RING, pool).map_err(|e| e.to_string())?;
        pc.tx_queue_setup(q, RING).map_err(|e| e.to_string())?;
    }
    let t0 = Instant::now();
    pc.start().map_err(|e| e.to_string())?;
    let link = pc.link_wait_up(Duration::from_secs(10));
    say(
        &format!("port{id}"),
        format!(
            "{} driver={} mac={} pairs={pairs} start={:?} {link}",
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
/// (sequence numbers from 0, in order, from `src` to this port); `idle` runs after every
/// 2 s without a frame.
pub fn receive(port: &Port, n: u32, tag: u8, src: [u8; 6], timeout: Duration, idle: &dyn Fn()) -> Run {
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
            if let Err(e) = frames::check(data, got, tag, dst, src) {
                error.get_or_insert(e);
            }
            bytes += data.len() as u64;
            got += 1;
        }
    }
    Run { frames: u64::from(got), bytes, error, elapsed: t0.map(|t| t.elapsed()).unwrap_or_default() }
}

/// Sends `n` test frames (sequence numbers from 0) on queue 0 of `port` to `dst`.
pub fn send(port: &Port, pool: &PktMbufPool, n: u32, tag: u8, dst: [u8; 6], timeout: Duration) -> Run {
    let src = port.mac();
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let (mut next, mut bytes) = (0u32, 0u64);
    let t0 = Instant::now();
    let deadline = t0 + timeout;
    while next < n || !bufs.is_empty() {
        while bufs.len() < BURST && next < n {
            let Some(mut m) = pool.alloc() else { break };
            let len = frames::len_of(next);
            match m.append(len as u16) {
                Some(d) => frames::fill(d, next, tag, dst, src),
                None => {
                    let error = Some("mbuf too small".into());
                    return Run { frames: u64::from(next), bytes, error, elapsed: t0.elapsed() };
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
            let error = Some(format!("timeout with {} frames unsent", bufs.len()));
            return Run { frames: u64::from(next), bytes, error, elapsed: t0.elapsed() };
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

/// The xstat `name` of port `id`.
pub fn xstat(eth: &Ethdev, id: u16, name: &str) -> Result<u64, String> {
    let x = eth.xstats(id).map_err(|e| e.to_string())?;
    x.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).ok_or_else(|| format!("no xstat {name}"))
}

/// Prints every xstat of port `id`.
pub fn dump_xstats(eth: &Ethdev, id: u16) {
    if let Ok(x) = eth.xstats(id) {
        say("xstats", x.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "));
    }
}
