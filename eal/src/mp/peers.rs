//! The peer set: which sockets of the runtime dir a datagram goes to, how it
//! is delivered to several at once, and how a dead peer's socket is removed.
//!
//! The primary's socket is `<dir>/mp_socket`; a secondary's is
//! `<dir>/mp_socket_<pid>_<n>`. The directory listing *is* the peer set: a
//! secondary joins by binding its socket and leaves by unlinking it; a peer
//! that died without unlinking is found out when a send to it is refused.

use std::ffi::OsStr;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::sys::{Sock, SockAddr};

/// File name of the primary's socket.
pub(crate) const PRIMARY_SOCKET: &str = "mp_socket";
const SECONDARY_PREFIX: &str = "mp_socket_";

/// File name of a secondary's socket.
pub(crate) fn secondary_socket_name(pid: u32, n: u32) -> String {
    format!("{SECONDARY_PREFIX}{pid}_{n}")
}

/// Whether `name` is a secondary socket name (`mp_socket_<digits>_<digits>`).
pub(crate) fn is_secondary_name(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    let Some(rest) = name.strip_prefix(SECONDARY_PREFIX) else {
        return false;
    };
    let Some((pid, n)) = rest.split_once('_') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(pid) && digits(n)
}

/// The pid in a secondary socket name (`mp_socket_<pid>_<n>`).
pub(crate) fn pid_of_secondary(name: &OsStr) -> Option<u32> {
    if !is_secondary_name(name) {
        return None;
    }
    name.to_str()?.strip_prefix(SECONDARY_PREFIX)?.split_once('_')?.0.parse().ok()
}

/// The identity of a peer for matching replies: its socket's file name.
pub(crate) fn peer_key(addr: &SockAddr) -> Option<&OsStr> {
    match addr {
        SockAddr::Path(p) => p.file_name(),
        _ => None,
    }
}

