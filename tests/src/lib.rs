//! Helpers for tests that run real processes: spawn a binary, read its output line by line
//! with a deadline, find the workspace's binaries; and [`guest`], what the QEMU guest
//! programs (`src/bin/guest_*`) share.

pub mod capture_file;
pub mod cpu_time;
pub mod guest;
pub mod samples;
pub mod telemetry_client;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A running child process whose stdout and stderr lines arrive on a channel.
pub struct Proc {
    /// The process.
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every line seen so far (stdout and stderr, interleaved as they arrived).
    pub seen: Vec<String>,
}

impl Proc {
    /// Starts `bin` with `args`.
    pub fn spawn(bin: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let (tx, rx) = channel();
        for r in [
            Box::new(child.stdout.take().expect("piped")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("piped")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        Proc { child, stdin, lines: rx, seen: Vec::new() }
    }

    /// Waits up to `timeout` for a line containing `pat`; returns it. Panics with the
    /// output so far when it does not come.
    pub fn expect(&mut self, pat: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        if let Some(l) = self.seen.iter().find(|l| l.contains(pat)) {
            return l.clone();
        }
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(pat) {
                        return l;
                    }
                }
                Err(_) => panic!("no line containing {pat:?} within {timeout:?}; output:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Waits up to `timeout` for a line not read before containing `pat`; returns the lines
    /// read meanwhile, that one last (unlike [`Proc::expect`], earlier output never matches,
    /// so the same reply can be awaited after each command). Panics with the output so far
    /// when it does not come.
    pub fn read_until(&mut self, pat: &str, timeout: Duration) -> Vec<String> {
        let end = Instant::now() + timeout;
        let mut got = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    let done = l.contains(pat);
                    got.push(l);
                    if done {
                        return got;
                    }
                }
                Err(_) => {
                    panic!("no new line containing {pat:?} within {timeout:?}; output:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    /// Writes a line to the child's stdin.
    pub fn send(&mut self, line: &str) {
        if let Some(s) = self.stdin.as_mut() {
            let _ = writeln!(s, "{line}");
            let _ = s.flush();
        }
    }

    /// Closes stdin (the workers take EOF as "exit cleanly").
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for exit with a deadline (kills on timeout) and returns the exit code and all
    /// output lines.
    pub fn finish(mut self, timeout: Duration) -> (Option<i32>, Vec<String>) {
        self.stdin = None;
        let end = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s.code();
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("process did not exit within {timeout:?}; output:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // Collect the rest of the output.
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(l);
        }
        (status, std::mem::take(&mut self.seen))
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill9(self) {
        drop(self);
    }
}

impl Drop for Proc {
    /// A test that fails midway must not leave its processes running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Initialises the EAL of a worker process from `args`, or prints `ERROR: <why>` (which the
/// tests look for) and exits with 2.
pub fn worker_eal(args: &[String]) -> eal::Eal {
    drivers::declare_to_eal();
    match eal::Eal::init(args) {
        Ok(e) => e,
        Err(e) => {
            println!("ERROR: {e}");
            std::process::exit(2);
        }
    }
}

/// A group name unique to this test run.
pub fn prefix(tag: &str) -> String {
    format!("t{}_{tag}", std::process::id())
}

/// Path of a binary of the `examples` package, built next to the test binaries.
pub fn example_bin(name: &str) -> String {
    let mut p: PathBuf = std::env::current_exe().expect("current_exe");
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.push(name);
    assert!(p.exists(), "{} is not built: run `cargo build -p examples` (cargo test --workspace does)", p.display());
    p.to_string_lossy().into_owned()
}

/// The runtime directory of a group, as the EAL computes it.
pub fn runtime_dir(prefix: &str) -> PathBuf {
    eal::runtime::dir_for(prefix)
}

/// Hugepage heap file of a group in /dev/hugepages or /dev/shm.
pub fn heap_files(prefix: &str) -> Vec<PathBuf> {
    ["/dev/hugepages", "/dev/shm"]
        .iter()
        .map(|d| PathBuf::from(d).join(format!("bypass_{prefix}_heap")))
        .filter(|p| p.exists())
        .collect()
}

/// Frame `i` of the numbered UDP frames `ring_peer` injects (flow `i % flows`, 60 to 123
/// bytes, the number in bytes 42..46), so a test can tell what each captured frame should be.
pub fn numbered_frame(i: u32, flows: u32) -> Vec<u8> {
    let flow = i % flows;
    let mut f = vec![0u8; 60 + (i % 64) as usize];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[23] = 17;
    f[26..30].copy_from_slice(&[198, 18, 0, 1]);
    f[30..34].copy_from_slice(&[198, 18, 1, 1]);
    f[34..36].copy_from_slice(&(1000 + flow as u16).to_be_bytes());
    f[36..38].copy_from_slice(&9u16.to_be_bytes());
    f[42..46].copy_from_slice(&i.to_le_bytes());
    for (k, b) in f[46..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_add(k as u8);
    }
    f
}

/// testpmd forwarding (io mode, started) between two virtual ports `vdev0` and `vdev1`
/// without hugepages, at its interactive prompt, in the group of prefix `p`: the primary
/// that the tool tests (procinfo, dumpcap) attach to.
pub fn testpmd_forwarding(p: &str, vdev0: &str, vdev1: &str) -> Proc {
    const T: Duration = Duration::from_secs(60);
    let args = ["--file-prefix", p, "-l", "0-1", "-m", "64", "--no-huge", "--vdev", vdev0, "--vdev", vdev1, "--", "-i"];
    let mut t = Proc::spawn(&example_bin("testpmd"), &args);
    t.expect("Port 1: Link", T);
    t.send("start");
    t.expect("io packet forwarding", T);
    t
}
