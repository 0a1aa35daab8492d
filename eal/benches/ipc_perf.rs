//! IPC round-trip benchmark: `eal::mp` against a DPDK-style IPC and, when
//! Debian's DPDK 22.11 is installed, DPDK's own `rte_mp_request_sync`.
//!
//! The bench process is the primary; it re-executes itself (env
//! `IPC_PERF_CHILD`) to play the secondaries. Figures, in µs:
//! - sync request secondary -> primary (as DPDK's mpbench measures it);
//! - sync request primary -> 1 secondary;
//! - sync broadcast primary -> 3 secondaries;
//!
//! each for `eal::mp` and for a DPDK-style IPC built here the way DPDK does
//! it (fixed 368-byte datagrams, one receiver thread per process, the
//! requester blocks on a condvar the receiver thread signals, pending
//! requests keyed by (peer, name), broadcast one peer after the other).
//! Then DPDK's mpbench (`shared/baseline/bench/mpbench.c`) if
//! `pkg-config --exists libdpdk`, hugepages are mounted and we are root.
//!
//! Env: `IPC_PERF_ITERS` (default 10000), `BYPASS_MPBENCH_SRC` (mpbench.c),
//! `BYPASS_BASELINE_DIR` (the baseline kit, default `../../shared/baseline`
//! from this crate).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use eal::mp::{Mp, MpConfig, MpMessage, MpRole};

const CHILD_ENV: &str = "IPC_PERF_CHILD";
const TIMEOUT: Duration = Duration::from_secs(2);
const WARMUP: usize = 200;

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

fn iters() -> usize {
    env_num("IPC_PERF_ITERS", 10_000)
}

fn rounds() -> usize {
    env_num("IPC_PERF_ROUNDS", 4)
}

#[derive(Clone, Copy)]
struct Stats {
    p50: f64,
    p99: f64,
    min: f64,
    n: usize,
}

impl Stats {
    fn of(mut v: Vec<f64>) -> Stats {
        v.sort_by(|a, b| a.total_cmp(b));
        Stats { p50: v[v.len() / 2], p99: v[(v.len() * 99) / 100], min: v[0], n: v.len() }
    }

    fn line(&self) -> String {
        format!("p50={:.2} p99={:.2} min={:.2} n={}", self.p50, self.p99, self.min, self.n)
    }
}

/// Times `n` calls of `f` (after a warm-up), in µs.
fn measure(n: usize, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..WARMUP {
        f();
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f();
        v.push(t.elapsed().as_secs_f64() * 1e6);
    }
    v
}

fn samples_line(v: &[f64]) -> String {
    let mut s = String::from("LAT");
    for x in v {
        s.push_str(&format!(" {x:.3}"));
    }
    s
}

fn parse_samples(line: &str) -> Vec<f64> {
    line.split_whitespace().skip(1).filter_map(|w| w.parse().ok()).collect()
}

// ------------------------------------------------------------ eal::mp ----

fn mp_start(dir: &Path, role: MpRole, primary_pid: Option<u32>) -> Mp {
    let mp = Mp::start(MpConfig { dir: dir.to_path_buf(), role, primary_pid }).expect("start eal::mp");
    mp.register("ping", |mp, m, peer| {
        mp.reply(&MpMessage::new(&m.name, &m.param)?, peer)?;
        Ok(())
    })
    .expect("register ping");
    mp
}

fn mp_ping(mp: &Mp, want: usize) {
    let r = mp.request_sync(&MpMessage::new("ping", &[0xab; 64]).unwrap(), TIMEOUT).expect("request_sync");
    assert_eq!(r.nb_received, want, "missing replies");
}

// ------------------------------------------------- DPDK-style baseline ----

/// DPDK's `struct mp_msg_internal`: type, name[64], len_param, param[256],
/// num_fds, fds[8] (368 bytes with padding).
const DPDK_MSG_LEN: usize = 4 + 64 + 4 + 256 + 4 + 32 + 4;
const T_REQ: u8 = 1;
const T_REPLY: u8 = 2;

/// (peer socket, action name): DPDK's key for a pending request.
type PendingKey = (PathBuf, String);

struct DpdkStyle {
    sock: UnixDatagram,
    dir: PathBuf,
    own: PathBuf,
    /// Pending sync requests by (peer, name), as DPDK keys them.
    pending: Mutex<HashMap<PendingKey, Option<Vec<u8>>>>,
    cond: Condvar,
    stopped: std::sync::atomic::AtomicBool,
}

