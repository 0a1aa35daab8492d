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
//! thread), which spins briefly before sleeping.

mod error;
mod peers;
mod pending;
mod sys;
mod thread;
mod wire;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use error::MpError;
pub use wire::{MAX_FDS, MAX_NAME_LEN, MAX_PARAM_LEN};

use pending::{AsyncTable, Collector};
use peers::Delivery;
use sys::{EventFd, SockAddr, Sock};
use wire::Kind;

/// How long a send keeps retrying a peer whose queue is full.
const SEND_BUDGET: Duration = Duration::from_millis(500);
/// How long a sync requester polls its reply socket before it sleeps.
const SPIN: Duration = Duration::from_micros(60);
/// Reply sockets kept for reuse.
const REPLY_POOL: usize = 8;
/// Receive buffer: room for the largest valid datagram plus one byte, so an
/// oversized one shows up as too long rather than as exactly fitting.
const RECV_BUF: usize = wire::MAX_DATAGRAM + 1;

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
    /// reported to [`Mp::on_primary_exit`] subscribers. `None`: not watched.
    pub primary_pid: Option<u32>,
}

/// One IPC message: an action name, a small param and optional fds.
#[derive(Debug, Default)]
pub struct MpMessage {
    /// Action name, 1..=[`MAX_NAME_LEN`] bytes, no NUL.
    pub name: String,
    /// Up to [`MAX_PARAM_LEN`] bytes.
    pub param: Vec<u8>,
    /// Up to [`MAX_FDS`] fds. Sending leaves them open in the sender; the
    /// receiver gets its own copies.
    pub fds: Vec<OwnedFd>,
}

impl MpMessage {
    /// A message with no fds; fails if the name or param breaks the limits.
    pub fn new(name: &str, param: &[u8]) -> Result<MpMessage, MpError> {
        let m = MpMessage {
            name: name.to_owned(),
            param: param.to_vec(),
            fds: Vec::new(),
        };
        m.check()?;
        Ok(m)
    }

    /// The same message carrying `fds` (checked when it is sent).
    pub fn with_fds(mut self, fds: Vec<OwnedFd>) -> MpMessage {
        self.fds = fds;
        self
    }

    /// A copy, with duplicated fds.
    pub fn try_clone(&self) -> io::Result<MpMessage> {
        Ok(MpMessage {
            name: self.name.clone(),
            param: self.param.clone(),
            fds: self
                .fds
                .iter()
                .map(|f| f.try_clone())
                .collect::<io::Result<_>>()?,
        })
    }

    /// Checks the limits: name, param length, fd count.
    pub fn check(&self) -> Result<(), MpError> {
        check_name(&self.name)?;
        if self.param.len() > MAX_PARAM_LEN {
            return Err(MpError::ParamTooLong {
                name: self.name.clone(),
                len: self.param.len(),
            });
        }
        if self.fds.len() > MAX_FDS {
            return Err(MpError::TooManyFds {
                name: self.name.clone(),
                count: self.fds.len(),
            });
        }
        Ok(())
    }

    fn borrowed_fds(&self) -> Vec<BorrowedFd<'_>> {
        self.fds.iter().map(|f| f.as_fd()).collect()
    }

    /// Name and param only (what an async callback gets back as the request).
    fn header_copy(&self) -> MpMessage {
        MpMessage {
            name: self.name.clone(),
            param: self.param.clone(),
            fds: Vec::new(),
        }
    }
}

fn check_name(name: &str) -> Result<(), MpError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.contains('\0') {
        return Err(MpError::BadName {
            name: name.chars().take(80).collect(),
            len: name.len(),
        });
    }
    Ok(())
}

/// Outcome of a request. `nb_sent != nb_received` after a timeout is a
/// result, not an error.
#[derive(Debug, Default)]
pub struct MpReply {
    /// Peers that got the request and have the action (a peer that answered
    /// "ignore" is not counted).
    pub nb_sent: usize,
    /// Replies received before the timeout (`== msgs.len()`).
    pub nb_received: usize,
    /// The replies, in arrival order.
    pub msgs: Vec<MpMessage>,
}

