//! virtio-net between two Linux TCP stacks: large segments, the VLAN filter, throughput.
//!
//! Two host network namespaces each hold the TAP backend of one of the guest's two
//! virtio-net NICs (A: 198.18.0.1, B: 198.18.0.2); the guest forwards between the NICs.
//! The host tells the guest to move on to its next phase by toggling the link of a third
//! (control) NIC; the guest says it is ready on its console.
//!
//! - `large_tcp_segments_cross_two_virtio_ports_whole_and_a_20mb_file_arrives_intact` (CI):
//!   testpmd io forwarding with `TCP_LRO` (`VIRTIO_NET_F_GUEST_TSO4/6` over mergeable
//!   buffers) on receive and TSO (`HOST_TSO4/6`) with multi-segment TX on transmit; a
//!   20 MB file goes from A to B with its SHA-256 checked, and the xstats must show large
//!   segments received whole on port 0 and sent whole on port 1.
//! - `virtio_vlan_filter_and_allmulticast_pass_only_what_was_added` (CI): the VLAN filter
//!   through the control queue (`VIRTIO_NET_CTRL_VLAN_ADD`), and all-multicast.
//! - `virtio_forwarding_throughput_against_the_guest_linux_stack` (ignored: two 10 s
//!   TCP streams per forwarder on TCG are too slow and noisy for CI): prints Mbit/s and TX
//!   drops per direction for the guest's own Linux forwarding (IP routing with proxy ARP,
//!   `iommu=pt`: the test guest kernel has no bridge module), Bypass testpmd io forwarding
//!   without offloads (DPDK's retry budget, then a deeper one), and with LRO/TSO. Run it with
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p examples --bin testpmd
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! flock /tmp/bypass-qemu.lock cargo test --release -p vmtest --test guest_virtio_offload -- --ignored --nocapture
//! ```
//!
//! `PERF_SECS=N` sets each stream's length; `PERF_BEFORE_TESTPMD=path` adds a first
//! Bypass phase with another static testpmd build (say, of the main branch) for a
//! before/after figure from the same boot. The rates are TCP streams written by a socket
//! in one namespace and read in the other (as iperf3 does by default), measured from the
//! first byte received to the last; TX drops are testpmd's TX-dropped per port.

mod common;

use common::netns::{
    count_after, filter_frames, in_netns, mac_in, pseudo_random_bytes, send_raw, sha256, tempdir, Namespaces, FILTER_N,
    IP, KINDS,
};
use common::testpmd_script::{port0_rx_per_stop, script_output, send_cmds, wait_count};
use common::{guest_bin, CONSOLE_WAIT};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vmtest::{GuestConfig, Nic, NicModel};

const MAC_0: &str = "52:54:00:00:51:00";
const MAC_1: &str = "52:54:00:00:51:01";
/// Bytes of the file sent through the forwarder.
const FILE_BYTES: usize = 20 << 20;
/// How long each throughput stream runs.
const STREAM_SECS: u64 = 10;
/// testpmd's offloads for large segments: on receive TCP_CKSUM | TCP_LRO | SCATTER, on
/// transmit TCP_CKSUM | TCP_TSO | MULTI_SEGS (to send them whole).
const LRO_ARGS: &str = "--rx-offloads=0x2018 --tx-offloads=0x8028";

/// The `deepretry` phase's retry budget: 1000 tries 10 µs apart (10 ms) where DPDK's
/// default is 64 tries 1 µs apart, to tell a TX ring the device drains too slowly under a
/// loaded TCG host from one the forwarder gives up on too early.
const DEEP_RETRY: &str = "set burst tx delay 10 retry 1000";

/// What a sender writes: a whole file, or for a time.
#[derive(Clone)]
enum Payload {
    /// These bytes, then the end of the stream.
    File(std::sync::Arc<Vec<u8>>),
    /// 64 KiB writes for this long.
    For(Duration),
}

