//! State shared by the API handles and the IPC thread, and the sending and
//! reply-waiting steps the API is built from.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) use super::outbox::Counters;
use super::outbox::{self, Outbox, RateLog, Sent};
use super::peers::{self, Delivery};
use super::pending::{AsyncTable, Collector};
use super::sys::{self, Sock, SockAddr};
use super::thread;
use super::wire::{self, Kind};
use super::{HandlerResult, Mp, MpError, MpMessage, MpPeer, MpRole, RECV_BUF, REPLY_POOL, SPIN};
use crate::vfio::EventFd;

/// How long shutting down keeps trying to send what waits in the backlogs.
const STOP_FLUSH: Duration = Duration::from_millis(100);

pub(crate) type Handler = Arc<dyn Fn(&Mp, &MpMessage, &MpPeer) -> HandlerResult + Send + Sync + 'static>;
pub(crate) type ExitCallback = Arc<dyn Fn() + Send + Sync + 'static>;

/// State shared by the API handles and the IPC thread.
pub(crate) struct Core {
    pub(crate) dir: PathBuf,
    pub(crate) role: MpRole,
    pub(crate) own_path: PathBuf,
    pub(crate) pid: u32,
    pub(crate) sock: RwLock<Option<Arc<Sock>>>,
    pub(crate) wake: EventFd,
    pub(crate) primary_pid: Option<u32>,
    pub(crate) primary_pidfd: Option<OwnedFd>,
    pub(crate) handlers: RwLock<HashMap<String, Handler>>,
    pub(crate) pending: AsyncTable,
    pub(crate) peer_cache: peers::PeerCache,
    pub(crate) next_id: AtomicU64,
    pub(crate) reply_socks: Mutex<Vec<(Sock, bool)>>,
    pub(crate) stopped: AtomicBool,
    pub(crate) primary_dead: AtomicBool,
    /// The primary's socket refused a datagram (see [`Core::refused`]).
    pub(crate) primary_refused: AtomicBool,
    pub(crate) exit_subs: Mutex<Vec<ExitCallback>>,
    /// Run by the primary's IPC thread at each sweep of dead peers (every second).
    pub(crate) sweep_subs: Mutex<Vec<ExitCallback>>,
    pub(crate) counters: Counters,
    /// Datagrams that could not be sent at once, per peer.
    pub(crate) outbox: Outbox,
    /// Rate-limited warnings of dropped incoming datagrams.
    pub(crate) recv_log: RateLog,
    /// Rate-limited warnings of failed handlers.
    pub(crate) handler_log: RateLog,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Core {
    pub(crate) fn sock(&self) -> Result<Arc<Sock>, MpError> {
        self.sock.read().unwrap_or_else(|p| p.into_inner()).clone().ok_or(MpError::ShutDown)
    }

    pub(crate) fn next_id(&self) -> u64 {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }

    /// Where a message or request of ours goes.
    pub(crate) fn targets(&self) -> Vec<SockAddr> {
        match self.role {
            MpRole::Secondary => vec![SockAddr::Path(self.dir.join(peers::PRIMARY_SOCKET))],
            MpRole::Primary => match self.peer_cache.secondaries(&self.dir, &self.own_path) {
                Ok(v) => v.into_iter().map(SockAddr::Path).collect(),
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot list IPC peers");
                    Vec::new()
                }
            },
        }
    }

    pub(crate) fn deliver(
        &self,
        sock: &Sock,
        targets: Vec<SockAddr>,
        data: &[u8],
        msg: &MpMessage,
        budget: Duration,
    ) -> Delivery {
        // Slow marks are the primary's view of its secondaries: a primary
        // whose queue is full (busy with others) is not "slow" to a secondary.
        let primary = self.role == MpRole::Primary;
        let del = peers::deliver(sock, &self.dir, targets, data, &msg.borrowed_fds(), budget, |t| {
            primary && self.outbox.is_slow(t)
        });
        if primary {
            for t in &del.full {
                self.outbox.mark_slow(&self.counters, t);
            }
            for t in &del.sent {
                self.outbox.unmark(t);
            }
        } else {
            for t in &del.full {
                tracing::debug!(peer = ?t, "the primary's queue stayed full; request not delivered");
            }
        }
        for t in &del.refused {
            self.refused(t);
        }
        del
    }

