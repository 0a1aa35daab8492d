//! dumpcap: attaches to a running Bypass primary as a secondary, whatever program the
//! primary is, and captures the frames its ports receive and send into a pcapng file, as
//! DPDK's `dpdk-dumpcap`:
//!
//! ```text
//! dumpcap --file-prefix app1 -- -i 0 -c 1000 -w x.pcapng udp port 53
//! ```
//!
//! The frames are copied by whichever process polls the captured queues, into a shared
//! ring (see `ethdev::capture`); a full ring drops and counts, and the counts are printed
//! and written as interface statistics blocks at the end.

mod opts;
mod pcapng;

use eal::Eal;
use ethdev::capture::{Capture, CaptureConf, MAX_SNAPLEN, SLOT_BYTES};
use ethdev::Ethdev;
use opts::{Opts, USAGE};
use pcapng::{IfStats, PcapngWriter};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const APP: &str = "dumpcap";
/// The environment variable that carries the next lcore id to try across a re-exec.
const NEXT_LCORE_ENV: &str = "BYPASS_DUMPCAP_LCORE";

fn main() {
    eal::tool::run_tool(APP, USAGE, NEXT_LCORE_ENV, false, run)
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The default snap length: whole frames of every captured port (its MTU plus the Ethernet
/// header, two VLAN tags and the FCS), at least [`SLOT_BYTES`].
fn whole_frames(eth: &Ethdev, ports: &[u16]) -> u32 {
    let longest = ports.iter().filter_map(|&p| eth.port(p).ok()).map(|p| u32::from(p.mtu()) + 14 + 8 + 4).max();
    longest.unwrap_or(0).max(SLOT_BYTES as u32).min(MAX_SNAPLEN as u32)
}

/// Resolves `-i` values (port ids or names) to port ids.
fn ports(eth: &Ethdev, o: &Opts) -> Result<Vec<u16>, String> {
    if o.interfaces.is_empty() {
        return eth.port_ids().first().map(|&p| vec![p]).ok_or_else(|| "the group has no port to capture".into());
    }
    let mut v = Vec::new();
    for i in &o.interfaces {
        let id = match i.parse::<u16>() {
            Ok(id) => eth.port(id).map(|_| id).ok(),
            Err(_) => eth.port_ids().into_iter().find(|&p| eth.port(p).is_ok_and(|port| port.name() == *i)),
        };
        let id = id.ok_or_else(|| format!("no interface '{i}': see --list-interfaces for the group's ports"))?;
        if !v.contains(&id) {
            v.push(id);
        }
    }
    Ok(v)
}

fn run(eal: &Eal) -> Result<(), String> {
    let o = opts::parse(&eal.app_args()[1..])?;
    let eth = Ethdev::init(eal, &drivers::all()).map_err(|e| e.to_string())?;
    if o.list {
        for p in eth.port_ids() {
            let port = eth.port(p).map_err(|e| e.to_string())?;
            println!("{p}. {} ({})", port.name(), port.driver_name());
        }
        return Ok(());
    }
    let ports = ports(&eth, &o)?;
    let snaplen = o.snaplen.unwrap_or_else(|| whole_frames(&eth, &ports));
    let conf = CaptureConf {
        ports: ports.iter().map(|&p| (p, o.dir)).collect(),
        queue_mask: o.queue_mask,
        snaplen,
        ring_size: o.ring_size,
        filter: o.filter.clone(),
    };
    let default_path;
    let path = match &o.file {
        Some(f) => f.as_str(),
        None => {
            default_path = std::env::temp_dir().join(format!("bypass-dumpcap_{}.pcapng", std::process::id()));
            default_path.to_str().ok_or("the temporary directory's path is not UTF-8: give -w FILE")?
        }
    };
    let out: Box<dyn Write> = if path == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let f = std::fs::File::create(path).map_err(|e| format!("cannot create '{path}': {e}"))?;
        Box::new(std::io::BufWriter::new(f))
    };
    let mut w = PcapngWriter::new(out, concat!("Bypass dumpcap ", env!("CARGO_PKG_VERSION")))
        .map_err(|e| format!("writing '{path}': {e}"))?;
    for &p in &ports {
        let port = eth.port(p).map_err(|e| e.to_string())?;
        w.interface(&port.name(), &format!("port {p}, driver {}", port.driver_name()), snaplen)
            .map_err(|e| format!("writing '{path}': {e}"))?;
    }
    eal::signal::install_quit_handler().map_err(|e| format!("installing the signal handler: {e}"))?;
    let primary_gone = Arc::new(AtomicBool::new(false));
    let g = primary_gone.clone();
    eal.mp().on_primary_exit(move || g.store(true, Ordering::SeqCst));

    let mut cap = Capture::start(&eal.memory(), &conf).map_err(|e| e.to_string())?;
    let start = now_ns();
    let t0 = Instant::now();
    if !o.quiet {
        let names: Vec<String> =
            ports.iter().map(|&p| eth.port(p).map(|x| format!("'{}'", x.name())).unwrap_or_default()).collect();
        eprintln!("File: {path}");
        eprintln!("Capturing on {}", names.join(", "));
        if cap.ring_slots() < o.ring_size {
            eprintln!(
                "Capture ring: {} slots of {snaplen} bytes (fewer than the {} asked for, to fit the area; -s lowers the snap length)",
                cap.ring_slots(),
                o.ring_size
            );
        }
    }
    let mut written = vec![0u64; ports.len()];
    let mut total = 0u64;
    let mut last_report = Instant::now();
    let done = |total: u64| {
        o.count.is_some_and(|c| total >= c)
            || o.duration.is_some_and(|d| t0.elapsed() >= d)
            || eal::signal::quit_requested()
            || primary_gone.load(Ordering::SeqCst)
    };
    let mut io_err = None;
    'outer: while !done(total) {
        let mut got = false;
        while let Some(r) = cap.next_record() {
            got = true;
            let Some(ifid) = ports.iter().position(|&p| p == r.port) else { continue };
            if let Err(e) = w.packet(ifid as u32, r.ts_ns, r.orig_len, &r.data, r.rx, r.queue) {
                io_err = Some(e);
                break 'outer;
            }
            written[ifid] += 1;
            total += 1;
            if o.count.is_some_and(|c| total >= c) {
                break 'outer;
            }
        }
        if !cap.armed() {
            // The primary disarmed the session (it is exiting, or believed us dead).
            break;
        }
        if !got {
            std::thread::sleep(Duration::from_micros(200));
        }
        if !o.quiet && path != "-" && last_report.elapsed() >= Duration::from_secs(1) {
            eprint!("\rPackets captured: {total} ");
            last_report = Instant::now();
        }
    }
    cap.stop();
    let end = now_ns();
    if let Some(e) = io_err {
        return Err(format!("writing '{path}': {e}"));
    }
    if !o.quiet && path != "-" {
        eprintln!("\rPackets captured: {total} ");
    }
    for (i, &p) in ports.iter().enumerate() {
        let s = cap.stats(p);
        let st = IfStats {
            received: s.received + s.filtered,
            dropped: s.dropped,
            accepted: s.received,
            delivered: written[i],
        };
        w.statistics(i as u32, start, end, st).map_err(|e| format!("writing '{path}': {e}"))?;
        let name = eth.port(p).map(|x| x.name()).unwrap_or_default();
        let pct = if s.received == 0 { 0.0 } else { 100.0 * s.dropped as f64 / s.received as f64 };
        eprintln!(
            "Packets received/dropped on interface '{name}': {}/{} ({pct:.1}%), {} written, {} filtered out",
            s.received, s.dropped, written[i], s.filtered
        );
    }
    w.flush().map_err(|e| format!("writing '{path}': {e}"))?;
    drop(cap);
    Ok(())
}
