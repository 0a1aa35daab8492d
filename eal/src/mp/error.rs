//! Errors of `eal::mp`. Each message names the problem and what to do.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::wire::{MAX_FDS, MAX_NAME_LEN, MAX_PARAM_LEN};

/// Everything an `eal::mp` call can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MpError {
    /// The action name is empty, too long or contains NUL.
    #[error("IPC action name {name:?} is invalid ({len} bytes): use 1..={MAX_NAME_LEN} bytes without NUL")]
    BadName {
        /// The offending name (lossy if it was cut).
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The param is over [`MAX_PARAM_LEN`] bytes.
    #[error(
        "IPC param of {len} bytes for {name:?} is over the {MAX_PARAM_LEN}-byte limit: send less, or put the data in shared memory and send its name"
    )]
    ParamTooLong {
        /// Action name.
        name: String,
        /// Param length.
        len: usize,
    },
    /// More than [`MAX_FDS`] fds.
    #[error("IPC message {name:?} carries {count} fds, the limit is {MAX_FDS}: split it into several messages")]
    TooManyFds {
        /// Action name.
        name: String,
        /// Number of fds.
        count: usize,
    },
    /// `register` with a name that already has a handler.
    #[error("IPC action {0:?} is already registered: unregister it first or pick another name")]
    ActionExists(String),
    /// `unregister` of a name that has no handler.
    #[error("IPC action {0:?} is not registered: nothing to unregister")]
    ActionNotFound(String),
    /// A sync request from the IPC thread (a handler or a callback).
    #[error(
        "request_sync({0:?}) called from the IPC thread (a handler or a callback) would deadlock: use request_async, or make the request from another thread"
    )]
    SyncRequestInHandler(String),
    /// `reply` to a peer whose datagram was a message, not a request.
    #[error(
        "reply({0:?}) to a peer that sent a plain message: only requests can be answered; use send for a new message"
    )]
    NotARequest(String),
    /// The channel was shut down.
    #[error("the IPC channel is shut down: start a new Mp")]
    ShutDown,
    /// The runtime directory is missing or not a directory.
    #[error("IPC runtime dir {path:?} is not usable ({source}): create it before starting IPC")]
    RuntimeDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A socket path does not fit `sun_path` (107 bytes).
    #[error(
        "IPC socket path {0:?} is longer than 107 bytes: use a shorter runtime dir (file prefix or XDG_RUNTIME_DIR)"
    )]
    PathTooLong(PathBuf),
    /// Creating or binding our socket failed.
    #[error("cannot bind IPC socket {path:?}: {source}; check the runtime dir's permissions and free space")]
    Bind {
        /// Socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A secondary was given the pid of a primary that is not running.
    #[error("the primary process (pid {0}) is not running: start the primary first")]
    PrimaryGone(u32),
    /// A system resource (eventfd, thread, socket) could not be had.
    #[error("IPC setup failed: {what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A reply could not be delivered to the requester.
    #[error("cannot send IPC reply {name:?} to {peer}: {source} (the requester is gone or its queue is full)")]
    Send {
        /// Action name.
        name: String,
        /// The peer's address.
        peer: String,
        /// Why.
        #[source]
        source: io::Error,
    },
}