/// Sends `what` over TCP from namespace `from` (0: A, 1: B) to a receiver in the other
/// one; returns the bytes received (written to `keep` if given) and the rate in Mbit/s.
fn stream(ns: &Namespaces, from: usize, what: Payload, keep: Option<&Path>) -> (usize, f64) {
    let to = 1 - from;
    let port = 5301 + to as u16;
    let dst = SocketAddr::from((IP[to], port));
    let listener =
        in_netns(&ns.names[to], move || TcpListener::bind(dst).expect("bind")).join().expect("listener thread");
    let keep = keep.map(Path::to_path_buf);
    let receiver = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        let mut out = keep.map(|p| std::fs::File::create(p).expect("create the received file"));
        let mut buf = vec![0u8; 1 << 16];
        let (mut total, mut t0) = (0usize, None);
        loop {
            let n = s.read(&mut buf).unwrap_or_else(|e| panic!("receive after {total} bytes: {e}"));
            if n == 0 {
                break;
            }
            t0.get_or_insert_with(Instant::now);
            if let Some(f) = out.as_mut() {
                f.write_all(&buf[..n]).expect("write");
            }
            total += n;
        }
        (total, t0.map_or(Duration::ZERO, |t| t.elapsed()))
    });
    let sender = in_netns(&ns.names[from], move || {
        let t0 = Instant::now();
        let mut s = loop {
            match TcpStream::connect_timeout(&dst, Duration::from_secs(5)) {
                Ok(s) => break s,
                Err(e) if t0.elapsed() < Duration::from_secs(60) => {
                    eprintln!("connect: {e}; again");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => panic!("no TCP connection through the guest in 60 s: {e}"),
            }
        };
        s.set_write_timeout(Some(Duration::from_secs(60))).expect("timeout");
        match what {
            Payload::File(data) => s.write_all(&data).expect("send the file"),
            Payload::For(d) => {
                let chunk = vec![0x5au8; 1 << 16];
                let t1 = Instant::now();
                while t1.elapsed() < d {
                    s.write_all(&chunk).expect("send");
                }
            }
        }
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    });
    sender.join().expect("sender thread");
    let (total, took) = receiver.join().expect("receiver thread");
    (total, total as f64 * 8.0 / took.as_secs_f64().max(1e-9) / 1e6)
}

/// One forwarding set-up of a run.
#[derive(Clone, Copy)]
enum Phase {
    /// The guest kernel's own forwarding between the two NICs (virtio_net driver).
    Linux,
    /// Bypass testpmd, io forwarding with retry, with these extra arguments and this
    /// command before `start` (empty: none).
    Testpmd(&'static str, &'static str, &'static str),
    /// The same with another build of testpmd (guest binary `testpmd_before`).
    Before,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Linux => "linux",
            Phase::Testpmd(n, ..) => n,
            Phase::Before => "before",
        }
    }
}

/// Guest shell functions the phases use: `carrier V` waits for the control link,
/// `waitg PATTERN FILE` for a line in a file.
const SHELL_FNS: &str = "trap '' PIPE; IF=$(ls /sys/bus/pci/devices/$VMTEST_NIC_ctl/virtio*/net); \
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; \
ip link set $IF up; ok=0; \
carrier() { i=0; while [ \"$(cat /sys/class/net/$IF/carrier)\" != $1 ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done; }; \
waitg() { i=0; while ! grep -q \"$1\" $2 && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; \
grep -q \"$1\" $2 || echo \"TIMEOUT waiting for '$1' in $2\"; }; ";

