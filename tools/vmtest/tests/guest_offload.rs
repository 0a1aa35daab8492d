//! Checksum and TSO offloads proven by Linux's TCP stack at both ends: two host network
//! namespaces, each holding the TAP backend of one of the guest's two virtio-net NICs,
//! with Bypass testpmd in the guest forwarding between the NICs. A 20 MB file goes from
//! one namespace to the other over TCP and its SHA-256 must match at both ends, first
//! through the csum engine with the RX checksum offload and the TX TCP/UDP checksum and
//! TSO offloads on (`tso set 800`: the 1448-byte segments Linux sends are cut in two by
//! the device), then through plain io forwarding with no offload; both rates are printed.
//! Before the transfer, TCP segments with a corrupted checksum sent by a raw socket in the
//! first namespace must not be reported good: virtio reports a checksum only when the
//! sender's stack left it partial or checked it, so the engine counts them as not checked.
//! The same runs on two igb and on two e1000e NICs, whose devices check every checksum:
//! there each corrupted segment must be counted bad and the file's segments good; and on
//! two e1000 NICs, whose QEMU model checks none: nothing may be flagged there. On all three
//! Intel models the IPv4/TCP/UDP checksums and TSO are the device's (context descriptors),
//! and TSO is proven by frame counts: their TAP backends carry no virtio-net header, so
//! QEMU sends each segment as a frame, and B's TAP interface must count more frames than
//! testpmd handed to the NIC.
//! Last, the VLAN filter and all-multicast mode on igb: tagged and multicast frames from a
//! packet socket pass only once their VLAN was added or all-multicast is on.
//! Builds nothing itself; build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p examples --bin testpmd
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

use common::netns::{
    count_after, filter_frame, filter_frames, in_netns, mac_in, pseudo_random_bytes, send_raw, send_raw_in, sha256,
    tempdir, Namespaces, FILTER_N, IP,
};
use common::testpmd_script::{port0_rx_per_stop, script_output, send_cmds, wait_carrier, wait_count, CONTROL_LINK_UP};
use common::{guest_bin, CONSOLE_WAIT};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use vmtest::{GuestConfig, Nic, NicModel};

const MAC_0: &str = "52:54:00:00:50:00";
const MAC_1: &str = "52:54:00:00:50:01";
/// Bytes of the file sent through each forwarding set-up.
const FILE_BYTES: usize = 20 << 20;
/// Corrupted TCP segments the host sends before the transfer.
const CORRUPTED: u32 = 50;
const IP_A: [u8; 4] = IP[0];
const IP_B: [u8; 4] = IP[1];
const PORT: u16 = 5201;

/// Sends file `src` over TCP from namespace A to a receiver in namespace B that writes it
/// to `dst`; returns the transfer's rate in Mbit/s (from the first byte accepted to the
/// last received).
fn transfer(ns: &Namespaces, src: &Path, dst: &Path) -> f64 {
    let listener = in_netns(&ns.names[1], || TcpListener::bind(SocketAddr::from((IP_B, PORT))).expect("bind in B"))
        .join()
        .expect("listener thread");
    let dst_path = dst.to_path_buf();
    let receiver = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        let t0 = Instant::now();
        let mut out = std::fs::File::create(&dst_path).expect("create the received file");
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0usize;
        loop {
            let n = s.read(&mut buf).unwrap_or_else(|e| panic!("receive after {total} bytes: {e}"));
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).expect("write");
            total += n;
        }
        (total, t0.elapsed())
    });
    let data = std::fs::read(src).expect("read the file to send");
    let sender = in_netns(&ns.names[0], move || {
        let t0 = Instant::now();
        let mut s = loop {
            match TcpStream::connect_timeout(&SocketAddr::from((IP_B, PORT)), Duration::from_secs(5)) {
                Ok(s) => break s,
                Err(e) if t0.elapsed() < Duration::from_secs(60) => {
                    eprintln!("connect: {e}; again");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => panic!("no TCP connection through the guest in 60 s: {e}"),
            }
        };
        s.set_write_timeout(Some(Duration::from_secs(60))).expect("timeout");
        s.write_all(&data).expect("send the file");
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    });
    sender.join().expect("sender thread");
    let (total, took) = receiver.join().expect("receiver thread");
    assert_eq!(total, FILE_BYTES, "bytes received");
    total as f64 * 8.0 / took.as_secs_f64() / 1e6
}

