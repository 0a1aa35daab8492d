//! Port bring-up and the packet loops the scenarios share: the group's packet pool, start a
//! port and wait for its link, receive N test frames and check them, send N test frames
//! (with the rate each achieved), send one frame, the extended statistics.

use super::{frames, say};
use eal::{Eal, Mbuf, PktMbufPool};
use ethdev::{Ethdev, Port, PortConf, RxOffloads, TxOffloads};
use std::time::{Duration, Instant};

/// Burst size.
pub const BURST: usize = 32;

/// The queues of a port: how many each way, their sizes, RSS.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// RX queues.
    pub rxq: u16,
    /// TX queues.
    pub txq: u16,
    /// Descriptors per RX queue.
    pub rx_ring: u16,
    /// Descriptors per TX queue.
    pub tx_ring: u16,
    /// Spread flows over the RX queues.
    pub rss: bool,
}

impl Layout {
    /// The layout with both rings at most `$GUEST_RING` descriptors when that is set (runs
    /// on 4 KiB pages in IOVA-as-PA mode need rings of one page: 256 Intel descriptors).
    pub fn ring_override(self) -> Layout {
        match std::env::var("GUEST_RING").ok().and_then(|v| v.parse::<u16>().ok()) {
            Some(n) => Layout { rx_ring: self.rx_ring.min(n), tx_ring: self.tx_ring.min(n), ..self },
            None => self,
        }
    }

    /// One queue each way with these ring sizes, no RSS.
    pub const fn single(rx_ring: u16, tx_ring: u16) -> Layout {
        Layout { rxq: 1, txq: 1, rx_ring, tx_ring, rss: false }
    }

    /// The same rings with `rxq` RX and `txq` TX queues, RSS when more than one RX queue.
    pub const fn queues(self, rxq: u16, txq: u16) -> Layout {
        Layout { rxq, txq, rss: rxq > 1, ..self }
    }

