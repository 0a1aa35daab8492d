//! Handing the VFIO container and group fds to secondaries over IPC (the role of DPDK's
//! `eal_vfio_mp_sync`). A VFIO group can be open in one process only, so a secondary never
//! opens `/dev/vfio/<n>`: it asks the primary, which answers with a duplicate of its fd.
//!
//! Request param: `[op, group: u32 LE]` with op 1 = container, 2 = group, or
//! `[3, device: u32 LE, vector: u32 LE]` for the eventfd of a polled interrupt vector (RX
//! interrupts in a secondary). Reply param: `[status]` (0 ok, 1 no such group or vector)
//! and, when ok, exactly one fd.

use super::error::BusError;
use crate::mp::{Mp, MpMessage, MpPeer};
use crate::pci::GroupKind;
use crate::vfio::{Container, EventFd, Group};
use std::os::fd::AsFd;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

/// The IPC action the primary serves.
pub const VFIO_SYNC_ACTION: &str = "bypass_vfio_sync";
/// How long a secondary waits for the primary's answer.
pub const FD_SHARE_TIMEOUT: Duration = Duration::from_secs(5);

const OP_CONTAINER: u8 = 1;
const OP_GROUP: u8 = 2;
const OP_VECTOR: u8 = 3;
const ST_OK: u8 = 0;
const ST_NO_GROUP: u8 = 1;
const ST_BAD_REQUEST: u8 = 2;
const ST_DUP_FAILED: u8 = 3;

/// What the primary shares: its container and open groups.
pub(crate) trait FdSource: Send + Sync + 'static {
    /// A duplicate of the container fd.
    fn container_fd(&self) -> std::io::Result<OwnedFd>;
    /// A duplicate of group `n`'s fd, if this process has it open.
    fn group_fd(&self, n: u32) -> Option<std::io::Result<OwnedFd>>;
}

/// Decodes a request param into (op, group).
fn decode_request(p: &[u8]) -> Option<(u8, u32)> {
    match p {
        [op, a, b, c, d] => Some((*op, u32::from_le_bytes([*a, *b, *c, *d]))),
        _ => None,
    }
}

fn answer(src: &dyn FdSource, param: &[u8]) -> (u8, Option<OwnedFd>) {
    if let [OP_VECTOR, d @ .., v0, v1, v2, v3] = param {
        let (Ok(d), v) = (<[u8; 4]>::try_from(d), u32::from_le_bytes([*v0, *v1, *v2, *v3])) else {
            return (ST_BAD_REQUEST, None);
        };
        return match super::vector_fds::lookup(u32::from_le_bytes(d), v) {
            None => (ST_NO_GROUP, None),
            Some(efd) => match efd.as_fd().try_clone_to_owned() {
                Ok(fd) => (ST_OK, Some(fd)),
                Err(e) => {
                    tracing::warn!("cannot duplicate an interrupt eventfd for a secondary: {e}");
                    (ST_DUP_FAILED, None)
                }
            },
        };
    }
    let fd = match decode_request(param) {
        Some((OP_CONTAINER, _)) => Some(src.container_fd()),
        Some((OP_GROUP, n)) => src.group_fd(n),
        _ => return (ST_BAD_REQUEST, None),
    };
    match fd {
        None => (ST_NO_GROUP, None),
        Some(Ok(fd)) => (ST_OK, Some(fd)),
        Some(Err(e)) => {
            tracing::warn!("cannot duplicate a VFIO fd for a secondary: {e}");
            (ST_DUP_FAILED, None)
        }
    }
}

/// Primary: serves [`VFIO_SYNC_ACTION`] from `src`.
pub(crate) fn serve(mp: &Mp, src: Arc<dyn FdSource>) -> Result<(), BusError> {
    mp.register(VFIO_SYNC_ACTION, move |mp: &Mp, msg: &MpMessage, peer: &MpPeer| {
        let (status, fd) = answer(src.as_ref(), &msg.param);
        let reply = MpMessage::new(VFIO_SYNC_ACTION, &[status])?.with_fds(fd.into_iter().collect());
        mp.reply(&reply, peer)?;
        tracing::debug!(pid = peer.pid(), status, "VFIO fd request answered");
        Ok(())
    })
    .map_err(|e| BusError::FdShare { what: "action registration".into(), reason: e.to_string() })
}

fn request(mp: &Mp, op: u8, group: u32, what: &str) -> Result<OwnedFd, BusError> {
    let mut param = vec![op];
    param.extend_from_slice(&group.to_le_bytes());
    request_param(mp, &param, what)
}

