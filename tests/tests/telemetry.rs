//! The telemetry socket of a running Bypass testpmd, queried with a raw `SOCK_SEQPACKET`
//! client and with DPDK's own `dpdk-telemetry.py`, and compared with a real DPDK testpmd:
//! DPDK's reply shapes, clear answers to malformed messages, many clients at once,
//! `--no-telemetry`, and a planted DPDK runtime directory refused.
//!
//! Needs root (DPDK's client looks in /var/run/dpdk as root) and `tests/setup-dpdk.sh`
//! (Debian's dpdk-dev); without root each test prints a note and passes.

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tests::telemetry_client::{connect_retry, Client};
use tests::{example_bin, prefix, runtime_dir, Proc};

const T: Duration = Duration::from_secs(60);
const SOCKET: &str = "dpdk_telemetry.v2";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// True when the test can run: root, with DPDK's tools installed (by tests/setup-dpdk.sh).
fn ready(test: &str) -> bool {
    if !is_root() {
        eprintln!("{test}: skipped: needs root (DPDK's client and runtime directory /var/run/dpdk)");
        return false;
    }
    if which("dpdk-telemetry.py").is_none() || which("dpdk-testpmd").is_none() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("setup-dpdk.sh");
        let ok = Command::new("bash").arg(&script).status().is_ok_and(|s| s.success());
        assert!(ok && which("dpdk-telemetry.py").is_some(), "{} did not install DPDK's tools", script.display());
    }
    true
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(tool)).find(|p| p.exists())
}

fn dpdk_dir(p: &str) -> PathBuf {
    PathBuf::from("/var/run/dpdk").join(p)
}

fn bypass_testpmd(p: &str, extra_eal: &[&str]) -> Proc {
    let mut a =
        vec!["--file-prefix", p, "-l", "0-1", "-m", "64", "--no-huge", "--vdev", "net_null0", "--vdev", "net_null1"];
    a.extend_from_slice(extra_eal);
    a.extend_from_slice(&["--", "-i"]);
    Proc::spawn(&example_bin("testpmd"), &a)
}

/// Runs DPDK's client for `prefix` with `cmds` on its standard input; returns each reply by
/// command.
fn dpdk_client(p: &str, cmds: &[&str]) -> std::collections::HashMap<String, Value> {
    let mut c = Command::new("dpdk-telemetry.py")
        .args(["-f", p])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dpdk-telemetry.py");
    let input: String = cmds.iter().map(|c| format!("{c}\n")).collect();
    c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut replies = std::collections::HashMap::new();
    for line in text.lines() {
        let Some(i) = line.find('{') else { continue };
        let Ok(Value::Object(o)) = serde_json::from_str::<Value>(&line[i..]) else { continue };
        for (k, v) in o {
            replies.insert(k, v);
        }
    }
    replies
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("{v} is not an object")).keys().cloned().collect()
}

const XSTATS: &[&str] = &[
    "rx_good_packets",
    "tx_good_packets",
    "rx_good_bytes",
    "tx_good_bytes",
    "rx_missed_errors",
    "rx_errors",
    "tx_errors",
    "rx_mbuf_allocation_errors",
    "rx_q0_packets",
    "rx_q0_bytes",
    "rx_q0_errors",
    "tx_q0_packets",
    "tx_q0_bytes",
];

