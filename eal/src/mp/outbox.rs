//! Sending without ever blocking on one peer, and logging drops without
//! flooding the log.
//!
//! Every datagram the IPC socket sends (replies, "ignore" answers, messages,
//! async requests) goes through [`Outbox::send`]: it is sent at once when
//! the peer's queue has room, else kept in that peer's bounded backlog, which
//! the IPC thread retries every [`RETRY`] (an AF_UNIX datagram socket that is
//! not connected has no "peer writable" event to wait for). A peer whose
//! backlog makes no progress for the outbox's slow-peer window
//! ([`MpConfig::slow_peer_after`](super::MpConfig::slow_peer_after)) is
//! marked slow: its backlog is dropped with one warning, and later datagrams to it are tried once and
//! dropped if its queue is still full, until one goes through again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::peers;
use super::sys::{self, Sock, SockAddr};

/// Datagrams kept for one peer whose queue is full.
pub(crate) const BACKLOG_MAX: usize = 256;
/// How often the IPC thread retries backlogs.
pub(crate) const RETRY: Duration = Duration::from_millis(1);
/// Datagrams kept in all backlogs together (a bound against many sockets
/// that never read).
const OUTBOX_MAX: usize = 8192;
/// Most peers remembered as slow (a bound against many throw-away sockets).
const SLOW_SET_MAX: usize = 1024;
/// At most one log line per this interval for each kind of rate-limited event.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Counters of one `Mp`, read by `Mp::stats`.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) overflow: AtomicU64,
    pub(crate) unhandled: AtomicU64,
    pub(crate) send_queued: AtomicU64,
    pub(crate) send_dropped: AtomicU64,
    pub(crate) slow_peers: AtomicU64,
    pub(crate) handler_errors: AtomicU64,
}

/// A log line at most every [`LOG_INTERVAL`]; the events in between are
/// counted and the count is given in the next line (or by [`RateLog::tick`]).
pub(crate) struct RateLog {
    what: &'static str,
    state: Mutex<(Option<Instant>, u64)>,
}

impl RateLog {
    pub(crate) fn new(what: &'static str) -> RateLog {
        RateLog { what, state: Mutex::new((None, 0)) }
    }

    /// Records one event; runs `log` (with the number of events not logged
    /// since the last line) if a line is due.
    pub(crate) fn note(&self, log: impl FnOnce(u64)) {
        let now = Instant::now();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match st.0 {
            Some(last) if now.duration_since(last) < LOG_INTERVAL => st.1 += 1,
            _ => {
                let skipped = std::mem::take(&mut st.1);
                st.0 = Some(now);
                drop(st);
                log(skipped);
            }
        }
    }

    /// Logs the count of events not logged yet once their interval is over.
    /// Returns when to call again (`None`: nothing pending).
    pub(crate) fn tick(&self, socket: &Path) -> Option<Instant> {
        let now = Instant::now();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (Some(last), n) = *st else { return None };
        if n == 0 {
            return None;
        }
        if now.duration_since(last) >= LOG_INTERVAL {
            *st = (Some(now), 0);
            drop(st);
            tracing::warn!(socket = %socket.display(), count = n, "{} (more in the last {:?})", self.what, LOG_INTERVAL);
            return None;
        }
        Some(last + LOG_INTERVAL)
    }
}

struct Queued {
    data: Vec<u8>,
    fds: Vec<OwnedFd>,
}

struct Backlog {
    items: VecDeque<Queued>,
    /// Last time a datagram of this backlog went out (or it was created).
    progress: Instant,
}

#[derive(Default)]
struct State {
    backlogs: HashMap<SockAddr, Backlog>,
    /// Datagrams in all backlogs.
    total: usize,
    slow: HashSet<SockAddr>,
}

/// What [`Outbox::send`] did with a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// In the peer's queue.
    Now,
    /// In our backlog for that peer; the IPC thread sends it later.
    Queued,
    /// Dropped: the peer is slow, or its backlog is full.
    Dropped,
}

/// Per-peer backlogs of datagrams that could not be sent at once.
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// How long a backlog may make no progress before its peer is marked slow.
    slow_after: Duration,
    /// Rate-limited warnings of datagrams dropped on the sending side.
    pub(crate) drop_log: RateLog,
}

