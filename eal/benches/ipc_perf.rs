//! IPC round trips, Bypass's `eal::mp` beside DPDK 22.11's `rte_mp_request_sync`, in µs:
//! - sync request secondary -> primary;
//! - sync request primary -> its one secondary;
//! - sync broadcast primary -> 3 secondaries.
//!
//! Each side is a real process group started the same way: a primary with `-l 0` whose
//! main thread sleeps on a pipe (nobody busy-polls a CPU), and secondaries with lcore
//! `K@1`, so each process's control threads (IPC) go where its EAL puts them (Bypass and
//! DPDK alike: the CPUs no lcore of the process uses). The Bypass members are this binary
//! re-executed (env `IPC_PERF_CHILD`) through `Eal::init`; DPDK's are
//! `benches/dpdk/mp_sync.c`, built with `pkg-config libdpdk` (Debian's `dpdk-dev`), on
//! hugepages (root). Both groups stay up for the whole run and are driven over stdin, one
//! batch each in turn (the order swapped every round), since this VM changes speed every
//! few seconds. Every figure prints min/median/max of the rounds' medians per side and the
//! ratio of those medians (Bypass / DPDK); then how much CPU each primary's idle IPC
//! thread spent over `IPC_PERF_IDLE_SECS` (default 10) after the traffic; last, the floor
//! of this machine: a bare C datagram ping-pong between two processes pinned the same way
//! (`benches/dpdk/dgram_pingpong.c`, built with gcc).
//!
//! Env: `IPC_PERF_ITERS` (round trips per round and figure, default 2000),
//! `IPC_PERF_ROUNDS` (default 6), `IPC_PERF_SIDES=bypass` (Bypass only, e.g. to profile it). Without `--bench` (`cargo test --all-targets`) a short
//! smoke run of the Bypass side only.

#[allow(dead_code)] // the other benches' helpers
mod common;

use common::{median, min_max, print_table, Figures};
use eal::mp::MpMessage;
use eal::Eal;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "IPC_PERF_CHILD";
const TIMEOUT: Duration = Duration::from_secs(2);
const WARMUP: usize = 200;
const PARAM_LEN: usize = 64;
/// Lines both kinds of member print.
const READY: &str = "mp_sync ready";
const LAT: &str = "mp_sync lat";
const ERROR: &str = "mp_sync error";

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

// ------------------------------------------------------- Bypass member ----

/// A Bypass member: `IPC_PERF_CHILD=1 ipc_perf <EAL args>`; the same commands and lines as
/// `mp_sync.c`.
fn child() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    let mut out = std::io::stdout();
    let eal = match Eal::init(&args) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(out, "{ERROR} EAL init failed: {e}");
            return 1;
        }
    };
    let mp = eal.mp().clone();
    let reg = mp.register("ping", |mp, m, peer| {
        mp.reply(&MpMessage::new(&m.name, &m.param)?, peer)?;
        Ok(())
    });
    if let Err(e) = reg {
        let _ = writeln!(out, "{ERROR} cannot register the action: {e}");
        return 1;
    }
    let _ = writeln!(out, "{READY}");
    let _ = out.flush();
    let req = MpMessage::new("ping", &[0xab; PARAM_LEN]).expect("a valid message");
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        let words: Vec<usize> = line.split_whitespace().skip(1).filter_map(|w| w.parse().ok()).collect();
        match (line.starts_with("sync "), words.as_slice()) {
            (true, &[n, want]) => {
                let mut lat = Vec::with_capacity(n);
                let mut failed = None;
                for i in 0..WARMUP + n {
                    let t = Instant::now();
                    let got = mp.request_sync(&req, TIMEOUT).map(|r| r.nb_received as i64).unwrap_or(-1);
                    if got != want as i64 {
                        failed = Some(format!("request {i} got {got} replies, want {want}"));
                        break;
                    }
                    if i >= WARMUP {
                        lat.push(t.elapsed().as_secs_f64() * 1e6);
                    }
                }
                match failed {
                    Some(why) => writeln!(out, "{ERROR} {why}"),
                    None => writeln!(out, "{LAT}{}", lat.iter().map(|x| format!(" {x:.3}")).collect::<String>()),
                }
                .expect("stdout");
            }
            _ => writeln!(out, "{ERROR} unknown command").expect("stdout"),
        }
        let _ = out.flush();
        line.clear();
    }
    let _ = mp.unregister("ping");
    drop(mp);
    drop(eal);
    0
}

// ------------------------------------------------------------- members ----

/// One process of a group, driven over its stdin.
struct Member {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
}

