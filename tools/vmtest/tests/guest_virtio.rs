//! The virtio-net PMD (`net_virtio`) and the EAL's PCI bus in the QEMU guest, against
//! QEMU's virtio-net-pci as a modern (`disable-legacy=on,iommu_platform=on`, through the
//! IOMMU), a legacy (`disable-modern=on`, I/O-port BAR, IOVA = physical address chosen by
//! the EAL) and a transitional device: 10,000 frames of mixed sizes each way between a host
//! peer and the port with every byte checked and the counters; two queue pairs on a
//! multiqueue TAP backend with a primary on queue 0 and a secondary on queue 1, every frame
//! of several flows coming back exactly once; and link events from `set_link` in a primary
//! and a secondary. Builds nothing itself; build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p tests --bin guest_virtio
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

#[allow(dead_code)] // the guest program uses the rest
#[path = "../../../tests/src/bin/guest_virtio/mqframes.rs"]
mod mqframes;

/// At the crate root for `mqframes`.
use common::frames;
use common::{assert_ok, base_config, exchange, lsc_script, mac, output, rates, toggle_link, wait_console};
use frames::{HOST_MAC, TAG_G2H, TAG_H2G};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};
use vmtest::{Guest, GuestConfig, Nic, NicModel};

const MAC_M: &str = "52:54:00:12:35:01";
const MAC_L: &str = "52:54:00:12:35:02";
const MAC_T: &str = "52:54:00:12:35:03";
const MAC_Q: &str = "52:54:00:12:35:04";
const PROGRAM: &str = "guest_virtio";

fn config() -> GuestConfig {
    base_config(PROGRAM, Duration::from_secs(600))
}

#[test]
fn modern_legacy_and_transitional_move_10000_checked_frames_each_way_and_count_them() {
    let name = "modern_legacy_and_transitional_move_10000_checked_frames_each_way_and_count_them";
    if !common::qemu_available_or_skip(name) {
        return;
    }
    let cfg = config()
        .nic(Nic::new(NicModel::VirtioModern, "m").mac(MAC_M).stream())
        .nic(Nic::new(NicModel::VirtioLegacy, "l").mac(MAC_L).stream())
        .nic(Nic::new(NicModel::VirtioTransitional, "t").mac(MAC_T).stream())
        .command("devbind --bind vfio-pci $VMTEST_NIC_m $VMTEST_NIC_l $VMTEST_NIC_t")
        .command("guest_virtio -l 0 -m 64 --file-prefix lva --iova-mode va -a $VMTEST_NIC_l -- noop")
        .command("guest_virtio -l 0 -m 64 --file-prefix vm -a $VMTEST_NIC_m -- rxtx 10000 modern")
        .command("guest_virtio -l 0 -m 64 --file-prefix vl -a $VMTEST_NIC_l -- rxtx 10000 legacy")
        .command("guest_virtio -l 0 -m 64 --file-prefix vt -a $VMTEST_NIC_t -- rxtx 10000 transitional");
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut pm = guest.peer("m").unwrap_or_else(|e| panic!("{e}"));
    let mut pl = guest.peer("l").unwrap_or_else(|e| panic!("{e}"));
    let mut pt = guest.peer("t").unwrap_or_else(|e| panic!("{e}"));
    exchange(&guest, &mut pm, "READY=rxtx-modern 0000:00:03.0", 10_000, mac(MAC_M));
    exchange(&guest, &mut pl, "READY=rxtx-legacy 0000:00:04.0", 10_000, mac(MAC_L));
    exchange(&guest, &mut pt, "READY=rxtx-transitional 0000:00:05.0", 10_000, mac(MAC_T));
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0, PROGRAM);
    let va = output(&o, 1);
    assert_eq!(va.exit_code, Some(2), "a legacy device with --iova-mode va must be refused:\n{}", va.output);
    assert!(va.output.contains("--iova-mode pa"), "the error must name the fix:\n{}", va.output);
    for (i, label, modern, pa) in [(2, "modern", 1, false), (3, "legacy", 0, true), (4, "transitional", 1, true)] {
        let out = assert_ok(&o, i, PROGRAM);
        assert!(out.contains("guest_virtio: STATS_OK="), "{out}");
        assert!(out.contains(&format!("transport={label} modern={modern} iova_pa={pa}")), "{out}");
        eprintln!("RATES {label}: {:?}", rates(&out));
    }
}

