//! The values that cross the API: a message, the outcome of a request, the
//! peer to answer, counters, and the limits they are checked against.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::sys::SockAddr;
use super::wire::{MAX_FDS, MAX_NAME_LEN, MAX_PARAM_LEN};
use super::MpError;

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
        let m = MpMessage { name: name.to_owned(), param: param.to_vec(), fds: Vec::new() };
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
            fds: self.fds.iter().map(|f| f.try_clone()).collect::<io::Result<_>>()?,
        })
    }

    /// Checks the limits: name, param length, fd count.
    pub fn check(&self) -> Result<(), MpError> {
        check_name(&self.name)?;
        if self.param.len() > MAX_PARAM_LEN {
            return Err(MpError::ParamTooLong { name: self.name.clone(), len: self.param.len() });
        }
        if self.fds.len() > MAX_FDS {
            return Err(MpError::TooManyFds { name: self.name.clone(), count: self.fds.len() });
        }
        Ok(())
    }

    pub(crate) fn borrowed_fds(&self) -> Vec<BorrowedFd<'_>> {
        self.fds.iter().map(|f| f.as_fd()).collect()
    }

    /// Name and param only (what an async callback gets back as the request).
    pub(crate) fn header_copy(&self) -> MpMessage {
        MpMessage { name: self.name.clone(), param: self.param.clone(), fds: Vec::new() }
    }
}

pub(crate) fn check_name(name: &str) -> Result<(), MpError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.contains('\0') {
        return Err(MpError::BadName { name: name.chars().take(80).collect(), len: name.len() });
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

/// The sender of a received message or request; pass it to [`Mp::reply`](super::Mp::reply).
#[derive(Clone, Debug)]
pub struct MpPeer {
    pub(crate) addr: SockAddr,
    pub(crate) pid: u32,
    pub(crate) req_id: Option<u64>,
}

impl MpPeer {
    /// The pid the sender put in its header (informative only).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the datagram was a request, i.e. whether [`Mp::reply`](super::Mp::reply) applies.
    pub fn is_request(&self) -> bool {
        self.req_id.is_some()
    }
}

/// Counters of one [`Mp`](super::Mp), for tests and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MpStats {
    /// Datagrams taken off the socket by the IPC thread.
    pub received: u64,
    /// Of those, dropped: `malformed + overflow`.
    pub dropped: u64,
    /// Dropped as malformed, truncated, foreign or of another version.
    pub malformed: u64,
    /// Dropped because their sender had more waiting than its fair share
    /// (a peer flooding us).
    pub overflow: u64,
    /// Messages and requests for a name with no handler.
    pub unhandled: u64,
    /// Datagrams we sent that found the peer's queue full and waited in our
    /// backlog for it (most are sent later).
    pub send_queued: u64,
    /// Datagrams we never delivered: the peer was slow (its queue stayed
    /// full) or its backlog was full.
    pub send_dropped: u64,
    /// Times a peer was marked slow (its backlog made no progress in time).
    pub slow_peers: u64,
    /// Handlers that returned an error.
    pub handler_errors: u64,
}

/// What a handler returns; an `Err` is logged, nothing more (it does not
/// answer a request: use [`Mp::reply`](super::Mp::reply)).
pub type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync + 'static>>;