/// An Ethernet/IPv4/TCP segment from A to B (to a closed port) whose TCP checksum is
/// wrong by one.
fn corrupted_segment(dst_mac: [u8; 6], src_mac: [u8; 6], seq: u32) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 20 + 16];
    f[0..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&src_mac);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&56u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&IP_A);
    ip[16..20].copy_from_slice(&IP_B);
    let c = ethdev::cksum::ipv4_hdr_cksum(ip).expect("header");
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let tcp = &mut f[34..];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&9u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x18;
    let ph = ethdev::cksum::ipv4_phdr_sum(&f[14..34], false).expect("header");
    let good = ethdev::cksum::l4_cksum(ph, &f[34..], 16, false).expect("segment");
    f[50..52].copy_from_slice(&good.wrapping_add(1).to_be_bytes());
    f
}

/// Shell: waits up to 120 s for `grep -q PATTERN FILE`.
fn wait_grep(pattern: &str, file: &str) -> String {
    format!(
        "i=0; while ! grep -q '{pattern}' {file} && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; \
         grep -q '{pattern}' {file} || echo \"TIMEOUT waiting for '{pattern}' in {file}\"; "
    )
}

/// The guest script: testpmd with offloads in csum mode (until the host takes the control
/// link down), then testpmd with none in io mode (until it brings it up again).
fn script() -> String {
    let tp = |prefix: &str| {
        format!(
            "testpmd -l 0-1 -m 64 --file-prefix {prefix} -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- -i --rxd 256 --txd 256"
        )
    };
    format!(
        "{CONTROL_LINK_UP}rm -f /tmp/c1 /tmp/c2; mkfifo /tmp/c1 /tmp/c2; \
{tp1} --forward-mode=csum --enable-rx-cksum --tx-offloads=0x2e < /tmp/c1 > /tmp/tp1.log 2>&1 & P=$!; \
exec 3>/tmp/c1; {w1}\
for c in 'show port info all' 'csum set tcp hw 0' 'csum set tcp hw 1' 'csum set udp hw 0' 'csum set udp hw 1' \
'csum set ip hw 0' 'tso set 800 0' 'tso set 800 1' 'start'; do echo \"$c\" >&3; sleep 0.2; done; \
{w2}echo TESTPMD_READY phase=offload; {down}\
echo stop >&3; {w3}echo quit >&3; exec 3>&-; wait $P; r1=$?; cat /tmp/tp1.log; echo \"testpmd 1 exit code $r1\"; \
{tp2} < /tmp/c2 > /tmp/tp2.log 2>&1 & P=$!; exec 4>/tmp/c2; {w4}echo start >&4; \
{w5}echo TESTPMD_READY phase=plain; {up}\
echo stop >&4; {w6}echo quit >&4; exec 4>&-; wait $P; r2=$?; cat /tmp/tp2.log; echo \"testpmd 2 exit code $r2\"; \
[ $r1 -eq 0 ] && [ $r2 -eq 0 ]",
        tp1 = tp("off1"),
        tp2 = tp("off2"),
        w1 = wait_grep("testpmd> ", "/tmp/tp1.log"),
        w2 = wait_grep("csum packet forwarding", "/tmp/tp1.log"),
        down = wait_carrier(0),
        w3 = wait_grep("Done.", "/tmp/tp1.log"),
        w4 = wait_grep("testpmd> ", "/tmp/tp2.log"),
        w5 = wait_grep("io packet forwarding", "/tmp/tp2.log"),
        up = wait_carrier(1),
        w6 = wait_grep("Done.", "/tmp/tp2.log"),
    )
}

