//! The multi-process samples over `net_ring` ports with real processes: symmetric_mp with two
//! processes each forwarding its own queue, client_server_mp with a server and two clients.
//! A `ring_peer` secondary injects numbered frames and checks every one comes out once,
//! intact, and that a flow always leaves on the same queue; client_server_mp's flow -> client
//! table is shared memory that the peer (another program) pins flows in.

use std::time::Duration;
use tests::{example_bin, prefix, Proc};

const T: Duration = Duration::from_secs(60);
const PEER: &str = env!("CARGO_BIN_EXE_ring_peer");

fn collected(out: &[String]) -> String {
    out.iter().find(|l| l.starts_with("COLLECTED")).cloned().unwrap_or_else(|| panic!("no result: {out:#?}"))
}

fn per_queue(line: &str) -> Vec<u64> {
    let list = line.split("per_queue=[").nth(1).unwrap().trim_end_matches(']');
    list.split(", ").map(|v| v.parse().unwrap()).collect()
}

#[test]
fn symmetric_mp_two_processes_share_the_flows() {
    let p = prefix("symmp");
    let eal = |l: &str, role: &str| -> Vec<String> {
        ["--file-prefix", &p, "--no-huge", "-m", "64", "--lcores", l, "--proc-type", role]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let mut a0 = eal("0@0", "primary");
    a0.extend(
        [
            "--vdev",
            "net_ring0,rx=sa,tx=sb",
            "--vdev",
            "net_ring1,rx=sc,tx=sd",
            "--",
            "--num-procs",
            "2",
            "--proc-id",
            "0",
        ]
        .map(String::from),
    );
    let a0: Vec<&str> = a0.iter().map(String::as_str).collect();
    let mut pri = Proc::spawn(&example_bin("symmetric_mp"), &a0);
    pri.expect("APP: proc 0 ready", T);
    let mut a1 = eal("1@1", "secondary");
    a1.extend(["--", "--num-procs", "2", "--proc-id", "1"].map(String::from));
    let a1: Vec<&str> = a1.iter().map(String::as_str).collect();
    let mut sec = Proc::spawn(&example_bin("symmetric_mp"), &a1);
    sec.expect("APP: proc 1 ready", T);
    let peer = Proc::spawn(
        PEER,
        &[
            "--file-prefix",
            &p,
            "--no-huge",
            "--lcores",
            "2@0",
            "--proc-type",
            "secondary",
            "--",
            "sa",
            "2",
            "sd",
            "2",
            "10000",
            "64",
            "flow",
        ],
    );
    let (code, out) = peer.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    let line = collected(&out);
    assert!(line.starts_with("COLLECTED total=10000 dups=0 bad=0 flows_split=0"), "{line}");
    let q = per_queue(&line);
    assert!(q[0] > 0 && q[1] > 0, "both processes forwarded: {line}");
    sec.send("");
    let (code, out) = sec.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    let rx1 = rx_of(&out);
    assert_eq!(rx1, q[1], "the secondary forwarded queue 1's share");
    pri.send("");
    let (code, out) = pri.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    let rx0 = rx_of(&out);
    assert_eq!(rx0, q[0], "the primary forwarded queue 0's share");
}

/// client_server_mp with a server and two clients; the `ring_peer` gets `peer_extra` after
/// its arguments. Returns (the peer's COLLECTED line, frames per client, the server's output).
fn client_server_mp(tag: &str, peer_extra: &[&str]) -> (String, Vec<u64>, Vec<String>) {
    let p = prefix(tag);
    let tests::samples::ClientServer { mut server, clients } =
        tests::samples::client_server_mp(&p, ["ca", "cb", "cc", "cd"], 2, T);
    let mut pargs =
        vec!["--file-prefix", &p, "--no-huge", "--lcores", "3@1", "--proc-type", "secondary", "--", "ca", "1", "cd"];
    pargs.extend_from_slice(&["2", "10000", "64", "0"]);
    pargs.extend_from_slice(peer_extra);
    let (code, out) = Proc::spawn(PEER, &pargs).finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    let line = collected(&out);
    assert!(
        line.starts_with("COLLECTED total=10000 dups=0 bad=0 flows_split=0"),
        "every packet once, each flow to one client: {line}"
    );
    let q = per_queue(&line);
    for (i, mut c) in clients.into_iter().enumerate() {
        c.send("");
        let (code, out) = c.finish(T);
        assert_eq!(code, Some(0), "{out:#?}");
        let l = out.iter().find(|l| l.starts_with(&format!("Client {i}: rx"))).expect("client summary");
        assert_eq!(l, &format!("Client {i}: rx {} tx {} dropped 0", q[i], q[i]));
    }
    server.send("");
    let (code, out) = server.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    for (i, n) in q.iter().enumerate() {
        let want = format!("Client {i}: rx {n} enqueued {n} dropped 0");
        assert!(out.iter().any(|l| l == &want), "server counts {want:?}: {out:#?}");
    }
    let pool = out.iter().find(|l| l.starts_with("Pool ")).expect("pool line");
    let free: Vec<u64> = pool.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(free[0], free[1], "{pool}");
    (line, q, out)
}

#[test]
fn client_server_mp_server_and_two_clients() {
    let (line, q, out) = client_server_mp("csmp", &[]);
    assert!(q[0] > 0 && q[1] > 0, "both clients got flows: {line}");
    assert!(out.iter().any(|l| l == "Flows: 64 in MProc_flow_table, 0 not recorded"), "{out:#?}");
}

/// The flow -> client mapping is the shared hash table: flows another program pinned there
/// to client 1 all go to client 1, and the server records no flow of its own.
#[test]
fn client_server_mp_obeys_flows_pinned_in_the_shared_table() {
    let (line, q, out) = client_server_mp("csmp_pin", &["pin=1"]);
    assert_eq!(q, [0, 10000], "every pinned flow to client 1: {line}");
    assert!(out.iter().any(|l| l == "Flows: 64 in MProc_flow_table, 0 not recorded"), "{out:#?}");
}

fn rx_of(out: &[String]) -> u64 {
    let l = out.iter().find(|l| l.starts_with("Port 0: RX - ")).unwrap_or_else(|| panic!("no stats: {out:#?}"));
    l.split(' ').nth(4).unwrap().trim_end_matches(',').parse().unwrap()
}

/// A primary and two secondaries on their own queues of two `net_ring` ports: every packet
/// accounted for, mbufs freed in other processes back in their pool, and the primary's port
/// still forwarding after a secondary is killed with SIGKILL.
#[test]
fn three_processes_on_their_own_queues_and_a_killed_secondary() {
    let p = prefix("mp3");
    let sym = example_bin("symmetric_mp");
    let start = |l: &str, role: &str, id: &str, vdevs: &[&str]| -> Proc {
        let mut a = vec!["--file-prefix", &p, "--no-huge", "-m", "64", "--lcores", l, "--proc-type", role];
        a.extend_from_slice(vdevs);
        a.extend_from_slice(&["--", "--num-procs", "3", "--proc-id", id]);
        let mut pr = Proc::spawn(&sym, &a);
        pr.expect(&format!("APP: proc {id} ready"), T);
        pr
    };
    let mut pri = start("0@0", "primary", "0", &["--vdev", "net_ring0,rx=ta,tx=tb", "--vdev", "net_ring1,rx=tc,tx=td"]);
    let mut s1 = start("1@1", "secondary", "1", &[]);
    let s2 = start("2@0", "secondary", "2", &[]);
    let peer = |lcore: &str, spread: &str, n: &str| -> Vec<String> {
        let args = [
            "--file-prefix",
            &p,
            "--no-huge",
            "--lcores",
            lcore,
            "--proc-type",
            "secondary",
            "--",
            "ta",
            "3",
            "td",
            "3",
            n,
            "48",
            spread,
        ];
        let (code, out) = Proc::spawn(PEER, &args).finish(T);
        assert_eq!(code, Some(0), "{out:#?}");
        out
    };
    let out = peer("3@1", "flow", "9000");
    let line = collected(&out);
    assert!(line.starts_with("COLLECTED total=9000 dups=0 bad=0 flows_split=0"), "{line}");
    let q = per_queue(&line);
    assert!(q.iter().all(|&n| n == 3000), "each process forwarded its queue's third: {line}");
    assert!(
        out.iter().any(|l| l == "POOL full=true in_use=0"),
        "mbufs freed by the other processes came back: {out:#?}"
    );

    s2.kill9();
    let out = peer("4@1", "0", "2000");
    let line = collected(&out);
    assert!(line.starts_with("COLLECTED total=2000 dups=0 bad=0"), "the primary's queue still forwards: {line}");
    assert_eq!(per_queue(&line), vec![2000, 0, 0]);

    s1.send("");
    let (code, out) = s1.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert_eq!(rx_of(&out), 3000);
    pri.send("");
    let (code, out) = pri.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert_eq!(rx_of(&out), 5000, "3000 before the kill, 2000 after");
}

#[test]
fn symmetric_mp_secondary_stops_cleanly_when_its_primary_dies() {
    let p = prefix("symdead");
    let common = ["--file-prefix", p.as_str(), "--no-huge", "-m", "64"];
    let mut a0: Vec<&str> = common.to_vec();
    a0.extend([
        "--lcores",
        "0@0",
        "--proc-type",
        "primary",
        "--vdev",
        "net_ring0",
        "--vdev",
        "net_ring1",
        "--",
        "--num-procs",
        "2",
        "--proc-id",
        "0",
    ]);
    let mut pri = Proc::spawn(&example_bin("symmetric_mp"), &a0);
    pri.expect("APP: proc 0 ready", T);
    let mut a1: Vec<&str> = common.to_vec();
    a1.extend(["--lcores", "1@1", "--proc-type", "secondary", "--", "--num-procs", "2", "--proc-id", "1"]);
    let mut sec = Proc::spawn(&example_bin("symmetric_mp"), &a1);
    sec.expect("APP: proc 1 ready", T);
    pri.kill9();
    // The secondary hears of it at once (pidfd), says so, and leaves through its normal exit.
    sec.expect("the primary process has exited", Duration::from_secs(10));
    let (code, out) = sec.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{out:#?}");
    let _ = std::fs::remove_dir_all(tests::runtime_dir(&p));
    tests::heap_files(&p).into_iter().for_each(|f| drop(std::fs::remove_file(f)));
}
