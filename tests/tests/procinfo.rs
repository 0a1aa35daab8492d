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
    let mut t = Proc::spawn(
        &example_bin("testpmd"),
        &[
            "--file-prefix",
            &p,
            "-l",
            "0-1",
            "-m",
            "64",
            "--no-huge",
            "--vdev",
            "net_null0",
            "--vdev",
            "net_null1",
            "--",
            "-i",
        ],
    );
    t.expect("Port 1: Link", T);
    t.send("start");
    t.expect("io packet forwarding", T);
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
