//! The IPC thread: one per [`Mp`](super::Mp). It reads the socket, checks
//! each datagram, runs handlers, answers "ignore" for unknown actions,
//! completes async requests (on reply or timeout) and watches the primary.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::outbox::RETRY;
use super::peers;
use super::pending::Collector;
use super::state::{lock, send_one, Core};
use super::sys::{self, Received, Sock, SockAddr};
use super::wire::{self, Kind};
use super::{Inner, Mp, MpMessage, MpPeer, MpRole, RECV_BUF};

/// How often the primary is checked when no pidfd could be had.
const PID_POLL: Duration = Duration::from_millis(200);

thread_local! {
    static ON_IPC_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is an IPC thread (so must not block on IPC).
pub(crate) fn on_ipc_thread() -> bool {
    ON_IPC_THREAD.with(|f| f.get())
}

/// Runs user code, turning a panic into a log line so the thread survives.
pub(crate) fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!(what, "IPC user code panicked; the IPC thread goes on");
    }
}

/// Most datagrams read off the socket per wake: reading is cheap and keeps
/// the socket's short kernel queue (`net.unix.max_dgram_qlen`) open to
/// every sender.
const RECV_BATCH: usize = 256;
/// Most datagrams served per wake, so the socket is read again soon.
const SERVE_PER_WAKE: usize = 32;
/// Datagrams held for one sender; more from it are dropped (a flood).
const PEER_QUEUE: usize = 256;
/// Datagrams held in all; more are dropped.
const INBOX_MAX: usize = 4096;
/// Datagrams of one sender served per round before the others' turn.
const SERVE_BUDGET: usize = 8;
/// A poll that returned sooner than this found its datagrams waiting rather than slept
/// until one came (then the socket is drained; see `drain` in [`run`]).
const SLEPT: Duration = Duration::from_micros(5);
/// How often the primary looks for stale sockets of dead secondaries.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A checked datagram waiting to be served.
#[derive(Debug)]
struct Incoming {
    kind: Kind,
    id: u64,
    pid: u32,
    msg: MpMessage,
    from: SockAddr,
}

/// What was read but not served yet, per sender, served round-robin so that
/// one sender's flood cannot starve the others: the socket is drained fast
/// (its kernel queue is short) and each sender gets at most
/// [`SERVE_BUDGET`] datagrams per round and [`PEER_QUEUE`] waiting.
#[derive(Default)]
struct Inbox {
    queues: HashMap<SockAddr, VecDeque<Incoming>>,
    /// Senders with something queued, in turn order.
    order: VecDeque<SockAddr>,
    total: usize,
}

impl Inbox {
    /// Queues one datagram; gives it back if its sender or the inbox is full.
    fn push(&mut self, inc: Incoming) -> Result<(), Incoming> {
        if self.total >= INBOX_MAX {
            return Err(inc);
        }
        // A queue in the map is never empty and its sender is in `order`.
        match self.queues.get_mut(&inc.from) {
            Some(q) if q.len() >= PEER_QUEUE => return Err(inc),
            Some(q) => q.push_back(inc),
            None => {
                self.order.push_back(inc.from.clone());
                self.queues.insert(inc.from.clone(), VecDeque::from([inc]));
            }
        }
        self.total += 1;
        Ok(())
    }