/// TCP between two Linux network stacks through Bypass testpmd on two virtio-net NICs: a
/// 20 MB file arrives intact (SHA-256) with RX checksum, TX checksum and TSO offloads on
/// and with none; corrupted segments are never reported good.
#[test]
fn tcp_between_linux_stacks_through_virtio_with_checksum_and_tso_offloads_keeps_a_20mb_file_intact() {
    let name = "tcp_between_linux_stacks_through_virtio_with_checksum_and_tso_offloads_keeps_a_20mb_file_intact";
    if !common::qemu_available_or_skip(name) {
        return;
    }
    let out = offload_run(NicModel::VirtioModern).out;
    for l in
        ["Rx offloading capabilities: UDP_CKSUM TCP_CKSUM", "Tx offloading capabilities: UDP_CKSUM TCP_CKSUM TCP_TSO"]
    {
        assert!(out.contains(l), "show port info must list the offloads ({l}): {out}");
    }
    assert!(out.contains("TSO segment size for non-tunneled packets is 800"), "{out}");
    assert!(out.contains("Port 0: the device has no TX offload IPV4_CKSUM"), "virtio has no IPv4 checksum: {out}");
    // Port 0 received A's segments: Linux left their checksums partial (offloaded), the
    // corrupted ones were not checked and so not reported good.
    let p0 = "Forward statistics for port 0";
    let none = count_after(&out, p0, "RX-L4 checksum none:").unwrap_or(0);
    let unknown = count_after(&out, p0, "RX-L4 checksum unknown:").unwrap_or(0);
    let good = count_after(&out, p0, "RX-L4 checksum good:").unwrap_or(0);
    assert!(none > 1000, "TCP segments with partial checksums must be flagged (L4 none), got {none}: {out}");
    assert!(
        unknown >= u64::from(CORRUPTED),
        "the corrupted segments must not be flagged good ({unknown} unknown, {good} good): {out}"
    );
    assert_eq!(count_after(&out, p0, "RX-bad L4 checksum:"), Some(0), "{out}");
    let tso = count_after(&out, p0, "TX-TSO packets:").unwrap_or(0);
    assert!(tso > 1000, "1448-byte segments must go out with TSO at 800: {tso}: {out}");
}

/// The same TCP transfers through two igb NICs (82576, advanced descriptors): the device
/// checks the checksums (RXCSUM) and reports the corrupted segments bad, every one of them;
/// the TX checksums and TSO are the device's (advanced context descriptors).
#[test]
fn tcp_between_linux_stacks_through_igb_reports_good_and_bad_rx_checksums() {
    if !common::qemu_available_or_skip("tcp_between_linux_stacks_through_igb_reports_good_and_bad_rx_checksums") {
        return;
    }
    let run = offload_run(NicModel::Igb);
    intel_tx_checks(&run);
    intel_rx_checks(&run.out);
}

/// As the igb test, through two e1000e NICs (82574L, legacy descriptors).
#[test]
fn tcp_between_linux_stacks_through_e1000e_reports_good_and_bad_rx_checksums() {
    if !common::qemu_available_or_skip("tcp_between_linux_stacks_through_e1000e_reports_good_and_bad_rx_checksums") {
        return;
    }
    let run = offload_run(NicModel::E1000e);
    intel_tx_checks(&run);
    intel_rx_checks(&run.out);
}

/// The same through two e1000 NICs (82540EM, legacy descriptors). QEMU's 82540EM model
/// checks no RX checksum (its descriptors say nothing was checked), so the file must
/// arrive intact with every TCP segment left unknown: none reported good or bad.
#[test]
fn tcp_between_linux_stacks_through_e1000_reports_no_checksum_the_model_did_not_check() {
    if !common::qemu_available_or_skip(
        "tcp_between_linux_stacks_through_e1000_reports_no_checksum_the_model_did_not_check",
    ) {
        return;
    }
    let run = offload_run(NicModel::E1000);
    intel_tx_checks(&run);
    let out = &run.out;
    assert!(out.contains("Rx offloads configured: IPV4_CKSUM UDP_CKSUM TCP_CKSUM"), "{out}");
    let p0 = "Forward statistics for port 0";
    assert_eq!(count_after(out, p0, "RX-bad L4 checksum:"), Some(0), "{out}");
    assert_eq!(count_after(out, p0, "RX-L4 checksum good:"), Some(0), "{out}");
    let unknown = count_after(out, p0, "RX-L4 checksum unknown:").unwrap_or(0);
    assert!(unknown > 1000, "the segments are counted as not checked: {unknown}: {out}");
}