impl Member {
    fn spawn(mut cmd: Command) -> Result<Member, String> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut m = Member { child, stdin, out };
        m.line(READY)?;
        Ok(m)
    }

    /// The rest of the next line starting with `prefix` (other lines, e.g. DPDK's log, are
    /// skipped); an error line or the end of output is an error.
    fn line(&mut self, prefix: &str) -> Result<String, String> {
        let mut l = String::new();
        loop {
            l.clear();
            if self.out.read_line(&mut l).map_err(|e| e.to_string())? == 0 {
                return Err(format!("member {} exited before {prefix:?}", self.child.id()));
            }
            if l.starts_with(ERROR) {
                return Err(l.trim().to_string());
            }
            if let Some(rest) = l.strip_prefix(prefix) {
                return Ok(rest.trim().to_string());
            }
        }
    }

    /// `n` timed sync requests, each answered by `want` peers, in µs.
    fn sync(&mut self, n: usize, want: usize) -> Result<Vec<f64>, String> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        writeln!(stdin, "sync {n} {want}").and_then(|_| stdin.flush()).map_err(|e| e.to_string())?;
        let lat: Vec<f64> = self.line(LAT)?.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        if lat.len() != n {
            return Err(format!("{} samples, want {n}", lat.len()));
        }
        Ok(lat)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes stdin and waits up to 10 s for the exit (then kills).
    fn finish(&mut self) {
        drop(self.stdin.take());
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Which implementation a group runs.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Bypass,
    Dpdk,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Bypass => "Bypass",
            Side::Dpdk => "DPDK 22.11",
        }
    }
}

/// A primary and its secondaries.
struct Group {
    side: Side,
    prefix: String,
    dpdk_bin: Option<PathBuf>,
    cpus: (usize, usize),
    primary: Member,
    secondaries: Vec<Member>,
}

impl Group {
    fn command(side: Side, dpdk_bin: Option<&Path>, prefix: &str, lcores: &str, primary: bool) -> Command {
        let proc_type = if primary { "--proc-type=primary" } else { "--proc-type=secondary" };
        let mut c = match side {
            Side::Bypass => {
                let mut c = Command::new(std::env::current_exe().expect("own path"));
                c.env(CHILD_ENV, "1");
                if primary {
                    c.args(["--no-huge", "-m", "32"]);
                }
                c
            }
            Side::Dpdk => {
                let mut c = Command::new(dpdk_bin.expect("DPDK member built"));
                if primary {
                    c.args(["-m", "64"]);
                }
                c
            }
        };
        c.args(["--lcores", lcores, "--no-pci", proc_type, &format!("--file-prefix={prefix}")]);
        c
    }

    fn start(side: Side, dpdk_bin: Option<&Path>, cpus: (usize, usize)) -> Result<Group, String> {
        let prefix = format!("ipc_perf_{}_{}", if side == Side::Dpdk { "dpdk" } else { "bypass" }, std::process::id());
        let primary = Member::spawn(Self::command(side, dpdk_bin, &prefix, &format!("0@{}", cpus.0), true))
            .map_err(|e| format!("{} primary: {e}", side.name()))?;
        let mut g =
            Group { side, prefix, dpdk_bin: dpdk_bin.map(Path::to_path_buf), cpus, primary, secondaries: Vec::new() };
        g.add_secondary()?;
        Ok(g)
    }

    /// One more secondary, lcore `K@<second cpu>` (distinct lcore ids, as Bypass requires).
    fn add_secondary(&mut self) -> Result<(), String> {
        let lcores = format!("{}@{}", self.secondaries.len() + 1, self.cpus.1);
        let cmd = Self::command(self.side, self.dpdk_bin.as_deref(), &self.prefix, &lcores, false);
        let m = Member::spawn(cmd).map_err(|e| format!("{} secondary: {e}", self.side.name()))?;
        self.secondaries.push(m);
        Ok(())
    }

