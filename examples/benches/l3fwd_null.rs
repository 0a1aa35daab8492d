//! l3fwd's forwarding rate on one lcore over two `net_null` ports that make IPv4/UDP frames
//! (`ipv4-dst`/`ipv4-src`: each port's frames match the other port's default LPM route and
//! exact-match entry), by LPM and by EM: Mpps routed per core (each frame checked, looked up,
//! TTL and checksum updated, MACs rewritten, sent).
//! `cargo bench -p examples --bench l3fwd_null` (env BENCH_ROUNDS=3).
//!
//! Start-up is taken out by running each case twice, for a short and a long time, and
//! dividing the difference of the frames sent by the difference of the times. Debian's DPDK
//! package has no `dpdk-l3fwd` binary, so there is no side-by-side DPDK figure here; the
//! `testpmd_io` bench gives the framework's per-core rate beside DPDK's.

use std::process::{Command, Stdio};

#[path = "../../eal/benches/common.rs"]
#[allow(dead_code, reason = "only the median is used here")]
mod common;
use common::median;
#[path = "shared/l3fwd_args.rs"]
mod l3fwd_args;

const SHORT_SECS: u64 = 2;
const LONG_SECS: u64 = 6;

/// Runs l3fwd for `secs` (SIGINT at the end) and returns the frames it sent.
fn frames_sent(lookup: &str, secs: u64, mem: &[&str]) -> Result<u64, String> {
    let prefix = format!("l3bench{}", std::process::id());
    let mut args: Vec<&str> = vec!["-l", "0-1", "--file-prefix", &prefix];
    args.extend_from_slice(mem);
    args.extend_from_slice(&l3fwd_args::NULL_PORTS);
    args.push("--");
    args.extend_from_slice(&l3fwd_args::both_ports_on_lcore_1(lookup));
    let out = Command::new("timeout")
        .args(["-k", "10", "-s", "INT", &secs.to_string(), env!("CARGO_BIN_EXE_l3fwd")])
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("l3fwd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let sent: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("Port "))
        .filter_map(|l| l.split_once(" tx=")?.1.split_whitespace().next()?.parse().ok())
        .collect();
    if sent.len() != 2 {
        return Err(format!("l3fwd printed no port totals (exit {:?}): {}", out.status.code(), text));
    }
    Ok(sent.iter().sum())
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let huge = std::fs::read_to_string("/proc/mounts").is_ok_and(|m| m.contains("hugetlbfs"));
    let mem: &[&str] = if huge { &[] } else { &["--no-huge"] };
    println!("l3fwd over two net_null ports, one forwarding lcore ({})", if huge { "hugepages" } else { "--no-huge" });
    for lookup in ["lpm", "em"] {
        let mut mpps = Vec::new();
        for _ in 0..rounds {
            let r = frames_sent(lookup, SHORT_SECS, mem)
                .and_then(|short| Ok((short, frames_sent(lookup, LONG_SECS, mem)?)))
                .map(|(short, long)| long.saturating_sub(short) as f64 / (LONG_SECS - SHORT_SECS) as f64 / 1e6);
            match r {
                Ok(v) => mpps.push(v),
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            }
        }
        let (lo, hi) = mpps.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        println!(
            "l3fwd --lookup {lookup}: {:.2} Mpps per core (min {lo:.2}, max {hi:.2}, {rounds} rounds)",
            median(&mpps)
        );
    }
}