impl DpdkStyle {
    fn start(dir: &Path, primary: bool) -> Arc<DpdkStyle> {
        let own = if primary { dir.join("mp_socket") } else { dir.join(format!("mp_socket_{}", std::process::id())) };
        let _ = std::fs::remove_file(&own);
        let sock = UnixDatagram::bind(&own).expect("bind");
        let me = Arc::new(DpdkStyle {
            sock,
            dir: dir.to_path_buf(),
            own,
            pending: Mutex::new(HashMap::new()),
            cond: Condvar::new(),
            stopped: Default::default(),
        });
        let t = me.clone();
        std::thread::spawn(move || t.receiver());
        me
    }

    /// Ends the receiver thread and removes the socket.
    fn stop(&self) {
        self.stopped.store(true, std::sync::atomic::Ordering::Release);
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        let _ = std::fs::remove_file(&self.own);
    }

    fn encode(kind: u8, name: &str, param: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; DPDK_MSG_LEN];
        m[0] = kind;
        m[4..4 + name.len()].copy_from_slice(name.as_bytes());
        m[68..72].copy_from_slice(&(param.len() as i32).to_le_bytes());
        m[72..72 + param.len()].copy_from_slice(param);
        m
    }

    /// The "mp handle" thread: blocking recvmsg, then handle.
    fn receiver(&self) {
        let mut buf = vec![0u8; DPDK_MSG_LEN];
        loop {
            let Ok((n, from)) = self.sock.recv_from(&mut buf) else {
                return;
            };
            if n == 0 && self.stopped.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            if n != DPDK_MSG_LEN {
                continue;
            }
            let Some(from) = from.as_pathname().map(Path::to_path_buf) else {
                continue;
            };
            let name_end = buf[4..68].iter().position(|b| *b == 0).unwrap_or(64);
            let name = String::from_utf8_lossy(&buf[4..4 + name_end]).into_owned();
            let len = i32::from_le_bytes(buf[68..72].try_into().unwrap()).clamp(0, 256) as usize;
            let param = buf[72..72 + len].to_vec();
            match buf[0] {
                T_REQ => {
                    // the "ping" action: echo
                    let r = Self::encode(T_REPLY, &name, &param);
                    let _ = self.sock.send_to(&r, &from);
                }
                T_REPLY => {
                    let mut p = self.pending.lock().unwrap();
                    if let Some(slot) = p.get_mut(&(from, name)) {
                        *slot = Some(param);
                        self.cond.notify_all();
                    }
                }
                _ => {}
            }
        }
    }

    fn request_one(&self, peer: &Path, name: &str, param: &[u8]) -> bool {
        let key = (peer.to_path_buf(), name.to_owned());
        let mut p = self.pending.lock().unwrap();
        if p.contains_key(&key) {
            return false; // DPDK: "a request for this peer and name is pending"
        }
        p.insert(key.clone(), None);
        if self.sock.send_to(&Self::encode(T_REQ, name, param), peer).is_err() {
            p.remove(&key);
            return false;
        }
        let end = Instant::now() + TIMEOUT;
        loop {
            if p.get(&key).is_some_and(|s| s.is_some()) {
                p.remove(&key);
                return true;
            }
            let now = Instant::now();
            if now >= end {
                p.remove(&key);
                return false;
            }
            p = self.cond.wait_timeout(p, end - now).unwrap().0;
        }
    }

    /// Sync request: to the primary, or to each secondary one after the other.
    fn request_sync(&self, primary: bool) -> usize {
        let param = [0xab; 64];
        if !primary {
            return self.request_one(&self.dir.join("mp_socket"), "ping", &param) as usize;
        }
        let mut peers: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p != &self.own && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("mp_socket_"))
            })
            .collect();
        peers.sort();
        peers.iter().filter(|peer| self.request_one(peer, "ping", &param)).count()
    }
}

// ------------------------------------------------------------ children ----

/// A secondary: `IPC_PERF_CHILD=<impl>:<mode> ipc_perf DIR PRIMARY_PID`.
/// mode `measure`: time requests to the primary, print `LAT ...`, then
/// serve; mode `serve`: print `READY` and serve. Exits on end of stdin.
fn child(spec: &str) {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(&args[1]);
    let ppid: u32 = args[2].parse().unwrap();
    let (imp, mode) = spec.split_once(':').unwrap();
    let n = iters() / rounds();
    let mut out = std::io::stdout();
    let keep: Box<dyn std::any::Any> = match imp {
        "mp" => {
            let mp = mp_start(&dir, MpRole::Secondary, Some(ppid));
            if mode == "measure" {
                let s = measure(n, || mp_ping(&mp, 1));
                writeln!(out, "{}", samples_line(&s)).unwrap();
            }
            Box::new(mp)
        }
        _ => {
            let d = DpdkStyle::start(&dir, false);
            if mode == "measure" {
                let s = measure(n, || assert_eq!(d.request_sync(false), 1));
                writeln!(out, "{}", samples_line(&s)).unwrap();
            }
            Box::new(d)
        }
    };
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        line.clear();
    }
    drop(keep);
}