    /// Stops the group, secondaries first, and removes what DPDK leaves behind.
    fn stop(mut self) {
        for s in &mut self.secondaries {
            s.finish();
        }
        self.primary.finish();
        if self.side == Side::Dpdk {
            let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.prefix));
            if let Ok(rd) = std::fs::read_dir("/dev/hugepages") {
                let stale = format!("{}map_", self.prefix);
                for e in rd.flatten() {
                    if e.file_name().to_string_lossy().starts_with(&stale) {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- DPDK ----

fn sh(cmd: &str) -> Option<String> {
    let o = Command::new("sh").arg("-c").arg(cmd).output().ok()?;
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

/// Builds `benches/dpdk/mp_sync.c`; `Err` says why DPDK's side cannot run.
fn build_dpdk() -> Result<PathBuf, String> {
    if sh("pkg-config --exists libdpdk").is_none() {
        return Err("libdpdk-dev is not installed (apt-get install dpdk-dev libdpdk-dev)".into());
    }
    if sh("id -u").as_deref() != Some("0") {
        return Err("DPDK's secondaries need hugepages: run as root".into());
    }
    if sh("mountpoint -q /dev/hugepages").is_none() {
        return Err("no hugetlbfs at /dev/hugepages".into());
    }
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/dpdk/mp_sync.c");
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ipc_perf_mp_sync");
    let cmd = format!(
        "gcc -O2 -DALLOW_EXPERIMENTAL_API '{src}' -o '{}' $(pkg-config --cflags --libs libdpdk) 2>&1",
        bin.display()
    );
    sh(&cmd).ok_or_else(|| format!("building {src} failed: {cmd}"))?;
    Ok(bin)
}

// ------------------------------------------------------------- figures ----

/// `(utime + stime in clock ticks, thread id)` of the thread of `pid` named `comm`.
fn thread_ticks(pid: u32, comm: &str) -> Option<(u64, u32)> {
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let name = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if name.trim() != comm {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let t = rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?;
        return Some((t, e.file_name().to_string_lossy().parse().ok()?));
    }
    None
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((s.len() as f64 * p) as usize).min(s.len() - 1)]
}

/// Per round medians and 99th percentiles of one side, and all its samples.
#[derive(Default)]
struct Collected {
    rounds: Figures,
    all: std::collections::BTreeMap<String, Vec<f64>>,
}

impl Collected {
    fn add(&mut self, key: &str, lat: Vec<f64>) {
        self.rounds.entry(format!("{key} p50")).or_default().push(median(&lat));
        self.rounds.entry(format!("{key} p99")).or_default().push(percentile(&lat, 0.99));
        self.all.entry(key.to_string()).or_default().extend(lat);
    }
}

fn batch(g: &mut Group, key: &str, n: usize, into: &mut Collected) -> Result<(), String> {
    let lat = match key {
        SEC_TO_PRI => g.secondaries[0].sync(n, 1),
        PRI_TO_ONE => g.primary.sync(n, 1),
        _ => g.primary.sync(n, 3),
    }
    .map_err(|e| format!("{} {key}: {e}", g.side.name()))?;
    into.add(key, lat);
    Ok(())
}

const SEC_TO_PRI: &str = "sync secondary->primary";
const PRI_TO_ONE: &str = "sync primary->1 secondary";
const BCAST3: &str = "sync broadcast->3 secondaries";

fn run() -> Result<(), String> {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (iters, rounds, idle_secs) = if smoke {
        (50, 1, 1)
    } else {
        (env_num("IPC_PERF_ITERS", 2000), env_num("IPC_PERF_ROUNDS", 6), env_num("IPC_PERF_IDLE_SECS", 10))
    };
    let cpus = eal::lcore::available_cpus();
    let cpus = (cpus[0], cpus[1 % cpus.len()]);
    let dpdk = if smoke {
        Err("smoke run (not under cargo bench)".to_string())
    } else if std::env::var("IPC_PERF_SIDES").is_ok_and(|s| s == "bypass") {
        Err("IPC_PERF_SIDES=bypass".to_string())
    } else {
        build_dpdk()
    };
    println!(
        "ipc_perf: {iters} round trips per round and figure ({} for the broadcast), {rounds} rounds, +{WARMUP} \
         warm-up each, {PARAM_LEN}-byte param; primaries on cpu {}, secondaries on cpu {}",
        iters / 2,
        cpus.0,
        cpus.1
    );
    let mut groups = vec![Group::start(Side::Bypass, None, cpus)?];
    match &dpdk {
        Ok(bin) => groups.push(Group::start(Side::Dpdk, Some(bin), cpus)?),
        Err(why) => println!("DPDK 22.11 side skipped: {why}"),
    }
    let mut got: Vec<Collected> = groups.iter().map(|_| Collected::default()).collect();
    let order = |r: usize, n: usize| -> Vec<usize> {
        let mut o: Vec<usize> = (0..n).collect();
        if r % 2 == 1 {
            o.reverse();
        }
        o
    };
    for r in 0..rounds {
        for i in order(r, groups.len()) {
            batch(&mut groups[i], SEC_TO_PRI, iters, &mut got[i])?;
            batch(&mut groups[i], PRI_TO_ONE, iters, &mut got[i])?;
        }
    }
    for g in &mut groups {
        g.add_secondary()?;
        g.add_secondary()?;
    }
    for r in 0..rounds {
        for i in order(r, groups.len()) {
            batch(&mut groups[i], BCAST3, iters / 2, &mut got[i])?;
        }
    }
    println!("\nall samples pooled (µs):");
    for (g, c) in groups.iter().zip(&got) {
        for (k, v) in &c.all {
            let (lo, _) = min_max(v);
            println!(
                "  {:<10} {k:<30} p50 {:>7.2}  p99 {:>7.2}  min {lo:>6.2}  n {}",
                g.side.name(),
                median(v),
                percentile(v, 0.99),
                v.len()
            );
        }
    }
    if got.len() == 2 {
        print_table("IPC sync round trips", "µs", &got[0].rounds, &got[1].rounds, true);
    } else {
        for (k, v) in &got[0].rounds {
            let (lo, hi) = min_max(v);
            println!("  Bypass {k:<36} {lo:.2}/{:.2}/{hi:.2}", median(v));
        }
    }
    // An idle IPC thread sleeps: CPU spent by each primary's IPC thread after the traffic.
    let hz = sh("getconf CLK_TCK").and_then(|s| s.parse::<f64>().ok()).unwrap_or(100.0);
    let comm = |s: Side| if s == Side::Bypass { "bypass-mp" } else { "rte_mp_handle" };
    let before: Vec<_> = groups.iter().map(|g| thread_ticks(g.primary.pid(), comm(g.side))).collect();
    std::thread::sleep(Duration::from_secs(idle_secs as u64));
    println!("\nidle IPC thread of the primary over {idle_secs} s after the traffic:");
    for (g, b) in groups.iter().zip(before) {
        match (b, thread_ticks(g.primary.pid(), comm(g.side))) {
            (Some((b, tid)), Some((a, _))) => println!(
                "  {:<10} {} (tid {tid}): {} ticks = {:.3} % of one CPU",
                g.side.name(),
                comm(g.side),
                a - b,
                (a - b) as f64 / hz / idle_secs as f64 * 100.0
            ),
            _ => println!("  {:<10} thread {} not found", g.side.name(), comm(g.side)),
        }
    }
    for g in groups {
        g.stop();
    }
    if !smoke {
        floor(iters, cpus);
    }
    Ok(())
}

/// The floor under any round trip here: `benches/dpdk/dgram_pingpong.c`, two bare C
/// processes exchanging one datagram each way over connected AF_UNIX SOCK_DGRAM sockets
/// (blocking recv, no poll, no threads), the requester on the secondaries' CPU and the
/// responder where a primary's IPC thread goes (the CPUs its lcore does not use); then
/// with the responder waiting in `ppoll` on its socket and two eventfds first, as an IPC
/// thread that also watches a wake-up and a timer must.
fn floor(iters: usize, cpus: (usize, usize)) {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/dpdk/dgram_pingpong.c");
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ipc_perf_dgram_pingpong");
    let built = sh(&format!("gcc -O2 '{src}' -o '{}' 2>&1", bin.display()));
    println!(
        "
floor: bare C datagram ping-pong (dgram_pingpong.c), same CPUs (µs):"
    );
    if built.is_none() {
        println!("  not built (gcc missing or failed on {src})");
        return;
    }
    let all = eal::lcore::available_cpus();
    let responder = all.iter().copied().find(|&c| c != cpus.0 && c != cpus.1).unwrap_or(cpus.1);
    for mode in ["", "poll"] {
        let cmd = format!("'{}' {} {responder} {iters} {WARMUP} 92 {mode}", bin.display(), cpus.1);
        let lat: Vec<f64> = sh(&cmd)
            .and_then(|o| o.strip_prefix("dgram_pingpong lat").map(str::to_owned))
            .map(|l| l.split_whitespace().filter_map(|w| w.parse().ok()).collect())
            .unwrap_or_default();
        if lat.is_empty() {
            println!("  {cmd}: failed");
            continue;
        }
        println!(
            "  requester cpu {} responder cpu {responder} {:<24} p50 {:>6.2}  p99 {:>7.2}  min {:>6.2}",
            cpus.1,
            if mode.is_empty() { "recv/send" } else { "ppoll + recv/send" },
            median(&lat),
            percentile(&lat, 0.99),
            min_max(&lat).0
        );
    }
}

fn main() {
    if std::env::var_os(CHILD_ENV).is_some() {
        std::process::exit(child());
    }
    if std::env::args().any(|a| a == "--list") {
        return; // test harness probing
    }
    if let Err(e) = run() {
        eprintln!("ipc_perf: {e}");
        std::process::exit(1);
    }
}
