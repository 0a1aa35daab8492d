//! l2fwd between two `net_tap` ports with real frames from the kernel: each TAP interface is
//! moved into a network namespace of this test's own with an address, and UDP datagrams
//! from one namespace are echoed back from the other only if l2fwd forwards the ARP and UDP
//! frames both ways.
//! Ctrl-C then prints the totals, and every mbuf is back in the pool.

use std::process::Command;
use std::time::Duration;
use tests::{example_bin, prefix, Proc};

const T: Duration = Duration::from_secs(30);

fn ip(args: &[&str]) -> std::process::Output {
    Command::new("ip").args(args).output().expect("ip")
}

struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

fn field(out: &[String], key: &str) -> u64 {
    out.iter()
        .rev()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {out:#?}"))
}

#[test]
fn l2fwd_forwards_kernel_frames_between_two_tap_ports() {
    tap_pair_forwarding("l2fwd", &[]);
}

/// The power mode: with `--rx-intr` an idle l2fwd sleeps on its TAP queues' RX interrupts
/// (under 5% of a core over 3 s, from /proc/<pid>/stat; plain l2fwd polls every 20 µs) and
/// still forwards every frame.
#[test]
fn l2fwd_rx_intr_sleeps_while_idle_and_forwards_kernel_frames() {
    tap_pair_forwarding("l2fwd_intr", &["--rx-intr", "--idle-polls", "50"]);
}

fn tap_pair_forwarding(name: &str, extra: &[&str]) {
    let p = prefix(name);
    // Tests run in parallel: the interfaces and namespaces of each have names of their own.
    let tag = format!("{}{}", std::process::id() % 100_000, if extra.is_empty() { "" } else { "i" });
    let (ta, tb) = (format!("l2a{tag}"), format!("l2b{tag}"));
    let ns = Namespaces(vec![format!("bypass_l2a_{tag}"), format!("bypass_l2b_{tag}")]);
    let va = format!("net_tap0,iface={ta}");
    let vb = format!("net_tap1,iface={tb}");
    let mut l2 = Proc::spawn(
        &example_bin("l2fwd"),
        &[
            "--file-prefix",
            &p,
            "--no-huge",
            "-l",
            "0-1",
            "--vdev",
            &va,
            "--vdev",
            &vb,
            "--",
            "-p",
            "3",
            "-T",
            "1",
            "--no-mac-updating",
        ]
        .iter()
        .chain(extra)
        .copied()
        .collect::<Vec<_>>(),
    );
    l2.expect("Lcore 1: RX port 1 -> TX port 0", T);
    if !extra.is_empty() {
        l2.expect("RX interrupts: sleeping after 50 empty polls", T);
        std::thread::sleep(Duration::from_millis(500));
        let share = tests::cpu_time::cpu_share(l2.child.id(), Duration::from_secs(3)).expect("l2fwd alive");
        eprintln!("idle l2fwd --rx-intr: {:.1}% of a core", share * 100.0);
        assert!(share < 0.05, "an idle l2fwd --rx-intr used {:.1}% of a core", share * 100.0);
    }
    for (n, (tap, addr)) in ns.0.iter().zip([(&ta, "10.77.0.1/24"), (&tb, "10.77.0.2/24")]) {
        assert!(ip(&["netns", "add", n]).status.success(), "cannot create netns {n}");
        assert!(ip(&["link", "set", tap, "netns", n]).status.success(), "cannot move {tap}");
        assert!(ip(&["-n", n, "addr", "add", addr, "dev", tap]).status.success());
        assert!(ip(&["-n", n, "link", "set", tap, "up"]).status.success());
    }
    let echo = env!("CARGO_BIN_EXE_udp_echo");
    let mut server = Proc::spawn("ip", &["netns", "exec", &ns.0[1], echo, "serve", "10.77.0.2:9000", "3"]);
    server.expect("SERVING", T);
    let send = Command::new("ip")
        .args(["netns", "exec", &ns.0[0], echo, "send", "10.77.0.2:9000", "3"])
        .output()
        .expect("udp_echo");
    let text = String::from_utf8_lossy(&send.stdout);
    assert!(send.status.success(), "UDP through l2fwd failed: {text} {}", String::from_utf8_lossy(&send.stderr));
    assert!(text.contains("ECHOED 3/3"), "{text}");
    assert_eq!(server.finish(T).0, Some(0));
    l2.expect("Aggregate statistics", T);
    // SIGINT, as Ctrl-C.
    let pid = l2.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill").success());
    let (code, out) = l2.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l == "Signal received, preparing to exit..."));
    let (sent, recv, dropped) = (
        field(&out, "Total packets sent:"),
        field(&out, "Total packets received:"),
        field(&out, "Total packets dropped:"),
    );
    assert!(recv >= 8, "ARP request and reply + 3 datagrams + 3 echoes at least: {recv}");
    assert_eq!(sent + dropped, recv, "every received frame was sent or dropped");
    let pool = out.iter().find(|l| l.starts_with("Pool mbuf_pool:")).expect("pool line");
    let free: Vec<u64> = pool.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(free[0], free[1], "{pool}");
}