#[test]
fn raw_client_gets_dpdk_shapes_and_live_counters() {
    if !ready("raw_client_gets_dpdk_shapes_and_live_counters") {
        return;
    }
    let p = prefix("tel_raw");
    let mut t = bypass_testpmd(&p, &[]);
    t.expect("Port 1: Link", T);
    let c = connect_retry(&runtime_dir(&p).join(SOCKET));
    assert_eq!(c.hello["pid"], t.child.id(), "{}", c.hello);
    assert_eq!(c.hello["max_output_len"], 16384);
    assert!(c.hello["version"].as_str().unwrap().starts_with("Bypass "));
    assert_eq!(c.ask("/ethdev/list"), serde_json::json!([0, 1]));
    let stats = c.ask("/ethdev/stats,0");
    for k in ["ipackets", "opackets", "ibytes", "obytes", "imissed", "ierrors", "oerrors", "rx_nombuf"] {
        assert!(stats[k].is_u64(), "{k} in {stats}");
    }
    for k in ["q_ipackets", "q_opackets", "q_ibytes", "q_obytes", "q_errors"] {
        assert_eq!(stats[k].as_array().map(Vec::len), Some(16), "{k} in {stats}");
    }
    let x = c.ask("/ethdev/xstats,0");
    assert_eq!(keys(&x), XSTATS.iter().map(|s| s.to_string()).collect(), "{x}");
    let eal = c.ask("/eal/params");
    let eal: Vec<&str> = eal.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(eal[0].ends_with("testpmd") && eal.contains(&"--file-prefix") && eal.contains(&p.as_str()), "{eal:?}");
    assert!(!eal.contains(&"--"), "{eal:?}");
    assert_eq!(c.ask("/eal/app_params"), serde_json::json!(["-i"]));
    assert_eq!(c.ask("/ethdev/link_status,1")["status"], "UP");
    assert_eq!(c.ask("/ethdev/info,1")["name"], "net_null1");
    assert_eq!(c.ask("/mempool/list"), serde_json::json!(["mb_pool_0"]));
    assert_eq!(c.ask("/mempool/info,mb_pool_0")["name"], "mb_pool_0");
    assert_eq!(c.ask("/mp/peers")["primary"]["pid"], t.child.id());
    assert_eq!(
        c.ask("/help,/ethdev/xstats"),
        serde_json::json!({"/ethdev/xstats": "Returns the extended stats for a port. Parameters: int port_id"})
    );

    // Forward a while: the counters the socket shows are the port's.
    t.send("start");
    t.expect("io packet forwarding", T);
    std::thread::sleep(Duration::from_millis(500));
    t.send("stop");
    t.expect("Accumulated forward statistics", T);
    let s = c.ask("/ethdev/stats,0");
    let x = c.ask("/ethdev/xstats,0");
    assert!(s["ipackets"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(x["rx_good_packets"], s["ipackets"], "{x} vs {s}");
    assert_eq!(x["rx_q0_packets"], s["q_ipackets"][0]);
    assert_eq!(x["tx_good_bytes"], s["obytes"]);
    t.send("show port xstats 0");
    let l = t.expect("rx_good_packets:", T);
    assert!(l.starts_with("rx_good_packets: "), "{l}");
    t.send("clear port stats 0");
    t.expect("NIC statistics for port 0 cleared", T);
    let x = c.ask("/ethdev/xstats,0");
    assert!(x.as_object().unwrap().values().all(|v| v == 0), "cleared: {x}");
    t.send("quit");
    let (code, out) = t.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(!runtime_dir(&p).join(SOCKET).exists(), "the socket goes at exit");
    assert!(!dpdk_dir(&p).exists(), "DPDK's directory of the prefix goes at exit");
}

#[test]
fn malformed_messages_get_clear_answers() {
    if !ready("malformed_messages_get_clear_answers") {
        return;
    }
    let p = prefix("tel_bad");
    let mut t = bypass_testpmd(&p, &[]);
    t.expect("Port 1: Link", T);
    let c = connect_retry(&dpdk_dir(&p).join(SOCKET));
    assert_eq!(c.ask_raw(b"/nope"), serde_json::json!({"/nope": null}), "unknown: DPDK's answer");
    assert_eq!(c.ask_raw(b"/ethdev/stats,abc"), serde_json::json!({"/ethdev/stats": null}));
    assert_eq!(c.ask_raw(b"/ethdev/stats,99"), serde_json::json!({"/ethdev/stats": null}));
    assert_eq!(c.ask_raw(b"/ethdev/stats"), serde_json::json!({"/ethdev/stats": null}));
    let e = c.ask_raw(b"garbage");
    assert!(e["error"].as_str().unwrap().contains("is not a command"), "{e}");
    let e = c.ask_raw(b"\x00\xff\xfe junk");
    assert!(e["error"].as_str().is_some(), "{e}");
    let e = c.ask_raw(&vec![b'A'; 100 * 1024]);
    let why = e["error"].as_str().unwrap();
    assert!(why.contains("102400 bytes") && why.contains("at most 1023"), "{e}");
    // The same connection is still served.
    assert_eq!(c.ask("/ethdev/list"), serde_json::json!([0, 1]));
    // A client that goes away mid-way does not disturb the server.
    let gone = connect_retry(&dpdk_dir(&p).join(SOCKET));
    gone.send_raw(b"/ethdev/xstats,0");
    drop(gone);
    assert_eq!(c.ask("/ethdev/list"), serde_json::json!([0, 1]));
    t.send("quit");
    assert_eq!(t.finish(T).0, Some(0));
}

#[test]
fn hundred_clients_at_once_are_served() {
    if !ready("hundred_clients_at_once_are_served") {
        return;
    }
    let p = prefix("tel_many");
    let mut t = bypass_testpmd(&p, &[]);
    t.expect("Port 1: Link", T);
    let path = runtime_dir(&p).join(SOCKET);
    connect_retry(&path);
    // All connected before any asks: 100 open connections at once.
    let clients: Vec<Client> = (0..100).map(|_| Client::connect(&path).expect("connect")).collect();
    let start = std::sync::Arc::new(std::sync::Barrier::new(clients.len()));
    let threads: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..5 {
                    assert_eq!(c.ask("/ethdev/list"), serde_json::json!([0, 1]));
                    assert!(c.ask("/ethdev/xstats,1")["rx_good_packets"].is_u64());
                }
            })
        })
        .collect();
    for th in threads {
        th.join().expect("a client failed");
    }
    t.send("quit");
    assert_eq!(t.finish(T).0, Some(0));
}