impl Outbox {
    /// An empty outbox whose peers are marked slow after `slow_after`
    /// without progress.
    pub(crate) fn new(slow_after: Duration) -> Outbox {
        Outbox { state: Mutex::default(), slow_after, drop_log: RateLog::new("IPC datagrams to slow peers dropped") }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `data` (+ `fds`) to `to` from `sock` without blocking: at once,
    /// or into the peer's backlog. A dead secondary's socket is removed and
    /// the error returned. `Ok(Sent::Queued)` means the caller should wake
    /// the IPC thread.
    pub(crate) fn send(
        &self,
        c: &Counters,
        dir: &Path,
        sock: &Sock,
        to: &SockAddr,
        data: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<Sent> {
        let mut guard = self.lock();
        let st = &mut *guard;
        // (the common case, nothing waiting anywhere, hashes no address)
        if let Some(b) = if st.backlogs.is_empty() { None } else { st.backlogs.get_mut(to) } {
            // keep the order: behind what is already waiting
            if b.items.len() >= BACKLOG_MAX || st.total >= OUTBOX_MAX {
                drop(guard);
                self.dropped(c, to, 1);
                return Ok(Sent::Dropped);
            }
            b.items.push_back(Queued { data: data.to_vec(), fds: dup(fds)? });
            st.total += 1;
            c.send_queued.fetch_add(1, Ordering::Relaxed);
            return Ok(Sent::Queued);
        }
        match sock.send_to(to, data, fds) {
            Ok(()) => {
                if !st.slow.is_empty() && st.slow.remove(to) {
                    tracing::info!(peer = ?to, "IPC peer reads its queue again; no longer marked slow");
                }
                Ok(Sent::Now)
            }
            Err(e) if sys::is_busy(&e) => {
                if (!st.slow.is_empty() && st.slow.contains(to)) || st.total >= OUTBOX_MAX {
                    drop(guard);
                    self.dropped(c, to, 1);
                    return Ok(Sent::Dropped);
                }
                let items = VecDeque::from([Queued { data: data.to_vec(), fds: dup(fds)? }]);
                st.backlogs.insert(to.clone(), Backlog { items, progress: Instant::now() });
                st.total += 1;
                c.send_queued.fetch_add(1, Ordering::Relaxed);
                Ok(Sent::Queued)
            }
            Err(e) => {
                st.slow.remove(to);
                drop(guard);
                if sys::is_dead_peer(&e) {
                    peers::remove_dead(dir, to);
                }
                Err(e)
            }
        }
    }

    /// Retries every backlog in order; marks peers that made no progress
    /// for the slow-peer window slow and drops their backlog. Returns whether
    /// anything is still waiting.
    pub(crate) fn flush(&self, c: &Counters, dir: &Path, sock: &Sock) -> bool {
        let mut st = self.lock();
        if st.backlogs.is_empty() {
            return false;
        }
        let now = Instant::now();
        let mut slow = Vec::new();
        let mut dead = Vec::new();
        for (to, b) in st.backlogs.iter_mut() {
            while let Some(q) = b.items.front() {
                let fds: Vec<BorrowedFd<'_>> = q.fds.iter().map(|f| f.as_fd()).collect();
                match sock.send_to(to, &q.data, &fds) {
                    Ok(()) => {
                        b.items.pop_front();
                        b.progress = now;
                    }
                    Err(e) if sys::is_busy(&e) => break,
                    Err(e) if sys::is_dead_peer(&e) => {
                        dead.push(to.clone());
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(peer = ?to, error = %e, "cannot send a queued IPC datagram; dropped");
                        b.items.pop_front();
                        c.send_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if !b.items.is_empty() && now.duration_since(b.progress) >= self.slow_after {
                slow.push((to.clone(), b.items.len()));
            }
        }
        st.backlogs.retain(|_, b| !b.items.is_empty());
        for to in &dead {
            if let Some(b) = st.backlogs.remove(to) {
                c.send_dropped.fetch_add(b.items.len() as u64, Ordering::Relaxed);
            }
        }
        for (to, _) in &slow {
            st.backlogs.remove(to);
            if st.slow.len() >= SLOW_SET_MAX {
                st.slow.clear();
            }
            st.slow.insert(to.clone());
        }
        st.total = st.backlogs.values().map(|b| b.items.len()).sum();
        let pending = !st.backlogs.is_empty();
        drop(st);
        for to in &dead {
            peers::remove_dead(dir, to);
        }
        for (to, n) in slow {
            c.slow_peers.fetch_add(1, Ordering::Relaxed);
            c.send_dropped.fetch_add(n as u64, Ordering::Relaxed);
            tracing::warn!(
                peer = ?to,
                dropped = n,
                "IPC peer does not read its queue (stopped or stuck?): marked slow, its backlog dropped; \
                 later datagrams to it are dropped while its queue stays full"
            );
        }
        pending
    }

    fn dropped(&self, c: &Counters, to: &SockAddr, n: u64) {
        c.send_dropped.fetch_add(n, Ordering::Relaxed);
        self.drop_log.note(|skipped| {
            tracing::warn!(peer = ?to, skipped, "IPC datagram to a slow peer dropped (its queue and our backlog are full)")
        });
    }

    /// Whether `to` is marked slow.
    pub(crate) fn is_slow(&self, to: &SockAddr) -> bool {
        let st = self.lock();
        !st.slow.is_empty() && st.slow.contains(to)
    }

    /// Marks `to` slow (a sync request's send to it ran out of time), with
    /// one warning; its backlog, if any, is dropped.
    pub(crate) fn mark_slow(&self, c: &Counters, to: &SockAddr) {
        let mut st = self.lock();
        if st.slow.contains(to) {
            c.send_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if st.slow.len() >= SLOW_SET_MAX {
            st.slow.clear();
        }
        st.slow.insert(to.clone());
        let n = st.backlogs.remove(to).map_or(0, |b| b.items.len());
        st.total -= n;
        drop(st);
        c.slow_peers.fetch_add(1, Ordering::Relaxed);
        c.send_dropped.fetch_add(n as u64 + 1, Ordering::Relaxed);
        tracing::warn!(
            peer = ?to,
            dropped = n + 1,
            "IPC peer's queue stayed full (stopped or stuck?): marked slow; \
             later datagrams to it are dropped while its queue stays full"
        );
    }

    /// Clears the slow mark of `to` (a datagram reached it).
    pub(crate) fn unmark(&self, to: &SockAddr) {
        let mut st = self.lock();
        if !st.slow.is_empty() && st.slow.remove(to) {
            tracing::info!(peer = ?to, "IPC peer reads its queue again; no longer marked slow");
        }
    }

    /// Forgets a peer (its socket is gone).
    pub(crate) fn forget(&self, to: &SockAddr) {
        let mut st = self.lock();
        if let Some(b) = st.backlogs.remove(to) {
            st.total -= b.items.len();
        }
        st.slow.remove(to);
    }
}

fn dup(fds: &[BorrowedFd<'_>]) -> io::Result<Vec<OwnedFd>> {
    fds.iter().map(|f| f.try_clone_to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn rate_log_logs_once_per_interval() {
        let l = RateLog::new("test events");
        let mut lines = Vec::new();
        for _ in 0..1000 {
            l.note(|skipped| lines.push(skipped));
        }
        assert_eq!(lines, vec![0], "one line, the rest counted");
        assert!(l.tick(Path::new("/x")).is_some(), "a count line is due later");
        assert_eq!(l.state.lock().unwrap().1, 999);
    }

    /// Many sockets that never read cannot make the backlogs grow without
    /// bound: past the total cap, datagrams are dropped.
    #[test]
    fn backlogs_are_bounded_in_total() {
        let dir = std::env::temp_dir().join(format!("bypass-mp-outbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = Sock::bind_path(&dir.join("me")).unwrap();
        let (ob, c) = (Outbox::new(crate::mp::DEFAULT_SLOW_PEER_AFTER), Counters::default());
        let mut mutes = Vec::new();
        let mut dropped = 0;
        let data = [7u8; 300];
        for i in 0..40 {
            let p = dir.join(format!("mute{i}"));
            mutes.push(UnixDatagram::bind(&p).unwrap());
            let to = SockAddr::Path(p);
            for _ in 0..300 {
                if ob.send(&c, &dir, &sock, &to, &data, &[]).unwrap() == Sent::Dropped {
                    dropped += 1;
                }
            }
        }
        let total = ob.lock().total;
        assert!(total <= OUTBOX_MAX, "{total}");
        assert_eq!(c.send_queued.load(Ordering::Relaxed) as usize, total);
        assert!(dropped > 0 && c.send_dropped.load(Ordering::Relaxed) == dropped);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