/// Sets socket option `opt` (level SOL_SOCKET) of `fd` to `value`, a plain C value; a
/// failure only costs performance, so it is ignored.
fn set_opt<T>(fd: &OwnedFd, opt: libc::c_int, value: T) {
    // SAFETY: `value` is valid for `size_of::<T>()` bytes for the duration of the call.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&value as *const T).cast(),
            std::mem::size_of::<T>() as u32,
        );
    }
}

/// A host-side AF_PACKET socket on a TAP interface QEMU created.
struct TapPeer {
    fd: OwnedFd,
}

impl TapPeer {
    /// Waits for `ifname` to exist, sets it up and binds a packet socket to it.
    fn open(ifname: &str, timeout: Duration) -> TapPeer {
        let t0 = Instant::now();
        let cname = std::ffi::CString::new(ifname).expect("interface name");
        let index = loop {
            // SAFETY: a NUL-terminated name; the call only reads it.
            let i = unsafe { libc::if_nametoindex(cname.as_ptr()) };
            if i != 0 {
                break i;
            }
            assert!(t0.elapsed() < timeout, "TAP interface {ifname} did not appear");
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"), "1");
        let st = std::process::Command::new("ip").args(["link", "set", ifname, "up"]).status().expect("ip link");
        assert!(st.success(), "ip link set {ifname} up failed");
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket creation; the fd is owned right below.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
        assert!(raw >= 0, "AF_PACKET socket: {}", std::io::Error::last_os_error());
        // SAFETY: `raw` is a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: an all-zero sockaddr_ll is valid; fields are set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = index as i32;
        // SAFETY: binds the fd to a sockaddr_ll of the right size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(r, 0, "bind to {ifname}: {}", std::io::Error::last_os_error());
        set_opt(&fd, libc::SO_RCVTIMEO, libc::timeval { tv_sec: 0, tv_usec: 100_000 });
        set_opt::<libc::c_int>(&fd, libc::SO_RCVBUF, 8 << 20);
        TapPeer { fd }
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: sends `frame` (valid for its length) on the bound socket.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(n, frame.len() as isize, "send on the TAP: {}", std::io::Error::last_os_error());
    }

    /// The next frame the guest sent (outgoing copies of our own frames are skipped);
    /// None after the 100 ms receive timeout.
    fn recv(&self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 2048];
        loop {
            // SAFETY: an all-zero sockaddr_ll is valid as an output buffer.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            // SAFETY: receives into `buf` and `sll`, both valid for their sizes.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut sll as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if n < 0 {
                return None;
            }
            if sll.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            return Some(buf[..n as usize].to_vec());
        }
    }
}

/// Sends `n` multiqueue test frames over `flows` flows with at most `window` unanswered,
/// and checks that each comes back exactly once, turned around by the guest.
fn mq_exchange(tap: &TapPeer, n: u32, flows: u16, window: u32, port_mac: [u8; 6]) {
    let mut back: HashMap<u32, u32> = HashMap::new();
    let (mut sent, mut got) = (0u32, 0u32);
    let t0 = Instant::now();
    let mut last = Instant::now();
    let take = |f: Vec<u8>, back: &mut HashMap<u32, u32>| -> bool {
        let Some((seq, flow, TAG_G2H)) = mqframes::parse(&f) else { return false };
        assert_eq!(f, mqframes::build(seq, flow, TAG_G2H, HOST_MAC, port_mac), "frame {seq} came back changed");
        *back.entry(seq).or_default() += 1;
        true
    };
    while got < n {
        while sent < n && sent - got < window {
            tap.send(&mqframes::build(sent, (sent % u32::from(flows)) as u16, TAG_H2G, port_mac, HOST_MAC));
            sent += 1;
        }
        match tap.recv() {
            Some(f) => {
                if take(f, &mut back) {
                    got += 1;
                    last = Instant::now();
                }
            }
            None => assert!(
                last.elapsed() < Duration::from_secs(60),
                "multiqueue: {got} of {n} frames came back ({sent} sent); missing e.g. {:?}",
                (0..sent).filter(|s| !back.contains_key(s)).take(10).collect::<Vec<_>>()
            ),
        }
    }
    // Late duplicates.
    let t1 = Instant::now();
    while t1.elapsed() < Duration::from_secs(2) {
        if let Some(f) = tap.recv() {
            take(f, &mut back);
        }
    }
    let dups: Vec<_> = back.iter().filter(|(_, c)| **c != 1).collect();
    assert!(dups.is_empty(), "frames that came back more than once: {dups:?}");
    assert_eq!(back.len(), n as usize, "every frame comes back");
    eprintln!("multiqueue: {n} frames over {flows} flows came back exactly once in {:?}", t0.elapsed());
}