    /// Sends one datagram from the IPC socket without blocking (see
    /// [`Outbox::send`]); wakes the IPC thread when it was queued.
    pub(crate) fn post(&self, sock: &Sock, to: &SockAddr, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<Sent> {
        let r = self.outbox.send(&self.counters, &self.dir, sock, to, data, fds);
        if matches!(r, Ok(Sent::Queued)) && !thread::on_ipc_thread() {
            self.wake.signal();
        }
        r
    }

    /// Sends one datagram to every target without blocking; returns the
    /// targets that have it or will get it from our backlog.
    pub(crate) fn post_all(&self, sock: &Sock, targets: Vec<SockAddr>, data: &[u8], msg: &MpMessage) -> Vec<SockAddr> {
        let fds = msg.borrowed_fds();
        let mut reached = Vec::with_capacity(targets.len());
        for t in targets {
            match self.post(sock, &t, data, &fds) {
                Ok(Sent::Now) | Ok(Sent::Queued) => reached.push(t),
                Ok(Sent::Dropped) => {}
                Err(e) if peers::is_dead_peer_error(&e) => {
                    tracing::debug!(peer = ?t, error = %e, "IPC peer refused a datagram");
                    if sys::is_refused(&e) {
                        self.refused(&t);
                    }
                }
                Err(e) => tracing::warn!(peer = ?t, error = %e, "cannot send IPC datagram"),
            }
        }
        reached
    }

    pub(crate) fn take_reply_sock(&self) -> Result<Sock, MpError> {
        if let Some((s, dirty)) = lock(&self.reply_socks).pop() {
            if dirty {
                // late answers to an earlier request that timed out
                let mut buf = [0u8; RECV_BUF];
                while s.recv(&mut buf, true).is_ok() {}
            }
            return Ok(s);
        }
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("mp_reply_{}_{n}", std::process::id()));
        let mut s = Sock::bind_temp(&path).map_err(|source| MpError::Io { what: "creating a reply socket", source })?;
        if self.role == MpRole::Secondary {
            // A secondary's requests all go to the primary, whose path the kernel then
            // resolves once per socket instead of once per request.
            if let Err(e) = s.connect_to(&SockAddr::Path(self.dir.join(peers::PRIMARY_SOCKET))) {
                tracing::debug!(error = %e, "reply socket not connected to the primary; sending by address");
            }
        }
        Ok(s)
    }

