//! The messages of a TAP interface that cannot be opened: what went wrong and how to fix it
//! (not root, no `/dev/net/tun`, a name taken by another kind of interface...).

use super::tun::{OpenStep, TUN_PATH};
use eal::mp::MpError;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Explains why opening a queue of interface `iface` failed at `step` with `e`.
pub fn open_error(iface: &str, step: OpenStep, e: &io::Error) -> String {
    let code = e.raw_os_error();
    match step {
        OpenStep::Open => match code {
            Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => format!(
                "cannot open {TUN_PATH} ({e}): the TUN/TAP driver is missing; load it with `modprobe tun`, \
                 or in a container pass the device (e.g. `docker run --device /dev/net/tun --cap-add NET_ADMIN`)"
            ),
            Some(libc::EACCES) | Some(libc::EPERM) => format!(
                "cannot open {TUN_PATH} ({e}): run as root, or make the device accessible to this user \
                 and give the program CAP_NET_ADMIN (`setcap cap_net_admin+ep <program>`)"
            ),
            _ => format!("cannot open {TUN_PATH}: {e}"),
        },
        OpenStep::SetIff => match code {
            Some(libc::EPERM) | Some(libc::EACCES) => format!(
                "creating TAP interface '{iface}' is not permitted ({e}): it needs root (CAP_NET_ADMIN); run as \
                 root, give the program CAP_NET_ADMIN (`setcap cap_net_admin+ep <program>`), or have root create \
                 it for you beforehand with `ip tuntap add dev {iface} mode tap multi_queue user $(id -un)`"
            ),
            Some(libc::EBUSY) => format!(
                "TAP interface '{iface}' is busy ({e}): another process holds it (a single-queue TAP takes one \
                 user), or the name belongs to an interface of another kind; pick another iface= or free it"
            ),
            Some(libc::EINVAL) => format!(
                "interface '{iface}' cannot be opened as a TAP ({e}): the name belongs to an interface that is not \
                 a TAP (see `ip -d link show {iface}`); pick another iface="
            ),
            _ => format!("TUNSETIFF on TAP interface '{iface}' failed: {e}"),
        },
    }
}

/// A `mac=` devarg that is not a usable address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacParseError {
    /// Not six `:`-separated parts.
    #[error("expected six hex bytes separated by ':', or 'fixed'")]
    NotSixBytes,
    /// A part is not a hex byte.
    #[error("'{0}' is not a hex byte")]
    NotHexByte(String),
    /// A multicast or all-zero address.
    #[error("the address must be unicast and non-zero")]
    NotUnicast,
}

/// Sharing the queue fds of a TAP port between the primary and a secondary failed.
#[derive(Debug, thiserror::Error)]
pub enum FdShareError {
    /// The endpoint directory does not fit the port's slot.
    #[error("the fd endpoint path {} is too long for the port's slot; use a shorter runtime directory", .0.display())]
    PathTooLong(PathBuf),
    /// The endpoint directory cannot be created.
    #[error("cannot create the fd endpoint directory {}: {source}", .dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The primary's endpoint cannot start.
    #[error("cannot start the fd endpoint in {}: {source}", .dir.display())]
    StartEndpoint {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: MpError,
    },
    /// The request handler cannot be registered.
    #[error("cannot register {action}: {source}")]
    Register {
        /// The action name.
        action: &'static str,
        /// Why.
        #[source]
        source: MpError,
    },
    /// The primary recorded no endpoint.
    #[error("the primary recorded no fd endpoint for this port; is the primary a build of this version?")]
    NoEndpoint,
    /// The secondary cannot reach the primary's endpoint.
    #[error("cannot reach the primary's fd endpoint in {}: {source}", .dir.display())]
    Reach {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: MpError,
    },
    /// The request could not be made.
    #[error("{action} request failed: {source}")]
    Request {
        /// The action name.
        action: &'static str,
        /// Why.
        #[source]
        source: MpError,
    },
    /// No reply came back, not even an empty one.
    #[error("{action} request failed: no answer at all")]
    NoReply {
        /// The action name.
        action: &'static str,
    },
    /// The primary did not answer in time.
    #[error("the primary did not answer {action} within {timeout:?} ({asked} asked); is it still running?")]
    NoAnswer {
        /// The action name.
        action: &'static str,
        /// How long the secondary waited.
        timeout: Duration,
        /// Requests sent.
        asked: usize,
    },
    /// The reply carries another number of fds than announced or expected.
    #[error("the primary sent {sent} fds (announced {announced}), the port has {queues} queues")]
    FdCount {
        /// Fds received.
        sent: usize,
        /// Fds the reply announced.
        announced: u8,
        /// Queues the port records.
        queues: usize,
    },
    /// The reply is not in this version's format.
    #[error("malformed {action} reply ({len} bytes): is the primary a build of this version?")]
    Malformed {
        /// The action name.
        action: &'static str,
        /// Its param length.
        len: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(step: OpenStep, errno: i32) -> String {
        open_error("dtap9", step, &io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn not_root_says_so_and_how_to_fix() {
        let m = msg(OpenStep::SetIff, libc::EPERM);
        assert!(m.contains("'dtap9'") && m.contains("needs root (CAP_NET_ADMIN)"), "{m}");
        assert!(m.contains("ip tuntap add dev dtap9 mode tap"), "{m}");
        let m = msg(OpenStep::Open, libc::EACCES);
        assert!(m.contains("/dev/net/tun") && m.contains("run as root"), "{m}");
    }

    #[test]
    fn missing_device_says_so_and_how_to_fix() {
        let m = msg(OpenStep::Open, libc::ENOENT);
        assert!(m.contains("/dev/net/tun") && m.contains("modprobe tun") && m.contains("--device"), "{m}");
    }

    #[test]
    fn other_failures_name_the_interface() {
        assert!(msg(OpenStep::SetIff, libc::EBUSY).contains("busy"));
        assert!(msg(OpenStep::SetIff, libc::EINVAL).contains("not a TAP"));
        assert!(msg(OpenStep::SetIff, libc::EIO).contains("TUNSETIFF on TAP interface 'dtap9' failed"));
        assert!(msg(OpenStep::Open, libc::EIO).starts_with("cannot open /dev/net/tun"));
    }
}
