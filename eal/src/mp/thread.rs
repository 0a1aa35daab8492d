//! The IPC thread: one per [`Mp`](super::Mp). It reads the socket, checks
//! each datagram, runs handlers, answers "ignore" for unknown actions,
//! completes async requests (on reply or timeout) and watches the primary.

use std::cell::Cell;
use std::io;
use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::pending::Collector;
use super::state::{send_one, Core};
use super::sys::{self, Received, Sock};
use super::wire::{self, Kind};
use super::{Inner, Mp, MpMessage, MpPeer, RECV_BUF};

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

/// The thread's body.
pub(crate) fn run(core: Arc<Core>, sock: Arc<Sock>, owner: Weak<Inner>) {
    ON_IPC_THREAD.with(|f| f.set(true));
    let mut buf = [0u8; RECV_BUF];
    let mut watch_pidfd = core.primary_pidfd.is_some();
    let mut watch_poll = core.primary_pidfd.is_none() && core.primary_pid.is_some();
    while !core.stopped.load(Ordering::Acquire) {
        // 1. everything queued on the socket
        loop {
            match sock.recv(&mut buf, true) {
                Ok(r) => dispatch(&core, &sock, &owner, &buf, r),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!(error = %e, "IPC socket receive failed");
                    std::thread::sleep(Duration::from_millis(10));
                    break;
                }
            }
            if core.stopped.load(Ordering::Acquire) {
                return;
            }
        }
        // 2. async requests that are complete or timed out
        let (due, next) = core.pending.take_due(Instant::now());
        for f in due {
            guarded("async request callback", || f.run());
        }
        // 3. the primary, when no pidfd could be had
        if watch_poll {
            if let Some(pid) = core.primary_pid {
                if !sys::pid_alive(pid) {
                    watch_poll = false;
                    core.primary_died();
                }
            }
        }
        // 4. sleep until a datagram, a wake-up, the primary's exit or a deadline
        let now = Instant::now();
        let mut timeout = next.map(|d| d.saturating_duration_since(now));
        if watch_poll {
            timeout = Some(timeout.map_or(PID_POLL, |t| t.min(PID_POLL)));
        }
        let mut fds = vec![sock.as_fd(), core.wake.as_fd()];
        if watch_pidfd {
            if let Some(p) = &core.primary_pidfd {
                fds.push(p.as_fd());
            }
        }
        match sys::wait_readable(&fds, timeout) {
            Ok(ready) => {
                if ready[1] {
                    core.wake.drain();
                }
                if ready.get(2) == Some(&true) {
                    watch_pidfd = false;
                    core.primary_died();
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "IPC thread poll failed");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Checks a datagram; logs and drops it (closing its fds) if it is not valid.
fn check<'a>(core: Option<&Core>, buf: &'a [u8], r: &Received) -> Option<wire::Frame<'a>> {
    let bad = |why: &dyn std::fmt::Display| {
        tracing::warn!(from = ?r.from, len = r.len, fds = r.fds.len(), "dropped IPC datagram: {why}");
        if let Some(core) = core {
            core.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
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

/// Handles one datagram that arrived on the process's socket.
fn dispatch(core: &Core, sock: &Sock, owner: &Weak<Inner>, buf: &[u8], r: Received) {
    core.counters.received.fetch_add(1, Ordering::Relaxed);
    let Some(f) = check(Some(core), buf, &r) else {
        return;
    };
    let msg = MpMessage { name: f.name.to_owned(), param: f.param.to_vec(), fds: r.fds };
    match f.kind {
        Kind::Message | Kind::Request => {
            let handler = core.handlers.read().unwrap_or_else(|p| p.into_inner()).get(&msg.name).cloned();
            let Some(handler) = handler else {
                core.counters.unhandled.fetch_add(1, Ordering::Relaxed);
                if f.kind == Kind::Request {
                    tracing::debug!(action = %msg.name, from = ?r.from, "request for an unregistered action; answering ignore");
                    if let Some(d) = wire::encode(Kind::Ignore, f.id, core.pid, &msg.name, &[], 0) {
                        if let Err(e) = send_one(core, sock, &r.from, d.as_bytes(), &[]) {
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
            let peer = MpPeer { addr: r.from, pid: f.pid, req_id: (f.kind == Kind::Request).then_some(f.id) };
            let mut result = Ok(());
            guarded("IPC handler", || result = handler(&mp, &msg, &peer));
            if let Err(e) = result {
                tracing::warn!(action = %msg.name, error = %e, "IPC handler failed");
            }
        }
        Kind::Reply | Kind::Ignore => match core.pending.offer(f.id, &r.from, f.kind, msg) {
            Ok(Some(done)) => guarded("async request callback", || done.run()),
            Ok(None) => {}
            Err(msg) => {
                tracing::debug!(action = %msg.name, id = f.id, "reply to no pending request (late, after a timeout?) dropped")
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