struct Sec {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Sec {
    fn spawn(dir: &Path, spec: &str) -> Sec {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, spec)
            .arg(dir)
            .arg(std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn secondary");
        let out = BufReader::new(child.stdout.take().unwrap());
        Sec { child, out }
    }

    fn line(&mut self, prefix: &str) -> String {
        let mut l = String::new();
        loop {
            l.clear();
            if self.out.read_line(&mut l).unwrap() == 0 {
                panic!("secondary exited before {prefix:?}");
            }
            if l.starts_with(prefix) {
                return l.trim().to_owned();
            }
        }
    }
}

impl Drop for Sec {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct Results {
    sec_to_pri: Vec<f64>,
    pri_to_one: Vec<f64>,
    bcast3: Vec<f64>,
}

/// One round of one implementation, in a fresh runtime dir, added to `res`.
fn run_impl(imp: &str, dir: &Path, res: &mut Results) {
    std::fs::create_dir_all(dir).unwrap();
    let n = iters() / rounds();
    enum P {
        Mp(Mp),
        Dpdk(Arc<DpdkStyle>),
    }
    let p = match imp {
        "mp" => P::Mp(mp_start(dir, MpRole::Primary, None)),
        _ => P::Dpdk(DpdkStyle::start(dir, true)),
    };
    let request = |want: usize| match &p {
        P::Mp(mp) => mp_ping(mp, want),
        P::Dpdk(d) => assert_eq!(d.request_sync(true), want),
    };
    let mut s1 = Sec::spawn(dir, &format!("{imp}:measure"));
    res.sec_to_pri.extend(parse_samples(&s1.line("LAT")));
    s1.line("READY");
    // Let the runtime dir settle: the primary's cached peer list is trusted
    // only 50 ms after the dir's last change (steady state: peers come and
    // go rarely). DPDK lists the dir on every request either way.
    std::thread::sleep(Duration::from_millis(100));
    res.pri_to_one.extend(measure(n, || request(1)));
    let mut more: Vec<Sec> = (0..2).map(|_| Sec::spawn(dir, &format!("{imp}:serve"))).collect();
    for s in &mut more {
        s.line("READY");
    }
    std::thread::sleep(Duration::from_millis(100));
    res.bcast3.extend(measure(n / 2, || request(3)));
    drop(more);
    drop(s1);
    if let P::Dpdk(d) = &p {
        d.stop();
    }
    drop(p);
    let _ = std::fs::remove_dir_all(dir);
}

// -------------------------------------------------------- DPDK mpbench ----

/// Where DPDK's mpbench.c is: `BYPASS_MPBENCH_SRC`, else
/// `$BYPASS_BASELINE_DIR/bench/mpbench.c`, else the baseline kit in
/// `shared/` beside the repository (found relative to this crate, wherever
/// the checkout lives).
fn mpbench_src() -> Option<PathBuf> {
    let mut c: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("BYPASS_MPBENCH_SRC") {
        c.push(p.into());
    }
    if let Ok(d) = std::env::var("BYPASS_BASELINE_DIR") {
        c.push(PathBuf::from(d).join("bench/mpbench.c"));
    }
    c.push(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/baseline/bench/mpbench.c").into());
    c.push(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/baseline/bench/mpbench.c").into());
    c.into_iter().find(|p| p.is_file())
}

fn sh(cmd: &str) -> Option<String> {
    let o = Command::new("sh").arg("-c").arg(cmd).output().ok()?;
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

/// Builds and runs DPDK's mpbench; `Err` says why it was skipped.
fn dpdk_mpbench() -> Result<(f64, f64), String> {
    if sh("pkg-config --exists libdpdk").is_none() {
        return Err("libdpdk not installed (pkg-config --exists libdpdk failed)".into());
    }
    if sh("id -u").as_deref() != Some("0") {
        return Err("needs root for hugepages".into());
    }
    if sh("mountpoint -q /dev/hugepages").is_none() {
        return Err("no hugetlbfs at /dev/hugepages".into());
    }
    let src = mpbench_src().ok_or("mpbench.c not found (set BYPASS_MPBENCH_SRC)")?;
    let bin = std::env::temp_dir().join("bypass-ipc-perf-mpbench");
    let fresh = |b: &Path| {
        let t = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        matches!((t(b), t(&src)), (Some(b), Some(s)) if b >= s)
    };
    if !fresh(&bin) {
        let cmd = format!(
            "gcc -O3 $(pkg-config --cflags libdpdk) -DALLOW_EXPERIMENTAL_API '{}' -o '{}' $(pkg-config --libs libdpdk) 2>&1",
            src.display(),
            bin.display()
        );
        sh(&cmd).ok_or_else(|| format!("gcc failed: {cmd}"))?;
    }
    let prefix = format!("bypass_ipc_perf_{}", std::process::id());
    let mut pri = Command::new("timeout")
        .args(["60", bin.to_str().unwrap()])
        .args(["-l", "0", "--no-pci", "--vdev", "net_null0", "-m", "64"])
        .arg(format!("--file-prefix={prefix}"))
        .args(["--proc-type=primary", "--", "--serve-sec", "40"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run mpbench: {e}"))?;
    let mut pout = BufReader::new(pri.stdout.take().unwrap());
    let mut l = String::new();
    let ready = loop {
        l.clear();
        match pout.read_line(&mut l) {
            Ok(0) | Err(_) => break false,
            Ok(_) if l.starts_with("PRIMARY_READY") => break true,
            Ok(_) => {}
        }
    };
    let result = if !ready {
        Err("DPDK primary did not start".to_string())
    } else {
        let out = Command::new("timeout")
            .args(["60", bin.to_str().unwrap()])
            .args(["-l", "1", "--no-pci"])
            .arg(format!("--file-prefix={prefix}"))
            .args(["--proc-type=auto", "--", "--ipc-iters"])
            .arg(iters().to_string())
            .args(["--pp-iters", "0", "--tput-sec", "0"])
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run mpbench secondary: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let get = |k: &str| text.split_whitespace().find_map(|w| w.strip_prefix(k)).and_then(|v| v.parse::<f64>().ok());
        match (get("ipc_rtt_us_median="), get("ipc_rtt_us_p99=")) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(format!("no figures from the DPDK secondary: {}", text.trim())),
        }
    };
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end && matches!(pri.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if matches!(pri.try_wait(), Ok(None)) {
        let _ = pri.kill();
    }
    let _ = pri.wait();
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    if let Ok(rd) = std::fs::read_dir("/dev/hugepages") {
        let stale = format!("{prefix}map_");
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&stale) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    result
}

// ---------------------------------------------------------------- main ----

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return; // test harness probing
    }
    // `cargo bench` passes --bench; anything else (cargo test --all-targets)
    // gets a quick smoke run without DPDK.
    let smoke = !std::env::args().any(|a| a == "--bench");
    if smoke && std::env::var_os("IPC_PERF_ITERS").is_none() {
        // single-threaded here; the children inherit these
        std::env::set_var("IPC_PERF_ITERS", "100");
        std::env::set_var("IPC_PERF_ROUNDS", "1");
    }
    let base = std::env::temp_dir().join(format!("bypass-ipc-perf-{}", std::process::id()));
    println!(
        "ipc_perf: {} round trips per figure ({} interleaved rounds, +{WARMUP} warm-up each), µs, 64-byte param",
        iters() / rounds() * rounds(),
        rounds()
    );
    let (mut mp, mut dp) = (Results::default(), Results::default());
    for r in 0..rounds() {
        run_impl("mp", &base.join(format!("mp{r}")), &mut mp);
        run_impl("dpdk", &base.join(format!("dpdk{r}")), &mut dp);
    }
    let _ = std::fs::remove_dir_all(&base);
    let mp = (Stats::of(mp.sec_to_pri), Stats::of(mp.pri_to_one), Stats::of(mp.bcast3));
    let dp = (Stats::of(dp.sec_to_pri), Stats::of(dp.pri_to_one), Stats::of(dp.bcast3));
    let rows = [
        ("sync secondary->primary", mp.0, dp.0),
        ("sync primary->1 secondary", mp.1, dp.1),
        ("sync broadcast ->3 secondaries", mp.2, dp.2),
    ];
    for (what, a, b) in rows {
        println!("eal::mp     {what:<32} {}", a.line());
        println!("dpdk-style  {what:<32} {}", b.line());
        println!("ratio       {what:<32} p50 {:.2}x  p99 {:.2}x  (dpdk-style / eal::mp)", b.p50 / a.p50, b.p99 / a.p99);
    }
    let dpdk = if smoke { Err("smoke run (not under cargo bench)".to_string()) } else { dpdk_mpbench() };
    match dpdk {
        Ok((p50, p99)) => {
            println!("dpdk-22.11  rte_mp_request_sync sec->pri      p50={p50:.2} p99={p99:.2} (mpbench; its primary spins on lcore 0)");
            println!(
                "ratio       rte_mp_request_sync / eal::mp    p50 {:.2}x  p99 {:.2}x",
                p50 / mp.0.p50,
                p99 / mp.0.p99
            );
        }
        Err(why) => println!("dpdk-22.11  mpbench skipped: {why}"),
    }
}
