//! The cost of packet capture on forwarding: testpmd io forwarding over two `net_null`
//! ports on one forwarding core, with no capture, with a capture armed on port 0 (RX and TX)
//! that copies every frame (dumpcap writing to /dev/null; a full ring drops and counts),
//! and with one whose filter keeps nothing (the hook's filter runs, nothing is copied).
//! Modes are interleaved in each round; medians of the per-second totals (first two periods
//! dropped). `cargo bench -p examples --bench capture` (build dumpcap first:
//! `cargo build --release -p dumpcap`; env BENCH_ROUNDS=3, BENCH_SECS=6).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[path = "../../eal/benches/common.rs"]
#[allow(dead_code, reason = "only the median is used here")]
mod common;
use common::median;

/// Runs testpmd for `secs` with an optional dumpcap beside it; the median total Rx Mpps
/// and dumpcap's summary lines.
fn run(testpmd: &str, dumpcap: &str, prefix: &str, cap: Option<&[&str]>, secs: u64) -> Result<(f64, String), String> {
    let mem = if std::path::Path::new("/dev/hugepages").exists() { vec![] } else { vec!["--no-huge"] };
    let secs_s = secs.to_string();
    let mut args = vec!["-k", "10", "-s", "INT", &secs_s, testpmd];
    args.extend(["-l", "0-1", "--file-prefix", prefix]);
    args.extend(mem.iter().copied());
    args.extend(["--vdev", "net_null0", "--vdev", "net_null1", "--", "--forward-mode=io", "--stats-period", "1"]);
    let tp: Child = Command::new("timeout")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("testpmd: {e}"))?;
    let mut dc = None;
    if let Some(extra) = cap {
        std::thread::sleep(Duration::from_millis(800));
        let dur = format!("duration:{}", secs);
        let mut a = vec!["--file-prefix", prefix, "--no-huge", "--", "-i", "0", "-w", "/dev/null", "-q", "-a", &dur];
        a.extend_from_slice(extra);
        dc = Some(
            Command::new(dumpcap)
                .args(&a)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("dumpcap: {e}"))?,
        );
    }
    let out = tp.wait_with_output().map_err(|e| e.to_string())?;
    let summary = match dc {
        Some(d) => {
            let o = d.wait_with_output().map_err(|e| e.to_string())?;
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .filter(|l| l.contains("received/dropped"))
                .collect::<Vec<_>>()
                .join("; ")
        }
        None => String::new(),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let pps: Vec<f64> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Rx-pps:"))
        .filter_map(|r| r.split_whitespace().next()?.parse().ok())
        .collect();
    let totals: Vec<f64> =
        pps.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0] + c[1]) / 1e6).skip(2).filter(|&t| t > 0.0).collect();
    if totals.is_empty() {
        return Err(format!("testpmd printed no throughput (exit {:?})", out.status.code()));
    }
    Ok((median(&totals), summary))
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let testpmd = env!("CARGO_BIN_EXE_testpmd");
    let dumpcap = std::path::Path::new(testpmd).with_file_name("dumpcap");
    let Some(dumpcap) = dumpcap.to_str().filter(|_| dumpcap.exists()) else {
        eprintln!("{} is not built: run `cargo build --release -p dumpcap` first", dumpcap.display());
        std::process::exit(1);
    };
    // net_null's frames are all zero (no IP): the filter "udp" keeps none of them.
    let modes: [(&str, Option<&[&str]>); 3] =
        [("off", None), ("armed, copying", Some(&[])), ("armed, filter keeps none", Some(&["udp"]))];
    let mut res: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut notes = vec![String::new(); modes.len()];
    for r in 0..rounds {
        for (i, (name, cap)) in modes.iter().enumerate() {
            match run(testpmd, dumpcap, &format!("bench_cap{i}"), *cap, secs) {
                Ok((v, s)) => {
                    res[i].push(v);
                    notes[i] = s;
                }
                Err(e) => println!("round {r}: {name}: {e}"),
            }
        }
        eprintln!("round {r} done");
    }
    let meds: Vec<f64> = res.iter_mut().map(|v| median(v)).collect();
    println!("\ntestpmd io forwarding, 2 x net_null, 1 forwarding core; capture on port 0 RX+TX (total Rx Mpps, median of rounds)");
    println!("{:<28} {:>8} {:>10}", "capture", "Mpps", "vs off");
    for (i, (name, _)) in modes.iter().enumerate() {
        println!("{:<28} {:>8.2} {:>10.3}   rounds {:.2?}", name, meds[i], meds[i] / meds[0], res[i]);
        if !notes[i].is_empty() {
            println!("{:<28} last round: {}", "", notes[i]);
        }
    }
}
