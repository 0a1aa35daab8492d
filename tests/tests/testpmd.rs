//! testpmd as users run it: io forwarding over net_null and net_ring ports with the counters
//! checked (every packet received is sent or counted as dropped, the pool full at exit),
//! the interactive prompt, and clear errors for bad arguments.

use std::time::Duration;
use tests::{example_bin, prefix, Proc};

const T: Duration = Duration::from_secs(60);

fn testpmd(p: &str, eal: &[&str], app: &[&str]) -> Proc {
    let mut a = vec!["--file-prefix", p, "-l", "0-1", "-m", "64"];
    a.extend_from_slice(eal);
    a.push("--");
    a.extend_from_slice(app);
    Proc::spawn(&example_bin("testpmd"), &a)
}

fn field(line: &str, key: &str) -> u64 {
    line.split(key)
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

fn check_accounting(out: &[String]) -> u64 {
    let acc = out
        .iter()
        .skip_while(|l| !l.contains("Accumulated forward statistics"))
        .nth(1)
        .unwrap_or_else(|| panic!("no accumulated statistics: {out:#?}"));
    let (rx, tx, drop) = (field(acc, "RX-packets:"), field(acc, "TX-packets:"), field(acc, "TX-dropped:"));
    assert!(rx > 0, "packets were forwarded: {acc}");
    assert_eq!(rx, tx + drop, "every packet received was sent or dropped: {acc}");
    let pool = out.iter().find(|l| l.starts_with("Pool mb_pool_0:")).expect("pool line");
    let free: Vec<u64> = pool.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(free[0], free[1], "every mbuf is back in the pool at exit: {pool}");
    assert!(out.iter().any(|l| l == "Bye..."));
    rx
}

fn io_forwarding(vdevs: &[&str], extra: &[&str], no_huge: bool, tag: &str) {
    let p = prefix(tag);
    let mut eal: Vec<&str> = Vec::new();
    for v in vdevs {
        eal.extend_from_slice(&["--vdev", v]);
    }
    if no_huge {
        eal.push("--no-huge");
    }
    let mut app = vec!["--forward-mode=io", "--stats-period", "1", "--duration", "3"];
    app.extend_from_slice(extra);
    let (code, out) = testpmd(&p, &eal, &app).finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    let mpps: Vec<&String> = out.iter().filter(|l| l.contains("Mpps: port 0")).collect();
    assert!(mpps.len() >= 2, "a stats line per period: {out:#?}");
    check_accounting(&out);
}

#[test]
fn io_forwarding_over_two_null_ports() {
    io_forwarding(&["net_null0", "net_null1"], &[], true, "tp_null");
}

#[test]
fn io_forwarding_over_two_null_ports_hugepages() {
    io_forwarding(&["net_null0", "net_null1"], &[], false, "tp_null_huge");
}

#[test]
fn io_forwarding_over_looped_ring_ports_with_tx_first() {
    io_forwarding(&["net_ring0", "net_ring1"], &["--tx-first"], true, "tp_ring");
}

#[test]
fn interactive_prompt() {
    let p = prefix("tp_inter");
    let mut t = testpmd(&p, &["--no-huge", "--vdev", "net_null0,size=128", "--vdev", "net_ring0"], &["-i"]);
    t.send("show port info 0");
    t.expect("Driver name: net_null", T);
    t.send("set promisc 0 on");
    t.send("show port info all");
    t.expect("Promiscuous mode: enabled", T);
    t.expect("Driver name: net_ring", T);
    t.send("set fwd rxonly");
    t.expect("Set rxonly packet forwarding mode", T);
    t.send("start");
    t.expect("rxonly packet forwarding", T);
    std::thread::sleep(Duration::from_millis(500));
    t.send("stop");
    let acc = t.expect("Accumulated forward statistics", T);
    assert!(!acc.is_empty());
    t.send("show port stats 0");
    let rx = t.expect("RX-packets:", T);
    assert!(field(&rx, "RX-packets:") > 0, "{rx}");
    t.send("bogus");
    t.expect("Bad command 'bogus'", T);
    t.send("quit");
    let (code, out) = t.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    let pool = out.iter().find(|l| l.starts_with("Pool mb_pool_0:")).expect("pool line");
    let free: Vec<u64> = pool.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(free[0], free[1], "{pool}");
}

/// As DPDK's testpmd: every port is promiscuous from the start (a bridge forwards frames for
/// any address), and `set promisc` turns it off per port.
#[test]
fn every_port_is_promiscuous_from_the_start_as_in_dpdk_testpmd() {
    let p = prefix("tp_promisc");
    let mut t = testpmd(&p, &["--no-huge", "--vdev", "net_null0", "--vdev", "net_ring0"], &["-i"]);
    t.expect("Checking link statuses...", T);
    t.expect("Done", T);
    t.send("show port info all");
    for _ in 0..2 {
        t.expect("Promiscuous mode: enabled", T);
    }
    t.send("set promisc 1 off");
    t.send("show port info 1");
    t.expect("Promiscuous mode: disabled", T);
    t.send("quit");
    let (code, out) = t.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
}

/// The address commands with DPDK's spellings on a virtual port (which keeps the lists):
/// each misuse prints its reason, never a panic; the lists and limits show; they survive
/// `port stop` / `port start`.
#[test]
fn mac_addr_and_mcast_addr_commands() {
    let p = prefix("tp_macs");
    let mut t = testpmd(&p, &["--no-huge", "--vdev", "net_null0"], &["-i"]);
    t.expect("Checking link statuses...", T);
    t.send("mcast_addr add 0 01:00:5E:01:02:03");
    t.send("mcast_addr add 0 01:00:5E:01:02:03");
    t.expect("multicast address 01:00:5E:01:02:03 already filtered by port 0", T);
    t.send("mcast_addr add 0 02:00:00:00:00:01");
    t.expect("02:00:00:00:00:01 is a unicast address", T);
    t.send("mcast_addr remove 0 01:00:5E:09:09:09");
    t.expect("multicast address 01:00:5E:09:09:09 not filtered by port 0", T);
    t.send("mac_addr add 0 01:00:5E:01:02:04");
    t.expect("mac_addr_cmd error: (port 0: 01:00:5E:01:02:04 is a multicast address", T);
    t.send("mac_addr add 0 02:00:00:00:00:77");
    t.send("mac_addr add 0 02:00:00:00:00:77");
    t.expect("02:00:00:00:00:77 is already one of the port's addresses", T);
    t.send("mac_addr add 0 02:00:00:00:00");
    t.expect("bad MAC address '02:00:00:00:00'", T);
    t.send("mac_addr add 7 02:00:00:00:00:78");
    t.expect("Invalid port 7", T);
    t.send("port stop 0");
    t.send("port start 0");
    t.expect("Port 0: ", T);
    t.send("show port info 0");
    t.expect("Maximum number of MAC addresses: 128", T);
    t.expect("Maximum number of multicast addresses: 128", T);
    t.expect("Number of MAC addresses: 2 (own + 1 added)", T);
    t.expect("Number of multicast addresses: 1", T);
    t.send("show port 0 macs");
    t.expect("Number of MAC address added: 2", T);
    t.expect("  02:00:00:00:00:77", T);
    t.send("mac_addr remove 0 02:00:00:00:00:77");
    t.send("mcast_addr remove 0 01:00:5E:01:02:03");
    t.send("show port 0 mcast_macs");
    t.expect("Number of multicast MAC address added: 0", T);
    t.send("quit");
    let (code, out) = t.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(!out.iter().any(|l| l.contains("panicked")), "{out:#?}");
}

/// `set fwd io retry` and `set burst tx delay D retry N` as DPDK users type them: the
/// forwarding banner says so and every packet is still accounted for.
#[test]
fn io_forwarding_with_tx_retry() {
    let p = prefix("tp_retry");
    let mut t = testpmd(&p, &["--no-huge", "--vdev", "net_null0", "--vdev", "net_null1"], &["-i"]);
    t.send("set fwd rxonly retry");
    t.expect("retry applies to io, mac and macswap", T);
    t.send("set burst tx delay 5 retry 10");
    t.expect("TX retry num: 10, delay between TX retries: 5us", T);
    t.send("set fwd io retry");
    t.expect("Set io packet forwarding mode with retry", T);
    t.send("start");
    t.expect("io packet forwarding with retry - ports=2", T);
    t.expect("TX retry num: 10, delay between TX retries: 5us", T);
    std::thread::sleep(Duration::from_millis(500));
    t.send("set burst tx delay 1 retry 64");
    t.expect("Please stop forwarding first", T);
    t.send("stop");
    t.expect("Accumulated forward statistics", T);
    t.send("quit");
    let (code, out) = t.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    check_accounting(&out);
}

#[test]
fn bad_arguments_are_explained() {
    let p = prefix("tp_bad");
    let cases: &[(&[&str], &[&str], &str)] = &[
        (&["--no-huge", "--vdev", "net_null0"], &["--forward-mode=bogus"], "invalid --forward-mode 'bogus'"),
        (&["--no-huge", "--vdev", "net_null0"], &["--burst=0"], "--burst=0: must be 1..=512"),
        (&["--no-huge", "--vdev", "net_bogus0"], &[], "unknown device 'net_bogus0'"),
        (&["--no-huge", "--vdev", "net_null0,sise=64"], &[], "unknown key 'sise'"),
        (&["--no-huge"], &[], "no ports"),
        (&["--no-huge", "--vdev", "net_null0"], &["--frobnicate"], "unknown option '--frobnicate'"),
    ];
    for (eal, app, msg) in cases {
        let (code, out) = testpmd(&p, eal, app).finish(T);
        assert_eq!(code, Some(1), "{eal:?} {app:?}: {out:#?}");
        assert!(out.iter().any(|l| l.contains(msg)), "{eal:?} {app:?}: expected {msg:?} in {out:#?}");
    }
}

/// CPU time (user + system) the thread `tid` of process `pid` has used so far.
fn thread_cpu_time(pid: u32, tid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).expect("thread stat");
    // Fields after the command name (which is in parentheses and may hold spaces): state is
    // field 3, utime field 14, stime field 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<u64> = rest.split_whitespace().skip(11).take(2).map(|v| v.parse().expect("ticks")).collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis((f[0] + f[1]) * 1000 / hz)
}

#[test]
fn with_stdin_at_its_end_the_main_thread_sleeps_instead_of_spinning() {
    let p = prefix("tp_eof");
    let mut t = testpmd(
        &p,
        &["--no-huge", "--vdev", "net_null0", "--vdev", "net_null1"],
        &["--forward-mode=io", "--duration", "4"],
    );
    t.expect("Press enter to exit", T);
    t.close_stdin();
    let pid = t.child.id();
    let before = thread_cpu_time(pid, pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = thread_cpu_time(pid, pid) - before;
    let (code, out) = t.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    // A spinning prompt thread burns the whole 2 s; a sleeping one a few milliseconds.
    assert!(used < Duration::from_millis(200), "the main thread used {used:?} of CPU in 2 s with stdin at EOF");
    check_accounting(&out);
}
