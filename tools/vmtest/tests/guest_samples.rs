//! The sample applications on emulated NICs in the QEMU guest, driven by host peers, in two
//! guest boots: `l2fwd` between two e1000 ports (every frame forwarded each way with its MAC
//! addresses rewritten, the counters, a clean exit on SIGINT with the pool full) and
//! `client_server_mp` on two e1000e ports with a server and three clients, two of them
//! sharing one of the model's two TX queues (every frame accounted for, flows split between the clients as the host's
//! flow hash predicts); then `symmetric_mp` on two igb ports with two processes, each
//! receiving part of the flows through its own RSS queue; then `testpmd` bridging two igb
//! ports (links up once started, frames to a third address forwarded because every port is
//! promiscuous from the start, as in DPDK's testpmd). The guest scripts stop l2fwd when
//! its periodic counters show every frame forwarded, and the multi-process samples (which
//! count at exit) when the host, having got every frame back, takes down the link of a
//! kernel-driven virtio NIC (`ctl`). Builds nothing itself; build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p examples --bin l2fwd --bin client_server_mp --bin symmetric_mp --bin testpmd --bin l3fwd
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

#[path = "../../../examples/common/flow.rs"]
#[allow(dead_code, reason = "flow_key names flows in client_server_mp's shared table; only flow_hash is used here")]
mod flow;

use common::{frames, guest_bin, mac, output, CONSOLE_WAIT};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use vmtest::{Guest, GuestConfig, GuestOutcome, Nic, NicModel, Peer};

/// How long the host waits for the next frame back before it gives up on the rest.
const RECV_WAIT: Duration = Duration::from_secs(30);
/// Most frames the host has in flight: fewer than an RX ring holds, so that a NIC with
/// several queues (whose model drops a frame when its queue is full) loses none.
const WINDOW: usize = 128;
/// Frames each way through l2fwd.
const L2FWD_N: u32 = 3000;
/// Frames into each port of client_server_mp.
const CSMP_N: u32 = 2000;
/// UDP flows the host spreads its frames over.
const FLOWS: u32 = 64;
const UDP_DST: u16 = 4791;
const TAG_A: u8 = 0x31;
const TAG_B: u8 = 0x32;

/// The output of command `i`, which must have exited 0.
fn assert_ok(o: &GuestOutcome, i: usize) -> String {
    let r = &o.results[i];
    assert_eq!(r.exit_code, Some(0), "`{}` failed:\n{}", r.command, r.output);
    r.output.clone()
}

/// Shell: waits up to `tenths`/10 s for `grep -Eq PATTERN FILE` to succeed.
fn wait_grep(pattern: &str, file: &str, tenths: u32) -> String {
    format!(
        "i=0; while ! grep -Eq '{pattern}' {file} && [ $i -lt {tenths} ]; do sleep 0.1; i=$((i+1)); done; \
         grep -Eq '{pattern}' {file} || echo \"TIMEOUT waiting for '{pattern}' in {file}\"; "
    )
}

/// Shell: brings up the kernel's virtio NIC `ctl` (the host's stop signal) with IPv6 off so
/// the kernel sends nothing on it; `$IF` names it.
const CTL_UP: &str = "IF=$(ls /sys/bus/pci/devices/$VMTEST_NIC_ctl/virtio*/net); \
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; \
ip link set $IF up; ";

/// Shell: waits (up to 150 s) until the host takes the link of `ctl` down.
const CTL_WAIT: &str = "i=0; while [ \"$(cat /sys/class/net/$IF/carrier)\" = 1 ] && [ $i -lt 1500 ]; do \
sleep 0.1; i=$((i+1)); done; echo \"control link carrier=$(cat /sys/class/net/$IF/carrier)\"; ";

/// The kernel-driven virtio NIC whose link the host takes down to tell the guest script
/// that all frames came back.
fn ctl_nic(slot: u8) -> Nic {
    Nic { slot, ..Nic::new(NicModel::VirtioTransitional, "ctl") }
}

/// Takes the control NIC's link down.
fn signal_guest(guest: &Guest) {
    guest.monitor().and_then(|mut m| m.set_link("ctl", false)).unwrap_or_else(|e| panic!("{e}"));
}

