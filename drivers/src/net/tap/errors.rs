//! The messages of a TAP interface that cannot be opened: what went wrong and how to fix it
//! (not root, no `/dev/net/tun`, a name taken by another kind of interface...).

use super::tun::{OpenStep, TUN_PATH};
use std::io;

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
