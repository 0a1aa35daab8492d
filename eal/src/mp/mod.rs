//! Multi-process IPC (`eal::mp`): DPDK's `rte_mp_*` in Rust.
//!
//! Processes of one group talk over AF_UNIX datagram sockets in the runtime
//! directory: the primary's socket is `mp_socket`, each secondary's is
//! `mp_socket_<pid>_<n>`. A message from a secondary goes to the primary; one
//! from the primary goes to every secondary (the directory listing is the
//! peer set). Secondaries never talk to each other; the only datagram from
//! the primary to *one* secondary is the reply to that secondary's request.
//!
//! Named actions are registered at run time; their handlers run on one IPC
//! thread per [`Mp`]. A message carries a name (1..=63 bytes), a param of up
//! to 256 bytes and up to 8 fds (`SCM_RIGHTS`; the receiver gets its own
//! copies). Every datagram has a versioned header checked on receipt: a
//! malformed, truncated, foreign or other-version datagram is dropped and
//! logged and the receiver keeps serving.
//!
//! Requests carry an id, so several requests of one name may be in flight. A
//! broadcast request is sent to all secondaries at once and waited for once.
//! A peer with no handler for the name answers "ignore" at once and is then
//! not counted in [`MpReply::nb_sent`]; a handler that never replies makes the
//! requester wait until its timeout. A sync request is answered straight on a
//! private reply socket of the requesting thread (no hop through the IPC
//! thread), which polls it briefly before sleeping.
//!
//! No peer can stall the IPC thread. Replies, "ignore" answers, messages
//! and async requests are sent without blocking: a datagram that finds the
//! peer's queue full waits in a bounded backlog for that peer, retried by the
//! IPC thread; a peer whose backlog makes no progress for
//! [`MpConfig::slow_peer_after`] (a second by default: stopped, stuck, or a
//! socket that never reads) is marked slow and its backlog dropped with one
//! warning. Incoming datagrams are drained from the socket
//! into per-sender queues served in turn, a bounded share per sender, so a
//! flooding peer cannot starve the others. Dropped and malformed datagrams
//! are counted ([`Mp::stats`]) and logged at most once a second with a
//! count. A secondary learns of its primary's death through
//! [`Mp::primary_alive`] and [`Mp::on_primary_exit`]; the primary removes
//! stale sockets of dead secondaries every second.

mod error;
mod message;
mod outbox;
mod peers;
mod pending;
mod state;
mod sys;
mod thread;
mod wire;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use error::MpError;
pub use message::{HandlerResult, MpMessage, MpPeer, MpReply, MpStats};
pub use wire::{MAX_FDS, MAX_NAME_LEN, MAX_PARAM_LEN};

use crate::vfio::EventFd;
use message::check_name;
use pending::{AsyncTable, Collector};
use state::{encode, lock, send_one, wait_replies, Core, Counters};
use sys::{Sock, SockAddr};
use wire::Kind;

/// How long a send keeps retrying a peer whose queue is full.
const SEND_BUDGET: Duration = Duration::from_millis(500);
/// How long a sync requester polls its reply socket before it sleeps, yielding its CPU
/// between tries: the answering thread is often on the requester's CPU (a secondary's lcore
/// shares its CPU with the primary's control threads when every CPU has an lcore), and it
/// runs at once then, with no wake-up of the requester needed; on another CPU the yield
/// returns at once. Measured on a 2-vCPU guest against spinning without yielding first for
/// 25 µs: secondary -> primary p50 13.6 -> 13.2 µs, p99 40 -> 14 µs.
const SPIN: Duration = Duration::from_micros(60);
/// Reply sockets kept for reuse.
const REPLY_POOL: usize = 8;
/// Receive buffer: room for the largest valid datagram plus one byte, so an
/// oversized one shows up as too long rather than as exactly fitting.
const RECV_BUF: usize = wire::MAX_DATAGRAM + 1;

/// The default of [`MpConfig::slow_peer_after`].
pub const DEFAULT_SLOW_PEER_AFTER: Duration = Duration::from_secs(1);

/// Counter for secondary socket names, shared by all `Mp` of this process.
static NEXT_SOCKET: AtomicU32 = AtomicU32::new(0);

/// Role of this process in its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpRole {
    /// Owns `mp_socket`; its messages go to every secondary.
    Primary,
    /// Owns `mp_socket_<pid>_<n>`; its messages go to the primary.
    Secondary,
}