/// Sends `frames` on `tx` while receiving as many on `rx` (in any order) that `key` knows,
/// with at most [`WINDOW`] frames in flight: returns them by key, or why not (a duplicate,
/// or frames missing after [`RECV_WAIT`]).
fn pass_through(
    what: &str,
    tx: &mut Peer,
    rx: &mut Peer,
    frames: &[Vec<u8>],
    key: impl Fn(&[u8]) -> Option<u32>,
) -> Result<BTreeMap<u32, Vec<u8>>, String> {
    let t0 = Instant::now();
    let mut got = BTreeMap::new();
    let (received, done) = (AtomicUsize::new(0), AtomicBool::new(false));
    let r = std::thread::scope(|s| {
        let sender = s.spawn(|| -> Result<(), String> {
            for (i, f) in frames.iter().enumerate() {
                while i >= received.load(Ordering::Acquire) + WINDOW {
                    if done.load(Ordering::Acquire) {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
                tx.send(f).map_err(|e| format!("{what}: send: {e}"))?;
            }
            Ok(())
        });
        let r = (|| {
            while got.len() < frames.len() {
                let Some(f) = rx.recv_matching(RECV_WAIT, |f| key(f).is_some()).map_err(|e| format!("{what}: {e}"))?
                else {
                    return Err(format!(
                        "{what}: only {} of {} frames came back within {RECV_WAIT:?}",
                        got.len(),
                        frames.len()
                    ));
                };
                let k = key(&f).expect("matched");
                if got.insert(k, f).is_some() {
                    return Err(format!("{what}: frame {k} arrived twice"));
                }
                received.store(got.len(), Ordering::Release);
            }
            Ok(())
        })();
        done.store(true, Ordering::Release);
        sender.join().expect("sender thread")?;
        r
    });
    eprintln!("{what}: {} of {} frames through in {:?}", got.len(), frames.len(), t0.elapsed());
    r.map(|()| got)
}

/// Checks that every frame of `sent` came back (`got`, by key in the same order) unchanged.
fn unchanged(what: &str, sent: &[Vec<u8>], got: &BTreeMap<u32, Vec<u8>>) -> Result<(), String> {
    match got.values().zip(sent).find(|(f, want)| f != want) {
        None => Ok(()),
        Some((_, want)) => Err(format!("{what}: frame {:?} came back changed", udp_seq(want))),
    }
}

/// Panics with `errors` (after the guest's output has been printed), if any.
fn assert_no_errors(errors: &[String]) {
    assert!(errors.is_empty(), "host side:\n{}", errors.join("\n"));
}

// ---------------------------------------------------------------------------------------
// l2fwd and client_server_mp on e1000 / e1000e (one boot)

const MAC_L0: &str = "52:54:00:00:10:00";
const MAC_L1: &str = "52:54:00:00:10:01";
const MAC_C0: &str = "52:54:00:00:20:00";
const MAC_C1: &str = "52:54:00:00:20:01";

/// The guest script of the l2fwd run: waits until its counters show `2n` frames sent,
/// then stops it with SIGINT as Ctrl-C would.
fn l2fwd_script(n: u32) -> String {
    format!(
        "rm -f /tmp/l2fwd.log; \
l2fwd -l 0-1 -m 64 --file-prefix l2 -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- -p 0x3 -T 1 > /tmp/l2fwd.log 2>&1 & P=$!; \
{}echo L2FWD_READY; \
{}kill -INT $P; wait $P; rc=$?; cat /tmp/l2fwd.log; echo \"l2fwd exit code $rc\"; [ $rc -eq 0 ]",
        wait_grep("^Lcore", "/tmp/l2fwd.log", 1200),
        wait_grep(&format!("Total packets sent: +{}$", 2 * n), "/tmp/l2fwd.log", 1800),
    )
}

/// The guest script of the client_server_mp run: the server, then two client secondaries;
/// when the host signals that every frame came back, SIGTERM to the clients, then to the
/// server.
fn csmp_script() -> String {
    format!(
        "rm -f /tmp/cs_*; {CTL_UP}EAL=\"--file-prefix cs -a $VMTEST_NIC_n3 -a $VMTEST_NIC_n4\"; \
client_server_mp server -l 0 -m 96 $EAL -- -p 3 -n 3 > /tmp/cs_server.log 2>&1 & S=$!; \
{}\
client_server_mp client --lcores 1@1 --proc-type secondary $EAL -- -n 0 > /tmp/cs_c0.log 2>&1 & C0=$!; \
client_server_mp client --lcores 2@0 --proc-type secondary $EAL -- -n 1 > /tmp/cs_c1.log 2>&1 & C1=$!; \
client_server_mp client --lcores 3@1 --proc-type secondary $EAL -- -n 2 > /tmp/cs_c2.log 2>&1 & C2=$!; \
{}{}{}echo \"CSMP_READY carrier=$(cat /sys/class/net/$IF/carrier)\"; {CTL_WAIT}\
kill -TERM $C0 $C1 $C2; wait $C0; r0=$?; wait $C1; r1=$?; wait $C2; r2=$?; kill -TERM $S; wait $S; rs=$?; \
for f in server c0 c1 c2; do echo \"=== $f\"; cat /tmp/cs_$f.log; done; \
echo \"csmp exit codes: server $rs client0 $r0 client1 $r1 client2 $r2\"; \
[ $rs -eq 0 ] && [ $r0 -eq 0 ] && [ $r1 -eq 0 ] && [ $r2 -eq 0 ]",
        wait_grep("APP: server ready", "/tmp/cs_server.log", 1200),
        wait_grep("APP: client 0 ready", "/tmp/cs_c0.log", 1200),
        wait_grep("APP: client 1 ready", "/tmp/cs_c1.log", 1200),
        wait_grep("APP: client 2 ready", "/tmp/cs_c2.log", 1200),
    )
}

/// An IPv4/UDP frame from the host to `dst` of flow `seq % FLOWS`, `frames::len_of(seq)`
/// bytes long, carrying `seq` and `tag` and a payload that follows from them.
fn udp_frame(seq: u32, tag: u8, dst: [u8; 6]) -> Vec<u8> {
    let len = frames::len_of(seq).max(60);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&frames::HOST_MAC);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 1, (seq % FLOWS) as u8]);
    let mut sum: u32 = f[14..34].chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    f[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let flow = 1000 + (seq % FLOWS) as u16;
    f[34..36].copy_from_slice(&flow.to_be_bytes());
    f[36..38].copy_from_slice(&UDP_DST.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f[42..46].copy_from_slice(&seq.to_be_bytes());
    f[46] = tag;
    for (i, b) in f.iter_mut().enumerate().skip(47) {
        *b = (seq as usize).wrapping_mul(13).wrapping_add(i * 5) as u8;
    }
    f
}

/// The sequence number of one of [`udp_frame`]'s frames.
fn udp_seq(f: &[u8]) -> Option<u32> {
    (f.len() >= 47 && f[12..14] == [0x08, 0x00] && f[23] == 17 && f[36..38] == UDP_DST.to_be_bytes())
        .then(|| u32::from_be_bytes([f[42], f[43], f[44], f[45]]))
}

/// The number after `key` on the line starting with `prefix`.
fn field(out: &str, prefix: &str, key: &str) -> Option<u64> {
    let l = out.lines().rev().find(|l| l.trim_start().starts_with(prefix))?;
    let rest = &l[l.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn l2fwd_on_two_e1000_and_client_server_mp_on_e1000e_with_three_clients() {
    if !common::qemu_available_or_skip("l2fwd_on_two_e1000_and_client_server_mp_on_e1000e_with_three_clients") {
        return;
    }
    let cfg = GuestConfig { net_modules: true, ..GuestConfig::default() }
        .binary(guest_bin("l2fwd"))
        .binary(guest_bin("client_server_mp"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(360))
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC_L0).stream())
        .nic(Nic::new(NicModel::E1000, "n2").mac(MAC_L1).stream())
        .nic(Nic::new(NicModel::E1000e, "n3").mac(MAC_C0).stream())
        .nic(Nic::new(NicModel::E1000e, "n4").mac(MAC_C1).stream())
        .nic(ctl_nic(7))
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2 $VMTEST_NIC_n3 $VMTEST_NIC_n4")
        .command(l2fwd_script(L2FWD_N))
        .command(csmp_script());
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut p1 = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let mut p2 = guest.peer("n2").unwrap_or_else(|e| panic!("{e}"));
    let mut p3 = guest.peer("n3").unwrap_or_else(|e| panic!("{e}"));
    let mut p4 = guest.peer("n4").unwrap_or_else(|e| panic!("{e}"));

    let mut errors = Vec::new();
    // l2fwd: port 0 (n1) <-> port 1 (n2); a frame leaves with destination 02:00:00:00:00:<TX
    // port> and the TX port's address as source, the rest untouched.
    guest.wait_for_console("L2FWD_READY", CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    let l2_dst = |port: u8| [0x02, 0, 0, 0, 0, port];
    for (what, forward, tag, in_mac, out_mac, out_port) in [
        ("l2fwd port 0 -> 1", true, TAG_A, MAC_L0, MAC_L1, 1u8),
        ("l2fwd port 1 -> 0", false, TAG_B, MAC_L1, MAC_L0, 0u8),
    ] {
        let (tx, rx) = if forward { (&mut p1, &mut p2) } else { (&mut p2, &mut p1) };
        let sent: Vec<Vec<u8>> = (0..L2FWD_N).map(|s| frames::build(s, tag, mac(in_mac), frames::HOST_MAC)).collect();
        let r = pass_through(what, tx, rx, &sent, |f| frames::seq_of(f).filter(|_| f.len() > 18 && f[18] == tag))
            .and_then(|got| {
                got.iter().try_for_each(|(seq, f)| {
                    frames::check(f, *seq, tag, l2_dst(out_port), mac(out_mac)).map_err(|e| format!("{what}: {e}"))
                })
            });
        errors.extend(r.err());
    }

    // client_server_mp: frames of FLOWS flows into each e1000e port; the clients send each
    // out of the other port unchanged.
    if let Err(e) = guest.wait_for_console("CSMP_READY carrier=1", CONSOLE_WAIT) {
        errors.push(e.to_string());
    }
    let mut per_client = [0u64; 3];
    for (what, forward, tag, in_mac, base) in
        [("csmp port 0 -> 1", true, TAG_A, MAC_C0, 0u32), ("csmp port 1 -> 0", false, TAG_B, MAC_C1, 1 << 20)]
    {
        let (tx, rx) = if forward { (&mut p3, &mut p4) } else { (&mut p4, &mut p3) };
        let sent: Vec<Vec<u8>> = (base..base + CSMP_N).map(|s| udp_frame(s, tag, mac(in_mac))).collect();
        for f in &sent {
            per_client[(flow::flow_hash(f) % 3) as usize] += 1;
        }
        let r = pass_through(what, tx, rx, &sent, |f| udp_seq(f).filter(|_| f[46] == tag));
        errors.extend(r.and_then(|got| unchanged(what, &sent, &got)).err());
    }
    eprintln!("client_server_mp: flow hash predicts {per_client:?} frames per client");
    signal_guest(&guest);

    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    for i in 0..o.results.len() {
        output(&o, i);
    }
    assert_no_errors(&errors);
    assert!(per_client.iter().all(|&n| n > 0), "the test flows must hash to every client: {per_client:?}");
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0);

    let l2 = assert_ok(&o, 1);
    let total = u64::from(2 * L2FWD_N);
    assert!(l2.contains("Port 0, MAC address: 52:54:00:00:10:00"), "{l2}");
    assert!(l2.contains("Port 1, MAC address: 52:54:00:00:10:01"), "{l2}");
    assert!(l2.contains("Signal received, preparing to exit..."), "l2fwd must stop on SIGINT: {l2}");
    assert_eq!(field(&l2, "Total packets sent:", ":"), Some(total), "{l2}");
    assert_eq!(field(&l2, "Total packets received:", ":"), Some(total), "{l2}");
    assert_eq!(field(&l2, "Total packets dropped:", ":"), Some(0), "{l2}");
    assert!(l2.contains("Pool mbuf_pool: 8191 of 8191 mbufs free"), "l2fwd must give every mbuf back: {l2}");
    assert!(l2.contains("Bye..."), "{l2}");

    let cs = assert_ok(&o, 2);
    assert!(cs.contains("control link carrier=0"), "the samples must have been stopped by the host's signal: {cs}");
    // The 82574L has two TX queues: clients 0 and 2 share queue 0, client 1 has queue 1.
    assert!(cs.contains("has 2 TX queue(s) for 3 clients: clients share them"), "{cs}");
    for (id, n) in per_client.iter().enumerate() {
        let q = id % 2;
        assert!(cs.contains(&format!("APP: client {id}: port 0 TX queue {q} (shared with other clients)")), "{cs}");
        assert!(
            cs.contains(&format!("Client {id}: rx {n} enqueued {n} dropped 0")),
            "the server must hand client {id} exactly the {n} frames of its flows: {cs}"
        );
        assert!(
            cs.contains(&format!("Client {id}: rx {n} tx {n} dropped 0")),
            "client {id} must send all its {n} frames: {cs}"
        );
    }
    assert!(cs.contains("Pool MProc_pktmbuf_pool: 16383 of 16383 mbufs free"), "{cs}");
}

// ---------------------------------------------------------------------------------------
// symmetric_mp on a multi-queue NIC (a second boot)

const MAC_S0: &str = "52:54:00:00:30:00";
const MAC_S1: &str = "52:54:00:00:30:01";
/// Frames into each port of symmetric_mp.
const SYM_N: u32 = 2000;

/// The guest script of the symmetric_mp run: `procs` processes on ports n1 and n2; they
/// stop (SIGTERM, secondaries first) when the host takes the link of the kernel's virtio
/// NIC `ctl` down, its signal that all frames came back.
fn symmetric_script(procs: u16) -> String {
    let mut s = format!("rm -f /tmp/sym_*; {CTL_UP}EAL=\"--file-prefix sym -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2\"; ");
    for id in 0..procs {
        let (lcores, role) =
            if id == 0 { ("0@0".to_string(), "primary -m 64") } else { (format!("{id}@{}", id % 2), "secondary") };
        s.push_str(&format!(
            "symmetric_mp --lcores {lcores} --proc-type {role} $EAL -- --num-procs {procs} --proc-id {id} \
             > /tmp/sym_{id}.log 2>&1 & P{id}=$!; {}",
            wait_grep(&format!("APP: proc {id} ready"), &format!("/tmp/sym_{id}.log"), 1200)
        ));
    }
    s.push_str(&format!("echo \"SYM_READY carrier=$(cat /sys/class/net/$IF/carrier)\"; {CTL_WAIT}ok=0; "));
    for id in (0..procs).rev() {
        s.push_str(&format!(
            "kill -TERM $P{id}; wait $P{id}; r=$?; echo \"=== proc {id} (exit code $r)\"; cat /tmp/sym_{id}.log; \
             [ $r -eq 0 ] || ok=1; "
        ));
    }
    s.push_str("exit $ok");
    s
}

/// `(RX, TX, Drop)` of `port` in one process's exit statistics.
fn sym_counts(out: &str, port: u16) -> (u64, u64, u64) {
    let p = format!("Port {port}: RX - ");
    let l = out.lines().find(|l| l.starts_with(&p)).unwrap_or_else(|| panic!("no `{p}` line in {out}"));
    let n: Vec<u64> = l[p.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(n.len(), 3, "{l}");
    (n[0], n[1], n[2])
}

/// symmetric_mp with `procs` processes on two `model` ports wired to host peers: the host
/// sends `SYM_N` frames of `FLOWS` flows into each port and gets every one back unchanged
/// from the other; each process must have received part of them.
fn symmetric_mp_on(model: NicModel, procs: u16) {
    let cfg = GuestConfig { net_modules: true, ..GuestConfig::default() }
        .binary(guest_bin("symmetric_mp"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(240))
        // Slots 3 and 5: QEMU's igb keeps the functions of its virtual functions 16 and 17
        // slots above its own, so two igb one slot apart collide.
        .nic(Nic { slot: 3, ..Nic::new(model, "n1").mac(MAC_S0).stream() })
        .nic(Nic { slot: 5, ..Nic::new(model, "n2").mac(MAC_S1).stream() })
        .nic(ctl_nic(4))
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(symmetric_script(procs));
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut p1 = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let mut p2 = guest.peer("n2").unwrap_or_else(|e| panic!("{e}"));
    let mut errors = Vec::new();
    if let Err(e) = guest.wait_for_console("SYM_READY carrier=1", CONSOLE_WAIT) {
        errors.push(e.to_string());
    }
    for (what, forward, tag, in_mac, base) in [
        ("symmetric_mp port 0 -> 1", true, TAG_A, MAC_S0, 0u32),
        ("symmetric_mp port 1 -> 0", false, TAG_B, MAC_S1, 1 << 20),
    ] {
        let (tx, rx) = if forward { (&mut p1, &mut p2) } else { (&mut p2, &mut p1) };
        let sent: Vec<Vec<u8>> = (base..base + SYM_N).map(|s| udp_frame(s, tag, mac(in_mac))).collect();
        let r = pass_through(what, tx, rx, &sent, |f| udp_seq(f).filter(|_| f[46] == tag));
        errors.extend(r.and_then(|got| unchanged(what, &sent, &got)).err());
    }
    signal_guest(&guest);
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    for i in 0..o.results.len() {
        output(&o, i);
    }
    assert_no_errors(&errors);
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0);
    let out = assert_ok(&o, 1);
    assert!(out.contains("control link carrier=0"), "the processes must have been stopped by the host's signal: {out}");
    let mut sums = [(0u64, 0u64); 2];
    for id in 0..procs {
        let start = out.find(&format!("=== proc {id} (exit code 0)")).unwrap_or_else(|| panic!("proc {id}: {out}"));
        let log = &out[start..];
        let log = &log[..log[1..].find("=== proc").map_or(log.len(), |e| e + 1)];
        for port in 0..2u16 {
            let (rx, tx, drop) = sym_counts(log, port);
            eprintln!("symmetric_mp proc {id} port {port}: rx {rx} tx {tx} drop {drop}");
            assert_eq!(drop, 0, "proc {id} port {port}: {log}");
            assert!(rx > 0, "proc {id} must receive part of the flows on port {port} (RSS): {log}");
            // A process sends out of the other port of the pair what it received.
            assert_eq!(tx, sym_counts(log, port ^ 1).0, "proc {id} port {port}: {log}");
            sums[port as usize].0 += rx;
            sums[port as usize].1 += tx;
        }
    }
    let n = u64::from(SYM_N);
    assert_eq!(sums, [(n, n), (n, n)], "every frame received once and sent once over all processes: {out}");
}

#[test]
fn symmetric_mp_on_two_igb_ports_with_two_processes_sharing_the_flows() {
    if !common::qemu_available_or_skip("symmetric_mp_on_two_igb_ports_with_two_processes_sharing_the_flows") {
        return;
    }
    symmetric_mp_on(NicModel::Igb, 2);
}

// ---------------------------------------------------------------------------------------
// testpmd as a bridge between two igb ports (a third boot)

const MAC_T0: &str = "52:54:00:00:40:00";
const MAC_T1: &str = "52:54:00:00:40:01";
/// Where the host's frames through testpmd are addressed: neither port's own address, as in
/// a bridge, so only a port in promiscuous mode takes them.
const MAC_FOREIGN: [u8; 6] = [0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc];
/// Frames into each port of testpmd.
const TESTPMD_N: u32 = 2000;

/// The guest script of the testpmd run: io forwarding between n1 and n2 with DPDK's
/// defaults (no promiscuous-mode flag), stdin at its end; stopped with SIGINT when the host
/// signals that every frame came back.
fn testpmd_script() -> String {
    format!(
        "rm -f /tmp/tp.log; {CTL_UP}\
testpmd -l 0-1 -m 64 --file-prefix tp -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- --rxd 256 --txd 256 \
< /dev/null > /tmp/tp.log 2>&1 & P=$!; {}\
echo \"TESTPMD_READY carrier=$(cat /sys/class/net/$IF/carrier)\"; {CTL_WAIT}\
kill -INT $P; wait $P; rc=$?; cat /tmp/tp.log; echo \"testpmd exit code $rc\"; [ $rc -eq 0 ]",
        wait_grep("Press enter to exit", "/tmp/tp.log", 1200),
    )
}

/// testpmd started as DPDK users start it bridges two igb ports: the links are reported up
/// once it has started (it waits for them, as DPDK's testpmd does), and frames addressed to
/// a third host go through both ways unchanged because every port is in promiscuous mode
/// from the start, as in DPDK's testpmd.
#[test]
fn testpmd_bridges_two_igb_ports_with_links_up_and_promiscuous_mode_from_the_start() {
    if !common::qemu_available_or_skip(
        "testpmd_bridges_two_igb_ports_with_links_up_and_promiscuous_mode_from_the_start",
    ) {
        return;
    }
    let cfg = GuestConfig { net_modules: true, ..GuestConfig::default() }
        .binary(guest_bin("testpmd"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(240))
        .nic(Nic { slot: 3, ..Nic::new(NicModel::Igb, "n1").mac(MAC_T0).stream() })
        .nic(Nic { slot: 5, ..Nic::new(NicModel::Igb, "n2").mac(MAC_T1).stream() })
        .nic(ctl_nic(4))
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(testpmd_script());
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut p1 = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let mut p2 = guest.peer("n2").unwrap_or_else(|e| panic!("{e}"));
    let mut errors = Vec::new();
    if let Err(e) = guest.wait_for_console("TESTPMD_READY carrier=1", CONSOLE_WAIT) {
        errors.push(e.to_string());
    }
    for (what, forward, tag, base) in
        [("testpmd port 0 -> 1", true, TAG_A, 0u32), ("testpmd port 1 -> 0", false, TAG_B, 1 << 20)]
    {
        let (tx, rx) = if forward { (&mut p1, &mut p2) } else { (&mut p2, &mut p1) };
        let sent: Vec<Vec<u8>> = (base..base + TESTPMD_N).map(|s| udp_frame(s, tag, MAC_FOREIGN)).collect();
        let r = pass_through(what, tx, rx, &sent, |f| udp_seq(f).filter(|_| f[46] == tag));
        errors.extend(r.and_then(|got| unchanged(what, &sent, &got)).err());
    }
    signal_guest(&guest);
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    for i in 0..o.results.len() {
        output(&o, i);
    }
    assert_no_errors(&errors);
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0);
    let out = assert_ok(&o, 1);
    assert!(out.contains("control link carrier=0"), "testpmd must have been stopped by the host's signal: {out}");
    let check = out.find("Checking link statuses...").unwrap_or_else(|| panic!("no link check: {out}"));
    for port in 0..2 {
        let line = format!("Port {port}: Link up at 1000 Mbps FDX");
        let at = out.find(&line).unwrap_or_else(|| panic!("testpmd must report port {port}'s link up at start: {out}"));
        assert!(at > check, "the link is reported after the wait for it: {out}");
    }
    let acc = out
        .lines()
        .skip_while(|l| !l.contains("Accumulated forward statistics"))
        .nth(1)
        .unwrap_or_else(|| panic!("no accumulated statistics: {out}"));
    let n = u64::from(2 * TESTPMD_N);
    assert_eq!(field(acc, "", "RX-packets:"), Some(n), "{acc}");
    assert_eq!(field(acc, "", "TX-packets:"), Some(n), "{acc}");
    assert_eq!(field(acc, "", "TX-dropped:"), Some(0), "{acc}");
    assert!(
        out.lines().any(|l| l.starts_with("Pool mb_pool_0:") && {
            let v: Vec<u64> = l.split_whitespace().filter_map(|w| w.parse().ok()).collect();
            v.len() == 2 && v[0] == v[1]
        }),
        "testpmd must give every mbuf back: {out}"
    );
}

/// The guest script of the l3fwd run: l3fwd by LPM until the host takes the control link
/// down, then l3fwd by EM until it brings it up again; each stopped with SIGINT.
fn l3fwd_script() -> String {
    let run = |mode: &str, ready: &str, wait: &str| {
        format!(
            "rm -f /tmp/l3.log; l3fwd -l 0-1 -m 160 --file-prefix l3{mode} -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- -p 0x3 -P \
--lookup {mode} > /tmp/l3.log 2>&1 & P=$!; {}sleep 1.5; echo \"{ready} carrier=$(cat /sys/class/net/$IF/carrier)\"; {wait}\
kill -INT $P; wait $P; rc=$?; echo \"=== l3fwd {mode}\"; cat /tmp/l3.log; echo \"l3fwd {mode} exit code $rc\"; ",
            wait_grep("entering main loop", "/tmp/l3.log", 1200)
        )
    };
    let up_wait = "i=0; while [ \"$(cat /sys/class/net/$IF/carrier)\" = 0 ] && [ $i -lt 1500 ]; do \
sleep 0.1; i=$((i+1)); done; ";
    format!("{CTL_UP}{}{}", run("lpm", "L3FWD_LPM_READY", CTL_WAIT), run("em", "L3FWD_EM_READY", up_wait))
}

/// A UDP frame of DPDK's default exact-match 5-tuple for port `n` (198.18.n.1 -> 198.18.n.0,
/// or 2001:200:0:n::1 -> 2001:200:0:n::, port 9 -> 9; also inside the port's default LPM
/// route), TTL or hop limit 64, carrying `seq` and `tag`.
fn l3_frame(seq: u32, tag: u8, dst: [u8; 6], n: u8, v6: bool) -> Vec<u8> {
    let (l3, l4) = if v6 { (40, 54) } else { (20, 34) };
    let len = (l4 + 8 + 6 + (seq % 40) as usize).max(60);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&frames::HOST_MAC);
    let udp_len = (len - l4) as u16;
    if v6 {
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        f[18..20].copy_from_slice(&udp_len.to_be_bytes());
        f[20] = 17;
        f[21] = 64;
        let net = [0x20, 0x01, 0x02, 0x00, 0, 0, 0, n];
        f[22..30].copy_from_slice(&net);
        f[37] = 1;
        f[38..46].copy_from_slice(&net);
    } else {
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&((l3 + udp_len as usize) as u16).to_be_bytes());
        f[22] = 64;
        f[23] = 17;
        f[26..30].copy_from_slice(&[198, 18, n, 1]);
        f[30..34].copy_from_slice(&[198, 18, n, 0]);
        let c = ipv4_checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }
    f[l4..l4 + 2].copy_from_slice(&9u16.to_be_bytes());
    f[l4 + 2..l4 + 4].copy_from_slice(&9u16.to_be_bytes());
    f[l4 + 4..l4 + 6].copy_from_slice(&udp_len.to_be_bytes());
    f[l4 + 8..l4 + 12].copy_from_slice(&seq.to_be_bytes());
    f[l4 + 12] = tag;
    f
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The sequence number of one of [`l3_frame`]'s frames with `tag`.
fn l3_seq(f: &[u8], tag: u8) -> Option<u32> {
    let l4 = match f.get(12..14)? {
        [0x08, 0x00] => 34,
        [0x86, 0xdd] => 54,
        _ => return None,
    };
    (f.len() > l4 + 12 && f[l4 + 12] == tag).then(|| u32::from_be_bytes(f[l4 + 8..l4 + 12].try_into().unwrap()))
}

/// Checks a routed frame against the one sent: Ethernet addresses rewritten for output port
/// `out` (`smac` its address), TTL or hop limit 63, the IPv4 checksum right, the rest as sent.
fn routed_right(sent: &[u8], got: &[u8], out: u8, smac: [u8; 6]) -> Result<(), String> {
    let mut want = sent.to_vec();
    want[0..6].copy_from_slice(&[2, 0, 0, 0, 0, out]);
    want[6..12].copy_from_slice(&smac);
    if want[12..14] == [0x86, 0xdd] {
        want[21] = 63;
    } else {
        want[22] = 63;
        if ipv4_checksum(&got[14..34]) != 0 {
            return Err("IPv4 header checksum wrong after the TTL decrement".into());
        }
        want[24..26].copy_from_slice(&got[24..26]);
    }
    if got != want.as_slice() {
        return Err(format!("got {got:02x?}, want {want:02x?}"));
    }
    Ok(())
}

/// l3fwd on two e1000 ports, by LPM and then by EM: IPv4 and IPv6 frames of the default
/// routes for port 1 sent into port 0 leave on port 1 and those for port 0 sent into port 1
/// leave on port 0, each with TTL / hop limit decremented, the IPv4 checksum right and the
/// Ethernet addresses rewritten; l3fwd exits cleanly on SIGINT with every mbuf back.
#[test]
fn l3fwd_on_two_e1000_by_lpm_and_by_em() {
    if !common::qemu_available_or_skip("l3fwd_on_two_e1000_by_lpm_and_by_em") {
        return;
    }
    const N: u32 = 400;
    let cfg = GuestConfig { net_modules: true, hugepages: 200, ..GuestConfig::default() }
        .binary(guest_bin("l3fwd"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(300))
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC_L0).stream())
        .nic(Nic::new(NicModel::E1000, "n2").mac(MAC_L1).stream())
        .nic(ctl_nic(7))
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(l3fwd_script());
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut p1 = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let mut p2 = guest.peer("n2").unwrap_or_else(|e| panic!("{e}"));
    let mut errors = Vec::new();
    for (mode, ready) in [("lpm", "L3FWD_LPM_READY carrier=1"), ("em", "L3FWD_EM_READY carrier=0")] {
        if let Err(e) = guest.wait_for_console(ready, CONSOLE_WAIT) {
            errors.push(e.to_string());
        }
        for (forward, tag, in_mac, out, out_mac) in
            [(true, TAG_A, MAC_L0, 1u8, MAC_L1), (false, TAG_B, MAC_L1, 0u8, MAC_L0)]
        {
            let what = format!("l3fwd {mode} port {} -> {out}", 1 - out);
            let (tx, rx) = if forward { (&mut p1, &mut p2) } else { (&mut p2, &mut p1) };
            let sent: Vec<Vec<u8>> = (0..N).map(|s| l3_frame(s, tag, mac(in_mac), out, s % 2 == 1)).collect();
            let r = pass_through(&what, tx, rx, &sent, |f| l3_seq(f, tag)).and_then(|got| {
                got.iter().try_for_each(|(seq, f)| {
                    routed_right(&sent[*seq as usize], f, out, mac(out_mac))
                        .map_err(|e| format!("{what}: frame {seq}: {e}"))
                })
            });
            errors.extend(r.err());
        }
        let up = mode == "em";
        guest.monitor().and_then(|mut m| m.set_link("ctl", up)).unwrap_or_else(|e| panic!("{e}"));
    }
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    for i in 0..o.results.len() {
        output(&o, i);
    }
    assert_no_errors(&errors);
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0);
    let out = assert_ok(&o, 1);
    for mode in ["lpm", "em"] {
        assert!(out.contains(&format!("l3fwd {mode} exit code 0")), "{out}");
    }
    assert_eq!(out.matches(&format!("Port 0: rx={N} tx={N} dropped=0")).count(), 2, "{out}");
    assert_eq!(out.matches(&format!("Port 1: rx={N} tx={N} dropped=0")).count(), 2, "{out}");
    assert_eq!(out.matches("Pool mbuf_pool: 8191 of 8191 mbufs free").count(), 2, "{out}");
}
