//! dumpcap (tools/dumpcap) against a running testpmd with real processes: a `ring_peer`
//! secondary injects numbered frames into a `net_ring` port, dumpcap (another secondary)
//! captures them into pcapng, and tcpdump reads the file back; a small capture ring drops
//! and counts; a `kill -9` of dumpcap is noticed by the primary, which disarms the capture
//! and keeps forwarding with its pool full at exit; no primary gives a clear error.

use std::process::Command;
use std::time::Duration;
use tests::capture_file::{isb_options, tcpdump_frames};
use tests::{example_bin, numbered_frame, prefix, Proc};

const T: Duration = Duration::from_secs(60);
const PEER: &str = env!("CARGO_BIN_EXE_ring_peer");

fn testpmd_over_rings(p: &str) -> Proc {
    tests::testpmd_forwarding(p, "net_ring0,rx=sa,tx=sb", "net_ring1,rx=sc,tx=sd")
}

fn dumpcap(p: &str, app: &[&str]) -> Proc {
    let mut a = vec!["--file-prefix", p, "--no-huge", "--"];
    a.extend_from_slice(app);
    Proc::spawn(&example_bin("dumpcap"), &a)
}

/// Injects `n` numbered frames into port 0's ring and collects them from port 1's.
fn inject(p: &str, n: u32) {
    let count = n.to_string();
    let peer = Proc::spawn(
        PEER,
        &[
            "--file-prefix",
            p,
            "--no-huge",
            "--lcores",
            "2@0",
            "--proc-type",
            "secondary",
            "--",
            "sa",
            "1",
            "sd",
            "1",
            &count,
            "1",
            "0",
        ],
    );
    let (code, out) = peer.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.starts_with(&format!("COLLECTED total={n} dups=0 bad=0"))), "{out:#?}");
}

fn quit_with_full_pool(mut t: Proc) -> Vec<String> {
    t.send("stop");
    t.expect("Accumulated forward statistics", T);
    t.send("quit");
    let (code, out) = t.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("Pool mb_pool_0: 8192 of 8192 mbufs free")), "{out:#?}");
    out
}