/// What an Intel run must show of TX: the checksum and TSO offloads listed and taken in
/// hardware (`csum set ... hw` accepted), and TSO done by the device: B's TAP interface got
/// more frames than testpmd handed to port 1 (every 1448-byte segment Linux sent left as
/// two at `tso set 800`), at least one more per TSO packet.
fn intel_tx_checks(run: &Run) {
    let out = &run.out;
    let capa = "Tx offloading capabilities: VLAN_INSERT IPV4_CKSUM UDP_CKSUM TCP_CKSUM TCP_TSO MULTI_SEGS";
    assert!(out.contains(capa), "{out}");
    assert!(out.contains("Tx offloads configured: IPV4_CKSUM UDP_CKSUM TCP_CKSUM TCP_TSO"), "{out}");
    for l in
        ["IP checksum offload is hw", "TCP checksum offload is hw", "TSO segment size for non-tunneled packets is 800"]
    {
        assert!(out.contains(l), "{l}: {out}");
    }
    assert!(!out.contains("the device has no TX offload"), "{out}");
    let p0 = "Forward statistics for port 0";
    let tx_in = count_after(out, p0, "TX-packets:").expect("port 0 stream's TX-packets");
    let tso = count_after(out, p0, "TX-TSO packets:").unwrap_or(0);
    assert!(tso > 1000, "1448-byte segments must go out with TSO at 800: {tso}: {out}");
    eprintln!("TSO: {tx_in} packets into port 1's TX ({tso} with TSO), {} frames out to B's TAP", run.tap_b_frames);
    assert!(
        run.tap_b_frames + 20 >= tx_in + tso,
        "the device must cut each TSO packet in two or more: {} frames reached B for {tx_in} sent ({tso} TSO)",
        run.tap_b_frames
    );
}

/// What an Intel run must show: the RX checksum offloads listed, every corrupted segment
/// flagged bad and nothing else, the TCP traffic flagged good.
fn intel_rx_checks(out: &str) {
    assert!(out.contains("Rx offloading capabilities: VLAN_STRIP IPV4_CKSUM UDP_CKSUM TCP_CKSUM"), "{out}");
    assert!(out.contains("Rx offloads configured: IPV4_CKSUM UDP_CKSUM TCP_CKSUM"), "{out}");
    let p0 = "Forward statistics for port 0";
    assert_eq!(
        count_after(out, p0, "RX-bad L4 checksum:"),
        Some(u64::from(CORRUPTED)),
        "every corrupted segment: {out}"
    );
    assert_eq!(count_after(out, p0, "RX-bad IP checksum:"), Some(0), "{out}");
    let good = count_after(out, p0, "RX-L4 checksum good:").unwrap_or(0);
    assert!(good > 1000, "the file's segments must be flagged good, got {good}: {out}");
}

/// What an offload run gives: the first testpmd's output, and the frames B's TAP interface
/// received from the guest during the offload transfer.
struct Run {
    out: String,
    tap_b_frames: u64,
}

/// Frames the TAP interface `tap` in namespace `ns` received (from QEMU: what the guest
/// NIC sent).
fn tap_rx_frames(ns: &str, tap: &str) -> u64 {
    let path = format!("/sys/class/net/{tap}/statistics/rx_packets");
    let o = Command::new("ip").args(["netns", "exec", ns, "cat", &path]).output().expect("cat rx_packets");
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap_or_else(|_| panic!("{path} in {ns}: {o:?}"))
}