    pub(crate) fn put_reply_sock(&self, s: Sock, dirty: bool) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        let mut pool = lock(&self.reply_socks);
        if pool.len() < REPLY_POOL {
            pool.push((s, dirty));
        }
    }

    /// A datagram to `to` was refused (socket file there, nobody bound).
    /// For a secondary whose primary is not watched by pid, that is how the
    /// primary's death shows: the IPC thread is told and runs the exit
    /// callbacks.
    pub(crate) fn refused(&self, to: &SockAddr) {
        if self.role != MpRole::Secondary || self.primary_pid.is_some() {
            return;
        }
        if *to == SockAddr::Path(self.dir.join(peers::PRIMARY_SOCKET))
            && !self.primary_refused.swap(true, Ordering::AcqRel)
        {
            self.wake.signal();
        }
    }

    pub(crate) fn primary_died(&self) {
        let subs = {
            let subs = lock(&self.exit_subs);
            if self.primary_dead.swap(true, Ordering::AcqRel) {
                return;
            }
            subs.clone()
        };
        tracing::warn!(pid = ?self.primary_pid, "IPC: the primary process has exited");
        for cb in subs {
            thread::guarded("on_primary_exit callback", || cb());
        }
    }

    /// Stops the IPC thread (joined unless we are on it), unlinks our socket
    /// and closes it, and drops pending requests, handlers and subscribers.
    pub(crate) fn stop(&self, thread: Option<JoinHandle<()>>) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.wake.signal();
        if let Some(h) = thread {
            if h.thread().id() != std::thread::current().id() && h.join().is_err() {
                tracing::error!("IPC thread panicked");
            }
        }
        // Datagrams still waiting for a peer with a full queue (say, a last
        // message sent just before shutting down) get a short grace.
        if let Some(sock) = self.sock.read().unwrap_or_else(|p| p.into_inner()).clone() {
            let end = Instant::now() + STOP_FLUSH;
            while self.outbox.flush(&self.counters, &self.dir, &sock) && Instant::now() < end {
                std::thread::sleep(outbox::RETRY);
            }
        }
        match std::fs::remove_file(&self.own_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(socket = %self.own_path.display(), error = %e, "cannot remove IPC socket")
            }
        }
        let sock = self.sock.write().unwrap_or_else(|p| p.into_inner()).take();
        drop(sock);
        let pool = std::mem::take(&mut *lock(&self.reply_socks));
        drop(pool);
        let n = self.pending.clear();
        if n > 0 {
            tracing::debug!(count = n, "IPC shut down with async requests pending; their callbacks will not run");
        }
        // Taken out first so that dropping a closure that owns an `Mp` runs
        // no lock-holding code.
        let handlers = std::mem::take(&mut *self.handlers.write().unwrap_or_else(|p| p.into_inner()));
        drop(handlers);
        let subs = std::mem::take(&mut *lock(&self.exit_subs));
        drop(subs);
    }
}

pub(crate) fn encode(core: &Core, kind: Kind, id: u64, msg: &MpMessage) -> Result<wire::Datagram, MpError> {
    wire::encode(kind, id, core.pid, &msg.name, &msg.param, msg.fds.len()).ok_or_else(|| {
        // unreachable after check(); reported rather than panicking
        MpError::BadName { name: msg.name.clone(), len: msg.name.len() }
    })
}

/// Sends one datagram to one peer (a reply or an ignore) without blocking:
/// at once or through the peer's backlog. A peer marked slow whose queue is
/// still full gets nothing: that is an error ("would block").
pub(crate) fn send_one(core: &Core, sock: &Sock, to: &SockAddr, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    match core.post(sock, to, data, fds)? {
        Sent::Now | Sent::Queued => Ok(()),
        Sent::Dropped => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "the peer does not read its queue (marked slow); datagram dropped",
        )),
    }
}

/// The requester's side of a sync request: polls its reply socket, busy for
/// [`SPIN_BUSY`] (when one peer is to answer), then yielding the CPU between tries until [`SPIN`], then
/// sleeps in `ppoll` (which also watches the primary's pidfd, so a dead
/// primary ends the wait).
pub(crate) fn wait_replies(
    core: &Core,
    rs: &Sock,
    id: u64,
    c: &mut Collector,
    deadline: Instant,
) -> Result<(), MpError> {
    let mut buf = [0u8; RECV_BUF];
    let spin_end = Instant::now() + SPIN;
    let mut last_round = false;
    while !c.complete() {
        match rs.recv(&mut buf, true) {
            Ok(r) => {
                thread::take_answer(&buf, r, id, c);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                tracing::warn!(error = %e, "IPC reply socket failed");
                return Ok(());
            }
        }
        if last_round {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if now < spin_end {
            // Still awake, but let a thread that shares this CPU (often the very peer
            // that is to answer) run first.
            std::thread::yield_now();
            continue;
        }
        let mut fds = vec![rs.as_fd()];
        if let Some(p) = &core.primary_pidfd {
            fds.push(p.as_fd());
        }
        let ready = sys::wait_readable(&fds, Some(deadline - now))
            .map_err(|source| MpError::Io { what: "waiting for IPC replies", source })?;
        if ready.get(1) == Some(&true) {
            // the primary is gone: take what is queued, then stop waiting
            last_round = true;
        }
    }
    Ok(())
}