#[test]
fn dumpcap_writes_the_frames_testpmd_receives_to_pcapng() {
    let p = prefix("dumpcap");
    let t = testpmd_over_rings(&p);
    let dir = std::env::temp_dir().join(format!("{p}_cap"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("x.pcapng");

    let (code, out) = dumpcap(&p, &["-D"]).finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l == "0. net_ring0 (net_ring)") && out.iter().any(|l| l == "1. net_ring1 (net_ring)"));

    let mut d = dumpcap(&p, &["-i", "net_ring0", "-c", "1000", "-w", file.to_str().unwrap()]);
    d.expect("Capturing on 'net_ring0'", T);
    inject(&p, 1000);
    let (code, out) = d.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(
        out.iter()
            .any(|l| l.contains("Packets received/dropped on interface 'net_ring0': 1000/0 (0.0%), 1000 written")),
        "{out:#?}"
    );
    let frames = tcpdump_frames(&file);
    assert_eq!(frames.len(), 1000, "tcpdump reads back 1000 frames");
    let mut last = String::new();
    for (i, (ts, bytes)) in frames.iter().enumerate() {
        assert_eq!(bytes, &numbered_frame(i as u32, 1), "frame {i}: the bytes sent");
        let frac = ts.split_once('.').map_or("", |x| x.1);
        assert_eq!(frac.len(), 9, "nanosecond timestamps: {ts}");
        assert!(*ts >= last, "timestamps in order: {ts} after {last}");
        last = ts.clone();
    }
    let isb = isb_options(&file);
    assert_eq!(isb.len(), 1, "one statistics block per interface");
    assert!(isb[0].contains(&(4, 1000)) && isb[0].contains(&(5, 0)), "ifrecv 1000, ifdrop 0: {isb:?}");

    // A filter keeps only what it names; TX of port 1 is captured as well.
    let file2 = dir.join("f.pcapng");
    let mut d = dumpcap(&p, &["-i", "0", "-i", "1", "-w", file2.to_str().unwrap(), "-a", "duration:3", "-s", "50"]);
    d.expect("Capturing on 'net_ring0', 'net_ring1'", T);
    inject(&p, 100);
    let (code, out) = d.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("interface 'net_ring0': 100/0 (0.0%), 100 written")), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("interface 'net_ring1': 100/0 (0.0%), 100 written")), "{out:#?}");
    let frames = tcpdump_frames(&file2);
    assert_eq!(frames.len(), 200);
    assert!(frames.iter().all(|f| f.1.len() == 50), "snap length 50");

    let file3 = dir.join("g.pcapng");
    let mut d = dumpcap(
        &p,
        &["-i", "0", "-w", file3.to_str().unwrap(), "-a", "duration:3", "udp", "and", "not", "src", "port", "1000"],
    );
    d.expect("Capturing on", T);
    // ring_peer's single flow uses source port 1000: every frame is filtered out.
    inject(&p, 100);
    let (code, out) = d.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("'net_ring0': 0/0 (0.0%), 0 written, 100 filtered out")), "{out:#?}");

    quit_with_full_pool(t);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_capture_ring_drops_and_counts_without_slowing_forwarding() {
    let p = prefix("dumpdrop");
    let t = testpmd_over_rings(&p);
    let file = std::env::temp_dir().join(format!("{p}.pcapng"));
    let mut d = dumpcap(&p, &["-i", "0", "--ring-size", "16", "-w", file.to_str().unwrap(), "-a", "duration:4"]);
    d.expect("Capturing on", T);
    // Every frame is forwarded although the capture cannot keep up.
    inject(&p, 20_000);
    let (code, out) = d.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    let line = out.iter().find(|l| l.contains("Packets received/dropped")).expect("summary");
    let nums: Vec<u64> =
        line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    let (received, dropped, written) = (nums[1], nums[2], nums[5]);
    assert_eq!(received, 20_000, "{line}");
    assert!(dropped > 0, "a 16-slot ring cannot take bursts of 32 at once: {line}");
    assert!(written > 0 && written + dropped <= received, "{line}");
    let frames = tcpdump_frames(&file);
    assert_eq!(frames.len() as u64, written);
    let isb = isb_options(&file);
    assert!(isb[0].contains(&(5, dropped)), "ifdrop in the file: {isb:?}");
    quit_with_full_pool(t);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn a_killed_dumpcap_is_disarmed_by_the_primary_which_keeps_forwarding() {
    let p = prefix("dumpkill");
    let mut t = tests::testpmd_forwarding(&p, "net_null0", "net_null1");
    let file = std::env::temp_dir().join(format!("{p}.pcapng"));
    // Copying every frame of a busy port (to /dev/null: the file would grow fast).
    let mut d = dumpcap(&p, &["-i", "0", "-w", "/dev/null"]);
    d.expect("Capturing on", T);
    std::thread::sleep(Duration::from_millis(500));
    d.kill9();
    t.expect("the capture's owner died: capture disarmed", Duration::from_secs(5));
    // A new capture arms at once, and ends cleanly.
    let mut d = dumpcap(&p, &["-i", "0", "-c", "100", "-w", file.to_str().unwrap()]);
    d.expect("Capturing on", T);
    let (code, out) = d.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert_eq!(tcpdump_frames(&file).len(), 100);
    let out = quit_with_full_pool(t);
    let at = out.iter().position(|l| l.contains("Accumulated forward statistics")).expect("totals");
    let rx: u64 = out[at + 1].split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("RX-packets");
    assert!(rx > 0, "the primary forwarded: {}", out[at + 1]);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn dumpcap_without_a_primary_says_so() {
    let p = prefix("dumpnone");
    let (code, out) = dumpcap(&p, &["-c", "1"]).finish(T);
    assert_eq!(code, Some(1), "{out:#?}");
    assert!(out.iter().any(|l| l.contains("no primary process is running")), "{out:#?}");
}

/// `-w -` writes pcapng to stdout, as a pipe into another tool wants it: tcpdump reading the
/// pipe (`tcpdump -r -`) gets every frame, and the progress lines stay on stderr.
#[test]
fn dumpcap_writes_pcapng_to_a_pipe_that_tcpdump_reads() {
    use std::process::Stdio;
    let p = prefix("dumppipe");
    let t = testpmd_over_rings(&p);
    let dir = std::env::temp_dir().join(format!("{p}-pipe"));
    std::fs::create_dir_all(&dir).unwrap();
    let err_path = dir.join("dumpcap.err");
    let mut d = Command::new(example_bin("dumpcap"))
        .args(["--file-prefix", &p, "--no-huge", "--", "-i", "0", "-c", "200", "-w", "-"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("dumpcap");
    let tcpdump = Command::new("tcpdump")
        .args(["-nn", "-xx", "-r", "-"])
        .stdin(d.stdout.take().expect("piped"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump is needed: apt-get install tcpdump (tests/setup-dpdk.sh does)");
    let t0 = std::time::Instant::now();
    while !std::fs::read_to_string(&err_path).unwrap_or_default().contains("Capturing on") {
        assert!(t0.elapsed() < T, "dumpcap did not start: {}", std::fs::read_to_string(&err_path).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(50));
    }
    inject(&p, 200);
    let status = d.wait().unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(status.success(), "dumpcap: {err}");
    let out = tcpdump.wait_with_output().unwrap();
    assert!(out.status.success(), "tcpdump -r - failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let headers = text.lines().filter(|l| !l.starts_with(char::is_whitespace)).count();
    assert_eq!(headers, 200, "tcpdump reads every frame from the pipe:\n{text}");
    assert!(err.contains("Packets received/dropped on interface 'net_ring0': 200/0"), "summary on stderr: {err}");
    quit_with_full_pool(t);
    let _ = std::fs::remove_dir_all(&dir);
}
