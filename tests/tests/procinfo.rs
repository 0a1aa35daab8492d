//! procinfo (tools/procinfo) against a running testpmd: it attaches as a secondary and shows
//! the ports' counters, extended counters, ports, mempools and rings, resets the counters,
//! and explains bad options and a missing primary.

use std::time::Duration;
use tests::{example_bin, prefix, Proc};

const T: Duration = Duration::from_secs(60);

fn procinfo(p: &str, app: &[&str]) -> (Option<i32>, Vec<String>) {
    let mut a = vec!["--file-prefix", p, "--no-huge", "--"];
    a.extend_from_slice(app);
    Proc::spawn(&example_bin("procinfo"), &a).finish(T)
}

fn value(out: &[String], key: &str) -> u64 {
    out.iter()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {out:#?}"))
}

#[test]
fn procinfo_reads_a_running_testpmd() {
    let p = prefix("procinfo");
    let mut t = tests::testpmd_forwarding(&p, "net_null0", "net_null1");
    std::thread::sleep(Duration::from_millis(300));
    t.send("stop");
    t.expect("Accumulated forward statistics", T);

    let (code, out) = procinfo(&p, &["--stats", "--xstats", "--show-port", "--show-mempool", "--show-ring"]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("NIC statistics for port 0")), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("NIC statistics for port 1")), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("- port 1: net_null1 (net_null)")), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("- mempool mb_pool_0: size")), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("- ring MP_mb_pool_0")), "{out:#?}");
    assert!(!out.iter().any(|l| l.contains("not refreshed")), "the primary answers the counter refresh: {out:#?}");
    let rx = value(&out, "rx_good_packets");
    assert!(rx > 0, "forwarded packets are counted: {out:#?}");
    assert_eq!(value(&out, "rx_q0_packets"), rx, "{out:#?}");

    let (code, out) = procinfo(&p, &["--xstats", "-p", "0x2"]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("extended statistics for port 1")), "{out:#?}");
    assert!(!out.iter().any(|l| l.contains("extended statistics for port 0")), "-p selects: {out:#?}");

    let (code, out) = procinfo(&p, &["--stats-reset"]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("NIC statistics for port 0 reset")), "{out:#?}");
    let (_, out) = procinfo(&p, &["--xstats", "-p", "1"]);
    assert_eq!(value(&out, "rx_good_packets"), 0, "{out:#?}");

    // Two at once: each takes its own lcore.
    let a = Proc::spawn(&example_bin("procinfo"), &["--file-prefix", &p, "--no-huge", "--", "--stats"]);
    let b = Proc::spawn(&example_bin("procinfo"), &["--file-prefix", &p, "--no-huge", "--", "--stats"]);
    for (code, out) in [a.finish(T), b.finish(T)] {
        assert_eq!(code, Some(0), "{out:#?}");
    }

    let (code, out) = procinfo(&p, &["--bogus"]);
    assert_eq!(code, Some(1));
    assert!(out.iter().any(|l| l.contains("unknown option '--bogus'")), "{out:#?}");
    let (code, out) = procinfo(&p, &["-p", "zz"]);
    assert_eq!(code, Some(1));
    assert!(out.iter().any(|l| l.contains("invalid port mask 'zz'")), "{out:#?}");

    t.send("quit");
    assert_eq!(t.finish(T).0, Some(0));
    let (code, out) = procinfo(&p, &["--stats"]);
    assert_eq!(code, Some(1));
    assert!(out.iter().any(|l| l.contains("no primary process is running")), "{out:#?}");
}

const PEER: &str = env!("CARGO_BIN_EXE_ring_peer");

/// Injects `n` numbered frames into ring `inject` and collects them from `collect`
/// (`nq_out` queues); every one must come out once.
fn inject(p: &str, lcores: &str, inject: &str, collect: &str, nq_out: &str, n: u32) {
    let count = n.to_string();
    let peer = Proc::spawn(
        PEER,
        &[
            "--file-prefix",
            p,
            "--no-huge",
            "--lcores",
            lcores,
            "--proc-type",
            "secondary",
            "--",
            inject,
            "1",
            collect,
            nq_out,
            &count,
            "64",
            "0",
        ],
    );
    let (code, out) = peer.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.starts_with(&format!("COLLECTED total={n} dups=0 bad=0"))), "{out:#?}");
}

