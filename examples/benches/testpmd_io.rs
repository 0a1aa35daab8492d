//! testpmd io and macswap forwarding on one forwarding core over two `net_null` ports: Bypass's testpmd
//! and Debian's DPDK 22.11 `dpdk-testpmd`, interleaved in the same run, medians of the
//! per-second totals (first two periods dropped), and the ratio.
//! Two more cases, with the same options on both sides: `2seg`, txonly sending 128-byte
//! packets as chains of two 64-byte mbufs (`--txpkts=64,64`, Tx-pps counted), and `9000`,
//! io forwarding of 9000-byte packets (`net_null<N>,size=9000`, `--mbuf-size=9344`,
//! `--max-pkt-len=9022`, `--total-num-mbufs=8192`).
//! `cargo bench -p examples --bench testpmd_io` (env BENCH_ROUNDS=3, BENCH_SECS=6,
//! BENCH_MODES=io,macswap,2seg,9000).

use std::process::{Command, Stdio};

#[path = "../../eal/benches/common.rs"]
#[allow(dead_code, reason = "only the median is used here")]
mod common;
use common::median;

/// One benchmark case: the forwarding mode, the `net_null` devargs after the name, extra
/// application options, and the rate line counted (`Rx-pps:` or `Tx-pps:`).
struct Case {
    mode: &'static str,
    devargs: &'static str,
    app: &'static [&'static str],
    key: &'static str,
}

/// The case of a `BENCH_MODES` name: a forwarding mode, `2seg` or `9000`.
fn case(name: &str) -> Option<Case> {
    Some(match name {
        "io" => Case { mode: "io", devargs: "", app: &[], key: "Rx-pps:" },
        "macswap" => Case { mode: "macswap", devargs: "", app: &[], key: "Rx-pps:" },
        "2seg" => Case { mode: "txonly", devargs: "", app: &["--txpkts=64,64"], key: "Tx-pps:" },
        "9000" => Case {
            mode: "io",
            devargs: ",size=9000",
            app: &["--mbuf-size=9344", "--max-pkt-len=9022", "--total-num-mbufs=8192"],
            key: "Rx-pps:",
        },
        _ => return None,
    })
}

/// Runs a command for `secs` (SIGINT at the end) and returns the median total Mpps of the
/// `key` lines.
fn run(cmd: &str, args: &[&str], secs: u64, key: &str) -> Result<f64, String> {
    let out = Command::new("timeout")
        .args(["-k", "10", "-s", "INT", &secs.to_string(), cmd])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let pps: Vec<f64> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix(key))
        .filter_map(|r| r.split_whitespace().next()?.parse().ok())
        .collect();
    let totals: Vec<f64> =
        pps.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0] + c[1]) / 1e6).skip(2).filter(|&t| t > 0.0).collect();
    if totals.is_empty() {
        return Err(format!(
            "{cmd} printed no throughput (exit {:?}): {}",
            out.status.code(),
            text.lines().last().unwrap_or("")
        ));
    }
    Ok(median(&totals))
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::NAN, f64::NAN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let ours = env!("CARGO_BIN_EXE_testpmd");
    let huge = std::path::Path::new("/dev/hugepages").exists()
        && std::fs::read_to_string("/proc/mounts").is_ok_and(|m| m.contains("hugetlbfs"));
    let mem: &[&str] = if huge { &[] } else { &["--no-huge"] };
    // The same command line for both, but for DPDK's --no-pci and --no-lsc-interrupt.
    let args = |prefix: &str, c: &Case, eal_extra: &[&str], app_extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["-l", "0-1", "--file-prefix", prefix].map(String::from).to_vec();
        v.extend(mem.iter().map(|s| s.to_string()));
        v.extend(eal_extra.iter().map(|s| s.to_string()));
        for i in 0..2 {
            v.extend(["--vdev".to_string(), format!("net_null{i}{}", c.devargs)]);
        }
        v.push("--".into());
        v.push(format!("--forward-mode={}", c.mode));
        v.extend(c.app.iter().map(|s| s.to_string()));
        v.extend(["--stats-period", "1"].map(String::from));
        v.extend(app_extra.iter().map(|s| s.to_string()));
        v
    };
    let have_dpdk =
        Command::new("dpdk-testpmd").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !have_dpdk {
        println!("DPDK baseline: dpdk-testpmd not found (apt-get install dpdk); Bypass figures only");
    }
    let modes: Vec<String> = std::env::var("BENCH_MODES")
        .unwrap_or_else(|_| "io,macswap,2seg,9000".into())
        .split(',')
        .map(String::from)
        .collect();
    let mut results = Vec::new();
    for mode in &modes {
        let Some(c) = case(mode) else {
            println!("unknown BENCH_MODES entry '{mode}': io, macswap, 2seg or 9000");
            continue;
        };
        let ours_args = args("bench_tp_bypass", &c, &[], &[]);
        let dpdk_args = args("bench_tp_dpdk", &c, &["--no-pci"], &["--no-lsc-interrupt"]);
        let ours_args: Vec<&str> = ours_args.iter().map(String::as_str).collect();
        let dpdk_args: Vec<&str> = dpdk_args.iter().map(String::as_str).collect();
        let (mut b, mut d) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            match run(ours, &ours_args, secs, c.key) {
                Ok(v) => b.push(v),
                Err(e) => println!("{mode} round {r}: Bypass: {e}"),
            }
            if have_dpdk {
                match run("dpdk-testpmd", &dpdk_args, secs, c.key) {
                    Ok(v) => d.push(v),
                    Err(e) => println!("{mode} round {r}: DPDK: {e}"),
                }
            }
            eprintln!("{mode} round {r} done");
        }
        results.push((mode.clone(), b, d));
    }
    println!(
        "\ntestpmd forwarding, 2 x net_null, 1 forwarding core ({}; total Rx Mpps (2seg: Tx), min/median/max of rounds; ratio of medians)",
        if huge { "hugepages" } else { "--no-huge" }
    );
    println!("{:<10} {:>22} {:>22} {:>7}", "mode", "Bypass", "DPDK", "ratio");
    for (mode, b, d) in results {
        let (bm, dm) = (median(&b), median(&d));
        let ((bl, bh), (dl, dh)) = (min_max(&b), min_max(&d));
        println!(
            "{mode:<10} {:>22} {:>22} {:>7.2}",
            format!("{bl:.2}/{bm:.2}/{bh:.2}"),
            format!("{dl:.2}/{dm:.2}/{dh:.2}"),
            bm / dm
        );
    }
}