#[test]
fn dpdk_client_reads_bypass_like_a_real_dpdk_testpmd() {
    if !ready("dpdk_client_reads_bypass_like_a_real_dpdk_testpmd") {
        return;
    }
    let cmds = [
        "/",
        "/info",
        "/ethdev/list",
        "/ethdev/stats,0",
        "/ethdev/xstats,0",
        "/ethdev/info,0",
        "/ethdev/link_status,0",
        "/eal/params",
        "/eal/app_params",
        "/mempool/list",
        "/mempool/info,mb_pool_0",
        "/help,/ethdev/stats",
        "/nope",
    ];
    // Real DPDK first.
    let dp = prefix("tel_dpdk");
    let mut d = Proc::spawn(
        "dpdk-testpmd",
        &[
            "--no-pci",
            "--no-huge",
            "-m",
            "256",
            "-l",
            "0-1",
            "--vdev",
            "net_null0",
            "--file-prefix",
            &dp,
            "--",
            "-i",
            "--total-num-mbufs=4096",
        ],
    );
    d.expect("Checking link statuses", T);
    connect_retry(&dpdk_dir(&dp).join(SOCKET));
    let theirs = dpdk_client(&dp, &cmds);

    // A Bypass primary of the same prefix must not take over the live DPDK socket.
    let (code, out) = bypass_testpmd(&dp, &[]).finish(T);
    assert_ne!(code, Some(0), "{out:#?}");
    assert!(
        out.iter().any(|l| l.contains("is in use") && l.contains("--no-telemetry")),
        "refused, naming the fix: {out:#?}"
    );
    d.send("quit");
    let _ = d.finish(T);
    // DPDK leaves its config and memory files; they are this test's own prefix's.
    let _ = std::fs::remove_dir_all(dpdk_dir(&dp));

    let p = prefix("tel_ours");
    let mut t = bypass_testpmd(&p, &[]);
    t.expect("Port 1: Link", T);
    connect_retry(&dpdk_dir(&p).join(SOCKET));
    let ours = dpdk_client(&p, &cmds);
    t.send("quit");
    assert_eq!(t.finish(T).0, Some(0));

    for c in cmds {
        let k = c.split(',').next().unwrap();
        let (a, b) = (&ours[k], &theirs[k]);
        match (a, b) {
            (Value::Object(_), Value::Object(_)) => assert_eq!(keys(a), keys(b), "{c}: ours {a} theirs {b}"),
            (Value::Array(x), Value::Array(y)) if k == "/" => {
                for cmd in x.iter().filter(|v| *v != "/mp/peers" && *v != "/ring/list") {
                    assert!(y.contains(cmd), "{cmd} is a DPDK command");
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                let ty = |v: &Vec<Value>| v.first().map(|e| e.is_string());
                assert_eq!(ty(x), ty(y), "{c}: ours {a} theirs {b}");
            }
            _ => assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "{c}: ours {a} theirs {b}"),
        }
    }
    assert_eq!(ours["/ethdev/stats"], theirs["/ethdev/stats"], "both idle: all zero");
    assert_eq!(ours["/ethdev/xstats"], theirs["/ethdev/xstats"]);
    assert_eq!(ours["/ethdev/link_status"], theirs["/ethdev/link_status"]);
    assert_eq!(ours["/help"], theirs["/help"]);
}