/// Every secondary socket in `dir` except `own`.
pub(crate) fn list_secondaries(dir: &Path, own: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if is_secondary_name(&name) {
            let p = dir.join(&name);
            if p != own {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// How long after a directory change its listing is not trusted to a
/// cached copy: longer than the coarsest timestamp tick of the file systems
/// a runtime dir lives on (tmpfs, ext4: one jiffy).
const MTIME_SETTLE: Duration = Duration::from_millis(50);

struct Listing {
    mtime: SystemTime,
    listed_at: SystemTime,
    peers: Vec<PathBuf>,
}

/// The primary's view of the secondaries, re-read only when the directory
/// changed. A listing is reused only while the directory's mtime is the one
/// seen before listing *and* that listing started more than
/// [`MTIME_SETTLE`] after the mtime: any later bind or unlink then has a
/// newer mtime even with coarse timestamps (git's "racily clean" rule).
#[derive(Default)]
pub(crate) struct PeerCache {
    last: Mutex<Option<Listing>>,
}

impl PeerCache {
    /// Every secondary socket in `dir` except `own`.
    pub(crate) fn secondaries(&self, dir: &Path, own: &Path) -> io::Result<Vec<PathBuf>> {
        let mtime = std::fs::metadata(dir)?.modified()?;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = last.as_ref() {
            if l.mtime == mtime && l.listed_at > mtime + MTIME_SETTLE {
                return Ok(l.peers.clone());
            }
        }
        let listed_at = SystemTime::now();
        let peers = list_secondaries(dir, own)?;
        *last = Some(Listing { mtime, listed_at, peers: peers.clone() });
        Ok(peers)
    }
}

pub(crate) use super::sys::{is_busy as is_busy_error, is_dead_peer as is_dead_peer_error};

/// Removes the socket of a secondary that refused a datagram. Only secondary
/// sockets of our own dir are removed; the primary's socket is left alone
/// (it belongs to whoever holds the config lock).
pub(crate) fn remove_dead(dir: &Path, addr: &SockAddr) {
    let SockAddr::Path(p) = addr else { return };
    let Some(name) = p.file_name() else { return };
    if p.parent() != Some(dir) || !is_secondary_name(name) {
        return;
    }
    match std::fs::remove_file(p) {
        Ok(()) => tracing::info!(socket = %p.display(), "IPC peer is gone; removed its socket"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(socket = %p.display(), error = %e, "cannot remove dead IPC peer's socket")
        }
    }
}

/// Outcome of delivering one datagram to a set of peers.
pub(crate) struct Delivery {
    /// Peers that have the datagram in their queue.
    pub sent: Vec<SockAddr>,
    /// Peers whose socket file is there with nobody bound (dead).
    pub refused: Vec<SockAddr>,
    /// Peers whose queue stayed full (not delivered).
    pub full: Vec<SockAddr>,
}

/// Sends `data` (+ `fds`) to every target at once: a first pass that never
/// blocks, then retries for the peers whose queue was full (except those
/// `is_slow` names: they get one try), with a short backoff, until `budget`
/// runs out. A full peer therefore delays only this caller, never the IPC
/// thread. Peers that refuse are dead: their socket is removed.
pub(crate) fn deliver(
    sock: &Sock,
    dir: &Path,
    targets: Vec<SockAddr>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
    budget: Duration,
    is_slow: impl Fn(&SockAddr) -> bool,
) -> Delivery {
    let mut sent = Vec::with_capacity(targets.len());
    let mut refused = Vec::new();
    let mut busy = Vec::new();
    let mut full = Vec::new();
    for t in targets {
        match sock.send_to(&t, data, fds) {
            Ok(()) => sent.push(t),
            Err(e) if is_busy_error(&e) => {
                if is_slow(&t) {
                    full.push(t);
                } else {
                    busy.push(t);
                }
            }
            Err(e) => fail(dir, &t, &e, &mut refused),
        }
    }
    if busy.is_empty() {
        return Delivery { sent, refused, full };
    }
    let end = Instant::now() + budget;
    if busy.len() == 1 {
        // One peer to wait for (a secondary's request to the primary): wait
        // in the kernel for room in its queue.
        let t = busy.remove(0);
        match sock.send_to_wait(&t, data, fds, budget) {
            Ok(()) => sent.push(t),
            Err(e) if is_busy_error(&e) => full.push(t),
            Err(e) => fail(dir, &t, &e, &mut refused),
        }
        return Delivery { sent, refused, full };
    }
    let mut pause = Duration::from_micros(20);
    while !busy.is_empty() {
        if Instant::now() >= end {
            full.append(&mut busy);
            break;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(2));
        busy.retain(|t| match sock.send_to(t, data, fds) {
            Ok(()) => {
                sent.push(t.clone());
                false
            }
            Err(e) if is_busy_error(&e) => true,
            Err(e) => {
                fail(dir, t, &e, &mut refused);
                false
            }
        });
    }
    Delivery { sent, refused, full }
}

fn fail(dir: &Path, t: &SockAddr, e: &io::Error, refused: &mut Vec<SockAddr>) {
    if super::sys::is_refused(e) {
        refused.push(t.clone());
    }
    if is_dead_peer_error(e) {
        tracing::debug!(peer = ?t, error = %e, "IPC peer refused a datagram");
        remove_dead(dir, t);
    } else {
        tracing::warn!(peer = ?t, error = %e, "cannot send IPC datagram");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_cache_sees_every_change() {
        let dir = std::env::temp_dir().join(format!("bypass-mp-peers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let own = dir.join(PRIMARY_SOCKET);
        let cache = PeerCache::default();
        let mut want = Vec::new();
        for i in 0..5u32 {
            // changes in quick succession (within one timestamp tick) ...
            let p = dir.join(secondary_socket_name(1000, i));
            std::fs::write(&p, b"").unwrap();
            want.push(p);
            let mut got = cache.secondaries(&dir, &own).unwrap();
            got.sort();
            assert_eq!(got, want);
            // ... and after the settle time, when the cache is used
            if i == 2 {
                std::thread::sleep(MTIME_SETTLE * 2);
                assert_eq!(cache.secondaries(&dir, &own).unwrap().len(), 3);
            }
        }
        std::fs::remove_file(&want[0]).unwrap();
        assert_eq!(cache.secondaries(&dir, &own).unwrap().len(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secondary_names() {
        assert!(is_secondary_name(OsStr::new("mp_socket_12_0")));
        assert!(is_secondary_name(OsStr::new(&secondary_socket_name(4242, 7))));
        for bad in [
            "mp_socket",
            "mp_socket_",
            "mp_socket_12",
            "mp_socket_12_",
            "mp_socket__1",
            "mp_socket_1a_2",
            "mp_socket_1_2_3",
            "config",
        ] {
            assert!(!is_secondary_name(OsStr::new(bad)), "{bad}");
        }
    }
}