/// The guest script of phase `p`, which ends when the control link's carrier becomes
/// `carrier`.
fn phase_script(p: Phase, carrier: u8) -> String {
    match p {
        Phase::Linux => format!(
            "E1=$(ls /sys/bus/pci/devices/$VMTEST_NIC_n1/virtio*/net); E2=$(ls /sys/bus/pci/devices/$VMTEST_NIC_n2/virtio*/net); \
ip link set $E1 up; ip link set $E2 up; ip addr add 10.99.0.1/32 dev $E1; ip addr add 10.99.0.2/32 dev $E2; \
ip route add 198.18.0.1/32 dev $E1; ip route add 198.18.0.2/32 dev $E2; \
for f in all/rp_filter $E1/rp_filter $E2/rp_filter; do echo 0 > /proc/sys/net/ipv4/conf/$f; done; \
echo 1 > /proc/sys/net/ipv4/conf/$E1/proxy_arp; echo 1 > /proc/sys/net/ipv4/conf/$E2/proxy_arp; \
echo 1 > /proc/sys/net/ipv4/ip_forward; echo PERF_READY phase=linux; carrier {carrier}; \
echo \"linux forwarding counters (/proc/net/dev):\"; grep -E \"$E1|$E2\" /proc/net/dev; ip link set $E1 down; ip link set $E2 down; \
devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2 || ok=1; "
        ),
        Phase::Testpmd(..) | Phase::Before => {
            let (name, args, cmd, program) = match p {
                Phase::Testpmd(n, a, c) => (n, a, c, "testpmd"),
                _ => ("before", "", "", "testpmd_before"),
            };
            let cmd = if cmd.is_empty() { String::new() } else { format!("'{cmd}' ") };
            format!(
            "rm -f /tmp/c_{name}; mkfifo /tmp/c_{name}; \
{program} -l 0-1 -m 128 --file-prefix {name} -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- -i --rxd 256 --txd 256 {args} \
< /tmp/c_{name} > /tmp/{name}.log 2>&1 & P=$!; exec 3>/tmp/c_{name}; waitg 'testpmd> ' /tmp/{name}.log; \
for c in 'show port info 0' 'set fwd io retry' {cmd}'start'; do echo \"$c\" >&3; sleep 0.2; done; \
waitg 'packet forwarding' /tmp/{name}.log; echo PERF_READY phase={name}; carrier {carrier}; \
echo stop >&3; waitg 'Done.' /tmp/{name}.log; echo 'show port xstats all' >&3; sleep 1; echo quit >&3; exec 3>&-; \
wait $P; r=$?; echo \"=== testpmd {name}\"; cat /tmp/{name}.log; echo \"testpmd {name} exit code $r\"; [ $r -eq 0 ] || ok=1; "
            )
        }
    }
}

/// What one phase measured.
struct Measured {
    phase: &'static str,
    /// Mbit/s A to B and B to A (0 when not measured).
    mbits: [f64; 2],
}

/// Boots a guest with two modern virtio-net NICs behind TAP backends in two host
/// namespaces and runs `phases` in order; in each, streams TCP for `stream_secs` each way
/// (0: not at all) and, when `file` is set, sends the 20 MB file from A to B and checks its
/// SHA-256. Returns the guest's output and what was measured.
fn run_phases(phases: &[Phase], stream_secs: u64, file: bool) -> (String, Vec<Measured>) {
    run_phases_with(phases, stream_secs, file, None)
}

