//! Control threads (IPC, telemetry) of a real EAL process run on the CPUs no lcore uses, or
//! on those `--control-cpus` names, and an idle process's IPC thread spends no CPU.

use std::time::Duration;
use tests::{prefix, Proc};

const W: &str = env!("CARGO_BIN_EXE_eal_worker");
const T: Duration = Duration::from_secs(30);

/// `(comm, Cpus_allowed_list, utime + stime in ticks)` of each thread of `pid`.
fn threads(pid: u32) -> Vec<(String, String, u64)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir").flatten() {
        let dir = e.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default().trim().to_string();
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let cpus = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let rest: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
        let ticks = rest.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
            + rest.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        v.push((comm, cpus, ticks));
    }
    v
}

/// `Cpus_allowed_list` of the thread of `pid` named `comm`. A thread names itself, then
/// moves to its CPUs, as it starts, possibly after the process printed READY: this waits
/// up to 5 s for the name and for a list that `settled` accepts, then gives the last seen.
fn cpus_where(pid: u32, comm: &str, settled: impl Fn(&str) -> bool) -> String {
    let end = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let t = threads(pid);
        let found = t.iter().find(|t| t.0 == comm).map(|t| t.1.clone());
        match found {
            Some(c) if settled(&c) || std::time::Instant::now() >= end => return c,
            None if std::time::Instant::now() >= end => panic!("no thread {comm}: {t:?}"),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The CPU list of thread `comm`, once it is `want` (or 5 s passed).
fn cpus_of_is(pid: u32, comm: &str, want: &str) -> String {
    cpus_where(pid, comm, |c| c == want)
}

fn two_cpus() -> bool {
    let n = eal::lcore::available_cpus().len();
    if n < 2 {
        eprintln!("skipped: needs 2 CPUs, this process may use {n}");
    }
    n >= 2
}

#[test]
fn control_threads_stay_off_the_lcores_cpus() {
    if !two_cpus() {
        return;
    }
    let cpus = eal::lcore::available_cpus();
    let (a, b) = (cpus[0].to_string(), cpus[1].to_string());
    // The lcore runs on the second CPU: IPC and telemetry go to the others (the first).
    let p = prefix("ctl_free");
    let lc = format!("0@{b}");
    let mut w = Proc::spawn(W, &["--file-prefix", &p, "--lcores", &lc, "-m", "16", "--no-huge", "--", "hold"]);
    w.expect("READY", T);
    let pid = w.child.id();
    if cpus.len() == 2 {
        assert_eq!(cpus_of_is(pid, "bypass-mp", &a), a);
    }
    let off_b = |c: &str| !c.split([',', '-']).any(|c| c == b);
    assert!(off_b(&cpus_where(pid, "bypass-mp", off_b)), "IPC thread shares the lcore's CPU");
    assert!(off_b(&cpus_where(pid, "bypass-telemetr", off_b)));
    assert_eq!(cpus_of_is(pid, "eal_worker", &b), b, "the main lcore stays on its CPU");
    // Idle: the IPC thread spends (about) no CPU over a second.
    let before = threads(pid).into_iter().find(|t| t.0 == "bypass-mp").map(|t| t.2).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(1500));
    let after = threads(pid).into_iter().find(|t| t.0 == "bypass-mp").map(|t| t.2).unwrap_or(0);
    assert!(after - before <= 2, "an idle IPC thread used {} ticks of CPU in 1.5 s", after - before);
    w.close_stdin();
    assert_eq!(w.finish(T).0, Some(0));

    // Named with --control-cpus: there, even on an lcore's CPU.
    let p = prefix("ctl_named");
    let mut w = Proc::spawn(
        W,
        &["--file-prefix", &p, "--lcores", &lc, "--control-cpus", &b, "-m", "16", "--no-huge", "--", "hold"],
    );
    w.expect("READY", T);
    assert_eq!(cpus_of_is(w.child.id(), "bypass-mp", &b), b);
    w.close_stdin();
    assert_eq!(w.finish(T).0, Some(0));

    // A CPU this process may not use is refused with the list it may.
    let p = prefix("ctl_bad");
    let (code, out) =
        Proc::spawn(W, &["--file-prefix", &p, "--control-cpus", "1023", "--no-huge", "--", "hold"]).finish(T);
    assert_ne!(code, Some(0));
    assert!(out.iter().any(|l| l.contains("cpu 1023 is not available")), "{out:?}");
}

#[test]
fn control_threads_as_dpdk_places_them() {
    if !two_cpus() {
        return;
    }
    let cpus = eal::lcore::available_cpus();
    let (a, b) = (cpus[0].to_string(), cpus[1].to_string());
    // `-l 0`: lcore 0 on the first CPU; the IPC and telemetry threads on the others.
    let p = prefix("ctl_l0");
    let mut w = Proc::spawn(W, &["--file-prefix", &p, "-l", "0", "-m", "16", "--no-huge", "--", "hold"]);
    w.expect("READY", T);
    let pid = w.child.id();
    assert_eq!(cpus_of_is(pid, "eal_worker", &a), a);
    if cpus.len() == 2 {
        assert_eq!(cpus_of_is(pid, "bypass-mp", &b), b, "the CPU no lcore uses");
        assert_eq!(cpus_of_is(pid, "bypass-telemetr", &b), b);
    }
    w.close_stdin();
    assert_eq!(w.finish(T).0, Some(0));

    // Every CPU an lcore's (`-l 0-1` on two CPUs): the main lcore's CPU, as DPDK.
    if cpus.len() == 2 {
        let p = prefix("ctl_l01");
        let lc = format!("0@{a},1@{b}");
        let mut w = Proc::spawn(W, &["--file-prefix", &p, "--lcores", &lc, "-m", "16", "--no-huge", "--", "hold"]);
        w.expect("READY", T);
        assert_eq!(cpus_of_is(w.child.id(), "bypass-mp", &a), a);
        assert_eq!(cpus_of_is(w.child.id(), "bypass-telemetr", &a), a);
        w.close_stdin();
        assert_eq!(w.finish(T).0, Some(0));
        let p = prefix("ctl_l01m");
        let mut w = Proc::spawn(
            W,
            &["--file-prefix", &p, "--lcores", &lc, "--main-lcore", "1", "-m", "16", "--no-huge", "--", "hold"],
        );
        w.expect("READY", T);
        assert_eq!(cpus_of_is(w.child.id(), "bypass-mp", &b), b, "follows --main-lcore");
        w.close_stdin();
        assert_eq!(w.finish(T).0, Some(0));
    }

    // A list that is not a CPU list is refused naming the option.
    let p = prefix("ctl_junk");
    let (code, out) =
        Proc::spawn(W, &["--file-prefix", &p, "--control-cpus", "1-x", "--no-huge", "--", "hold"]).finish(T);
    assert_ne!(code, Some(0));
    assert!(out.iter().any(|l| l.contains("--control-cpus: invalid core list '1-x'")), "{out:?}");
}