/// Boots a guest with two NICs of `model` behind TAP backends in two host namespaces, runs
/// the two transfers through testpmd (csum engine with offloads, then io with none), checks
/// the file's SHA-256 after each and returns the first testpmd's output. The Intel models'
/// TAP backends have no virtio-net header, so QEMU sends every segment of a TSO packet as a
/// frame of its own and B's TAP interface counts them.
fn offload_run(model: NicModel) -> Run {
    let id = std::process::id() % 100_000;
    let taps = [format!("bot{id}a"), format!("bot{id}b")];
    let cfg = GuestConfig { net_modules: true, ..GuestConfig::default() }
        .binary(guest_bin("testpmd"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(600))
        .nic(Nic { slot: 3, ..data_nic(model, "n1", MAC_0, &taps[0]) })
        .nic(Nic { slot: 5, ..data_nic(model, "n2", MAC_1, &taps[1]) })
        .nic(Nic { slot: 4, ..Nic::new(NicModel::VirtioTransitional, "ctl") })
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(script());
    let guest = vmtest::Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let ns = Namespaces::new("bof", [&taps[0], &taps[1]]);
    let dir = tempdir("offload");
    let (src, dst) = (dir.join("sent"), dir.join("received"));
    std::fs::write(&src, pseudo_random_bytes(FILE_BYTES, 0x5eed_0ff1_0ad5)).expect("write the file to send");
    let want = sha256(&src);
    let mut errors = Vec::new();
    let mut rates = Vec::new();
    let mut tap_b_frames = 0;
    for (phase, signal_up) in [("offload", false), ("plain", true)] {
        if let Err(e) = guest.wait_for_console(&format!("TESTPMD_READY phase={phase}"), CONSOLE_WAIT) {
            errors.push(e.to_string());
            break;
        }
        let b0 = tap_rx_frames(&ns.names[1], &taps[1]);
        if phase == "offload" {
            let b_mac = mac_in(&ns.names[1], &taps[1]);
            let a_mac = mac_in(&ns.names[0], &taps[0]);
            send_raw(&ns, &taps[0], (0..CORRUPTED).map(|s| corrupted_segment(b_mac, a_mac, s)).collect());
        }
        let _ = std::fs::remove_file(&dst);
        // A failed transfer is recorded and the guest still finishes, so that testpmd's
        // output is shown.
        let mbits = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| transfer(&ns, &src, &dst))) {
            Ok(m) => m,
            Err(_) => {
                errors.push(format!("{phase}: the TCP transfer failed (see the panic above)"));
                guest.monitor().and_then(|mut m| m.set_link("ctl", signal_up)).unwrap_or_else(|e| panic!("{e}"));
                continue;
            }
        };
        if phase == "offload" {
            tap_b_frames = tap_rx_frames(&ns.names[1], &taps[1]) - b0;
        }
        let got = sha256(&dst);
        if got != want {
            errors.push(format!("{phase}: SHA-256 of the received file {got} != sent {want}"));
        }
        eprintln!("RATE {phase}: {FILE_BYTES} bytes over TCP at {mbits:.0} Mbit/s, SHA-256 {got}");
        rates.push((phase, mbits));
        guest.monitor().and_then(|mut m| m.set_link("ctl", signal_up)).unwrap_or_else(|e| panic!("{e}"));
    }
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    drop(ns);
    let _ = std::fs::remove_dir_all(&dir);
    let out = &script_output(&o, &errors);
    for (phase, m) in &rates {
        eprintln!("SUMMARY {model:?} {phase}: {m:.0} Mbit/s");
    }
    Run { out: out.clone(), tap_b_frames }
}

/// A data NIC of `model` on TAP `tap`; without the virtio-net header for the Intel models
/// (see [`offload_run`]).
fn data_nic(model: NicModel, id: &str, mac: &str, tap: &str) -> Nic {
    let nic = Nic::new(model, id).mac(mac).tap(tap, 1);
    match model {
        NicModel::E1000 | NicModel::E1000e | NicModel::Igb => nic.no_vnet_hdr(),
        _ => nic,
    }
}

// ---------------------------------------------------------------------------------------
// Receive filters: VLAN filter and all-multicast on igb

/// The guest script of the filter run: testpmd with the VLAN filter offload, promiscuous
/// mode off and VLAN 100 allowed (until the host takes the control link down), then with
/// all-multicast on and VLAN 200 added too (until it brings it up again).
fn filter_script() -> String {
    let send = send_cmds;
    let count = |pat: &str, n: u32| wait_count("/tmp/tp3.log", pat, n);
    format!(
        "{CONTROL_LINK_UP}rm -f /tmp/c3; mkfifo /tmp/c3; \
testpmd -l 0-1 -m 64 --file-prefix flt -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- -i --rxd 256 --txd 256 --rx-offloads=0x200 \
< /tmp/c3 > /tmp/tp3.log 2>&1 & P=$!; exec 3>/tmp/c3; {prompt}\
{s1}{fwd1}echo FILTER_READY phase=1; {down}echo stop >&3; {done1}\
{s2}{fwd2}echo FILTER_READY phase=2; {up}echo stop >&3; {done2}\
echo quit >&3; exec 3>&-; wait $P; r=$?; cat /tmp/tp3.log; echo \"testpmd exit code $r\"; [ $r -eq 0 ]",
        prompt = wait_grep("testpmd> ", "/tmp/tp3.log"),
        s1 = send(&["set promisc all off", "rx_vlan add 100 0", "rx_vlan add 5000 0", "show port info 0", "start"]),
        fwd1 = count("io packet forwarding", 1),
        down = wait_carrier(0),
        done1 = count("^Done.", 1),
        s2 = send(&["set allmulti 0 on", "rx_vlan add 200 0", "show port info 0", "start"]),
        fwd2 = count("io packet forwarding", 2),
        up = wait_carrier(1),
        done2 = count("^Done.", 2),
    )
}