/// The guest script of the multiqueue run: a primary on queue 0, a secondary on queue 1.
const MQ_SCRIPT: &str = "rm -f /tmp/mq_*; export MQ_WAIT='s:1'; \
guest_virtio -l 0 -m 64 --file-prefix mq -a $VMTEST_NIC_q -- mq p 0 & P=$!; \
i=0; while [ ! -e /tmp/mq_p_ready ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done; \
guest_virtio -l 1 --proc-type=secondary --file-prefix mq -- mq s 1; rs=$?; touch /tmp/mq_s_exited; \
wait $P; rp=$?; echo \"mq exit codes: primary $rp secondary $rs\"; [ $rp -eq 0 ] && [ $rs -eq 0 ]";

#[test]
fn two_queue_pairs_split_between_processes_and_link_events_reach_primary_and_secondary() {
    let name = "two_queue_pairs_split_between_processes_and_link_events_reach_primary_and_secondary";
    if !common::qemu_available_or_skip(name) {
        return;
    }
    let ifname = format!("bvq{}", std::process::id() % 1_000_000);
    let cfg = config()
        .nic(Nic::new(NicModel::VirtioModern, "q").mac(MAC_Q).tap(&ifname, 2).props("mq=on,vectors=6"))
        .nic(Nic::new(NicModel::VirtioModern, "m").mac(MAC_M))
        .nic(Nic::new(NicModel::VirtioLegacy, "l").mac(MAC_L))
        .command("devbind --bind vfio-pci $VMTEST_NIC_q $VMTEST_NIC_m $VMTEST_NIC_l")
        .command(MQ_SCRIPT)
        .command(lsc_script(PROGRAM, "m", 1))
        .command(lsc_script(PROGRAM, "l", 1));
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let tap = TapPeer::open(&ifname, Duration::from_secs(30));
    for who in ["p q=0", "s q=1"] {
        wait_console(&guest, &format!("MQ_READY={who}"));
    }
    mq_exchange(&tap, 2000, 16, 128, mac(MAC_Q));
    wait_console(&guest, "MQ_STATS_OK=");
    toggle_link(&guest, "m", 1);
    toggle_link(&guest, "l", 1);
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0, PROGRAM);
    let mq = output(&o, 1);
    assert_eq!(mq.exit_code, Some(0), "{}", mq.output);
    for who in ["p q=0", "s q=1"] {
        let line = mq.output.lines().find(|l| l.contains(&format!("MQ_RESULT={who} "))).unwrap_or_else(|| {
            panic!("no result of {who}:\n{}", mq.output);
        });
        let frames: u64 =
            line.split_whitespace().find_map(|kv| kv.strip_prefix("frames=")).and_then(|v| v.parse().ok()).unwrap_or(0);
        assert!(frames > 0, "{who} got no frame: {line}");
    }
    assert!(mq.output.contains("DEVICE_AFTER_SECONDARY_EXIT=device_status=0xf"), "{}", mq.output);
    eprintln!("RATES multiqueue: {:?}", rates(&mq.output));
    for i in [2, 3] {
        let r = output(&o, i);
        assert_eq!(r.exit_code, Some(0), "{}", r.output);
        assert_eq!(r.output.matches("guest_virtio: LSC_OK=").count(), 2, "{}", r.output);
    }
}
