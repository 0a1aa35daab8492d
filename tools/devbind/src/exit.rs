//! The exit codes devbind promises to scripts (listed in `--help`).

use std::process::ExitCode;

/// How a run ended. Ordered by severity, so the worst outcome of several devices is the max.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Everything asked was done (or was already so).
    Success = 0,
    /// The command line was wrong; nothing was done.
    Usage = 1,
    /// A device argument matched no device; nothing was done.
    NotFound = 2,
    /// A device was left alone because it is in use (an active interface, an open VFIO
    /// group, or routes unknown) and `--force` was not given.
    Refused = 3,
    /// A bind or unbind failed, or sysfs could not be read.
    Failed = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}
