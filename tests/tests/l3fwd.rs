//! l3fwd over two `net_ring` ports whose rings an `l3fwd_peer` secondary feeds and drains:
//! IPv4 and IPv6 frames are routed by LPM (routes from DPDK-format rule files) or by exact
//! match (default routes or rule files) to the right port, with the TTL or hop limit
//! decremented, the IPv4 header checksum (and the IPv6 UDP checksum) still right and the
//! Ethernet addresses rewritten; bad checksums, expiring TTLs and unrouted addresses are
//! dropped and counted; routes added over telemetry while running are used by the primary
//! and a secondary at once; Ctrl-C ends l3fwd with every mbuf back in the pool.

use std::process::Command;
use std::time::Duration;
use tests::telemetry_client::connect_retry;
use tests::{example_bin, prefix, runtime_dir, Proc};

const T: Duration = Duration::from_secs(60);
const PEER: &str = env!("CARGO_BIN_EXE_l3fwd_peer");

/// EAL options of the two `net_ring` ports whose rings `l3fwd_peer` feeds and drains.
const RING_PORTS: [&str; 4] = ["--vdev", "net_ring0,rx=l3i0,tx=l3o0", "--vdev", "net_ring1,rx=l3i1,tx=l3o1"];

#[path = "../../examples/benches/shared/l3fwd_args.rs"]
mod l3fwd_args;

struct Got {
    out: usize,
    v: u8,
    id: u16,
    ttl: u8,
    line: String,
}

fn got(out: &[String]) -> Vec<Got> {
    out.iter()
        .filter(|l| l.starts_with("GOT "))
        .map(|l| {
            let f = |k: &str| l.split_whitespace().find_map(|w| w.strip_prefix(k)).unwrap().to_string();
            Got {
                out: f("out=").parse().unwrap(),
                v: f("v=").parse().unwrap(),
                id: f("id=").parse().unwrap(),
                ttl: f("ttl=").parse().unwrap(),
                line: l.clone(),
            }
        })
        .collect()
}

/// Starts l3fwd with `app` options, runs the peer with `specs` into port 0, stops l3fwd and
/// returns (frames out, l3fwd's output, the peer's output).
fn run(tag: &str, app: &[&str], specs: &[&str]) -> (Vec<Got>, Vec<String>, Vec<String>) {
    let p = prefix(tag);
    let mut args = vec!["--file-prefix", &p, "--no-huge", "-m", "256", "-l", "0-1"];
    args.extend_from_slice(&RING_PORTS);
    args.push("--");
    args.extend_from_slice(app);
    let mut l3 = Proc::spawn(&example_bin("l3fwd"), &args);
    l3.expect("L3FWD: entering main loop on lcore 1", T);
    let mut pargs = vec!["--file-prefix", &p, "--no-huge", "--lcores", "2@0", "--proc-type", "secondary", "--"];
    pargs.extend_from_slice(&["l3i0_0", "l3o0_0,l3o1_0"]);
    pargs.extend_from_slice(specs);
    let (code, pout) = Proc::spawn(PEER, &pargs).finish(T);
    assert_eq!(code, Some(0), "{pout:#?}");
    let frames = specs.iter().filter(|s| !is_action(s)).count();
    assert!(pout.iter().any(|l| l == &format!("INJECTED {frames}")), "{pout:#?}");
    let pid = l3.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill").success());
    let (code, out) = l3.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    let pool = out.iter().find(|l| l.starts_with("Pool mbuf_pool:")).expect("pool line");
    let free: Vec<u64> = pool.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(free[0], free[1], "{pool}");
    (got(&pout), out, pout)
}

/// A table action of the peer (`lpm-add:...`), not a frame.
fn is_action(s: &str) -> bool {
    s.split_once(':').is_some_and(|(a, _)| ["lpm-add", "em-add", "em-open"].contains(&a))
}