/// DPDK's spellings reach l2fwd (`-l0-1`, `--vdev=...`, then `-p3`, `-q1`, `-T1` with the
/// values attached): with two null ports it starts forwarding and Ctrl-C ends it cleanly.
/// Needs no root: `--no-huge` and virtual ports.
#[test]
fn l2fwd_takes_dpdk_spellings_of_its_options() {
    let p = prefix("l2fwd_sp");
    let mut l2 = Proc::spawn(
        &example_bin("l2fwd"),
        &[
            "--file-prefix",
            &p,
            "--no-huge",
            "-l0-1",
            "-m64",
            "--vdev=net_null0",
            "--vdev",
            "net_null1",
            "--",
            "-p3",
            "-q1",
            "-T1",
        ],
    );
    l2.expect("Lcore 1: RX port 1 -> TX port 0", T);
    let pid = l2.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill").success());
    let (code, out) = l2.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l == "Signal received, preparing to exit..."), "{out:#?}");
}

/// A bad application option is named with the fix, the usage follows, and l2fwd exits 1.
#[test]
fn l2fwd_explains_bad_options() {
    let p = prefix("l2fwd_bad");
    for (app, msg) in [
        (&["-p0"][..], "invalid portmask '0': a non-zero hexadecimal mask such as 0x3"),
        (&["-p3", "-q0"], "invalid value '0' for -q"),
        (&["-p", "3", "-T", "soon"], "invalid value 'soon' for -T"),
        (&["-p3", "--frobnicate"], "unknown option '--frobnicate'"),
        (&["-q", "1"], "-p PORTMASK is required"),
    ] {
        let mut args =
            vec!["--file-prefix", &p, "--no-huge", "-l0", "-m64", "--vdev=net_null0", "--vdev=net_null1", "--"];
        args.extend_from_slice(app);
        let (code, out) = Proc::spawn(&example_bin("l2fwd"), &args).finish(T);
        assert_eq!(code, Some(1), "{app:?}: {out:#?}");
        assert!(out.iter().any(|l| l.contains(msg)), "{app:?}: expected {msg:?} in {out:#?}");
        assert!(out.iter().any(|l| l.starts_with("Usage: l2fwd")), "{app:?}: {out:#?}");
    }
    // Ports without RX interrupts are refused in the power mode, with the reason.
    let args = ["--file-prefix", &p, "--no-huge", "-l0", "-m64", "--vdev=net_null0", "--vdev=net_null1", "--"];
    let (code, out) = Proc::spawn(&example_bin("l2fwd"), &[&args[..], &["-p3", "--rx-intr"]].concat()).finish(T);
    assert_eq!(code, Some(1), "{out:#?}");
    assert!(
        out.iter().any(|l| l.contains("--rx-intr: port 0: RX interrupts are not supported")),
        "expected the reason in {out:#?}"
    );
}