fn request_param(mp: &Mp, param: &[u8], what: &str) -> Result<OwnedFd, BusError> {
    let err = |reason: String| BusError::FdShare { what: what.to_string(), reason };
    let msg = MpMessage::new(VFIO_SYNC_ACTION, param).map_err(|e| err(e.to_string()))?;
    let mut r = mp.request_sync(&msg, FD_SHARE_TIMEOUT).map_err(|e| err(e.to_string()))?;
    let Some(mut m) = r.msgs.pop() else {
        return Err(err(format!(
            "no answer within {} s ({} sent); the primary serves no VFIO devices or is stuck",
            FD_SHARE_TIMEOUT.as_secs(),
            r.nb_sent
        )));
    };
    match (m.param.first().copied(), m.fds.len()) {
        (Some(ST_OK), 1) => Ok(m.fds.remove(0)),
        (Some(ST_NO_GROUP), _) if param[0] == OP_VECTOR => {
            Err(err("the primary armed no RX interrupt on that vector (a driver without RX interrupts?)".into()))
        }
        (Some(ST_NO_GROUP), _) => Err(err("the primary has no such group open".into())),
        (Some(ST_DUP_FAILED), _) => Err(err("the primary could not duplicate the fd (fd limit?)".into())),
        (s, n) => Err(err(format!("malformed answer (status {s:?}, {n} fds)"))),
    }
}

/// Secondary: the primary's container.
pub(crate) fn request_container(mp: &Mp) -> Result<Container, BusError> {
    let fd = request(mp, OP_CONTAINER, 0, "container fd")?;
    Container::from_fd(fd).map_err(|e| BusError::vfio("adopting the primary's container fd", e))
}

/// Secondary: a copy of the primary's eventfd of polled vector `vector` of device table
/// entry `device` (named `name` in errors).
pub(crate) fn request_vector(mp: &Mp, device: u32, vector: u32, name: &str) -> Result<EventFd, BusError> {
    let mut param = vec![OP_VECTOR];
    param.extend_from_slice(&device.to_le_bytes());
    param.extend_from_slice(&vector.to_le_bytes());
    let fd = request_param(mp, &param, &format!("vector {vector} eventfd of {name}"))?;
    EventFd::adopt(fd)
        .map_err(|e| BusError::vfio(format!("adopting the primary's vector {vector} eventfd of {name}"), e))
}

/// Secondary: the primary's group `n`, of the `kind` the primary recorded.
pub(crate) fn request_group(mp: &Mp, n: u32, kind: GroupKind) -> Result<Group, BusError> {
    let fd = request(mp, OP_GROUP, n, &format!("group {n} fd"))?;
    Group::from_fd(n, kind, fd).map_err(|e| BusError::vfio(format!("adopting the primary's group {n} fd"), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    struct Files;
    impl FdSource for Files {
        fn container_fd(&self) -> std::io::Result<OwnedFd> {
            Ok(File::open("/dev/null")?.into())
        }
        fn group_fd(&self, n: u32) -> Option<std::io::Result<OwnedFd>> {
            (n == 7).then(|| Ok(File::open("/dev/zero")?.into()))
        }
    }

    #[test]
    fn answers_by_op_and_group() {
        assert!(matches!(answer(&Files, &[OP_CONTAINER, 0, 0, 0, 0]), (ST_OK, Some(_))));
        assert!(matches!(answer(&Files, &[OP_GROUP, 7, 0, 0, 0]), (ST_OK, Some(_))));
        assert!(matches!(answer(&Files, &[OP_GROUP, 8, 0, 0, 0]), (ST_NO_GROUP, None)));
        assert!(matches!(answer(&Files, &[9, 0, 0, 0, 0]), (ST_BAD_REQUEST, None)));
        assert!(matches!(answer(&Files, &[OP_GROUP]), (ST_BAD_REQUEST, None)));
    }

    #[test]
    fn fds_cross_processes_over_ipc() {
        // A primary and a secondary endpoint in one process: the request really goes over
        // the sockets and the fd arrives as a new descriptor.
        let dir = std::env::temp_dir().join(format!("bypass-fdshare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = |role| crate::mp::MpConfig {
            dir: dir.clone(),
            role,
            primary_pid: None,
            slow_peer_after: crate::mp::DEFAULT_SLOW_PEER_AFTER,
        };
        let p = Mp::start(cfg(crate::mp::MpRole::Primary)).unwrap();
        let s = Mp::start(cfg(crate::mp::MpRole::Secondary)).unwrap();
        serve(&p, Arc::new(Files)).unwrap();
        let fd = request(&s, OP_GROUP, 7, "group 7 fd").unwrap();
        // /dev/zero reads zeros: the descriptor works in the receiver.
        let mut b = [1u8; 4];
        use std::io::Read;
        File::from(fd).read_exact(&mut b).unwrap();
        assert_eq!(b, [0; 4]);
        let e = request(&s, OP_GROUP, 3, "group 3 fd").unwrap_err().to_string();
        assert!(e.contains("group 3 fd") && e.contains("no such group"), "{e}");
        // A published interrupt vector crosses as a working copy of the same eventfd.
        let efd = Arc::new(EventFd::new().unwrap());
        crate::bus::vector_fds::publish(77, 3, efd.clone());
        let copy = request_vector(&s, 77, 3, "dev").unwrap();
        efd.write(4).unwrap();
        assert_eq!(copy.try_read().unwrap(), Some(4));
        let e = request_vector(&s, 77, 4, "dev").unwrap_err().to_string();
        assert!(e.contains("vector 4") && e.contains("armed no RX interrupt"), "{e}");
        // A container fd that is not a VFIO container is refused on adoption.
        let e = request_container(&s).unwrap_err().to_string();
        assert!(e.contains("container"), "{e}");
        s.shutdown();
        p.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