/// VLAN filter and all-multicast on igb, fed by a packet socket in a host namespace:
/// with promiscuous mode off, only VLAN 100 (added) passes of the tagged frames and the
/// multicast frames are dropped; after `set allmulti 0 on` and `rx_vlan add 200 0` both
/// pass. Counted by testpmd's forward statistics of port 0.
#[test]
fn igb_vlan_filter_and_allmulticast_pass_only_what_was_added() {
    if !common::qemu_available_or_skip("igb_vlan_filter_and_allmulticast_pass_only_what_was_added") {
        return;
    }
    let id = std::process::id() % 100_000;
    let taps = [format!("bof{id}a"), format!("bof{id}b")];
    let cfg = GuestConfig { net_modules: true, ..GuestConfig::default() }
        .binary(guest_bin("testpmd"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(300))
        .nic(Nic { slot: 3, ..Nic::new(NicModel::Igb, "n1").mac(MAC_0).tap(&taps[0], 1) })
        .nic(Nic { slot: 5, ..Nic::new(NicModel::Igb, "n2").mac(MAC_1).tap(&taps[1], 1) })
        .nic(Nic { slot: 4, ..Nic::new(NicModel::VirtioTransitional, "ctl") })
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(filter_script());
    let guest = vmtest::Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let ns = Namespaces::new("bof", [&taps[0], &taps[1]]);
    let a_mac = mac_in(&ns.names[0], &taps[0]);
    let mut errors = Vec::new();
    for (phase, up) in [(1, false), (2, true)] {
        if let Err(e) = guest.wait_for_console(&format!("FILTER_READY phase={phase}"), CONSOLE_WAIT) {
            errors.push(e.to_string());
            break;
        }
        send_raw(&ns, &taps[0], filter_frames(common::mac(MAC_0), a_mac));
        std::thread::sleep(Duration::from_secs(2));
        guest.monitor().and_then(|mut m| m.set_link("ctl", up)).unwrap_or_else(|e| panic!("{e}"));
    }
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    drop(ns);
    let out = &script_output(&o, &errors);
    assert!(out.contains("VLAN id 5000: VLAN ids are 0-4095"), "a bad VLAN id is refused with the range: {out}");
    assert!(out.contains("Allmulticast mode: disabled") && out.contains("Allmulticast mode: enabled"), "{out}");
    let stats = port0_rx_per_stop(out);
    let n = u64::from(FILTER_N);
    assert_eq!(stats, vec![2 * n, 4 * n], "port 0 RX: untagged + VLAN 100, then + VLAN 200 + multicast: {out}");
}

// ---------------------------------------------------------------------------------------
// VLAN stripping and insertion on the Intel models

/// The VLAN A's Linux stack talks on.
const VLAN_ID: u16 = 100;

/// First sequence number of the frames A sends (tagged) and of those B sends (untagged).
const MARK_AB: u32 = 0x00ab_0000;
const MARK_BA: u32 = 0x00ba_0000;

/// Frames of one direction.
const VLAN_N: u32 = 20;

/// Runs `send` while a packet socket on `tap` in namespace `ns` captures, and returns the
/// frames it received (not its own outgoing ones) that carry sequence numbers from `mark`
/// (the UDP frames of [`filter_frame`]), up to `want` of them or for 10 s, each with the
/// VLAN tag the kernel took off it (reported by `PACKET_AUXDATA`), if any.
fn capture_while(ns: &str, tap: &str, mark: u32, want: usize, send: impl FnOnce()) -> Vec<(Vec<u8>, Option<u16>)> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let tap = std::ffi::CString::new(tap).expect("name");
    let h = in_netns(ns, move || {
        // SAFETY: a NUL-terminated name; the call only reads it.
        let index = unsafe { libc::if_nametoindex(tap.as_ptr()) };
        assert!(index != 0, "no {tap:?} in its namespace");
        let all = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket creation; closed below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(all)) };
        assert!(fd >= 0, "AF_PACKET socket: {}", std::io::Error::last_os_error());
        // SAFETY: an all-zero sockaddr_ll is valid; fields are set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = all;
        sll.sll_ifindex = index as i32;
        let one: libc::c_int = 1;
        let tv = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
        // SAFETY: `fd` is ours; the option values are valid for the lengths given.
        unsafe {
            let r = libc::bind(
                fd,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
            let o = (&one as *const libc::c_int).cast();
            let r = libc::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_AUXDATA, o, 4);
            assert_eq!(r, 0, "PACKET_AUXDATA: {}", std::io::Error::last_os_error());
            let t = (&tv as *const libc::timeval).cast();
            let r = libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                t,
                std::mem::size_of::<libc::timeval>() as u32,
            );
            assert_eq!(r, 0, "SO_RCVTIMEO: {}", std::io::Error::last_os_error());
        }
        ready_tx.send(()).expect("ready");
        let mut got = Vec::new();
        let t0 = Instant::now();
        let mut buf = [0u8; 2048];
        let mut ctl = [0u64; 16];
        while got.len() < want && t0.elapsed() < Duration::from_secs(10) {
            let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
            // SAFETY: an all-zero msghdr and sockaddr_ll are valid; the pointers set below
            // point to buffers that outlive the call.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = ctl.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&ctl);
            // SAFETY: `msg` describes valid buffers (above).
            let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
            if n < 0 || from.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let f = &buf[..n as usize];
            let seq = f.get(42..46).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            if f.get(12..14) != Some(&[0x08, 0x00]) || !seq.is_some_and(|q| (mark..mark + 1000).contains(&q)) {
                continue;
            }
            let mut tag = None;
            // SAFETY: `msg` was filled by recvmsg; the CMSG macros walk its control buffer
            // within `msg_controllen`, and an auxdata message holds a tpacket_auxdata.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA {
                        let aux = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::tpacket_auxdata>());
                        if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                            tag = Some(aux.tp_vlan_tci);
                        }
                    }
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
            }
            got.push((f.to_vec(), tag));
        }
        // SAFETY: `fd` is ours and closed once.
        unsafe { libc::close(fd) };
        got
    });
    ready_rx.recv().expect("capture thread ready");
    send();
    h.join().expect("capture thread")
}

