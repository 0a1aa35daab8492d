//! Shared pieces of the bench binaries: medians, running a DPDK baseline command or harness.

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

/// A DPDK harness from `benches/dpdk/` (C, built with `pkg-config libdpdk`), started once per
/// bench run and driven over a pipe: each request line is one measurement, answered by one
/// line, so the bench can alternate every Bypass measurement with DPDK's.
pub struct DpdkPipe {
    name: &'static str,
    child: std::process::Child,
    /// `None` once closed (at drop).
    stdin: Option<std::process::ChildStdin>,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl DpdkPipe {
    /// Builds `benches/dpdk/{name}.c`, starts it with the EAL `args` and waits for its
    /// "`name` ready" line.
    pub fn start(name: &'static str, args: &[&str]) -> Result<DpdkPipe, String> {
        use std::process::Stdio;
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("benches/dpdk/{name}.c"));
        let bin = std::env::temp_dir().join(format!("bypass_{name}"));
        let flags = Command::new("pkg-config")
            .args(["--cflags", "--libs", "libdpdk"])
            .output()
            .map_err(|e| format!("pkg-config: {e}"))?;
        if !flags.status.success() {
            return Err("libdpdk-dev is not installed (apt-get install dpdk-dev libdpdk-dev)".into());
        }
        let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
        let st = Command::new("gcc")
            .args(["-O3", "-DALLOW_EXPERIMENTAL_API"])
            .arg(&src)
            .arg("-o")
            .arg(&bin)
            .args(flags.split_whitespace())
            .status()
            .map_err(|e| format!("gcc: {e}"))?;
        if !st.success() {
            return Err(format!("building {} failed", src.display()));
        }
        // `--in-memory`: no hugepage files or runtime directory left behind, even when the
        // harness is killed (DPDK keeps them for secondaries otherwise). `--no-huge` leaves
        // none either, and DPDK refuses the two together.
        let in_memory = (!args.contains(&"--no-huge")).then_some("--in-memory");
        let mut child = Command::new(&bin)
            .args(in_memory)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let out = std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut d = DpdkPipe { name, child, stdin: Some(stdin), out };
        d.reply("ready")?;
        Ok(d)
    }

    /// The rest of the next line starting with "`name` `prefix`" (DPDK's own log lines are
    /// skipped; an error line of the harness is an error).
    fn reply(&mut self, prefix: &str) -> Result<String, String> {
        use std::io::BufRead;
        let (want, error) = (format!("{} {prefix}", self.name), format!("{} error", self.name));
        let mut line = String::new();
        loop {
            line.clear();
            if self.out.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err(format!("{} exited", self.name));
            }
            if line.starts_with(&error) {
                return Err(line.trim().into());
            }
            if let Some(rest) = line.strip_prefix(&want) {
                return Ok(rest.trim().to_string());
            }
        }
    }

    /// Sends one request line and returns the number its answer "`name` `key`=X" carries.
    pub fn measure(&mut self, request: &str, key: &str) -> Result<f64, String> {
        self.ask(request, &format!("{key}="))?.parse().map_err(|_| format!("{}: unparsable figure", self.name))
    }

    /// Sends one request line and returns the rest of its answer "`name` `prefix`...".
    pub fn ask(&mut self, request: &str, prefix: &str) -> Result<String, String> {
        use std::io::Write;
        writeln!(self.stdin.as_mut().ok_or("harness stdin closed")?, "{request}").map_err(|e| e.to_string())?;
        self.reply(prefix)
    }
}

impl Drop for DpdkPipe {
    /// Closes the harness's stdin so it ends its loop and cleans up its EAL; kills it only if
    /// it has not exited within 5 s.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
