//! testpmd io forwarding on one forwarding core over two `net_null` ports: Bypass's testpmd
//! and Debian's DPDK 22.11 `dpdk-testpmd`, interleaved in the same run, medians of the
//! per-second totals (first two periods dropped), and the ratio.
//! `cargo bench -p examples --bench testpmd_io` (env BENCH_ROUNDS=3, BENCH_SECS=6).

use std::process::{Command, Stdio};

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Runs a command for `secs` (SIGINT at the end) and returns the median total Rx Mpps.
fn run(cmd: &str, args: &[&str], secs: u64) -> Result<f64, String> {
    let out = Command::new("timeout")
        .args(["-k", "10", "-s", "INT", &secs.to_string(), cmd])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let pps: Vec<f64> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Rx-pps:"))
        .filter_map(|r| r.split_whitespace().next()?.parse().ok())
        .collect();
    let mut totals: Vec<f64> =
        pps.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0] + c[1]) / 1e6).skip(2).filter(|&t| t > 0.0).collect();
    if totals.is_empty() {
        return Err(format!(
            "{cmd} printed no throughput (exit {:?}): {}",
            out.status.code(),
            text.lines().last().unwrap_or("")
        ));
    }
    Ok(median(&mut totals))
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let ours = env!("CARGO_BIN_EXE_testpmd");
    let huge = std::path::Path::new("/dev/hugepages").exists()
        && std::fs::read_to_string("/proc/mounts").is_ok_and(|m| m.contains("hugetlbfs"));
    let mem: &[&str] = if huge { &[] } else { &["--no-huge"] };
    // The same command line for both, but for DPDK's --no-pci and --no-lsc-interrupt.
    let args = |prefix: &'static str, eal_extra: &[&'static str], app_extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["-l", "0-1", "--file-prefix", prefix];
        v.extend_from_slice(mem);
        v.extend_from_slice(eal_extra);
        v.extend_from_slice(&[
            "--vdev",
            "net_null0",
            "--vdev",
            "net_null1",
            "--",
            "--forward-mode=io",
            "--stats-period",
            "1",
        ]);
        v.extend_from_slice(app_extra);
        v
    };
    let ours_args = args("bench_tp_bypass", &[], &[]);
    let dpdk_args = args("bench_tp_dpdk", &["--no-pci"], &["--no-lsc-interrupt"]);
    let have_dpdk =
        Command::new("dpdk-testpmd").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !have_dpdk {
        println!("DPDK baseline: dpdk-testpmd not found (apt-get install dpdk); Bypass figures only");
    }
    let (mut b, mut d) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        match run(ours, &ours_args, secs) {
            Ok(v) => b.push(v),
            Err(e) => println!("round {r}: Bypass: {e}"),
        }
        if have_dpdk {
            match run("dpdk-testpmd", &dpdk_args, secs) {
                Ok(v) => d.push(v),
                Err(e) => println!("round {r}: DPDK: {e}"),
            }
        }
        eprintln!("round {r} done");
    }
    let (bm, dm) = (median(&mut b), median(&mut d));
    println!(
        "\ntestpmd io forwarding, 2 x net_null, 1 forwarding core ({}; total Rx Mpps, median of rounds)",
        if huge { "hugepages" } else { "--no-huge" }
    );
    println!("{:<12} {:>10} {:>10} {:>8}", "", "Bypass", "DPDK", "ratio");
    println!("{:<12} {:>10.2} {:>10.2} {:>8.2}   (goal >= 1.20)", "Mpps", bm, dm, bm / dm);
    println!("rounds: Bypass {b:.2?}  DPDK {d:.2?}");
}