/// The guest script of the VLAN run: testpmd in csum mode with VLAN stripping on both
/// ports and insertion of VLAN 100 on port 0 (towards A), until the host takes the control
/// link down.
fn vlan_script() -> String {
    let send = send_cmds;
    format!(
        "{CONTROL_LINK_UP}rm -f /tmp/c4; mkfifo /tmp/c4; \
testpmd -l 0-1 -m 64 --file-prefix vln -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- -i --rxd 256 --txd 256 \
--forward-mode=csum --rx-offloads=0x1 --tx-offloads=0x1 < /tmp/c4 > /tmp/tp4.log 2>&1 & P=$!; exec 3>/tmp/c4; {prompt}\
{cmds}{fwd}echo VLAN_READY; {down}echo stop >&3; {done}\
echo quit >&3; exec 3>&-; wait $P; r=$?; cat /tmp/tp4.log; echo \"testpmd exit code $r\"; [ $r -eq 0 ]",
        prompt = wait_grep("testpmd> ", "/tmp/tp4.log"),
        cmds = send(&[
            "show port info 0",
            "tx_vlan set 0 5000",
            "tx_vlan set 0 100",
            "vlan set strip off 1",
            "vlan set strip on 1",
            "start"
        ]),
        fwd = wait_grep("csum packet forwarding", "/tmp/tp4.log"),
        down = wait_carrier(0),
        done = wait_grep("Done.", "/tmp/tp4.log"),
    )
}

