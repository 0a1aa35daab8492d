//! The host side of the guest tests that put Linux's network stack behind the guest's NICs:
//! two network namespaces each holding one TAP backend (A: 198.18.0.1, B: 198.18.0.2),
//! threads that run inside one of them, raw frames sent from a packet socket, and the
//! receive-filter frames (untagged, VLAN 100, VLAN 200, multicast) the filter tests send.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The IPv4 addresses of namespaces A and B.
pub const IP: [[u8; 4]; 2] = [[198, 18, 0, 1], [198, 18, 0, 2]];

/// Runs `cmd args`, panicking with its output when it fails.
pub fn run(cmd: &str, args: &[&str]) {
    let o = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Two network namespaces, each with one TAP interface QEMU created, deleted on drop.
pub struct Namespaces {
    /// The namespaces' names, A then B.
    pub names: [String; 2],
}

impl Namespaces {
    /// Waits for the TAP interfaces, moves each into a namespace of its own (named from
    /// `prefix` and this process's id) and gives it its address of [`IP`], IPv6 off.
    pub fn new(prefix: &str, taps: [&str; 2]) -> Namespaces {
        let id = std::process::id() % 1_000_000;
        let names = [format!("{prefix}a{id}"), format!("{prefix}b{id}")];
        let ns = Namespaces { names: names.clone() };
        for (i, tap) in taps.iter().enumerate() {
            let cname = std::ffi::CString::new(*tap).expect("name");
            let t0 = Instant::now();
            // SAFETY: a NUL-terminated name; the call only reads it.
            while unsafe { libc::if_nametoindex(cname.as_ptr()) } == 0 {
                assert!(t0.elapsed() < Duration::from_secs(30), "TAP interface {tap} did not appear");
                std::thread::sleep(Duration::from_millis(50));
            }
            let n = &names[i];
            let _ = Command::new("ip").args(["netns", "del", n]).output();
            run("ip", &["netns", "add", n]);
            run("ip", &["link", "set", tap, "netns", n]);
            let addr = format!("{}/24", std::net::Ipv4Addr::from(IP[i]));
            for a in [
                &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"][..],
                &["ip", "link", "set", "lo", "up"],
                &["ip", "addr", "add", &addr, "dev", tap],
                &["ip", "link", "set", tap, "up"],
            ] {
                let mut v = vec!["netns", "exec", n];
                v.extend_from_slice(a);
                run("ip", &v);
            }
        }
        ns
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

/// Runs `f` on a thread that has entered network namespace `ns` (sockets it opens live
/// there); the handle returns what `f` returns.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: `file` is an open namespace file; setns changes only this thread's
        // network namespace.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
}

/// `n` pseudo-random bytes (xorshift, seeded by `seed`).
pub fn pseudo_random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

/// The SHA-256 of `path` as `sha256sum` prints it.
pub fn sha256(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().expect("sha256sum");
    assert!(o.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

/// A fresh directory `bypass-{tag}-{pid}` in the temporary directory for one run's files.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bypass-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The MAC address of `ifname` in namespace `ns`.
pub fn mac_in(ns: &str, ifname: &str) -> [u8; 6] {
    let o = Command::new("ip").args(["netns", "exec", ns, "cat", &format!("/sys/class/net/{ifname}/address")]).output();
    let s = String::from_utf8_lossy(&o.expect("cat address").stdout).trim().to_string();
    super::mac(&s)
}

/// Sends `frames` from a packet socket on `tap` in namespace `ns`, 2 ms apart.
pub fn send_raw_in(ns: &str, tap: &str, frames: Vec<Vec<u8>>) {
    let tap = std::ffi::CString::new(tap).expect("name");
    in_netns(ns, move || {
        // SAFETY: a NUL-terminated name; the call only reads it.
        let index = unsafe { libc::if_nametoindex(tap.as_ptr()) };
        assert!(index != 0, "no {tap:?} in its namespace");
        // SAFETY: plain socket creation; closed below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        assert!(fd >= 0, "AF_PACKET socket: {}", std::io::Error::last_os_error());
        // SAFETY: an all-zero sockaddr_ll is valid; fields are set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = index as i32;
        sll.sll_halen = 6;
        for f in &frames {
            // SAFETY: `f` and `sll` are valid for the lengths given.
            let n = unsafe {
                libc::sendto(
                    fd,
                    f.as_ptr().cast(),
                    f.len(),
                    0,
                    (&sll as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            assert_eq!(n, f.len() as isize, "send: {}", std::io::Error::last_os_error());
            std::thread::sleep(Duration::from_millis(2));
        }
        // SAFETY: `fd` is ours and closed once.
        unsafe { libc::close(fd) };
    })
    .join()
    .expect("raw sender thread");
}

/// Sends `frames` from a packet socket on `tap` in namespace A.
pub fn send_raw(ns: &Namespaces, tap: &str, frames: Vec<Vec<u8>>) {
    send_raw_in(&ns.names[0], tap, frames)
}

/// The number after `key` on the first line of `out` after `after` holding `key`.
pub fn count_after(out: &str, after: &str, key: &str) -> Option<u64> {
    let rest = &out[out.find(after)?..];
    let line = rest.lines().find(|l| l.contains(key))?;
    line[line.find(key)? + key.len()..].split_whitespace().next()?.parse().ok()
}

/// The multicast group the filter tests send to (IPv4 224.1.2.3).
pub const MCAST_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03];
/// Frames of each kind the filter tests send per phase.
pub const FILTER_N: u32 = 10;
/// The kinds of frames of a filter phase, in the order of their codes.
pub const KINDS: [&str; 4] = ["untagged", "VLAN 100", "VLAN 200", "multicast"];

/// An Ethernet frame from `src` to `dst` with an optional 802.1Q tag, IPv4/UDP from A to
/// 224.1.2.3 inside, `seq` as its payload.
pub fn filter_frame(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, seq: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(v) = vlan {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&32u16.to_be_bytes());
    ip[8] = 1;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&IP[0]);
    ip[16..20].copy_from_slice(&[224, 1, 2, 3]);
    let c = ethdev::cksum::ipv4_hdr_cksum(&ip).expect("header");
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x13, 0x88, 0x13, 0x88, 0, 12, 0, 0]);
    f.extend_from_slice(&seq.to_be_bytes());
    f.resize(f.len().max(60), 0);
    f
}

/// One filter phase's frames: unicast to the port untagged, tagged with VLAN 100 and with
/// VLAN 200, and multicast to [`MCAST_MAC`], [`FILTER_N`] of each; each carries its kind's
/// code (an index of [`KINDS`]) in the top byte of its sequence number.
pub fn filter_frames(port: [u8; 6], src: [u8; 6]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for s in 0..FILTER_N {
        v.push(filter_frame(port, src, None, s));
        v.push(filter_frame(port, src, Some(100), s | 1 << 24));
        v.push(filter_frame(port, src, Some(200), s | 2 << 24));
        v.push(filter_frame(MCAST_MAC, src, None, s | 3 << 24));
    }
    v
}