    /// Serves up to `budget` datagrams, senders in turn, at most
    /// [`SERVE_BUDGET`] of one sender per turn.
    fn serve(&mut self, budget: usize, stopped: impl Fn() -> bool, mut f: impl FnMut(Incoming)) {
        let mut served = 0;
        while served < budget && !stopped() {
            let Some(from) = self.order.pop_front() else { break };
            let Some(q) = self.queues.get_mut(&from) else { continue };
            let mut turn = 0;
            while turn < SERVE_BUDGET && served < budget {
                let Some(i) = q.pop_front() else { break };
                turn += 1;
                served += 1;
                self.total -= 1;
                f(i);
            }
            if q.is_empty() {
                self.queues.remove(&from);
            } else {
                self.order.push_back(from);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// The thread's body.
pub(crate) fn run(core: Arc<Core>, sock: Arc<Sock>, owner: Weak<Inner>) {
    ON_IPC_THREAD.with(|f| f.set(true));
    let mut buf = [0u8; RECV_BUF];
    let mut inbox = Inbox::default();
    let mut watch_pidfd = core.primary_pidfd.is_some();
    let mut watch_poll = core.primary_pidfd.is_none() && core.primary_pid.is_some();
    let mut next_sweep = Instant::now() + SWEEP_EVERY;
    let mut sweep_due = false;
    // The primary's sweep runs off a periodic timer fd: an fd in the poll
    // set costs a request nothing, where a poll timeout arms a kernel timer
    // on every sleep (0.5 us a round trip, measured).
    let ticker = match core.role {
        MpRole::Primary => match sys::Ticker::new(SWEEP_EVERY) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::debug!(error = %e, "no timerfd; sweeping on a poll timeout");
                None
            }
        },
        MpRole::Secondary => None,
    };
    // Whether to read the socket until it is empty. After a sleep the first datagram is
    // taken alone and served at once (the request-reply case, one receive call less);
    // when the socket was found readable without a sleep, it is drained again, so a flood
    // still goes through the per-sender queues.
    let mut drain = true;
    while !core.stopped.load(Ordering::Acquire) {
        // 1. what is queued on the socket, up to a batch, into per-sender queues
        // (A lone datagram with nothing else waiting is served straight,
        // without the queues: the common request-reply case.)
        let mut more = true;
        let mut lone: Option<Incoming> = None;
        let batch = if drain || !inbox.is_empty() { RECV_BATCH } else { 1 };
        for n in 0..batch {
            match sock.recv(&mut buf, true) {
                Ok(r) => {
                    if let Some(inc) = lone.take() {
                        inbox.admit(&core, inc);
                    }
                    match check_incoming(&core, &buf, r) {
                        Some(inc) if n == 0 && inbox.is_empty() => lone = Some(inc),
                        Some(inc) => inbox.admit(&core, inc),
                        None => {}
                    }
                    if batch == 1 {
                        // not known whether more wait: the poll below tells
                        more = false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    more = false;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "IPC socket receive failed");
                    std::thread::sleep(Duration::from_millis(10));
                    more = false;
                    break;
                }
            }
        }
        if let Some(inc) = lone.take() {
            if more {
                inbox.admit(&core, inc);
            } else {
                dispatch(&core, &sock, &owner, inc);
            }
        }
        // 2. as many served, senders in turn
        inbox.serve(SERVE_PER_WAKE, || core.stopped.load(Ordering::Acquire), |i| dispatch(&core, &sock, &owner, i));
        if core.stopped.load(Ordering::Acquire) {
            return;
        }
        // 3. datagrams waiting for a peer whose queue was full
        let backlog = core.outbox.flush(&core.counters, &core.dir, &sock);
        // 4. async requests that are complete or timed out
        let (due, next) = core.pending.take_due(Instant::now());
        for f in due {
            guarded("async request callback", || f.run());
        }
        // 5. the primary, when no pidfd could be had, or not watched but
        // its socket refused a datagram
        if core.primary_refused.load(Ordering::Acquire) {
            core.primary_died();
        }
        if watch_poll {
            if let Some(pid) = core.primary_pid {
                if !crate::process::pid_alive(pid) {
                    watch_poll = false;
                    core.primary_died();
                }
            }
        }
        // 6. the primary removes the sockets of secondaries that died
        let now = Instant::now();
        if sweep_due || (core.role == MpRole::Primary && ticker.is_none() && now >= next_sweep) {
            sweep_stale(&core);
            let subs: Vec<_> = lock(&core.sweep_subs).clone();
            for f in subs {
                guarded("peer sweep callback", || f());
            }
            sweep_due = false;
            next_sweep = now + SWEEP_EVERY;
        }
        // 7. counts of suppressed log lines
        let log_due = [
            core.recv_log.tick(&core.own_path),
            core.handler_log.tick(&core.own_path),
            core.outbox.drop_log.tick(&core.own_path),
        ];
        // 8. sleep until a datagram, a wake-up, the primary's exit or a deadline
        let mut timeout = next.map(|d| d.saturating_duration_since(now));
        let mut at_most = |t: Duration| timeout = Some(timeout.map_or(t, |x| x.min(t)));
        if more || !inbox.is_empty() {
            at_most(Duration::ZERO);
        }
        if backlog {
            at_most(RETRY);
        }
        if watch_poll {
            at_most(PID_POLL);
        }
        if core.role == MpRole::Primary && ticker.is_none() {
            at_most(next_sweep.saturating_duration_since(now));
        }
        for d in log_due.into_iter().flatten() {
            at_most(d.saturating_duration_since(now));
        }
        let mut fds = vec![sock.as_fd(), core.wake.as_fd()];
        let mut pid_at = None;
        if watch_pidfd {
            if let Some(p) = &core.primary_pidfd {
                pid_at = Some(fds.len());
                fds.push(p.as_fd());
            }
        }
        let tick_at = ticker.as_ref().map(|t| {
            fds.push(t.as_fd());
            fds.len() - 1
        });
        let slept_from = Instant::now();
        let waited = sys::wait_readable(&fds, timeout);
        drain = slept_from.elapsed() < SLEPT;
        match waited {
            Ok(ready) => {
                if ready[1] {
                    core.wake.drain();
                }
                if pid_at.is_some_and(|i| ready[i]) {
                    watch_pidfd = false;
                    core.primary_died();
                }
                if let (Some(i), Some(t)) = (tick_at, &ticker) {
                    if ready[i] {
                        t.drain();
                        sweep_due = true;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "IPC thread poll failed");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Removes the sockets of secondaries whose process is gone and that no
/// longer have anybody bound (a crash leaves them behind).
fn sweep_stale(core: &Core) {
    let Ok(list) = peers::list_secondaries(&core.dir, &core.own_path) else { return };
    for p in list {
        let Some(pid) = p.file_name().and_then(peers::pid_of_secondary) else { continue };
        if crate::process::pid_alive(pid) {
            continue;
        }
        // The pid may be of another pid namespace: ask the socket itself.
        if !sys::socket_is_live(&p) {
            let addr = SockAddr::Path(p);
            peers::remove_dead(&core.dir, &addr);
            core.outbox.forget(&addr);
        }
    }
}

/// Checks a datagram; logs (rate-limited) and drops it, closing its fds, if
/// it is not valid.
fn check<'a>(core: Option<&Core>, buf: &'a [u8], r: &Received) -> Option<wire::Frame<'a>> {
    let bad = |why: &dyn std::fmt::Display| match core {
        Some(core) => {
            core.counters.dropped.fetch_add(1, Ordering::Relaxed);
            core.counters.malformed.fetch_add(1, Ordering::Relaxed);
            core.recv_log.note(|skipped| {
                tracing::warn!(
                    socket = %core.own_path.display(), from = ?r.from, len = r.len, fds = r.fds.len(),
                    more_since_last_line = skipped, "dropped IPC datagram: {why}"
                )
            });
        }
        None => tracing::debug!(from = ?r.from, len = r.len, "dropped datagram on a reply socket: {why}"),
    };
    if r.truncated {
        bad(&format_args!("longer than the {}-byte maximum", wire::MAX_DATAGRAM));
        return None;
    }
    if r.ctrunc {
        bad(&"more fds than the limit (extra ones were closed by the kernel)");
        return None;
    }
    match wire::decode(&buf[..r.len], r.fds.len()) {
        Ok(f) => Some(f),
        Err(e) => {
            bad(&e);
            None
        }
    }
}

/// Checks one datagram that arrived on the process's socket.
fn check_incoming(core: &Core, buf: &[u8], r: Received) -> Option<Incoming> {
    core.counters.received.fetch_add(1, Ordering::Relaxed);
    let f = check(Some(core), buf, &r)?;
    Some(Incoming {
        kind: f.kind,
        id: f.id,
        pid: f.pid,
        msg: MpMessage { name: f.name.to_owned(), param: f.param.to_vec(), fds: r.fds },
        from: r.from,
    })
}

impl Inbox {
    /// Queues a checked datagram for its sender's turn, or drops it (counted,
    /// rate-limited log) when its sender or the inbox is full.
    fn admit(&mut self, core: &Core, inc: Incoming) {
        if let Err(inc) = self.push(inc) {
            core.counters.dropped.fetch_add(1, Ordering::Relaxed);
            core.counters.overflow.fetch_add(1, Ordering::Relaxed);
            core.recv_log.note(|skipped| {
                tracing::warn!(
                    socket = %core.own_path.display(), from = ?inc.from, action = %inc.msg.name,
                    more_since_last_line = skipped,
                    "dropped IPC datagram: its sender has {PEER_QUEUE} waiting already (a flood?)"
                )
            });
        }
    }
}

/// Serves one datagram.
fn dispatch(core: &Core, sock: &Sock, owner: &Weak<Inner>, inc: Incoming) {
    let Incoming { kind, id, pid, msg, from } = inc;
    match kind {
        Kind::Message | Kind::Request => {
            let handler = core.handlers.read().unwrap_or_else(|p| p.into_inner()).get(&msg.name).cloned();
            let Some(handler) = handler else {
                core.counters.unhandled.fetch_add(1, Ordering::Relaxed);
                if kind == Kind::Request {
                    tracing::debug!(action = %msg.name, from = ?from, "request for an unregistered action; answering ignore");
                    if let Some(d) = wire::encode(Kind::Ignore, id, core.pid, &msg.name, &[], 0) {
                        if let Err(e) = send_one(core, sock, &from, d.as_bytes(), &[]) {
                            tracing::debug!(error = %e, "cannot send ignore");
                        }
                    }
                } else {
                    tracing::debug!(action = %msg.name, fds = msg.fds.len(), "message for an unregistered action dropped");
                }
                return; // msg dropped: its fds are closed
            };
            let Some(inner) = owner.upgrade() else {
                return;
            };
            let mp = Mp { inner };
            let peer = MpPeer { addr: from, pid, req_id: (kind == Kind::Request).then_some(id) };
            let mut result = Ok(());
            guarded("IPC handler", || result = handler(&mp, &msg, &peer));
            if let Err(e) = result {
                core.counters.handler_errors.fetch_add(1, Ordering::Relaxed);
                core.handler_log.note(|skipped| {
                    tracing::warn!(action = %msg.name, error = %e, more_since_last_line = skipped, "IPC handler failed")
                });
            }
        }
        Kind::Reply | Kind::Ignore => match core.pending.offer(id, &from, kind, msg) {
            Ok(Some(done)) => guarded("async request callback", || done.run()),
            Ok(None) => {}
            Err(msg) => {
                tracing::debug!(action = %msg.name, id, "reply to no pending request (late, after a timeout?) dropped")
            }
        },
    }
}

/// Gives one datagram read from a sync requester's reply socket to its
/// collector if it answers request `id`; drops it otherwise.
pub(crate) fn take_answer(buf: &[u8], r: Received, id: u64, c: &mut Collector) {
    let Some(f) = check(None, buf, &r) else {
        return;
    };
    if !matches!(f.kind, Kind::Reply | Kind::Ignore) || f.id != id {
        tracing::debug!(id = f.id, want = id, "stale or stray datagram on a reply socket dropped");
        return;
    }
    let kind = f.kind;
    let msg = MpMessage { name: f.name.to_owned(), param: f.param.to_vec(), fds: r.fds };
    c.offer(&r.from, kind, msg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn inc(from: &str, n: u8) -> Incoming {
        Incoming {
            kind: Kind::Message,
            id: 0,
            pid: 1,
            msg: MpMessage::new("a", &[n]).unwrap(),
            from: SockAddr::Path(PathBuf::from(from)),
        }
    }

    #[test]
    fn inbox_bounds_each_sender_and_serves_in_turn() {
        let mut ib = Inbox::default();
        for i in 0..PEER_QUEUE {
            assert!(ib.push(inc("/flood", i as u8)).is_ok());
        }
        assert!(ib.push(inc("/flood", 0)).is_err(), "a sender's share is bounded");
        ib.push(inc("/other", 1)).unwrap();
        ib.push(inc("/other", 2)).unwrap();
        let mut seen = Vec::new();
        ib.serve(SERVE_BUDGET + 2, || false, |i| seen.push(i.from));
        // the flooder's turn, then the other sender's, within one budget
        let other = seen.iter().filter(|f| **f == SockAddr::Path(PathBuf::from("/other"))).count();
        assert_eq!((seen.len(), other), (SERVE_BUDGET + 2, 2));
        assert_eq!(ib.total, PEER_QUEUE - SERVE_BUDGET);
        ib.serve(usize::MAX, || false, |_| {});
        assert!(ib.is_empty() && ib.queues.is_empty() && ib.order.is_empty());
        // the inbox as a whole is bounded too
        let mut ib = Inbox::default();
        let mut n = 0;
        while ib.push(inc(&format!("/s{}", n / PEER_QUEUE), 0)).is_ok() {
            n += 1;
        }
        assert_eq!(n, INBOX_MAX);
    }
}