/// The sender of a received message or request; pass it to [`Mp::reply`].
#[derive(Clone, Debug)]
pub struct MpPeer {
    addr: SockAddr,
    pid: u32,
    req_id: Option<u64>,
}

impl MpPeer {
    /// The pid the sender put in its header (informative only).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the datagram was a request, i.e. whether [`Mp::reply`] applies.
    pub fn is_request(&self) -> bool {
        self.req_id.is_some()
    }
}

/// Counters of one [`Mp`], for tests and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MpStats {
    /// Datagrams taken off the socket by the IPC thread.
    pub received: u64,
    /// Of those, dropped as malformed, truncated or foreign.
    pub dropped: u64,
    /// Messages and requests for a name with no handler.
    pub unhandled: u64,
}

/// What a handler returns; an `Err` is logged, nothing more (it does not
/// answer a request: use [`Mp::reply`]).
pub type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync + 'static>>;

type Handler = Arc<dyn Fn(&Mp, &MpMessage, &MpPeer) -> HandlerResult + Send + Sync + 'static>;
type ExitCallback = Arc<dyn Fn() + Send + Sync + 'static>;

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    dropped: AtomicU64,
    unhandled: AtomicU64,
}

/// State shared by the API handles and the IPC thread.
struct Core {
    dir: PathBuf,
    role: MpRole,
    own_path: PathBuf,
    pid: u32,
    sock: RwLock<Option<Arc<Sock>>>,
    wake: EventFd,
    primary_pid: Option<u32>,
    primary_pidfd: Option<OwnedFd>,
    handlers: RwLock<HashMap<String, Handler>>,
    pending: AsyncTable,
    next_id: AtomicU64,
    reply_socks: Mutex<Vec<(Sock, bool)>>,
    stopped: AtomicBool,
    primary_dead: AtomicBool,
    exit_subs: Mutex<Vec<ExitCallback>>,
    counters: Counters,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Core {
    fn sock(&self) -> Result<Arc<Sock>, MpError> {
        self.sock
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(MpError::ShutDown)
    }

    fn next_id(&self) -> u64 {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }

    /// Where a message or request of ours goes.
    fn targets(&self) -> Vec<SockAddr> {
        match self.role {
            MpRole::Secondary => vec![SockAddr::Path(self.dir.join(peers::PRIMARY_SOCKET))],
            MpRole::Primary => match peers::list_secondaries(&self.dir, &self.own_path) {
                Ok(v) => v.into_iter().map(SockAddr::Path).collect(),
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot list IPC peers");
                    Vec::new()
                }
            },
        }
    }

    fn deliver(
        &self,
        sock: &Sock,
        targets: Vec<SockAddr>,
        data: &[u8],
        msg: &MpMessage,
        budget: Duration,
    ) -> Delivery {
        peers::deliver(sock, &self.dir, targets, data, &msg.borrowed_fds(), budget)
    }

    fn take_reply_sock(&self) -> Result<Sock, MpError> {
        if let Some((s, dirty)) = lock(&self.reply_socks).pop() {
            if dirty {
                // late answers to an earlier request that timed out
                let mut buf = [0u8; RECV_BUF];
                while s.recv(&mut buf, true).is_ok() {}
            }
            return Ok(s);
        }
        Sock::bind_auto().map_err(|source| MpError::Io {
            what: "creating a reply socket",
            source,
        })
    }