/// The value after `key` in the statistics block of port `port`.
fn port_stat(out: &[String], port: u16, key: &str) -> u64 {
    let at = out
        .iter()
        .position(|l| l.contains(&format!("NIC statistics for port {port} ")))
        .unwrap_or_else(|| panic!("no port {port} in {out:#?}"));
    out[at..]
        .iter()
        .find_map(|l| l.split(key).nth(1))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} for port {port} in {out:#?}"))
}

fn sigint(p: &Proc) {
    let pid = p.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().expect("kill").success());
}

fn pool_full(out: &[String]) {
    let pool = out.iter().find(|l| l.starts_with("Pool ")).unwrap_or_else(|| panic!("no pool line: {out:#?}"));
    let free: Vec<u64> = pool.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(free[0], free[1], "every mbuf back in the pool: {pool}");
}

#[test]
fn procinfo_reads_l2fwd_and_a_killed_procinfo_leaves_it_forwarding() {
    let p = prefix("pi_l2fwd");
    let mut l2 = Proc::spawn(
        &example_bin("l2fwd"),
        &[
            "--file-prefix",
            &p,
            "--no-huge",
            "-m",
            "64",
            "-l",
            "0-1",
            "--vdev",
            "net_ring0,rx=la,tx=lb",
            "--vdev",
            "net_ring1,rx=lc,tx=ld",
            "--",
            "-p",
            "3",
            "-T",
            "0",
            "--no-mac-updating",
        ],
    );
    l2.expect("Lcore 1: RX port 1 -> TX port 0", T);
    inject(&p, "2@0", "la", "ld", "1", 1000);
    let (code, out) = procinfo(&p, &["--stats"]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert_eq!(port_stat(&out, 0, "RX-packets:"), 1000, "{out:#?}");
    assert_eq!(port_stat(&out, 1, "TX-packets:"), 1000, "{out:#?}");
    assert_eq!(port_stat(&out, 1, "RX-packets:"), 0, "{out:#?}");

    let (code, out) = procinfo(&p, &["--show-memzone", "--show-mp-peers"]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("- memzone ethdev_ports: address 0x")), "{out:#?}");
    let l2pid = l2.child.id();
    assert!(out.iter().any(|l| l.contains(&format!("- pid {l2pid}: primary, alive, lcores [0, 1]"))), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("secondary (this procinfo), alive")), "{out:#?}");
    assert!(out.iter().any(|l| l == "  capture: none"), "{out:#?}");

    let (code, out) = procinfo(&p, &["--xstats-reset", "-p", "0x1"]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("extended statistics for port 0 reset")), "{out:#?}");
    let (_, out) = procinfo(&p, &["--xstats"]);
    assert_eq!(value(&out, "rx_good_packets"), 0, "{out:#?}");

    // --watch prints rates; kill -9 it in the middle of its run.
    let a = ["--file-prefix", &p, "--no-huge", "--", "--watch", "30"];
    let mut w = Proc::spawn(&example_bin("procinfo"), &a);
    w.expect("port 1: Rx-pps:", T);
    w.kill9();
    // The primary still forwards everything, and a new procinfo attaches.
    inject(&p, "3@1", "la", "ld", "1", 1000);
    let (code, out) = procinfo(&p, &["--stats", "-p", "0x2"]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert_eq!(port_stat(&out, 1, "TX-packets:"), 2000, "{out:#?}");
    sigint(&l2);
    let (code, out) = l2.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    pool_full(&out);
}

#[test]
fn procinfo_reads_client_server_mp() {
    let p = prefix("pi_csmp");
    let tests::samples::ClientServer { mut server, clients } =
        tests::samples::client_server_mp(&p, ["pa", "pb", "pc", "pd"], 2, T);
    inject(&p, "3@1", "pa", "pd", "2", 1000);
    let (code, out) = procinfo(&p, &["--stats"]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert_eq!(port_stat(&out, 0, "RX-packets:"), 1000, "the server's receive: {out:#?}");
    assert_eq!(port_stat(&out, 1, "TX-packets:"), 1000, "the clients' sends: {out:#?}");
    let (code, out) = procinfo(&p, &["--show-mp-peers"]);
    assert_eq!(code, Some(0), "{out:#?}");
    for c in &clients {
        let pid = c.child.id();
        assert!(out.iter().any(|l| l.contains(&format!("- pid {pid}: secondary, alive"))), "{out:#?}");
    }
    for mut c in clients {
        c.send("");
        assert_eq!(c.finish(T).0, Some(0));
    }
    server.send("");
    let (code, out) = server.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    pool_full(&out);
}
