//! Handing the queue fds of a TAP port to secondaries, as DPDK's tap does: a secondary cannot
//! open the primary's TAP queues itself, so it sends the IPC request [`ACTION`] (param: the
//! port id) and the primary replies with its queue fds (`SCM_RIGHTS`; the secondary gets
//! copies of the same open files, so it reads and writes the very same queues).
//!
//! The PMD is not given the process's own IPC endpoint (`PortCtx` carries none), so each TAP
//! port of the primary runs a private `eal::mp` endpoint in a subdirectory of the group's
//! runtime directory, whose path it records in the port's slot; a secondary starts a
//! short-lived secondary endpoint there for the one request.

use super::errors::FdShareError;
use super::shared;
use eal::mp::{Mp, MpConfig, MpMessage, MpRole};
use eal::Memory;
use ethdev::PortSlot;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// The IPC action a secondary requests the queue fds with.
pub const ACTION: &str = "net_tap_fds";
/// How long a secondary waits for the primary's answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
const VERSION: u8 = 1;

/// The primary's side: answers [`ACTION`] requests for one port until dropped.
pub struct FdServer {
    mp: Mp,
    dir: PathBuf,
}

impl FdServer {
    /// Starts serving `queues` of `port` from a private endpoint, and records its directory
    /// in the port's slot.
    pub fn start(mem: &Memory, slot: &PortSlot, port: u16, queues: Arc<Vec<File>>) -> Result<FdServer, FdShareError> {
        let dir = endpoint_dir(mem, port);
        if !shared::state(slot).fd_dir.set(&dir.to_string_lossy()) {
            return Err(FdShareError::PathTooLong(dir));
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|source| FdShareError::CreateDir { dir: dir.clone(), source })?;
        let mp = match Mp::start(MpConfig {
            dir: dir.clone(),
            role: MpRole::Primary,
            primary_pid: None,
            slow_peer_after: eal::mp::DEFAULT_SLOW_PEER_AFTER,
        }) {
            Ok(mp) => mp,
            Err(source) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(FdShareError::StartEndpoint { dir, source });
            }
        };
        let registered = mp.register(ACTION, move |mp, msg, peer| {
            if msg.param != port.to_le_bytes() {
                return Err(
                    format!("{ACTION} request for port {:?}, this endpoint serves port {port}", msg.param).into()
                );
            }
            let fds = queues.iter().map(|f| f.try_clone().map(OwnedFd::from)).collect::<std::io::Result<Vec<_>>>()?;
            let reply = MpMessage { name: ACTION.into(), param: vec![VERSION, fds.len() as u8], fds };
            mp.reply(&reply, peer)?;
            tracing::debug!(port, pid = peer.pid(), "TAP queue fds sent to a secondary");
            Ok(())
        });
        if let Err(source) = registered {
            mp.shutdown();
            let _ = std::fs::remove_dir_all(&dir);
            return Err(FdShareError::Register { action: ACTION, source });
        }
        Ok(FdServer { mp, dir })
    }
}

impl Drop for FdServer {
    fn drop(&mut self) {
        let _ = self.mp.unregister(ACTION);
        self.mp.shutdown();
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!("cannot remove the TAP fd endpoint {}: {e}", self.dir.display());
        }
    }
}

/// The secondary's side: asks the primary (pid `primary_pid`) for the queue fds of `port`,
/// expecting `expected` of them.
pub fn fetch(slot: &PortSlot, primary_pid: u32, port: u16, expected: usize) -> Result<Vec<File>, FdShareError> {
    let dir = PathBuf::from(shared::state(slot).fd_dir.get());
    if dir.as_os_str().is_empty() {
        return Err(FdShareError::NoEndpoint);
    }
    let mp = Mp::start(MpConfig {
        dir: dir.clone(),
        role: MpRole::Secondary,
        primary_pid: Some(primary_pid),
        slow_peer_after: eal::mp::DEFAULT_SLOW_PEER_AFTER,
    })
    .map_err(|source| FdShareError::Reach { dir: dir.clone(), source })?;
    let request = |source| FdShareError::Request { action: ACTION, source };
    let req = MpMessage::new(ACTION, &port.to_le_bytes()).map_err(request)?;
    // An async request: its answer comes to the endpoint's socket file, which works even when
    // the primary runs in another network namespace (a sync request's reply socket is an
    // abstract one, which does not cross namespaces).
    let (tx, rx) = mpsc::channel();
    let sent = mp.request_async(&req, REQUEST_TIMEOUT, move |_req, reply| {
        let _ = tx.send(reply);
    });
    let res = sent.map_err(request).and_then(|()| {
        rx.recv_timeout(REQUEST_TIMEOUT + Duration::from_secs(1)).map_err(|_| FdShareError::NoReply { action: ACTION })
    });
    mp.shutdown();
    let mut reply = res?;
    let Some(msg) = reply.msgs.pop() else {
        return Err(FdShareError::NoAnswer { action: ACTION, timeout: REQUEST_TIMEOUT, asked: reply.nb_sent });
    };
    check_reply(&msg.param, msg.fds.len(), expected)?;
    Ok(msg.fds.into_iter().map(File::from).collect())
}

/// Checks a reply's param against the fds it carried and the count the slot records.
pub fn check_reply(param: &[u8], nb_fds: usize, expected: usize) -> Result<(), FdShareError> {
    match param {
        [VERSION, n] if *n as usize == nb_fds && nb_fds == expected && nb_fds > 0 => Ok(()),
        [VERSION, n] => Err(FdShareError::FdCount { sent: nb_fds, announced: *n, queues: expected }),
        _ => Err(FdShareError::Malformed { action: ACTION, len: param.len() }),
    }
}

/// The directory of the endpoint of `port`: `net_tap<port>` in the group's runtime directory
/// (found from the heap file's name, `bypass_<prefix>_heap`), else in the temp directory.
fn endpoint_dir(mem: &Memory, port: u16) -> PathBuf {
    let heap = mem.config().mem_file.get();
    let prefix = Path::new(&heap)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("bypass_"))
        .and_then(|n| n.strip_suffix("_heap"))
        .map(str::to_owned);
    match prefix.map(|p| eal::runtime::dir_for(&p)) {
        Some(d) if d.join(eal::runtime::CONFIG_FILE).exists() => d.join(format!("net_tap{port}")),
        _ => std::env::temp_dir()
            .join(format!("bypass-net_tap-{}-{port}", mem.config().primary_pid.load(Ordering::Relaxed))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_checked() {
        check_reply(&[VERSION, 2], 2, 2).unwrap();
        assert!(check_reply(&[VERSION, 2], 1, 2).unwrap_err().to_string().contains("sent 1 fds"));
        assert!(check_reply(&[VERSION, 1], 1, 2).unwrap_err().to_string().contains("has 2 queues"));
        assert!(check_reply(&[VERSION, 0], 0, 0).is_err());
        assert!(check_reply(&[9, 1], 1, 1).unwrap_err().to_string().contains("malformed"));
        assert!(check_reply(&[], 0, 1).is_err());
    }
}
