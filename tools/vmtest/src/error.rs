//! The harness's error type.

use std::io;
use thiserror::Error;

/// Result of a harness call.
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong while preparing or running a guest.
#[derive(Debug, Error)]
pub enum Error {
    /// A host program could not be started.
    #[error("cannot run `{program}`: {source}; {hint}")]
    Spawn {
        /// Program name.
        program: String,
        /// The OS error.
        source: io::Error,
        /// What to install or do.
        hint: &'static str,
    },
    /// A host program ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// The tail of what it printed on stderr.
        stderr: String,
    },
    /// The kernel image package could not be determined.
    #[error("cannot find the cloud kernel in bookworm-backports: {0}; run tools/vmtest/setup-host.sh (adds backports and runs apt-get update) or set VMTEST_KERNEL_PACKAGE")]
    KernelPackage(String),
    /// An expected file is missing from a downloaded package.
    #[error("{what} not found in {package}; the package layout changed?")]
    MissingInPackage {
        /// What was looked for.
        what: String,
        /// The package.
        package: String,
    },
    /// File-system error on a path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// A bad NIC specification or other bad argument.
    #[error("{0}")]
    InvalidArgument(String),
    /// A binary to put in the guest is not statically linked.
    #[error("{path} is not a static executable: the guest has no libc; build it with RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu")]
    NotStatic {
        /// The binary.
        path: String,
    },
    /// The guest ran past its time limit; QEMU was killed.
    #[error("guest timed out after {secs} s (QEMU killed); last console lines:\n{tail}")]
    Timeout {
        /// The limit in seconds.
        secs: u64,
        /// The end of the console log.
        tail: String,
    },
    /// QEMU exited before the guest finished its commands.
    #[error("guest stopped before finishing its commands ({status}); last console lines:\n{tail}")]
    GuestDied {
        /// QEMU's exit status.
        status: String,
        /// The end of the console log (and QEMU's stderr).
        tail: String,
    },
    /// A waited-for console text did not appear in time.
    #[error("'{pattern}' did not appear on the guest console within {secs} s; last console lines:\n{tail}")]
    ConsoleWait {
        /// The text waited for.
        pattern: String,
        /// The limit in seconds.
        secs: u64,
        /// The end of the console log.
        tail: String,
    },
    /// A socket (peer or monitor) failed.
    #[error("{what} socket {path}: {source}")]
    Socket {
        /// "peer" or "monitor".
        what: &'static str,
        /// The socket path.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// A frame is too big or malformed.
    #[error("bad frame: {0}")]
    Frame(String),
    /// The QEMU monitor answered with an error.
    #[error("QEMU monitor command `{command}` failed: {reply}")]
    Monitor {
        /// The command sent.
        command: String,
        /// QEMU's reply.
        reply: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(op: &'static str, path: impl AsRef<std::path::Path>, source: io::Error) -> Self {
        Error::Io { op, path: path.as_ref().display().to_string(), source }
    }
}