/// What [`Mp::start`] needs.
#[derive(Clone, Debug)]
pub struct MpConfig {
    /// The group's runtime directory; it must exist.
    pub dir: PathBuf,
    /// Primary or secondary.
    pub role: MpRole,
    /// For a secondary: the primary's pid, watched so that its exit is
    /// reported to [`Mp::on_primary_exit`] subscribers and
    /// [`Mp::primary_alive`] at once. `None`: not watched; the primary's
    /// death then shows when its socket refuses a datagram.
    pub primary_pid: Option<u32>,
    /// How long a peer may leave datagrams we could not hand it (its queue
    /// full) unread before it is marked slow: the ones waiting for it are
    /// dropped with one warning, and later ones are dropped while its queue
    /// stays full. A shorter window drops sooner for a stopped or stuck
    /// peer; a longer one lets a live peer that is starved of CPU (a loaded
    /// machine) fall behind longer without losing datagrams. Sends never
    /// wait for a peer either way: the backlog per peer is bounded.
    /// [`DEFAULT_SLOW_PEER_AFTER`] (1 s) unless there is a reason.
    pub slow_peer_after: Duration,
}

struct Inner {
    core: Arc<Core>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let h = lock(&self.thread).take();
        self.core.stop(h);
    }
}

/// A process's IPC endpoint: its socket, its IPC thread and its actions.
/// Cheap to clone; the last clone dropped shuts it down.
#[derive(Clone)]
pub struct Mp {
    inner: Arc<Inner>,
}

impl fmt::Debug for Mp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.core;
        f.debug_struct("Mp").field("role", &c.role).field("socket", &c.own_path).finish_non_exhaustive()
    }
}