fn check(frames: &[Got], want: &[(u16, usize, u8)]) {
    assert_eq!(frames.len(), want.len(), "{:#?}", frames.iter().map(|g| &g.line).collect::<Vec<_>>());
    for &(id, port, ttl) in want {
        let g = frames.iter().find(|g| g.id == id).unwrap_or_else(|| panic!("frame {id} not forwarded"));
        assert_eq!((g.out, g.ttl), (port, ttl), "frame {id}: {}", g.line);
        assert!(g.line.contains("csum=ok"), "{}", g.line);
        assert!(g.line.contains(&format!("dmac=02:00:00:00:00:0{port} smac=02:00:00:00:00:0{port}")), "{}", g.line);
    }
}

#[test]
fn l3fwd_routes_by_lpm_from_a_rule_file() {
    let dir = std::env::temp_dir().join(format!("l3fwd_rules_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules_v4.cfg");
    std::fs::write(
        &rules,
        "# DPDK format\nR198.18.0.0/24 0\nR198.18.1.0/24 1\nR10.0.0.0/8 1\nR10.1.0.0/16 0\nR10.1.2.128/25 1\nR10.1.2.3/32 0\n\
         R172.16.0.0/12 5\n",
    )
    .unwrap();
    let specs = [
        "198.18.1.5,64,10.0.0.1,1,2,0", // 0 -> port 1
        "198.18.0.7,10,10.0.0.1,1,2,0", // 1 -> port 0
        "10.9.9.9,64,10.0.0.1,1,2,0",   // 2 -> /8 port 1
        "10.1.9.9,64,10.0.0.1,1,2,0",   // 3 -> /16 port 0
        "10.1.2.200,2,10.0.0.1,1,2,0",  // 4 -> /25 port 1, ttl 2 -> 1
        "10.1.2.3,64,10.0.0.1,1,2,0",   // 5 -> /32 port 0
        "10.1.2.4,64,10.0.0.1,1,2,0",   // 6 -> /16 port 0
        "192.0.2.1,64,10.0.0.1,1,2,0",  // no route
        "198.18.1.5,1,10.0.0.1,1,2,0",  // TTL expires
        "198.18.1.5,0,10.0.0.1,1,2,0",  // TTL expires
        "198.18.1.5,64,10.0.0.1,1,2,1", // bad checksum
        "172.16.0.1,64,10.0.0.1,1,2,0", // route to port 5, not enabled: skipped
    ];
    let rules = rules.to_string_lossy().into_owned();
    let (frames, out, _) =
        run("l3fwd_lpm", &["-p", "0x3", "-P", "--config", "(0,0,1),(1,0,1)", "--rule_ipv4", &rules], &specs);
    let _ = std::fs::remove_dir_all(&dir);
    check(&frames, &[(0, 1, 63), (1, 0, 9), (2, 1, 63), (3, 0, 63), (4, 1, 1), (5, 0, 63), (6, 0, 63)]);
    assert!(out.iter().any(|l| l == "LPM: Adding route 10.1.2.128 / 25 (1)"), "{out:#?}");
    assert!(!out.iter().any(|l| l.contains("172.16.0.0")), "a route to a disabled port is skipped");
    assert!(out.iter().any(|l| l == "Drops: not_ip=0 bad_header=1 ttl_expired=2 no_route=2"), "{out:#?}");
    assert!(out.iter().any(|l| l == "Port 0: rx=12 tx=4 dropped=5"), "{out:#?}");
    assert!(out.iter().any(|l| l == "Port 1: rx=0 tx=3 dropped=0"), "{out:#?}");
}

#[test]
fn l3fwd_routes_by_exact_match_with_default_routes() {
    let specs = [
        "198.18.1.0,64,198.18.1.1,9,9,0",  // DPDK's default EM route to port 1
        "198.18.0.0,64,198.18.0.1,9,9,0",  // ... to port 0
        "198.18.1.0,64,198.18.1.1,9,10,0", // another port number: no route
        "198.18.1.0,64,198.18.1.2,9,9,0",  // another source: no route
    ];
    let (frames, out, _) = run("l3fwd_em", &["-p3", "--lookup=em"], &specs);
    check(&frames, &[(0, 1, 63), (1, 0, 63)]);
    assert!(out.iter().any(|l| l == "EM: Adding route 198.18.1.0 198.18.1.1 9 9 17 (1)"), "{out:#?}");
    assert!(out.iter().any(|l| l == "Drops: not_ip=0 bad_header=0 ttl_expired=0 no_route=2"), "{out:#?}");
}

/// Bad options and rule files are named with the fix, and l3fwd exits 1.
#[test]
fn l3fwd_explains_bad_options() {
    let p = prefix("l3fwd_bad");
    let dir = std::env::temp_dir().join(format!("l3fwd_bad_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.cfg");
    std::fs::write(&bad, "R198.18.0.0/24 0\nR198.18.1.0 1\n").unwrap();
    let bad = bad.to_string_lossy().into_owned();
    for (app, msg) in [
        (&["-p0"][..], "invalid portmask '0'"),
        (&["-p3", "--config", "(0,0)"], "expected (port,queue,lcore)"),
        (&["-p1", "--config", "(1,0,1)"], "names port 1, which -p 0x1 does not enable"),
        (&["-p3", "--config", "(0,0,7)"], "lcore 7, which is not enabled"),
        (&["-p3", "--config", "(0,1,1)"], "not all of 0..2"),
        (&["-p3", "--lookup", "fib"], "invalid value 'fib' for --lookup"),
        (&["-p3", "--rule_ipv4", &bad], "line 2: '198.18.1.0' lacks '/<depth>'"),
        (&["-p3", "--rule_ipv4", "/nonexistent/rules"], "--rule_ipv4 /nonexistent/rules: cannot read"),
    ] {
        let mut args =
            vec!["--file-prefix", &p, "--no-huge", "-l0-1", "-m256", "--vdev=net_null0", "--vdev=net_null1", "--"];
        args.extend_from_slice(app);
        let (code, out) = Proc::spawn(&example_bin("l3fwd"), &args).finish(T);
        assert_eq!(code, Some(1), "{app:?}: {out:#?}");
        assert!(out.iter().any(|l| l.contains(msg)), "{app:?}: expected {msg:?} in {out:#?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The tables live in shared memory and hold no pointers: a secondary of another program
/// (the peer) finds them by name, adds a route and a 5-tuple that l3fwd then forwards by,
/// and opening the EM table with the wrong key size is refused with the stored size.
#[test]
fn l3fwd_forwards_by_entries_another_process_added() {
    let (frames, _, pout) = run(
        "l3fwd_lpm_mp",
        &["-p3"],
        &["lpm-add:203.0.113.0/24:1", "203.0.113.9,64,10.0.0.1,1,2,0", "203.0.114.9,64,10.0.0.1,1,2,0"],
    );
    assert!(pout.iter().any(|l| l == "ADDED lpm-add:203.0.113.0/24:1"), "{pout:#?}");
    check(&frames, &[(0, 1, 63)]);
    let (frames, out, pout) = run(
        "l3fwd_em_mp",
        &["-p3", "-E"],
        &["em-open:16", "em-add:192.0.2.7,192.0.2.1,53,4000,17:0", "192.0.2.7,30,192.0.2.1,4000,53,0"],
    );
    let err = pout.iter().find(|l| l.starts_with("OPEN_ERROR")).unwrap_or_else(|| panic!("{pout:#?}"));
    assert!(err.contains("holds keys of 13 bytes, not 16"), "{err}");
    check(&frames, &[(0, 0, 29)]);
    assert!(out.iter().any(|l| l == "Drops: not_ip=0 bad_header=0 ttl_expired=0 no_route=0"), "{out:#?}");
}

/// Multi-process mode: a secondary l3fwd forwards RX queue 1 of every port on TX queue 1 with
/// the primary's LPM table, found by name; the primary forwards nothing of it.
#[test]
fn l3fwd_secondary_forwards_its_queue_with_the_primarys_table() {
    let p = prefix("l3fwd_mp");
    let mut args = vec!["--file-prefix", &p, "--no-huge", "-m", "256", "-l", "0-1", "--proc-type", "primary"];
    args.extend_from_slice(&RING_PORTS);
    args.extend_from_slice(&["--", "-p3", "--num-procs", "2", "--proc-id", "0"]);
    let mut pri = Proc::spawn(&example_bin("l3fwd"), &args);
    pri.expect("L3FWD: entering main loop on lcore 1", T);
    let mut sec = Proc::spawn(
        &example_bin("l3fwd"),
        &[
            "--file-prefix",
            &p,
            "--no-huge",
            "--lcores",
            "2@1",
            "--proc-type",
            "secondary",
            "--",
            "-p3",
            "--num-procs=2",
            "--proc-id=1",
        ],
    );
    sec.expect("L3FWD: entering main loop on lcore 2", T);
    let (code, pout) = Proc::spawn(
        PEER,
        &[
            "--file-prefix",
            &p,
            "--no-huge",
            "--lcores",
            "3@0",
            "--proc-type",
            "secondary",
            "--",
            "l3i0_1",
            "l3o0_1,l3o1_1",
            "198.18.1.5,64,10.0.0.1,1,2,0",
            "198.18.0.5,9,10.0.0.1,1,2,0",
            "198.19.0.5,9,10.0.0.1,1,2,0",
        ],
    )
    .finish(T);
    assert_eq!(code, Some(0), "{pout:#?}");
    check(&got(&pout), &[(0, 1, 63), (1, 0, 8)]);
    for proc in [&sec, &pri] {
        let pid = proc.child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill").success());
    }
    let (code, sout) = sec.finish(T);
    assert_eq!(code, Some(0), "{sout:#?}");
    assert!(sout.iter().any(|l| l == "Port 0: rx=3 tx=1 dropped=1"), "{sout:#?}");
    assert!(sout.iter().any(|l| l == "Drops: not_ip=0 bad_header=0 ttl_expired=0 no_route=1"), "{sout:#?}");
    let (code, out) = pri.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l == "Port 0: rx=0 tx=0 dropped=0"), "{out:#?}");
    let pool = out.iter().find(|l| l.starts_with("Pool mbuf_pool:")).expect("pool line");
    let free: Vec<u64> = pool.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(free[0], free[1], "{pool}");
}

/// IPv6 next to IPv4 by LPM, routes from `--rule_ipv4` and `--rule_ipv6` files: each frame
/// leaves on its longest prefix's port with the hop limit decremented and its UDP checksum
/// still right; an expiring hop limit, a bad version and an unrouted address are dropped.
#[test]
fn l3fwd_routes_ipv6_by_lpm_from_rule_files() {
    let dir = std::env::temp_dir().join(format!("l3fwd_rules6_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (r4, r6) = (dir.join("v4.cfg"), dir.join("v6.cfg"));
    std::fs::write(&r4, "R198.18.0.0/24 0\nR198.18.1.0/24 1\n").unwrap();
    std::fs::write(&r6, "# IPv6\nR2001:db8::/32 1\nR2001:db8:1::/48 0\nR2001:db8:1:2::/64 1\nR2001:db8:1:2::7/128 0\n")
        .unwrap();
    let (r4, r6) = (r4.to_string_lossy().into_owned(), r6.to_string_lossy().into_owned());
    let src = "2001:db8:ffff::1";
    let specs = [
        &format!("2001:db8:9::1,64,{src},1,2,0")[..], // 0 -> /32 port 1
        &format!("2001:db8:1:9::1,64,{src},1,2,0"),   // 1 -> /48 port 0
        &format!("2001:db8:1:2::5,2,{src},1,2,0"),    // 2 -> /64 port 1, hop limit 2 -> 1
        &format!("2001:db8:1:2::7,64,{src},1,2,0"),   // 3 -> /128 port 0
        "198.18.1.5,64,10.0.0.1,1,2,0",               // 4 -> IPv4 port 1
        &format!("2001:db9::1,64,{src},1,2,0"),       // no route
        &format!("2001:db8:9::1,1,{src},1,2,0"),      // hop limit expires
    ];
    let (frames, out, _) = run("l3fwd_lpm6", &["-p3", "--rule_ipv4", &r4, "--rule_ipv6", &r6], &specs);
    let _ = std::fs::remove_dir_all(&dir);
    check(&frames, &[(0, 1, 63), (1, 0, 63), (2, 1, 1), (3, 0, 63), (4, 1, 63)]);
    let v: Vec<(u16, u8)> = frames.iter().map(|g| (g.id, g.v)).collect();
    assert!(v.iter().all(|&(id, v)| v == if id == 4 { 4 } else { 6 }), "{v:?}");
    assert!(out.iter().any(|l| l == "LPM: Adding route 2001:db8:1:2:: / 64 (1)"), "{out:#?}");
    assert!(out.iter().any(|l| l == "Drops: not_ip=0 bad_header=0 ttl_expired=1 no_route=1"), "{out:#?}");
}

/// IPv6 by exact match: the default IPv6 5-tuples and a `--rule_ipv6` file's.
#[test]
fn l3fwd_routes_ipv6_by_exact_match() {
    let (frames, out, _) = run(
        "l3fwd_em6",
        &["-p3", "-E"],
        &[
            "2001:200:0:1::,64,2001:200:0:1::1,9,9,0",  // default route to port 1
            "2001:200:0:0::,30,2001:200:0:0::1,9,9,0",  // ... to port 0
            "2001:200:0:1::,64,2001:200:0:1::1,9,10,0", // another port number: no route
            "198.18.1.0,64,198.18.1.1,9,9,0",           // IPv4 default route to port 1
        ],
    );
    check(&frames, &[(0, 1, 63), (1, 0, 29), (3, 1, 63)]);
    assert!(out.iter().any(|l| l == "EM: Adding route 2001:200:0:1:: 2001:200:0:1::1 9 9 17 (1)"), "{out:#?}");
    assert!(out.iter().any(|l| l == "Drops: not_ip=0 bad_header=0 ttl_expired=0 no_route=1"), "{out:#?}");
    let dir = std::env::temp_dir().join(format!("l3fwd_em6_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r6 = dir.join("v6.cfg");
    std::fs::write(&r6, "R2001:db8::5 2001:db8::9 53 4000 17 1\nR2001:db8::5 2001:db8::9 53 4001 6 0\n").unwrap();
    let r6 = r6.to_string_lossy().into_owned();
    let (frames, _, _) = run(
        "l3fwd_em6_file",
        &["-p3", "--lookup", "em", "--rule_ipv6", &r6],
        &["2001:db8::5,64,2001:db8::9,4000,53,0", "2001:db8::5,64,2001:db8::9,4001,53,0"],
    );
    let _ = std::fs::remove_dir_all(&dir);
    // The second rule is for TCP: the UDP frame of that tuple has no route.
    check(&frames, &[(0, 1, 63)]);
}

/// Multi-process mode with routes added while running: the telemetry command
/// `/l3fwd/route_add` of the primary adds an IPv4 and an IPv6 route, and frames to them are
/// forwarded at once both by the primary (queue 0) and by a secondary l3fwd (queue 1); a
/// bad rule is refused (null reply) and changes nothing.
#[test]
fn l3fwd_route_added_at_run_time_is_used_by_every_process() {
    let p = prefix("l3fwd_rt");
    let l3 = |extra: &[&str], app: &[&str]| {
        let mut a = vec!["--file-prefix", &p, "--no-huge", "-m", "256"];
        a.extend_from_slice(extra);
        a.push("--");
        a.extend_from_slice(&["-p3", "--num-procs", "2"]);
        a.extend_from_slice(app);
        Proc::spawn(&example_bin("l3fwd"), &a)
    };
    let mut pri = l3(&[&["-l", "0-1", "--proc-type", "primary"], &RING_PORTS[..]].concat(), &["--proc-id", "0"]);
    pri.expect("L3FWD: entering main loop on lcore 1", T);
    let mut sec = l3(&["--lcores", "2@1", "--proc-type", "secondary"], &["--proc-id", "1"]);
    sec.expect("L3FWD: entering main loop on lcore 2", T);
    let peer = |queue: u16, specs: &[&str]| {
        let (i, o) = (format!("l3i0_{queue}"), format!("l3o0_{queue},l3o1_{queue}"));
        let lc = format!("{}@0", 3 + queue);
        let mut a = vec!["--file-prefix", &p, "--no-huge", "--lcores", &lc, "--proc-type", "secondary", "--", &i, &o];
        a.extend_from_slice(specs);
        let (code, out) = Proc::spawn(PEER, &a).finish(T);
        assert_eq!(code, Some(0), "{out:#?}");
        got(&out)
    };
    let specs = ["203.0.113.9,64,10.0.0.1,1,2,0", "2001:db8:77::1,64,2001:db8::1,1,2,0"];
    // Before the routes exist, neither process forwards these frames.
    assert!(peer(0, &specs).is_empty());
    assert!(peer(1, &specs).is_empty());
    let c = connect_retry(&runtime_dir(&p).join("dpdk_telemetry.v2"));
    assert_eq!(c.ask("/l3fwd/route_add,203.0.113.0/24,1"), "203.0.113.0/24,1 -> port 1");
    assert_eq!(c.ask("/l3fwd/route_add,2001:db8:77::/48,0"), "2001:db8:77::/48,0 -> port 0");
    assert!(c.ask("/l3fwd/route_add,203.0.113.0/33,1").is_null(), "depth 33 refused");
    assert!(c.ask("/l3fwd/route_add,192.0.2.0/24,7").is_null(), "port 7 is not forwarding");
    for q in [0, 1] {
        check(&peer(q, &specs), &[(0, 1, 63), (1, 0, 63)]);
        assert!(peer(q, &["192.0.2.1,64,10.0.0.1,1,2,0"]).is_empty(), "the refused route was not added");
    }
    for proc in [&sec, &pri] {
        let pid = proc.child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill").success());
    }
    let (code, sout) = sec.finish(T);
    assert_eq!(code, Some(0), "{sout:#?}");
    assert!(sout.iter().any(|l| l == "Port 0: rx=5 tx=1 dropped=3"), "{sout:#?}");
    let (code, out) = pri.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l == "Port 0: rx=5 tx=1 dropped=3"), "{out:#?}");
}

/// The numbers of `Port P: rx=.. tx=.. dropped=..` in l3fwd's exit report.
fn port_counts(out: &[String], port: u16) -> (u64, u64, u64) {
    let l = out.iter().find(|l| l.starts_with(&format!("Port {port}: rx="))).unwrap_or_else(|| panic!("{out:#?}"));
    let n: Vec<u64> = l.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    (n[1], n[2], n[3])
}

/// `net_null` ports that make IPv4/UDP frames (`ipv4-dst`, `ipv4-src`: the flow of l3fwd's
/// default exact-match entry of the other port) give l3fwd real routing work with no peer
/// process (the setup of the l3fwd benchmark): every frame is routed, by LPM and by EM, to
/// the other port, none dropped as malformed or unrouted.
#[test]
fn l3fwd_routes_every_frame_of_ipv4_null_ports_to_the_other_port() {
    for lookup in ["lpm", "em"] {
        let p = prefix("l3null");
        let mut args = vec!["--file-prefix", &p, "--no-huge", "-m", "256", "-l", "0-1"];
        args.extend_from_slice(&l3fwd_args::NULL_PORTS);
        args.push("--");
        args.extend_from_slice(&l3fwd_args::both_ports_on_lcore_1(lookup));
        let mut l3 = Proc::spawn(&example_bin("l3fwd"), &args);
        l3.expect("L3FWD: entering main loop on lcore 1", T);
        std::thread::sleep(Duration::from_millis(500));
        assert!(Command::new("kill").args(["-INT", &l3.child.id().to_string()]).status().expect("kill").success());
        let (code, out) = l3.finish(T);
        assert_eq!(code, Some(0), "{out:#?}");
        let (rx0, tx0, _) = port_counts(&out, 0);
        let (rx1, tx1, _) = port_counts(&out, 1);
        assert!(rx0 > 1000 && rx1 > 1000, "{lookup}: frames received: {out:#?}");
        // What port 0 received went out of port 1 and back: routed, not dropped.
        assert!(tx1 > 0 && tx0 > 0, "{lookup}: routed to the other port: {out:#?}");
        assert!(tx1 <= rx0 && tx0 <= rx1, "{lookup}: {out:#?}");
        let drops = out.iter().find(|l| l.starts_with("Drops:")).expect("drop line");
        assert_eq!(drops, "Drops: not_ip=0 bad_header=0 ttl_expired=0 no_route=0", "{lookup}: {out:#?}");
    }
}