#[test]
fn no_telemetry_gives_no_socket() {
    if !ready("no_telemetry_gives_no_socket") {
        return;
    }
    let p = prefix("tel_off");
    let mut t = bypass_testpmd(&p, &["--no-telemetry"]);
    t.expect("Port 1: Link", T);
    assert!(runtime_dir(&p).join("mp_socket").exists());
    assert!(!runtime_dir(&p).join(SOCKET).exists());
    assert!(!dpdk_dir(&p).exists(), "nothing made in DPDK's runtime directory");
    t.send("quit");
    assert_eq!(t.finish(T).0, Some(0));
}

#[test]
fn planted_dpdk_directory_is_refused() {
    if !ready("planted_dpdk_directory_is_refused") {
        return;
    }
    use std::os::unix::fs::{chown, PermissionsExt};
    std::fs::create_dir_all("/var/run/dpdk").unwrap();
    // A directory of another user.
    let p = prefix("tel_plant");
    let planted = dpdk_dir(&p);
    std::fs::create_dir(&planted).unwrap();
    chown(&planted, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (code, out) = bypass_testpmd(&p, &[]).finish(T);
    let _ = std::fs::remove_dir(&planted);
    assert_ne!(code, Some(0), "{out:#?}");
    let msg = format!("refusing runtime directory {}", planted.display());
    assert!(
        out.iter().any(|l| l.contains(&msg) && l.contains("uid 65534") && l.contains("--no-telemetry")),
        "{out:#?}"
    );
    assert!(!runtime_dir(&p).exists(), "the failed primary leaves nothing behind");

    // A symbolic link to a directory elsewhere.
    let p = prefix("tel_link");
    let target = std::env::temp_dir().join(format!("{p}_target"));
    std::fs::create_dir_all(&target).unwrap();
    std::os::unix::fs::symlink(&target, dpdk_dir(&p)).unwrap();
    let (code, out) = bypass_testpmd(&p, &[]).finish(T);
    let _ = std::fs::remove_file(dpdk_dir(&p));
    let left: Vec<_> = std::fs::read_dir(&target).unwrap().collect();
    let _ = std::fs::remove_dir(&target);
    assert_ne!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("symbolic link")), "{out:#?}");
    assert!(left.is_empty(), "nothing was bound through the link");

    // With --no-telemetry the same prefix starts.
    let (p2, planted) = (p.clone(), dpdk_dir(&p));
    std::fs::create_dir(&planted).unwrap();
    chown(&planted, Some(65534), Some(65534)).unwrap();
    let mut t = bypass_testpmd(&p2, &["--no-telemetry"]);
    t.expect("Port 1: Link", T);
    t.send("quit");
    let code = t.finish(T).0;
    let _ = std::fs::remove_dir(&planted);
    assert_eq!(code, Some(0));
}
