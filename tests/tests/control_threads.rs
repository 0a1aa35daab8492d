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

fn cpus_of(pid: u32, comm: &str) -> String {
    let t = threads(pid);
    t.iter().find(|t| t.0 == comm).map(|t| t.1.clone()).unwrap_or_else(|| panic!("no thread {comm}: {t:?}"))
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
        assert_eq!(cpus_of(pid, "bypass-mp"), a);
    }
    assert!(!cpus_of(pid, "bypass-mp").split([',', '-']).any(|c| c == b), "IPC thread shares the lcore's CPU");
    assert!(!cpus_of(pid, "bypass-telemetr").split([',', '-']).any(|c| c == b));
    assert_eq!(cpus_of(pid, "eal_worker"), b, "the main lcore stays on its CPU");
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
    assert_eq!(cpus_of(w.child.id(), "bypass-mp"), b);
    w.close_stdin();
    assert_eq!(w.finish(T).0, Some(0));

    // A CPU this process may not use is refused with the list it may.
    let p = prefix("ctl_bad");
    let (code, out) =
        Proc::spawn(W, &["--file-prefix", &p, "--control-cpus", "1023", "--no-huge", "--", "hold"]).finish(T);
    assert_ne!(code, Some(0));
    assert!(out.iter().any(|l| l.contains("cpu 1023 is not available")), "{out:?}");
}