/// Frames between A (tagged, VLAN 100) and B (untagged) through testpmd on two NICs of
/// `model`, each side a packet socket in its namespace: port 0 must strip A's tags (the
/// device, CTRL.VME), so that B receives untagged frames, and insert tag 100 into every
/// frame it sends to A (VLE), so that A receives them tagged. The kernel reports the tag of
/// a received frame beside it (`PACKET_AUXDATA`); the stripped frames are counted by
/// testpmd too.
fn vlan_run(model: NicModel) {
    let id = std::process::id() % 100_000;
    let taps = [format!("bov{id}a"), format!("bov{id}b")];
    let cfg = GuestConfig { net_modules: true, ..GuestConfig::default() }
        .binary(guest_bin("testpmd"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(300))
        .nic(Nic { slot: 3, ..data_nic(model, "n1", MAC_0, &taps[0]) })
        .nic(Nic { slot: 5, ..data_nic(model, "n2", MAC_1, &taps[1]) })
        .nic(Nic { slot: 4, ..Nic::new(NicModel::VirtioTransitional, "ctl") })
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(vlan_script());
    let guest = vmtest::Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let ns = Namespaces::new("bof", [&taps[0], &taps[1]]);
    let (a_mac, b_mac) = (mac_in(&ns.names[0], &taps[0]), mac_in(&ns.names[1], &taps[1]));
    let n = VLAN_N as usize;
    let mut errors = Vec::new();
    let (mut at_b, mut at_a) = (Vec::new(), Vec::new());
    match guest.wait_for_console("VLAN_READY", CONSOLE_WAIT) {
        Err(e) => errors.push(e.to_string()),
        Ok(_) => {
            let to_b: Vec<_> = (0..VLAN_N).map(|s| filter_frame(b_mac, a_mac, Some(VLAN_ID), MARK_AB + s)).collect();
            let a = ns.names[0].clone();
            let tap_a = taps[0].clone();
            at_b = capture_while(&ns.names[1], &taps[1], MARK_AB, n, move || send_raw_in(&a, &tap_a, to_b));
            let to_a: Vec<_> = (0..VLAN_N).map(|s| filter_frame(a_mac, b_mac, None, MARK_BA + s)).collect();
            let b = ns.names[1].clone();
            let tap_b = taps[1].clone();
            at_a = capture_while(&ns.names[0], &taps[0], MARK_BA, n, move || send_raw_in(&b, &tap_b, to_a));
        }
    }
    guest.monitor().and_then(|mut m| m.set_link("ctl", false)).unwrap_or_else(|e| panic!("{e}"));
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    drop(ns);
    let out = &script_output(&o, &errors);
    let tags = |v: &[(Vec<u8>, Option<u16>)]| v.iter().map(|(_, t)| t.map(|t| t & 0x0fff)).collect::<Vec<_>>();
    assert_eq!(tags(&at_b), vec![None; n], "B gets A's frames untagged (stripped by port 0): {out}");
    assert_eq!(tags(&at_a), vec![Some(VLAN_ID); n], "A gets B's frames tagged {VLAN_ID} (inserted by port 0): {out}");
    assert!(out.contains("Rx offloads configured: VLAN_STRIP"), "{out}");
    assert!(out.contains("Tx offloads configured: VLAN_INSERT"), "{out}");
    assert!(out.contains("Bad VLAN id '5000': a number 0-4095"), "{out}");
    assert!(out.contains("Port 0: csum engine inserts VLAN 100 on TX"), "{out}");
    if model == NicModel::Igb {
        assert!(!out.contains("vlan set strip:"), "stripping switched off and on at run time: {out}");
    } else {
        // One bit does both on the 8254x/82574: stripping cannot go off while inserting.
        assert!(out.contains("VLAN stripping off while the port inserts VLAN tags"), "{out}");
    }
    let p0 = "Forward statistics for port 0";
    assert_eq!(count_after(out, p0, "RX-VLAN stripped:"), Some(u64::from(VLAN_N)), "{out}");
    let p1 = "Forward statistics for port 1";
    assert_eq!(count_after(out, p1, "RX-VLAN stripped:"), Some(0), "B's frames carry no tag: {out}");
}

/// VLAN stripping and insertion on two igb NICs (advanced descriptors: the tag in the
/// write-back's VLAN field, insertion through the context descriptor).
#[test]
fn igb_strips_and_inserts_vlan_tags_for_a_tagged_peer() {
    if !common::qemu_available_or_skip("igb_strips_and_inserts_vlan_tags_for_a_tagged_peer") {
        return;
    }
    vlan_run(NicModel::Igb);
}

/// The same on two e1000e NICs (legacy descriptors: the tag in the special field).
#[test]
fn e1000e_strips_and_inserts_vlan_tags_for_a_tagged_peer() {
    if !common::qemu_available_or_skip("e1000e_strips_and_inserts_vlan_tags_for_a_tagged_peer") {
        return;
    }
    vlan_run(NicModel::E1000e);
}

/// The same on two e1000 NICs (82540EM).
#[test]
fn e1000_strips_and_inserts_vlan_tags_for_a_tagged_peer() {
    if !common::qemu_available_or_skip("e1000_strips_and_inserts_vlan_tags_for_a_tagged_peer") {
        return;
    }
    vlan_run(NicModel::E1000);
}