impl Mp {
    /// Binds this process's socket in `cfg.dir` (a primary replaces a stale
    /// `mp_socket`; holding the config lock is the caller's job) and spawns
    /// the IPC thread. A secondary given a `primary_pid` that is not running
    /// fails with [`MpError::PrimaryGone`].
    pub fn start(cfg: MpConfig) -> Result<Mp, MpError> {
        let dir =
            std::fs::canonicalize(&cfg.dir).map_err(|source| MpError::RuntimeDir { path: cfg.dir.clone(), source })?;
        if !dir.is_dir() {
            return Err(MpError::RuntimeDir {
                path: cfg.dir.clone(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a directory"),
            });
        }
        let pid = std::process::id();
        let own_path = match cfg.role {
            MpRole::Primary => dir.join(peers::PRIMARY_SOCKET),
            MpRole::Secondary => {
                dir.join(peers::secondary_socket_name(pid, NEXT_SOCKET.fetch_add(1, Ordering::Relaxed)))
            }
        };
        if own_path.as_os_str().len() > SockAddr::MAX_PATH {
            return Err(MpError::PathTooLong(own_path));
        }
        let (primary_pid, primary_pidfd) = match (cfg.role, cfg.primary_pid) {
            (MpRole::Secondary, Some(p)) => match sys::pidfd_open(p) {
                Ok(fd) => (Some(p), Some(fd)),
                Err(e) if sys::is_no_such_process(&e) => return Err(MpError::PrimaryGone(p)),
                Err(e) => {
                    if !crate::process::pid_alive(p) {
                        return Err(MpError::PrimaryGone(p));
                    }
                    tracing::debug!(error = %e, "no pidfd; watching the primary by polling");
                    (Some(p), None)
                }
            },
            _ => (None, None),
        };
        match std::fs::remove_file(&own_path) {
            Ok(()) => tracing::debug!(socket = %own_path.display(), "replaced a stale IPC socket"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(MpError::Bind { path: own_path, source }),
        }
        let sock =
            Arc::new(Sock::bind_path(&own_path).map_err(|source| MpError::Bind { path: own_path.clone(), source })?);
        let wake =
            EventFd::new().map_err(|e| MpError::Io { what: "creating an eventfd", source: std::io::Error::other(e) });
        let wake = match wake {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_file(&own_path);
                return Err(e);
            }
        };
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            ^ ((pid as u64) << 40);
        let core = Arc::new(Core {
            dir,
            role: cfg.role,
            own_path,
            pid,
            sock: RwLock::new(Some(sock.clone())),
            wake,
            primary_pid,
            primary_pidfd,
            handlers: RwLock::new(HashMap::new()),
            pending: AsyncTable::default(),
            peer_cache: peers::PeerCache::default(),
            next_id: AtomicU64::new(seed),
            reply_socks: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            primary_dead: AtomicBool::new(false),
            primary_refused: AtomicBool::new(false),
            exit_subs: Mutex::new(Vec::new()),
            sweep_subs: Mutex::new(Vec::new()),
            counters: Counters::default(),
            outbox: outbox::Outbox::new(cfg.slow_peer_after),
            recv_log: outbox::RateLog::new("IPC datagrams dropped"),
            handler_log: outbox::RateLog::new("IPC handler failures"),
        });
        let inner = Arc::new(Inner { core: core.clone(), thread: Mutex::new(None) });
        let weak = Arc::downgrade(&inner);
        let thread_core = core.clone();
        let spawned = std::thread::Builder::new().name("bypass-mp".into()).spawn(move || {
            crate::lcore::enter_control_thread();
            thread::run(thread_core, sock, weak)
        });
        match spawned {
            Ok(h) => *lock(&inner.thread) = Some(h),
            Err(source) => {
                core.stop(None);
                return Err(MpError::Io { what: "spawning the IPC thread", source });
            }
        }
        tracing::debug!(socket = %core.own_path.display(), role = ?core.role, "IPC started");
        Ok(Mp { inner })
    }

    /// This process's role.
    pub fn role(&self) -> MpRole {
        self.inner.core.role
    }

    /// Path of this process's socket.
    pub fn socket_path(&self) -> &Path {
        &self.inner.core.own_path
    }

    /// Counters of this endpoint: what was received, dropped (and why),
    /// queued for and dropped to slow peers.
    pub fn stats(&self) -> MpStats {
        let c = &self.inner.core.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MpStats {
            received: get(&c.received),
            dropped: get(&c.dropped),
            malformed: get(&c.malformed),
            overflow: get(&c.overflow),
            unhandled: get(&c.unhandled),
            send_queued: get(&c.send_queued),
            send_dropped: get(&c.send_dropped),
            slow_peers: get(&c.slow_peers),
            handler_errors: get(&c.handler_errors),
        }
    }

    /// For a secondary: false once its primary is known to have exited
    /// (watched through `MpConfig::primary_pid`, or seen when the primary's
    /// socket refuses a datagram). Always true in the primary. Act on it
    /// (stop, or restart against a new primary); [`Mp::on_primary_exit`]
    /// is the push version.
    pub fn primary_alive(&self) -> bool {
        !self.inner.core.primary_dead.load(Ordering::Acquire)
    }

    /// Registers `handler` for action `name`; it runs on the IPC thread for
    /// every message or request of that name. The handler answers a request
    /// with [`Mp::reply`]; if it does not, the requester waits until its
    /// timeout. Received fds are closed when the handler returns (keep one
    /// with `try_clone`). Inside a handler `send`, `reply` and
    /// `request_async` work; `request_sync` fails with
    /// [`MpError::SyncRequestInHandler`]. Handlers get the `Mp` as an
    /// argument: do not capture a clone of it (that keeps it alive until
    /// [`Mp::shutdown`]). Fails if the name is invalid or already taken.
    pub fn register(
        &self,
        name: &str,
        handler: impl Fn(&Mp, &MpMessage, &MpPeer) -> HandlerResult + Send + Sync + 'static,
    ) -> Result<(), MpError> {
        check_name(name)?;
        let core = &self.inner.core;
        if core.stopped.load(Ordering::Acquire) {
            return Err(MpError::ShutDown);
        }
        let mut map = core.handlers.write().unwrap_or_else(|p| p.into_inner());
        if map.contains_key(name) {
            return Err(MpError::ActionExists(name.to_owned()));
        }
        map.insert(name.to_owned(), Arc::new(handler));
        Ok(())
    }

    /// Removes the handler of `name`; later datagrams of that name are not
    /// delivered (requests get "ignore"). Fails if none is registered.
    pub fn unregister(&self, name: &str) -> Result<(), MpError> {
        check_name(name)?;
        let removed = self.inner.core.handlers.write().unwrap_or_else(|p| p.into_inner()).remove(name);
        match removed {
            Some(h) => {
                drop(h);
                Ok(())
            }
            None => Err(MpError::ActionNotFound(name.to_owned())),
        }
    }

    /// Sends a message, no reply expected: from a secondary to the primary,
    /// from the primary to every secondary. Best effort, never blocking: a
    /// peer whose queue is full gets it later from our backlog for it; a
    /// peer marked slow whose queue is still full is skipped. Returns how
    /// many peers have it or will get it (0 when nobody is there); a peer
    /// found dead is removed. Limits are checked before anything is sent.
    pub fn send(&self, msg: &MpMessage) -> Result<usize, MpError> {
        msg.check()?;
        let core = &self.inner.core;
        let sock = core.sock()?;
        let d = encode(core, Kind::Message, 0, msg)?;
        let targets = core.targets();
        Ok(core.post_all(&sock, targets, d.as_bytes(), msg).len())
    }

    /// Sends a request and waits up to `timeout` for every reply: from a
    /// secondary to the primary, from the primary to all secondaries at once.
    /// Returns when all peers that have the action have answered or at the
    /// timeout, whichever comes first; replies come in any order. Fails at
    /// once with [`MpError::SyncRequestInHandler`] on the IPC thread.
    pub fn request_sync(&self, msg: &MpMessage, timeout: Duration) -> Result<MpReply, MpError> {
        msg.check()?;
        if thread::on_ipc_thread() {
            return Err(MpError::SyncRequestInHandler(msg.name.clone()));
        }
        let core = &self.inner.core;
        core.sock()?;
        let deadline = Instant::now() + timeout;
        let id = core.next_id();
        let d = encode(core, Kind::Request, id, msg)?;
        let rs = core.take_reply_sock()?;
        let targets = core.targets();
        let del = core.deliver(&rs, targets, d.as_bytes(), msg, timeout.min(SEND_BUDGET));
        let mut c = Collector::new(&del.sent);
        let res = wait_replies(core, &rs, id, &mut c, deadline);
        core.put_reply_sock(rs, !c.complete());
        res?;
        Ok(c.into_reply())
    }

    /// Sends a request like [`Mp::request_sync`] without waiting; `cb` runs
    /// once on the IPC thread with the request (name and param; fds are not
    /// kept) and the replies, when all are in or at the timeout. Works from
    /// inside a handler; never blocks (sent like [`Mp::send`]: a peer that
    /// gets it from our backlog counts as reached). Callbacks still pending
    /// at shutdown are dropped without being called.
    pub fn request_async(
        &self,
        msg: &MpMessage,
        timeout: Duration,
        cb: impl FnOnce(&MpMessage, MpReply) + Send + 'static,
    ) -> Result<(), MpError> {
        msg.check()?;
        let core = &self.inner.core;
        let sock = core.sock()?;
        let id = core.next_id();
        let d = encode(core, Kind::Request, id, msg)?;
        core.pending.insert(id, msg.header_copy(), Instant::now() + timeout, Box::new(cb));
        let targets = core.targets();
        let reached = core.post_all(&sock, targets, d.as_bytes(), msg);
        core.pending.mark_sent(id, &reached);
        // let the IPC thread arm the new deadline (or finish an empty request)
        core.wake.signal();
        Ok(())
    }

    /// Answers the request that `peer` sent, with `msg`. Fails with
    /// [`MpError::NotARequest`] if `peer` sent a plain message, and with
    /// [`MpError::Send`] if the requester is gone, or is marked slow (it does
    /// not read its queue) and its queue is still full. Never blocks: a reply
    /// that finds the requester's queue full waits in our backlog for it.
    /// May be called from a handler or later from any thread (`MpPeer` is
    /// `Clone + Send`).
    pub fn reply(&self, msg: &MpMessage, peer: &MpPeer) -> Result<(), MpError> {
        msg.check()?;
        let Some(id) = peer.req_id else {
            return Err(MpError::NotARequest(msg.name.clone()));
        };
        let core = &self.inner.core;
        let sock = core.sock()?;
        let d = encode(core, Kind::Reply, id, msg)?;
        send_one(core, &sock, &peer.addr, d.as_bytes(), &msg.borrowed_fds()).map_err(|source| MpError::Send {
            name: msg.name.clone(),
            peer: format!("{:?}", peer.addr),
            source,
        })
    }

    /// Subscribes `cb` to the primary's exit (secondaries: seen through
    /// the `primary_pid` watch, or a refused datagram without one); it runs
    /// once, on the IPC thread. If the primary has
    /// already exited it runs at once on the calling thread. Never called in
    /// the primary.
    pub fn on_primary_exit(&self, cb: impl Fn() + Send + Sync + 'static) {
        let core = &self.inner.core;
        let mut subs = lock(&core.exit_subs);
        if core.primary_dead.load(Ordering::Acquire) {
            drop(subs);
            cb();
            return;
        }
        subs.push(Arc::new(cb));
    }

    /// In the primary, runs `cb` on the IPC thread at each periodic sweep for dead
    /// secondaries (every second), after their sockets are removed: the EAL reclaims the
    /// shared resources of dead processes there. Never called in a secondary.
    pub fn on_peer_sweep(&self, cb: impl Fn() + Send + Sync + 'static) {
        lock(&self.inner.core.sweep_subs).push(Arc::new(cb));
    }

    /// Stops the IPC thread, unlinks this process's socket and closes it.
    /// Idempotent; also done when the last clone is dropped. Afterwards
    /// every call fails with [`MpError::ShutDown`].
    pub fn shutdown(&self) {
        let h = lock(&self.inner.thread).take();
        self.inner.core.stop(h);
    }
}

#[cfg(test)]
mod tests;