/// [`run_phases`], with `before` (a testpmd binary) in the guest as `testpmd_before`.
fn run_phases_with(phases: &[Phase], stream_secs: u64, file: bool, before: Option<&Path>) -> (String, Vec<Measured>) {
    let id = std::process::id() % 100_000;
    let taps = [format!("bvo{id}a"), format!("bvo{id}b")];
    let mut script = SHELL_FNS.to_string();
    for (k, p) in phases.iter().enumerate() {
        script += &phase_script(*p, if k % 2 == 0 { 0 } else { 1 });
    }
    script += "[ $ok -eq 0 ]";
    let starts_bound = !matches!(phases.first(), Some(Phase::Linux));
    let mut cfg = GuestConfig { net_modules: true, extra_append: "iommu=pt".into(), ..GuestConfig::default() }
        .binary(guest_bin("testpmd"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(900))
        .nic(Nic { slot: 3, ..Nic::new(NicModel::VirtioModern, "n1").mac(MAC_0).tap(&taps[0], 1) })
        .nic(Nic { slot: 5, ..Nic::new(NicModel::VirtioModern, "n2").mac(MAC_1).tap(&taps[1], 1) })
        .nic(Nic { slot: 4, ..Nic::new(NicModel::VirtioTransitional, "ctl") });
    if let Some(b) = before {
        cfg = cfg.binary(b.to_path_buf());
    }
    cfg = if starts_bound {
        cfg.command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
    } else {
        cfg.command("true")
    };
    let cfg = cfg.command(script);
    let guest = vmtest::Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let ns = Namespaces::new("bvo", [&taps[0], &taps[1]]);
    let dir = tempdir("virtio-offload");
    let dst = dir.join("received");
    let data = std::sync::Arc::new(pseudo_random_bytes(FILE_BYTES, 0x5eed_1a46_e5e9));
    let src = dir.join("sent");
    std::fs::write(&src, data.as_slice()).expect("write the file to send");
    let want = sha256(&src);
    let mut errors = Vec::new();
    let mut measured = Vec::new();
    for (k, p) in phases.iter().enumerate() {
        if let Err(e) = guest.wait_for_console(&format!("PERF_READY phase={}", p.name()), CONSOLE_WAIT) {
            errors.push(e.to_string());
            break;
        }
        let mut m = Measured { phase: p.name(), mbits: [0.0; 2] };
        if file {
            let _ = std::fs::remove_file(&dst);
            let (n, mbits) = stream(&ns, 0, Payload::File(data.clone()), Some(&dst));
            let got = sha256(&dst);
            if n != FILE_BYTES || got != want {
                errors.push(format!(
                    "{}: received {n} bytes with SHA-256 {got}, sent {FILE_BYTES} with {want}",
                    p.name()
                ));
            }
            eprintln!("FILE {}: {n} bytes A->B at {mbits:.0} Mbit/s, SHA-256 {got}", p.name());
        }
        if stream_secs > 0 {
            for from in 0..2 {
                let (n, mbits) = stream(&ns, from, Payload::For(Duration::from_secs(stream_secs)), None);
                eprintln!("STREAM {} {}: {n} bytes at {mbits:.0} Mbit/s", p.name(), ["A->B", "B->A"][from]);
                m.mbits[from] = mbits;
            }
        }
        measured.push(m);
        guest.monitor().and_then(|mut mon| mon.set_link("ctl", k % 2 == 1)).unwrap_or_else(|e| panic!("{e}"));
    }
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    drop(ns);
    let _ = std::fs::remove_dir_all(&dir);
    let out = script_output(&o, &errors);
    (out, measured)
}

/// The xstat `name` of `port` in the output of testpmd run `phase`.
fn xstat(out: &str, phase: &str, port: u16, name: &str) -> Option<u64> {
    let run = &out[out.find(&format!("=== testpmd {phase}"))?..];
    count_after(run, &format!("NIC extended statistics for port {port}"), &format!("{name}:"))
}

/// TX-dropped of `port` in testpmd run `phase` (its forward statistics).
fn tx_dropped(out: &str, phase: &str, port: u16) -> Option<u64> {
    let run = &out[out.find(&format!("=== testpmd {phase}"))?..];
    count_after(run, &format!("Forward statistics for port {port}"), "TX-dropped:")
}

/// Large TCP segments from Linux cross Bypass testpmd between two virtio ports whole: the
/// host's TAP hands QEMU 64 KiB segments (`GUEST_TSO4`), the PMD receives each over
/// mergeable buffers as one chained mbuf flagged `RX_LRO` with its segment size, and the
/// other port sends it as one descriptor chain with a GSO header (`HOST_TSO4`) for the
/// far TAP to deliver. The 20 MB file arrives intact.
#[test]
fn large_tcp_segments_cross_two_virtio_ports_whole_and_a_20mb_file_arrives_intact() {
    if !common::qemu_available_or_skip("large_tcp_segments_cross_two_virtio_ports_whole_and_a_20mb_file_arrives_intact")
    {
        return;
    }
    let (out, _) = run_phases(&[Phase::Testpmd("lro", LRO_ARGS, "")], 0, true);
    assert!(out.contains("TCP_LRO"), "show port info must list TCP_LRO: {out}");
    let rx_large = xstat(&out, "lro", 0, "rx_lro_packets").unwrap_or(0);
    let tx_large = xstat(&out, "lro", 1, "tx_tso_packets").unwrap_or(0);
    eprintln!("large segments: {rx_large} received on port 0, {tx_large} sent whole on port 1");
    assert!(rx_large > 50, "the file must cross as large segments, got {rx_large} on port 0: {out}");
    assert!(tx_large > 50, "port 1 must send them whole (TSO), got {tx_large}: {out}");
    for p in 0..2 {
        eprintln!("TX-dropped port {p}: {:?}", tx_dropped(&out, "lro", p));
    }
}

/// Throughput of forwarding between two virtio NICs, printed (not asserted): the guest's
/// own Linux stack, Bypass testpmd io forwarding without offloads (with DPDK's retry budget
/// and with [`DEEP_RETRY`]), and with LRO/TSO.
#[test]
#[ignore = "a 10 s TCP stream each way through each of three or four forwarders under TCG: too slow and noisy for CI; see the module documentation for the command"]
fn virtio_forwarding_throughput_against_the_guest_linux_stack() {
    if !common::qemu_available_or_skip("virtio_forwarding_throughput_against_the_guest_linux_stack") {
        return;
    }
    let secs = std::env::var("PERF_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(STREAM_SECS);
    // PERF_BEFORE_TESTPMD: another static testpmd build (say, of the main branch) run first
    // with plain io forwarding, for a before/after figure in the same boot.
    let before = std::env::var_os("PERF_BEFORE_TESTPMD").map(PathBuf::from);
    let staged = before.as_ref().map(|b| {
        let d = std::env::temp_dir().join(format!("bypass-perf-before-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        let to = d.join("testpmd_before");
        std::fs::copy(b, &to).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
        to
    });
    let mut phases = vec![Phase::Linux];
    if staged.is_some() {
        phases.push(Phase::Before);
    }
    phases.extend([
        Phase::Testpmd("plain", "", ""),
        Phase::Testpmd("deepretry", "", DEEP_RETRY),
        Phase::Testpmd("lro", LRO_ARGS, ""),
    ]);
    let (out, measured) = run_phases_with(&phases, secs, false, staged.as_deref());
    for m in &measured {
        let drops = if m.phase == "linux" {
            "see /proc/net/dev above".to_string()
        } else {
            format!("{:?}/{:?}", tx_dropped(&out, m.phase, 1), tx_dropped(&out, m.phase, 0))
        };
        eprintln!(
            "SUMMARY {:>6}: A->B {:>6.0} Mbit/s, B->A {:>6.0} Mbit/s, TX-dropped (port 1/port 0) {drops}",
            m.phase, m.mbits[0], m.mbits[1]
        );
    }
}

// ---------------------------------------------------------------------------------------
// Receive filters: VLAN filter (VIRTIO_NET_F_CTRL_VLAN) and all-multicast

/// Counts, per kind, the filter frames from `src` that arrive on `tap` in namespace B
/// (forwarded by the guest) within `window`. The kernel may move a VLAN tag out of the
/// frame before a packet socket sees it; the kind code tells the frames apart either way.
fn count_forwarded(ns: &Namespaces, tap: &str, src: [u8; 6], window: Duration) -> std::thread::JoinHandle<[u32; 4]> {
    let tap = std::ffi::CString::new(tap).expect("name");
    in_netns(&ns.names[1], move || {
        // SAFETY: a NUL-terminated name; the call only reads it.
        let index = unsafe { libc::if_nametoindex(tap.as_ptr()) };
        assert!(index != 0, "no {tap:?} in namespace B");
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket creation; closed below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
        assert!(fd >= 0, "AF_PACKET socket: {}", std::io::Error::last_os_error());
        // SAFETY: an all-zero sockaddr_ll is valid; fields are set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = index as i32;
        // SAFETY: `sll` is valid for its size.
        let r = unsafe {
            libc::bind(fd, (&sll as *const libc::sockaddr_ll).cast(), std::mem::size_of::<libc::sockaddr_ll>() as u32)
        };
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        let tv = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
        // SAFETY: `tv` is a valid timeval for SO_RCVTIMEO.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        let mut counts = [0u32; 4];
        let mut buf = [0u8; 2048];
        let t0 = Instant::now();
        while t0.elapsed() < window {
            // SAFETY: `buf` is valid for its length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 46 || buf[6..12] != src {
                continue;
            }
            let f = &buf[..n as usize];
            let at = if f[12..14] == [0x81, 0x00] { 46 } else { 42 };
            if let Some(k) = f.get(at).map(|b| usize::from(*b)).filter(|k| *k < 4) {
                counts[k] += 1;
            }
        }
        // SAFETY: `fd` is ours and closed once.
        unsafe { libc::close(fd) };
        counts
    })
}

/// The guest script of the filter run: testpmd with the VLAN filter offload, promiscuous
/// mode off (QEMU's filter lets everything through in promiscuous mode) and VLAN 100
/// added (until the host takes the control link down), then with all-multicast on and
/// VLAN 200 added too (until it brings it up again).
fn filter_script() -> String {
    let send = send_cmds;
    let count = |pat: &str, n: u32| wait_count("/tmp/tp3.log", pat, n);
    format!(
        "{fns}rm -f /tmp/c3; mkfifo /tmp/c3; \
testpmd -l 0-1 -m 64 --file-prefix vflt -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- -i --rxd 256 --txd 256 --rx-offloads=0x200 \
< /tmp/c3 > /tmp/tp3.log 2>&1 & P=$!; exec 3>/tmp/c3; waitg 'testpmd> ' /tmp/tp3.log; \
{s1}{fwd1}echo FILTER_READY phase=1; carrier 0; echo stop >&3; {done1}\
{s2}{fwd2}echo FILTER_READY phase=2; carrier 1; echo stop >&3; {done2}\
echo quit >&3; exec 3>&-; wait $P; r=$?; cat /tmp/tp3.log; echo \"testpmd exit code $r\"; [ $r -eq 0 ]",
        fns = SHELL_FNS,
        s1 = send(&["set promisc all off", "rx_vlan add 100 0", "show port info 0", "start"]),
        fwd1 = count("io packet forwarding", 1),
        done1 = count("^Done.", 1),
        s2 = send(&["set allmulti 0 on", "rx_vlan add 200 0", "start"]),
        fwd2 = count("io packet forwarding", 2),
        done2 = count("^Done.", 2),
    )
}

/// The VLAN filter on virtio-net (`VIRTIO_NET_F_CTRL_VLAN`, QEMU's filter) and
/// all-multicast (`VIRTIO_NET_CTRL_RX_ALLMULTI`), fed by a packet socket in a host
/// namespace: with promiscuous mode off, of the tagged frames only VLAN 100 (added)
/// passes and multicast frames are dropped; after `set allmulti 0 on` and
/// `rx_vlan add 200 0` both pass. Counted by testpmd's forward statistics of port 0.
#[test]
fn virtio_vlan_filter_and_allmulticast_pass_only_what_was_added() {
    if !common::qemu_available_or_skip("virtio_vlan_filter_and_allmulticast_pass_only_what_was_added") {
        return;
    }
    let id = std::process::id() % 100_000;
    let taps = [format!("bvf{id}a"), format!("bvf{id}b")];
    let cfg = GuestConfig { net_modules: true, ..GuestConfig::default() }
        .binary(guest_bin("testpmd"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(300))
        .nic(Nic { slot: 3, ..Nic::new(NicModel::VirtioModern, "n1").mac(MAC_0).tap(&taps[0], 1) })
        .nic(Nic { slot: 5, ..Nic::new(NicModel::VirtioModern, "n2").mac(MAC_1).tap(&taps[1], 1) })
        .nic(Nic { slot: 4, ..Nic::new(NicModel::VirtioTransitional, "ctl") })
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(filter_script());
    let guest = vmtest::Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let ns = Namespaces::new("bvo", [&taps[0], &taps[1]]);
    let a_mac = mac_in(&ns.names[0], &taps[0]);
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    for (phase, up) in [(1, false), (2, true)] {
        if let Err(e) = guest.wait_for_console(&format!("FILTER_READY phase={phase}"), CONSOLE_WAIT) {
            errors.push(e.to_string());
            break;
        }
        let counter = count_forwarded(&ns, &taps[1], a_mac, Duration::from_secs(4));
        std::thread::sleep(Duration::from_millis(300));
        send_raw(&ns, &taps[0], filter_frames(common::mac(MAC_0), a_mac));
        let counts = counter.join().expect("counter thread");
        let named: Vec<String> = KINDS.iter().zip(counts).map(|(k, n)| format!("{k}: {n}")).collect();
        eprintln!("phase {phase}: forwarded to B: {}", named.join(", "));
        seen.push(counts);
        guest.monitor().and_then(|mut m| m.set_link("ctl", up)).unwrap_or_else(|e| panic!("{e}"));
    }
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    drop(ns);
    let out = &script_output(&o, &errors);
    assert!(out.contains("VLAN_FILTER"), "show port info lists the VLAN filter: {out}");
    let stats = port0_rx_per_stop(out);
    let n = u64::from(FILTER_N);
    let f = FILTER_N;
    assert_eq!(seen, vec![[f, f, 0, 0], [f, f, f, f]], "forwarded per kind ({KINDS:?}): {out}");
    assert_eq!(stats, vec![2 * n, 4 * n], "port 0 RX: untagged + VLAN 100, then + VLAN 200 + multicast: {out}");
}