    fn put_reply_sock(&self, s: Sock, dirty: bool) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        let mut pool = lock(&self.reply_socks);
        if pool.len() < REPLY_POOL {
            pool.push((s, dirty));
        }
    }

    fn primary_died(&self) {
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
    fn stop(&self, thread: Option<JoinHandle<()>>) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.wake.signal();
        if let Some(h) = thread {
            if h.thread().id() != std::thread::current().id() {
                if h.join().is_err() {
                    tracing::error!("IPC thread panicked");
                }
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
        f.debug_struct("Mp")
            .field("role", &c.role)
            .field("socket", &c.own_path)
            .finish_non_exhaustive()
    }
}

impl Mp {
    /// Binds this process's socket in `cfg.dir` (a primary replaces a stale
    /// `mp_socket`; holding the config lock is the caller's job) and spawns
    /// the IPC thread. A secondary given a `primary_pid` that is not running
    /// fails with [`MpError::PrimaryGone`].
    pub fn start(cfg: MpConfig) -> Result<Mp, MpError> {
        let dir = std::fs::canonicalize(&cfg.dir).map_err(|source| MpError::RuntimeDir {
            path: cfg.dir.clone(),
            source,
        })?;
        if !dir.is_dir() {
            return Err(MpError::RuntimeDir {
                path: cfg.dir.clone(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a directory"),
            });
        }
        let pid = std::process::id();
        let own_path = match cfg.role {
            MpRole::Primary => dir.join(peers::PRIMARY_SOCKET),
            MpRole::Secondary => dir.join(peers::secondary_socket_name(
                pid,
                NEXT_SOCKET.fetch_add(1, Ordering::Relaxed),
            )),
        };
        if own_path.as_os_str().len() > SockAddr::MAX_PATH {
            return Err(MpError::PathTooLong(own_path));
        }
        let (primary_pid, primary_pidfd) = match (cfg.role, cfg.primary_pid) {
            (MpRole::Secondary, Some(p)) => match sys::pidfd_open(p) {
                Ok(fd) => (Some(p), Some(fd)),
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                    return Err(MpError::PrimaryGone(p))
                }
                Err(e) => {
                    if !sys::pid_alive(p) {
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
            Err(source) => {
                return Err(MpError::Bind {
                    path: own_path,
                    source,
                })
            }
        }
        let sock = Arc::new(Sock::bind_path(&own_path).map_err(|source| MpError::Bind {
            path: own_path.clone(),
            source,
        })?);
        let wake = EventFd::new().map_err(|source| MpError::Io {
            what: "creating an eventfd",
            source,
        });
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
            next_id: AtomicU64::new(seed),
            reply_socks: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            primary_dead: AtomicBool::new(false),
            exit_subs: Mutex::new(Vec::new()),
            counters: Counters::default(),
        });
        let inner = Arc::new(Inner {
            core: core.clone(),
            thread: Mutex::new(None),
        });
        let weak = Arc::downgrade(&inner);
        let thread_core = core.clone();
        let spawned = std::thread::Builder::new()
            .name("bypass-mp".into())
            .spawn(move || thread::run(thread_core, sock, weak));
        match spawned {
            Ok(h) => *lock(&inner.thread) = Some(h),
            Err(source) => {
                core.stop(None);
                return Err(MpError::Io {
                    what: "spawning the IPC thread",
                    source,
                });
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

    /// Counters of the IPC thread.
    pub fn stats(&self) -> MpStats {
        let c = &self.inner.core.counters;
        MpStats {
            received: c.received.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            unhandled: c.unhandled.load(Ordering::Relaxed),
        }
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
        let removed = self
            .inner
            .core
            .handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        match removed {
            Some(h) => {
                drop(h);
                Ok(())
            }
            None => Err(MpError::ActionNotFound(name.to_owned())),
        }
    }

    /// Sends a message, no reply expected: from a secondary to the primary,
    /// from the primary to every secondary. Best effort: returns how many
    /// peers it was queued to (0 when nobody is there); a peer found dead is
    /// removed. Limits are checked before anything is sent.
    pub fn send(&self, msg: &MpMessage) -> Result<usize, MpError> {
        msg.check()?;
        let core = &self.inner.core;
        let sock = core.sock()?;
        let d = encode(core, Kind::Message, 0, msg)?;
        let targets = core.targets();
        let del = core.deliver(&sock, targets, d.as_bytes(), msg, SEND_BUDGET);
        Ok(del.sent.len())
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
    /// inside a handler. Callbacks still pending at shutdown are dropped
    /// without being called.
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
        core.pending
            .insert(id, msg.header_copy(), Instant::now() + timeout, Box::new(cb));
        let targets = core.targets();
        let del = core.deliver(&sock, targets, d.as_bytes(), msg, timeout.min(SEND_BUDGET));
        core.pending.mark_sent(id, &del.sent);
        // let the IPC thread arm the new deadline (or finish an empty request)
        core.wake.signal();
        Ok(())
    }

    /// Answers the request that `peer` sent, with `msg`. Fails with
    /// [`MpError::NotARequest`] if `peer` sent a plain message, and with
    /// [`MpError::Send`] if the requester is gone. May be called from a
    /// handler or later from any thread (`MpPeer` is `Clone + Send`).
    pub fn reply(&self, msg: &MpMessage, peer: &MpPeer) -> Result<(), MpError> {
        msg.check()?;
        let Some(id) = peer.req_id else {
            return Err(MpError::NotARequest(msg.name.clone()));
        };
        let core = &self.inner.core;
        let sock = core.sock()?;
        let d = encode(core, Kind::Reply, id, msg)?;
        send_one(core, &sock, &peer.addr, d.as_bytes(), &msg.borrowed_fds()).map_err(|source| {
            MpError::Send {
                name: msg.name.clone(),
                peer: format!("{:?}", peer.addr),
                source,
            }
        })
    }

    /// Subscribes `cb` to the primary's exit (secondaries started with a
    /// `primary_pid`); it runs once, on the IPC thread. If the primary has
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

    /// Stops the IPC thread, unlinks this process's socket and closes it.
    /// Idempotent; also done when the last clone is dropped. Afterwards
    /// every call fails with [`MpError::ShutDown`].
    pub fn shutdown(&self) {
        let h = lock(&self.inner.thread).take();
        self.inner.core.stop(h);
    }
}

fn encode(core: &Core, kind: Kind, id: u64, msg: &MpMessage) -> Result<wire::Datagram, MpError> {
    wire::encode(kind, id, core.pid, &msg.name, &msg.param, msg.fds.len()).ok_or_else(|| {
        // unreachable after check(); reported rather than panicking
        MpError::BadName {
            name: msg.name.clone(),
            len: msg.name.len(),
        }
    })
}

/// Sends one datagram to one peer (a reply or an ignore), retrying a full
/// queue within the send budget; a dead secondary's socket is removed.
fn send_one(core: &Core, sock: &Sock, to: &SockAddr, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let end = Instant::now() + SEND_BUDGET;
    let mut pause = Duration::from_micros(20);
    loop {
        match sock.send_to(to, data, fds) {
            Ok(()) => return Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::ENOBUFS)) => {
                if Instant::now() >= end {
                    return Err(e);
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(2));
            }
            Err(e) => {
                if peers::is_dead_peer_error(&e) {
                    peers::remove_dead(&core.dir, to);
                }
                return Err(e);
            }
        }
    }
}

/// The requester's side of a sync request: reads its reply socket, first
/// spinning for [`SPIN`], then sleeping in `ppoll` (which also watches the
/// primary's pidfd, so a dead primary ends the wait).
fn wait_replies(core: &Core, rs: &Sock, id: u64, c: &mut Collector, deadline: Instant) -> Result<(), MpError> {
    let mut buf = [0u8; RECV_BUF];
    let spin_end = Instant::now() + Duration::from_micros(std::env::var("XSPIN").ok().and_then(|v| v.parse().ok()).unwrap_or(SPIN.as_micros() as u64));
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
            std::hint::spin_loop();
            continue;
        }
        let mut fds = vec![rs.as_fd()];
        if let Some(p) = &core.primary_pidfd {
            fds.push(p.as_fd());
        }
        let ready = sys::wait_readable(&fds, Some(deadline - now)).map_err(|source| MpError::Io {
            what: "waiting for IPC replies",
            source,
        })?;
        if ready.get(1) == Some(&true) {
            // the primary is gone: take what is queued, then stop waiting
            last_round = true;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