    /// The same rings with `pairs` queue pairs and no RSS.
    pub const fn pairs(self, pairs: u16) -> Layout {
        Layout { rxq: pairs, txq: pairs, rss: false, ..self }
    }
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

/// Configures port `id` as `layout` says, starts it and waits for the link.
pub fn start(eth: &Ethdev, id: u16, pool: PktMbufPool, layout: Layout) -> Result<(), String> {
    start_with(eth, id, pool, layout, None, RxOffloads::empty())
}

/// As [`start`], with MTU `mtu` (None: the port's) and RX offloads `rx_offloads`.
pub fn start_with(
    eth: &Ethdev,
    id: u16,
    pool: PktMbufPool,
    layout: Layout,
    mtu: Option<u16>,
    rx_offloads: RxOffloads,
) -> Result<(), String> {
    let layout = layout.ring_override();
    let pc = eth.control(id).map_err(|e| e.to_string())?;
    // Chained mbufs where the device sends them (see `send`).
    let tx_offloads = pc.info().tx_offload_capa & TxOffloads::MULTI_SEGS;
    let conf = PortConf {
        nb_rxq: layout.rxq,
        nb_txq: layout.txq,
        rss: layout.rss,
        tx_offloads,
        rx_offloads,
        mtu,
        ..PortConf::default()
    };
    pc.configure(&conf).map_err(|e| e.to_string())?;
    for q in 0..layout.rxq {
        pc.rx_queue_setup(q, layout.rx_ring, pool).map_err(|e| e.to_string())?;
    }
    for q in 0..layout.txq {
        pc.tx_queue_setup(q, layout.tx_ring).map_err(|e| e.to_string())?;
    }
    let t0 = Instant::now();
    pc.start().map_err(|e| e.to_string())?;
    let link = pc.link_wait_up(Duration::from_secs(10));
    say(
        &format!("port{id}"),
        format!(
            "{} driver={} mac={} rxq={} txq={} rss={} start={:?} {link}",
            pc.name(),
            pc.driver_name(),
            frames::mac_str(pc.mac()),
            layout.rxq,
            layout.txq,
            layout.rss,
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
/// (sequence numbers from `first`, in order, tagged `tag`, from `src` to this port). After
/// every 2 s without a frame it prints the progress and calls `idle` (for diagnostics).
pub fn receive(port: &Port, n: u32, first: u32, tag: u8, src: [u8; 6], timeout: Duration, idle: &dyn Fn()) -> Run {
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
                    error.get_or_insert(format!("timeout: {got} of {n} frames received; {:?}", port.stats()));
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

/// Sends `n` test frames (sequence numbers from `first`, tagged `tag`) on queue 0 of `port`
/// to `dst`.
pub fn send(port: &Port, pool: &PktMbufPool, n: u32, first: u32, tag: u8, dst: [u8; 6], timeout: Duration) -> Run {
    let src = port.mac();
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let (mut next, mut bytes) = (0u32, 0u64);
    let t0 = Instant::now();
    let deadline = t0 + timeout;
    let failed = |next: u32, bytes: u64, error: String| Run {
        frames: u64::from(next),
        bytes,
        error: Some(error),
        elapsed: t0.elapsed(),
    };
    let chains = port.tx_limits().offloads.contains(TxOffloads::MULTI_SEGS);
    let mut frame = Vec::new();
    let mut nb_chained = 0u64;
    while next < n || !bufs.is_empty() {
        while bufs.len() < BURST && next < n {
            let seq = first + next;
            let len = frames::len_of(seq);
            frame.resize(len, 0);
            frames::fill(&mut frame, seq, tag, dst, src);
            // Every third frame goes out as a chain of three mbufs (Ethernet header, then
            // the rest in two pieces) where the port sends chains: the peer must get the
            // same bytes as from one mbuf.
            let pieces: &[usize] = if chains && seq % 3 == 1 { &[14, (len - 14) / 2] } else { &[] };
            let Some(m) = chained(pool, &frame, pieces) else {
                if bufs.is_empty() {
                    return failed(next, bytes, "mempool empty or mbuf too small".into());
                }
                break;
            };
            bytes += len as u64;
            nb_chained += u64::from(m.nb_segs() > 1);
            bufs.push(m);
            next += 1;
        }
        if let Err(e) = port.tx_prepare(&bufs) {
            return failed(next, bytes, format!("tx_prepare: {e}"));
        }
        if let Err(e) = port.tx_burst(0, &mut bufs) {
            return failed(next, bytes, e.to_string());
        }
        if Instant::now() > deadline {
            return failed(next, bytes, format!("timeout with {} frames unsent", bufs.len()));
        }
    }
    say("tx_chained", nb_chained);
    Run { frames: u64::from(n), bytes, error: None, elapsed: t0.elapsed() }
}

/// `frame` in mbufs of `pool`: the first `pieces` lengths each in a segment of their own,
/// the rest in the last; None when the pool is empty or an mbuf too small.
fn chained(pool: &PktMbufPool, frame: &[u8], pieces: &[usize]) -> Option<Mbuf> {
    let mut rest = frame;
    let mut head: Option<Mbuf> = None;
    for &len in pieces.iter().chain(std::iter::once(&frame.len())) {
        let (now, later) = rest.split_at(len.min(rest.len()));
        let mut m = pool.alloc()?;
        m.append(now.len() as u16)?.copy_from_slice(now);
        match head.as_mut() {
            None => head = Some(m),
            Some(h) => h.chain(m),
        }
        rest = later;
    }
    head
}

/// Sends all of `bufs` on TX queue `q` of `port` (retrying while the ring is full), or fails
/// after `deadline`.
pub fn push(port: &Port, q: u16, bufs: &mut Vec<Mbuf>, deadline: Instant) -> Result<(), String> {
    while !bufs.is_empty() {
        port.tx_burst(q, bufs).map_err(|e| e.to_string())?;
        if Instant::now() > deadline {
            return Err(format!("port {} TX queue {q}: stuck with {} frames", port.id(), bufs.len()));
        }
    }
    Ok(())
}

/// Sends `frame` on TX queue `q` of `port` (retrying for up to 10 s while the ring is full).
pub fn send_one(port: &Port, pool: &PktMbufPool, q: u16, frame: &[u8]) -> Result<(), String> {
    let mut m = pool.alloc().ok_or("mempool empty")?;
    m.append(frame.len() as u16).ok_or("mbuf too small")?.copy_from_slice(frame);
    push(port, q, &mut vec![m], Instant::now() + Duration::from_secs(10))
}

/// Prints a run and turns its error into a failure.
pub fn report(what: &str, r: &Run) -> Result<(), String> {
    say(what, format!("frames={} bytes={} elapsed_ms={} pps={}", r.frames, r.bytes, r.elapsed.as_millis(), r.pps()));
    match &r.error {
        Some(e) => Err(format!("{what}: {e}")),
        None => Ok(()),
    }
}

/// The extended statistic `name` of port `id`.
pub fn xstat(eth: &Ethdev, id: u16, name: &str) -> Result<u64, String> {
    let x = eth.xstats(id).map_err(|e| e.to_string())?;
    x.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).ok_or_else(|| format!("no xstat {name}"))
}

/// Prints every extended statistic of port `id` as `<key>=k=v k=v...`.
pub fn dump_xstats(eth: &Ethdev, id: u16, key: &str) {
    if let Ok(x) = eth.xstats(id) {
        say(key, x.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "));
    }
}
