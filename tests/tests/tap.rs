//! `net_tap` with real interfaces and real processes. Each test runs the primary inside a
//! network namespace of its own (so addresses, routes and the TAP never touch the host's),
//! talks to it through UDP sockets in that namespace, and toggles the interface with `ip`.
//! Secondaries run in the host's namespace: they can only reach the TAP through the queue
//! fds the primary hands them. A guard kills the processes and deletes the namespace (and
//! with it the TAP) even when a test fails. Needs root; skipped (with a note) otherwise.

use std::process::{Command, Output};
use std::time::Duration;
use tests::{heap_files, prefix, runtime_dir, Proc};

const W: &str = env!("CARGO_BIN_EXE_tap_worker");
const T: Duration = Duration::from_secs(20);
const PORT_MAC: [u8; 6] = [0x02, 0, 0, 0xaa, 0xbb, 0x01];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0xaa, 0xbb, 0x02];
const TAP_IP: [u8; 4] = [10, 77, 0, 1];
const PEER_IP: [u8; 4] = [10, 77, 0, 2];

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

macro_rules! need_root {
    () => {
        if !is_root() {
            eprintln!("skipped: net_tap tests need root (TAP interfaces, network namespaces)");
            return;
        }
    };
}

/// `Cpus_allowed_list` of the thread of `pid` whose name starts with `comm`, once it is
/// not the whole machine's list (a thread moves to its CPUs as it starts), or after 5 s.
fn thread_cpus(pid: u32, comm: &str) -> String {
    let end = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut seen = None;
        for e in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir").flatten() {
            let name = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            if !name.starts_with(comm) {
                continue;
            }
            let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
            seen = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).map(|c| c.trim().to_string());
        }
        match seen {
            Some(c) if c != "0-1" || std::time::Instant::now() >= end => return c,
            None if std::time::Instant::now() >= end => panic!("no thread {comm}* in {pid}"),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn sh(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

fn ok(cmd: &str, args: &[&str]) -> String {
    let o = sh(cmd, args);
    assert!(o.status.success(), "{cmd} {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ip4(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

fn mac_str(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

fn ip_checksum(h: &[u8]) -> u16 {
    let mut s: u32 = h.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An Ethernet/IPv4/UDP frame (UDP checksum 0: none).
fn udp_frame(dst: [u8; 6], src: [u8; 6], sip: [u8; 4], dip: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    let tot = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&tot.to_be_bytes());
    ip.extend_from_slice(&sip);
    ip.extend_from_slice(&dip);
    let c = ip_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// Checks a frame the kernel sent to PEER_IP:`dport`: headers consistent, checksum valid;
/// returns its UDP payload.
fn check_udp_from_kernel(f: &[u8], port_mac: [u8; 6], dport: u16) -> Vec<u8> {
    assert!(f.len() >= 42, "short frame {}", hex(f));
    assert_eq!(f[0..6], PEER_MAC, "destination MAC is the static neighbour's");
    assert_eq!(f[6..12], port_mac, "source MAC is the interface's, i.e. the port's");
    assert_eq!(f[12..14], [0x08, 0x00]);
    let ip = &f[14..34];
    assert_eq!(ip_checksum(ip), 0, "IPv4 header checksum");
    assert_eq!(ip[9], 17);
    assert_eq!(ip[12..16], TAP_IP);
    assert_eq!(ip[16..20], PEER_IP);
    let tot = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    assert_eq!(f.len(), 14 + tot, "frame length matches the IP total length");
    let udp = &f[34..];
    assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), dport);
    assert_eq!(u16::from_be_bytes([udp[4], udp[5]]) as usize, udp.len());
    udp[8..].to_vec()
}

/// A network namespace, a group prefix and the processes of one test; dropping it kills the
/// processes, removes the group's files and deletes the namespace (and the TAP in it).
struct Rig {
    ns: String,
    iface: String,
    prefix: String,
    procs: Vec<Option<Proc>>,
}

impl Rig {
    fn new(tag: &str) -> Rig {
        let ns = format!("bypass_{}_{tag}", std::process::id());
        let _ = sh("ip", &["netns", "del", &ns]);
        ok("ip", &["netns", "add", &ns]);
        let rig = Rig {
            iface: format!("bt{}{tag}", std::process::id() % 100_000),
            ns,
            prefix: prefix(tag),
            procs: Vec::new(),
        };
        // No IPv6 chatter (router solicitations, MLD) on the TAP.
        ok("ip", &["netns", "exec", &rig.ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        rig
    }

    fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", self.ns.as_str()];
        a.extend_from_slice(args);
        ok("ip", &a)
    }

    fn eal_args(&self, lcores: &str, role: &str) -> Vec<String> {
        ["--file-prefix", &self.prefix, "--no-huge", "-m", "32", "--lcores", lcores, "--proc-type", role]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Starts the primary in the namespace with `net_tap0` and QUEUES queues.
    fn primary(&mut self, queues: u16) -> usize {
        let vdev = format!("net_tap0,iface={},mac={}", self.iface, mac_str(PORT_MAC));
        let mut a: Vec<String> = ["netns", "exec", &self.ns, W].iter().map(|s| s.to_string()).collect();
        a.extend(self.eal_args("0@0", "primary"));
        a.extend(["--vdev".into(), vdev, "--".into(), "run".into(), queues.to_string()]);
        self.spawn("ip", &a)
    }

    /// Starts a secondary in the host's namespace.
    fn secondary(&mut self, lcores: &str) -> usize {
        let mut a = self.eal_args(lcores, "secondary");
        a.extend(["--".into(), "run".into()]);
        self.spawn(W, &a)
    }

    /// Runs a UDP helper in the namespace.
    fn helper(&mut self, args: &[&str]) -> usize {
        let mut a: Vec<String> = ["netns", "exec", &self.ns, W].iter().map(|s| s.to_string()).collect();
        a.extend(args.iter().map(|s| s.to_string()));
        self.spawn("ip", &a)
    }

    fn spawn(&mut self, bin: &str, args: &[String]) -> usize {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.procs.push(Some(Proc::spawn(bin, &a)));
        self.procs.len() - 1
    }

    fn p(&mut self, i: usize) -> &mut Proc {
        self.procs[i].as_mut().expect("process still running")
    }

    /// Closes stdin and waits for a clean exit.
    fn finish(&mut self, i: usize) -> Vec<String> {
        let (code, out) = self.procs[i].take().expect("running").finish(T);
        assert_eq!(code, Some(0), "process exited badly: {out:#?}");
        out
    }

    /// Brings the TAP up with an address and a static neighbour, and waits for the
    /// primary `pri` to see the link up.
    fn configure_ip(&mut self, pri: usize) {
        let iface = self.iface.clone();
        self.ip(&["link", "set", &iface, "up"]);
        self.ip(&["addr", "add", &format!("{}/24", ip4(TAP_IP)), "dev", &iface]);
        self.ip(&["neigh", "add", &ip4(PEER_IP), "lladdr", &mac_str(PEER_MAC), "dev", &iface, "nud", "permanent"]);
        self.p(pri).expect("LINK port=0 up=true", T);
    }

    /// Sends COUNT datagrams from the namespace to the static neighbour (out of the TAP).
    fn udp_to_port(&mut self, dport: u16, count: usize, payload: &str) {
        let h = self.helper(&["udp-send", &ip4(PEER_IP), &dport.to_string(), &count.to_string(), payload]);
        let out = self.finish(h);
        assert!(out.iter().any(|l| l == &format!("SENT {count}")), "{out:?}");
    }

    /// Polls with process `i`; returns (queue, frame) of every frame received.
    fn rx(&mut self, i: usize, tag: &str, max: usize, ms: u64) -> Vec<(u16, Vec<u8>)> {
        self.p(i).send(&format!("rx {tag} {max} {ms}"));
        self.p(i).expect(&format!("RXDONE {tag} "), T);
        let head = format!("FRAME {tag} ");
        self.p(i)
            .seen
            .iter()
            .filter_map(|l| l.strip_prefix(&head))
            .map(|l| {
                let q =
                    l.split("q=").nth(1).and_then(|s| s.split(' ').next()).and_then(|s| s.parse().ok()).expect("q=");
                (q, unhex(l.split("hex=").nth(1).expect("hex=")))
            })
            .collect()
    }

    /// Frames with UDP destination `dport` among `frames`, as payloads.
    fn udp_payloads(frames: &[(u16, Vec<u8>)], dport: u16) -> Vec<(u16, String)> {
        frames
            .iter()
            .filter(|(_, f)| f.len() >= 42 && f[12..14] == [8, 0] && f[23] == 17 && f[36..38] == dport.to_be_bytes())
            .map(|(q, f)| (*q, String::from_utf8_lossy(&check_udp_from_kernel(f, PORT_MAC, dport)).into_owned()))
            .collect()
    }

    /// Sends a UDP frame to the TAP's address through process `i` and checks that a socket
    /// in the namespace receives its payload.
    fn tx_to_kernel(&mut self, i: usize, tag: &str, payload: &str) {
        let r = self.helper(&["udp-recv", &ip4(TAP_IP), "6666", "5000"]);
        self.p(r).expect("UDP-READY", T);
        let f = udp_frame(PORT_MAC, PEER_MAC, PEER_IP, TAP_IP, 6666, payload.as_bytes());
        self.p(i).send(&format!("tx {tag} 0 {}", hex(&f)));
        assert_eq!(self.p(i).expect(&format!("TX {tag} "), T), format!("TX {tag} sent=1"));
        let got = self.p(r).expect("GOT ", T);
        assert!(got.starts_with(&format!("GOT {payload} from={}:40000", ip4(PEER_IP))), "{got}");
        self.finish(r);
    }

    fn stats(&mut self, i: usize, tag: &str) -> (u64, u64) {
        self.p(i).send(&format!("stats {tag}"));
        let l = self.p(i).expect(&format!("STATS {tag} "), T);
        let v =
            |k: &str| -> u64 { l.split(&format!("{k}=")).nth(1).unwrap().split(' ').next().unwrap().parse().unwrap() };
        (v("ipackets"), v("opackets"))
    }

    /// Waits until process `i` printed at least `n` link events.
    fn wait_events(&mut self, i: usize, n: usize) {
        let deadline = std::time::Instant::now() + T;
        for k in 0.. {
            if self.links(i).len() >= n {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "process {i}: {:?}, want {n} events", self.links(i));
            std::thread::sleep(Duration::from_millis(20));
            // A round trip through the process collects what it printed meanwhile.
            let tag = format!("w{k}");
            self.p(i).send(&format!("link {tag}"));
            self.p(i).expect(&format!("LINKNOW {tag} "), T);
        }
    }

    /// Every `LINK` line process `i` printed, as (up, seq).
    fn links(&self, i: usize) -> Vec<(bool, u32)> {
        let p = self.procs[i].as_ref().expect("running");
        p.seen
            .iter()
            .filter_map(|l| l.strip_prefix("LINK port=0 up="))
            .map(|l| {
                let (up, rest) = l.split_once(" seq=").expect("seq");
                let seq = rest.split_whitespace().next().expect("seq number");
                (up == "true", seq.parse().expect("seq number"))
            })
            .collect()
    }
    /// When each link event of process `i` ran its callback (µs since the epoch).
    fn event_times(&self, i: usize) -> Vec<u128> {
        let p = self.procs[i].as_ref().expect("running");
        p.seen
            .iter()
            .filter(|l| l.starts_with("LINK port=0 up="))
            .filter_map(|l| l.split(" t_us=").nth(1)?.trim().parse().ok())
            .collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for p in self.procs.iter_mut().filter_map(Option::take) {
            p.kill9();
        }
        let _ = sh("ip", &["netns", "del", &self.ns]);
        let _ = std::fs::remove_dir_all(runtime_dir(&self.prefix));
        for f in heap_files(&self.prefix) {
            let _ = std::fs::remove_file(f);
        }
    }
}

#[test]
fn frames_flow_between_the_kernel_and_the_port_and_control_reaches_the_interface() {
    need_root!();
    let mut g = Rig::new("data");
    let pri = g.primary(1);
    let ready = g.p(pri).expect("READY", T);
    assert!(ready.contains(&format!("mac={}", mac_str(PORT_MAC))) && ready.contains("up=false"), "{ready}");
    let shown = g.ip(&["link", "show", &g.iface.clone()]);
    assert!(shown.contains(&format!("link/ether {}", mac_str(PORT_MAC))), "the interface has the port's MAC: {shown}");
    // The link watcher is a control thread: off the lcore's CPU (`0@0`), on the others.
    let cpus = eal::lcore::available_cpus();
    if cpus == [0, 1] {
        let pid = g.p(pri).child.id();
        assert_eq!(thread_cpus(pid, "tap-link-"), "1", "the TAP link watcher shares the lcore's CPU");
    }
    g.configure_ip(pri);

    // Kernel -> port.
    g.udp_to_port(5555, 3, "from-kernel");
    let frames = g.rx(pri, "r1", 3, 3000);
    let got = Rig::udp_payloads(&frames, 5555);
    assert_eq!(got, vec![(0, "from-kernel-0".into()), (0, "from-kernel-1".into()), (0, "from-kernel-2".into())]);

    // Port -> kernel.
    g.tx_to_kernel(pri, "t1", "from-port");
    let (ipk, opk) = g.stats(pri, "s1");
    assert!(ipk >= 3 && opk == 1, "ipackets={ipk} opackets={opk}");

    // Control operations change the interface.
    let iface = g.iface.clone();
    for (cmd, expect) in [
        ("promisc c1 on", "PROMISC".to_string()),
        ("mtu c2 1400", "mtu 1400".to_string()),
        ("mac c3 02:00:00:aa:bb:09", "link/ether 02:00:00:aa:bb:09".to_string()),
    ] {
        let tag = cmd.split(' ').nth(1).unwrap();
        g.p(pri).send(cmd);
        assert_eq!(g.p(pri).expect(&format!(" {tag}"), T), format!("OK {tag}"));
        let shown = g.ip(&["link", "show", &iface]);
        assert!(shown.contains(&expect), "after '{cmd}': {shown}");
    }
    g.p(pri).send("mtu c4 9000");
    assert!(g.p(pri).expect(" c4", T).starts_with("ERR c4"), "an MTU the RX mbufs cannot hold is refused");

    // A clean exit removes the interface and every file of the group.
    let out = g.finish(pri);
    assert!(out.iter().any(|l| l == "BYE"), "{out:?}");
    assert!(!sh("ip", &["-n", &g.ns, "link", "show", &iface]).status.success(), "the TAP is gone with its fds");
    assert!(!runtime_dir(&g.prefix).exists(), "runtime dir (and the fd endpoint in it) removed");
}

#[test]
fn link_events_reach_the_primary_and_the_secondaries_in_order() {
    need_root!();
    let mut g = Rig::new("lsc");
    let pri = g.primary(1);
    g.p(pri).expect("READY", T);
    let secs = [g.secondary("1@1"), g.secondary("2@0")];
    for &s in &secs {
        let r = g.p(s).expect("READY", T);
        assert!(r.contains("role=Secondary") && r.contains("up=false"), "{r}");
    }
    let iface = g.iface.clone();
    let all = [pri, secs[0], secs[1]];
    let steps = [true, false, true];
    let mut toggled_at = Vec::new();
    for (i, &up) in steps.iter().enumerate() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_micros();
        toggled_at.push(now);
        g.ip(&["link", "set", &iface, if up { "up" } else { "down" }]);
        // Every process sees this event before the next toggle.
        for &p in &all {
            g.wait_events(p, i + 1);
        }
    }
    // Each process ran its callback within 100 ms of the change.
    for &p in &all {
        let times = g.event_times(p);
        assert_eq!(times.len(), steps.len(), "process {p}: {times:?}");
        for (k, (&t, &t0)) in times.iter().zip(&toggled_at).enumerate() {
            let delay = t.saturating_sub(t0);
            assert!(delay < 100_000, "process {p}, event {k}: callback {delay} µs after `ip link set`");
        }
    }
    let reference = g.links(pri);
    assert_eq!(reference.iter().map(|l| l.0).collect::<Vec<_>>(), steps, "primary: {reference:?}");
    assert!(reference.windows(2).all(|w| w[1].1 > w[0].1), "sequence numbers increase: {reference:?}");
    for &s in &secs {
        assert_eq!(g.links(s), reference, "a secondary sees the primary's events, in order, with their numbers");
    }
    // A secondary started now reads the current link and its sequence number.
    let late = g.secondary("3@1");
    let r = g.p(late).expect("READY", T);
    let last = reference[2];
    assert!(r.contains(&format!("up=true seq={}", last.1)), "late secondary: {r}, last event {last:?}");
    for p in [late, secs[0], secs[1], pri] {
        g.finish(p);
    }
}

#[test]
fn a_secondary_receives_and_transmits_through_the_primarys_fds() {
    need_root!();
    let mut g = Rig::new("sec");
    let pri = g.primary(1);
    g.p(pri).expect("READY", T);
    g.configure_ip(pri);
    let sec = g.secondary("1@1");
    g.p(sec).expect("READY role=Secondary", T);
    g.udp_to_port(5556, 2, "to-secondary");
    let got = Rig::udp_payloads(&g.rx(sec, "r1", 2, 3000), 5556);
    assert_eq!(got, vec![(0, "to-secondary-0".into()), (0, "to-secondary-1".into())]);
    g.tx_to_kernel(sec, "t1", "from-secondary");
    let (ipk, opk) = g.stats(pri, "s1");
    assert!(ipk >= 2 && opk == 1, "the shared counters show the secondary's traffic: {ipk} {opk}");
    g.finish(sec);
    g.finish(pri);
}

#[test]
fn multi_queue_tap_spreads_flows_over_the_configured_queues_only() {
    need_root!();
    let mut g = Rig::new("mq");
    let pri = g.primary(2);
    assert!(g.p(pri).expect("READY", T).contains("queues=2"));
    g.configure_ip(pri);
    g.udp_to_port(5557, 24, "flow");
    let got = Rig::udp_payloads(&g.rx(pri, "r1", 24, 4000), 5557);
    assert_eq!(got.len(), 24, "every flow arrives on a polled queue: {got:?}");
    let on_q1 = got.iter().filter(|(q, _)| *q == 1).count();
    assert!(on_q1 > 0 && on_q1 < 24, "flows are spread over both queues ({on_q1} of 24 on queue 1)");
    g.finish(pri);
}

fn expect_init_error(tag: &str, wrapper: &[&str], want: &[&str]) {
    let p = prefix(tag);
    let iface = format!("bt{}{tag}", std::process::id() % 100_000);
    let vdev = format!("net_tap0,iface={iface}");
    let mut a: Vec<&str> = wrapper.to_vec();
    a.extend([W, "--file-prefix", &p, "--no-huge", "-m", "32", "--lcores", "0@0", "--vdev", &vdev, "--", "run"]);
    let (code, out) = Proc::spawn(a[0], &a[1..]).finish(T);
    let _ = std::fs::remove_dir_all(runtime_dir(&p));
    let _ = std::fs::remove_dir_all(format!("/tmp/bypass_tap_{tag}"));
    heap_files(&p).into_iter().for_each(|f| drop(std::fs::remove_file(f)));
    let _ = sh("ip", &["link", "del", &iface]);
    assert_eq!(code, Some(2), "{out:?}");
    let err = out.iter().find(|l| l.starts_with("ERROR: ")).unwrap_or_else(|| panic!("no error line: {out:?}"));
    for w in want {
        assert!(err.contains(w), "'{w}' missing from: {err}");
    }
}

/// Runs the worker as `nobody` with no capabilities, in a private mount namespace whose
/// `/dev/net/tun` is a fresh device node of mode `mode`: the test sets up the device state it
/// needs itself instead of depending on the host's (a fresh machine has `0600`, others `0666`).
fn expect_unprivileged_error(tag: &str, mode: &str, want: &[&str]) {
    let dir = format!("/tmp/bypass_tap_{tag}");
    let _ = std::fs::create_dir_all(&dir);
    ok("chmod", &["1777", &dir]);
    let env = format!("BYPASS_RUNTIME_DIR={dir}");
    let script =
        format!("mount -t tmpfs tmpfs /dev/net && mknod -m {mode} /dev/net/tun c 10 200 && exec \"$0\" \"$@\"");
    let wrapper = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "env",
        "-u",
        "XDG_RUNTIME_DIR",
        &env,
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ];
    expect_init_error(tag, &wrapper, want);
}

#[test]
fn without_root_and_an_open_tun_device_creating_the_tap_is_refused_with_the_fix() {
    need_root!();
    // /dev/net/tun readable by all: open() succeeds, TUNSETIFF fails with EPERM.
    expect_unprivileged_error(
        "noroot",
        "0666",
        &["port 0", "not permitted", "needs root (CAP_NET_ADMIN)", "ip tuntap add"],
    );
}

#[test]
fn without_root_and_a_private_tun_device_opening_it_is_refused_with_the_fix() {
    need_root!();
    // /dev/net/tun root-only (a fresh machine's mode): open() fails with EACCES.
    expect_unprivileged_error(
        "noaccess",
        "0600",
        &["port 0", "cannot open /dev/net/tun", "Permission denied", "run as root", "CAP_NET_ADMIN"],
    );
}

#[test]
fn without_dev_net_tun_the_error_says_so_and_how_to_fix() {
    need_root!();
    // A private mount namespace where /dev/net is an empty tmpfs.
    let script = "mount -t tmpfs tmpfs /dev/net && exec \"$0\" \"$@\"";
    let wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script];
    expect_init_error("notun", &wrapper, &["/dev/net/tun", "modprobe tun"]);
}

/// Runs `sleeprx` in process `i` for `n` paced datagrams: checks that it sleeps (under 5% of
/// a core over 3 idle seconds, from /proc/<pid>/stat), that every datagram arrives in order
/// and that it slept and woke between them; returns the latencies (µs) from send to receive.
fn sleep_and_wake(g: &mut Rig, i: usize, tag: &str, n: usize) -> Vec<u128> {
    g.p(i).send(&format!("sleeprx {tag} {n} 20 60000"));
    g.p(i).expect(&format!("SLEEPING {tag}"), T);
    let pid = g.p(i).child.id();
    let share = tests::cpu_time::cpu_share(pid, Duration::from_secs(3)).expect("process alive");
    eprintln!("{tag}: idle CPU {:.1}% of a core", share * 100.0);
    assert!(share < 0.05, "process {i} did not sleep: {:.1}% of a core", share * 100.0);
    let h = g.helper(&["udp-paced", &ip4(PEER_IP), "5557", &n.to_string(), "10"]);
    let done = g.p(i).expect(&format!("SLEEPDONE {tag} "), Duration::from_secs(60));
    let out = g.finish(h);
    assert!(out.iter().any(|l| l == &format!("SENT {n}")), "{out:?}");
    let head = format!("FRAME {tag} ");
    let frames: Vec<(u16, Vec<u8>, u128)> = g
        .p(i)
        .seen
        .iter()
        .filter_map(|l| l.strip_prefix(&head))
        .map(|l| {
            let field = |k: &str| l.split(k).nth(1).and_then(|s| s.split(' ').next()).expect("field").to_string();
            (field("q=").parse().expect("q"), unhex(&field("hex=")), field("t_us=").parse().expect("t_us"))
        })
        .collect();
    let got = Rig::udp_payloads(&frames.iter().map(|(q, f, _)| (*q, f.clone())).collect::<Vec<_>>(), 5557);
    assert_eq!(got.len(), n, "{done}: {} frames, {} datagrams of {n}", frames.len(), got.len());
    let mut lat = Vec::new();
    for (k, ((_, payload), (_, _, t))) in got.iter().zip(&frames).enumerate() {
        let mut parts = payload.split('-');
        assert_eq!(parts.next(), Some("paced"), "{payload}");
        assert_eq!(parts.next(), Some(k.to_string().as_str()), "datagram {k} lost or reordered: {payload}");
        let sent: u128 = parts.next().and_then(|s| s.parse().ok()).expect("send time");
        lat.push(t.saturating_sub(sent));
    }
    let wakes: u64 = done.split("wakes=").nth(1).and_then(|s| s.parse().ok()).expect("wakes");
    assert!(wakes as usize >= n * 9 / 10, "it slept and woke for (nearly) every datagram 10 ms apart: {done}");
    lat.sort_unstable();
    eprintln!(
        "{tag}: {n} sleep/wake cycles, {done}; latency send->receive p50 {} µs, p99 {} µs, max {} µs",
        lat[n / 2],
        lat[n * 99 / 100],
        lat[n - 1]
    );
    lat
}

#[test]
fn rx_interrupts_let_a_secondary_and_the_primary_sleep_and_wake_for_every_frame() {
    need_root!();
    let mut g = Rig::new("intr");
    let pri = g.primary(1);
    g.p(pri).expect("READY", T);
    g.configure_ip(pri);
    let sec = g.secondary("1@1");
    g.p(sec).expect("READY role=Secondary", T);
    let lat = sleep_and_wake(&mut g, sec, "s", 300);
    assert!(lat[lat.len() / 2] < 20_000, "a woken secondary receives within 20 ms (median): {lat:?}");
    g.finish(sec);
    let lat = sleep_and_wake(&mut g, pri, "p", 100);
    assert!(lat[lat.len() / 2] < 20_000, "a woken primary receives within 20 ms (median): {lat:?}");
    g.finish(pri);
}
