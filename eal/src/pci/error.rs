//! Errors of the PCI layer. Each message names the problem and, where there is one, the fix.

use std::io;
use std::path::PathBuf;

use super::address::PciAddr;

/// Everything the PCI sysfs layer can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PciError {
    /// A PCI address did not parse.
    #[error("invalid PCI address {input:?}: {reason} (expected DDDD:BB:DD.F or BB:DD.F, e.g. 0000:02:00.0)")]
    BadAddress {
        /// The text that was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A device argument string (`BDF,key=val,...`) did not parse.
    #[error("invalid device arguments {input:?}: {reason} (expected BDF,key=value,...)")]
    BadDevargs {
        /// The text that was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Both an allow list and a block list were given.
    #[error("an allow list and a block list cannot be used together: give either -a/--allow or -b/--block")]
    AllowAndBlock,
    /// Reading or writing a sysfs file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// "read", "write", "readlink" or "list".
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A sysfs file held something that is not what the kernel writes there.
    #[error("{path}: cannot parse {what} from {content:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was expected.
        what: &'static str,
        /// What was found.
        content: String,
    },
    /// No such device under the sysfs root.
    #[error("no PCI device {addr} (nothing at {path}); list devices with `devbind --status`")]
    NotFound {
        /// The address asked for.
        addr: PciAddr,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The driver to bind to has no directory under `bus/pci/drivers`.
    #[error("{driver} is not loaded: modprobe {driver}")]
    DriverNotLoaded {
        /// The driver's name.
        driver: String,
    },
    /// Binding failed; the device was put back as described by `restore`.
    #[error("cannot bind {addr} to {driver}: {reason}; {restore}")]
    BindFailed {
        /// The device.
        addr: PciAddr,
        /// The driver asked for.
        driver: String,
        /// Why, with the sysfs error where there was one.
        reason: String,
        /// What became of the previous driver.
        restore: Restore,
    },
    /// Unbinding failed.
    #[error("cannot unbind {addr} from {driver}: {reason}")]
    UnbindFailed {
        /// The device.
        addr: PciAddr,
        /// The driver it is bound to.
        driver: String,
        /// Why, with the sysfs error where there was one.
        reason: String,
    },
}

/// What a failed bind did about the driver the device had before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// The device had no driver before: it is left unbound.
    NothingToRestore,
    /// The device is bound to its previous driver again.
    Restored(String),
    /// Putting the previous driver back failed too.
    Failed {
        /// The previous driver.
        driver: String,
        /// Why it could not be restored.
        reason: String,
    },
}

impl std::fmt::Display for Restore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restore::NothingToRestore => write!(f, "the device is left unbound"),
            Restore::Restored(d) => write!(f, "it is bound to {d} again"),
            Restore::Failed { driver, reason } => {
                write!(f, "restoring {driver} failed too ({reason}): the device is left unbound")
            }
        }
    }
}

impl PciError {
    /// An [`PciError::Io`] for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        PciError::Io { op, path: path.into(), source }
    }
}
