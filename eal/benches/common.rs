//! Shared pieces of the bench binaries: medians, running a DPDK baseline command.

use std::collections::BTreeMap;
use std::process::Command;

/// Figures by key, one value per round.
pub type Figures = BTreeMap<String, Vec<f64>>;

/// Median of the values (NaN when empty).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// Runs `cmd args` with `stdin` and returns its stdout, or why it could not.
pub fn run_baseline(cmd: &str, args: &[&str], stdin: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new("timeout")
        .arg("300")
        .arg(cmd)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if let Some(mut s) = child.stdin.take() {
        let _ = s.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{cmd} exited with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// True when `bin` is on PATH.
pub fn have(bin: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file())).unwrap_or(false)
}

/// Smallest and largest of the values (NaN when empty).
pub fn min_max(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// Prints one comparison table: per figure, min/median/max over the rounds for Bypass and
/// for DPDK, and the ratio of the medians (Bypass / DPDK).
pub fn print_table(title: &str, unit: &str, ours: &Figures, base: &Figures, lower_is_better: bool) {
    println!(
        "\n{title} ({unit}; min/median/max over rounds; ratio = median Bypass / median DPDK 22.11, {} is better)",
        if lower_is_better { "lower" } else { "higher" }
    );
    println!("{:<36} {:>26} {:>26} {:>7}", "figure", "Bypass min/med/max", "DPDK min/med/max", "ratio");
    let cell = |v: &[f64]| {
        let (lo, hi) = min_max(v);
        format!("{lo:.2}/{:.2}/{hi:.2}", median(v))
    };
    for (k, v) in ours {
        let b = base.get(k).map(Vec::as_slice).unwrap_or(&[]);
        let ratio = median(v) / median(b);
        println!("{k:<36} {:>26} {:>26} {ratio:>7.2}", cell(v), cell(b));
    }
}
