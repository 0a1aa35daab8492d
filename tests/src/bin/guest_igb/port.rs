//! Port bring-up and the packet loops the scenarios share.

use crate::frames;
use eal::{Eal, Mbuf, PktMbufPool};
use ethdev::rss::{ipv4_l4_input, toeplitz, RssConf};
use ethdev::{Ethdev, Port, PortConf};
use std::time::{Duration, Instant};

/// RX descriptors per queue.
pub const RX_RING: u16 = 1024;
/// TX descriptors per queue.
pub const TX_RING: u16 = 256;
/// Burst size.
pub const BURST: usize = 32;

/// Prints one `guest_igb: key=value` finding.
pub fn say(key: &str, value: impl std::fmt::Display) {
    println!("guest_igb: {key}={value}");
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

/// Configures port `id` with `nrx` RX queues (RSS on when more than one) and `ntx` TX
/// queues, starts it and waits for the link.
pub fn start(eth: &Ethdev, id: u16, pool: PktMbufPool, nrx: u16, ntx: u16) -> Result<(), String> {
    let pc = eth.control(id).map_err(|e| e.to_string())?;
    let conf = PortConf { nb_rxq: nrx, nb_txq: ntx, rss: nrx > 1, ..PortConf::default() };
    pc.configure(&conf).map_err(|e| e.to_string())?;
    for q in 0..nrx {
        pc.rx_queue_setup(q, RX_RING, pool).map_err(|e| e.to_string())?;
    }
    for q in 0..ntx {
        pc.tx_queue_setup(q, TX_RING).map_err(|e| e.to_string())?;
    }
    let t0 = Instant::now();
    pc.start().map_err(|e| e.to_string())?;
    let link = pc.link_wait_up(Duration::from_secs(10));
    say(
        &format!("port{id}"),
        format!(
            "{} driver={} mac={} rxq={nrx} txq={ntx} start={:?} {link}",
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

/// The RSS hash the device should compute for flow `flow` under `conf` (UDP over IPv4).
pub fn flow_hash(conf: &RssConf, flow: u16) -> u32 {
    let (sp, dp) = frames::flow_ports(flow);
    toeplitz(&conf.key, &ipv4_l4_input(frames::SRC_IP, frames::DST_IP, sp, dp))
}

/// The queue the redirection table `reta` sends flow `flow` to.
pub fn flow_queue(conf: &RssConf, reta: &[u16], flow: u16) -> u16 {
    reta[flow_hash(conf, flow) as usize % reta.len()]
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

/// Receives `n` pattern frames on queue 0 of `port`, checking each (sequence numbers from
/// `first`, in order).
pub fn receive(port: &Port, n: u32, first: u32, tag: u8, src: [u8; 6], timeout: Duration) -> Run {
    let dst = port.mac();
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let (mut got, mut bytes, mut error) = (0u32, 0u64, None);
    let deadline = Instant::now() + timeout;
    let mut t0 = None;
    while got < n {
        bufs.clear();
        match port.rx_burst(0, &mut bufs, BURST) {
            Ok(0) => {
                if Instant::now() > deadline {
                    error.get_or_insert(format!("timeout: {got} of {n} frames received; {:?}", port.stats()));
                    break;
                }
                std::hint::spin_loop();
                continue;
            }
            Ok(_) => {}
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

/// Sends `n` pattern frames (sequence numbers from `first`) on queue 0 of `port` to `dst`.
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
            let Some(d) = m.append(len as u16) else {
                return Run {
                    frames: u64::from(next),
                    bytes,
                    error: Some("mbuf too small".into()),
                    elapsed: t0.elapsed(),
                };
            };
            frames::fill(d, seq, tag, dst, src);
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

/// Sends `frame` on TX queue `q` of `port` (retrying while the ring is full).
pub fn send_one(port: &Port, pool: &PktMbufPool, q: u16, frame: &[u8]) -> Result<(), String> {
    let mut m = pool.alloc().ok_or("mempool empty")?;
    m.append(frame.len() as u16).ok_or("mbuf too small")?.copy_from_slice(frame);
    let mut v = vec![m];
    let t0 = Instant::now();
    while !v.is_empty() {
        port.tx_burst(q, &mut v).map_err(|e| e.to_string())?;
        if t0.elapsed() > Duration::from_secs(10) {
            return Err(format!("TX queue {q} stayed full for 10 s"));
        }
    }
    Ok(())
}

/// Prints a run and turns its error into a failure.
pub fn report(what: &str, r: &Run) -> Result<(), String> {
    say(what, format!("frames={} bytes={} elapsed_ms={} pps={}", r.frames, r.bytes, r.elapsed.as_millis(), r.pps()));
    match &r.error {
        Some(e) => Err(format!("{what}: {e}")),
        None => Ok(()),
    }
}
