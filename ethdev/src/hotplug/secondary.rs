//! The IPC side of hotplug: the secondaries' handlers of the primary's notices, the
//! primary's handler of the secondaries' requests, and a secondary's request.

use super::port_set::PortSet;
use super::primary;
use super::wire::{self, Answer, Notice, Request};
use super::{PortEvent, ATTACH_TIMEOUT, COMMIT, NEW, PREPARE, REQUEST, ROLLBACK};
use crate::error::EthError;
use eal::mp::{Mp, MpMessage, MpPeer};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every action this module registers in a secondary.
pub(crate) const SECONDARY_ACTIONS: &[&str] = &[NEW, PREPARE, COMMIT, ROLLBACK];

fn answer(mp: &Mp, peer: &MpPeer, name: &str, refused: Option<String>) {
    let a = Answer { pid: std::process::id(), refused };
    let msg = MpMessage { name: name.into(), param: a.encode(), fds: Vec::new() };
    if let Err(e) = mp.reply(&msg, peer) {
        tracing::warn!("cannot answer the primary's {name}: {e}");
    }
}

fn notice(msg: &MpMessage) -> Result<Notice, Box<dyn std::error::Error + Send + Sync>> {
    Notice::decode(&msg.param)
        .ok_or_else(|| format!("malformed {} message of {} bytes dropped", msg.name, msg.param.len()).into())
}

/// Registers the secondary's handlers of the primary's hotplug notices.
pub(crate) fn register_secondary(set: &Arc<PortSet>) -> Result<(), EthError> {
    let mp = &set.mp;
    let reg = |name: &str, r: Result<(), eal::mp::MpError>| r.map_err(|e| eal::EalError::Mp(format!("{name}: {e}")));
    let s = set.clone();
    reg(
        NEW,
        mp.register(NEW, move |mp, msg, peer| {
            let n = notice(msg)?;
            // Taking a PCI device asks the primary for its group fd over IPC, which cannot be
            // done on the IPC thread: the work and the answer go to a thread of their own.
            let (s, mp, peer) = (s.clone(), mp.clone(), peer.clone());
            std::thread::Builder::new().name("eth-hp-attach".into()).spawn(move || {
                eal::lcore::enter_control_thread();
                let _op = s.op.lock().unwrap_or_else(|e| e.into_inner());
                let current = s.table.slot(n.port).map(|sl| sl.generation.load(Ordering::Acquire));
                let have = s.local.lock().get(usize::from(n.port)).and_then(|e| e.as_ref().map(|e| e.generation));
                let refused = if have == Some(n.generation) {
                    None
                } else if current != Some(n.generation) {
                    Some(format!(
                        "port {} is of generation {current:?} here, the notice is of {}",
                        n.port, n.generation
                    ))
                } else {
                    match s.attach_local(n.port) {
                        Ok(true) => {
                            s.fire(n.port, PortEvent::New);
                            None
                        }
                        Ok(false) => None,
                        Err(e) => Some(format!("cannot attach port {}: {e}", n.port)),
                    }
                };
                answer(&mp, &peer, NEW, refused);
            })?;
            Ok(())
        }),
    )?;
    let s = set.clone();
    reg(
        PREPARE,
        mp.register(PREPARE, move |mp, msg, peer| {
            let n = notice(msg)?;
            // Read here, on the IPC thread, before a rollback of this detach can arrive.
            let rollbacks = s.local.rollbacks(n.port);
            // Waiting for the application to drop its handles must not stall the IPC thread.
            let (s, mp, peer) = (s.clone(), mp.clone(), peer.clone());
            std::thread::Builder::new().name("eth-hp-release".into()).spawn(move || {
                eal::lcore::enter_control_thread();
                let deadline = Instant::now() + Duration::from_millis(u64::from(n.wait_ms));
                let refused = primary::wait_release(&s, n.port, n.generation, rollbacks, deadline).err().map(|held| {
                    format!(
                        "process {} still holds {held} handle(s) of port {} after {} ms; release the port there first",
                        std::process::id(),
                        n.port,
                        n.wait_ms
                    )
                });
                answer(&mp, &peer, PREPARE, refused);
            })?;
            Ok(())
        }),
    )?;
    let s = set.clone();
    reg(
        COMMIT,
        mp.register(COMMIT, move |mp, msg, peer| {
            let n = notice(msg)?;
            // Dropping the entry releases this process's objects of the port (fds, mappings).
            if s.drop_local(n.port, Some(n.generation)) {
                s.fire(n.port, PortEvent::Removed);
            }
            answer(mp, peer, COMMIT, None);
            Ok(())
        }),
    )?;
    let s = set.clone();
    reg(
        ROLLBACK,
        mp.register(ROLLBACK, move |_mp, msg, _peer| {
            let n = notice(msg)?;
            s.local.unmark_detaching(n.port, n.generation);
            Ok(())
        }),
    )?;
    Ok(())
}

/// Registers the primary's handler of the secondaries' attach and detach requests.
pub(crate) fn register_primary(set: &Arc<PortSet>) -> Result<(), EthError> {
    let s = set.clone();
    set.mp
        .register(REQUEST, move |mp, msg, peer| {
            let Some(req) = Request::decode(&msg.param) else {
                let out = wire::encode_outcome(&Err(format!("malformed {REQUEST} of {} bytes", msg.param.len())));
                mp.reply(&MpMessage { name: REQUEST.into(), param: out, fds: Vec::new() }, peer)?;
                return Ok(());
            };
            // The work broadcasts and waits: not on the IPC thread.
            let (s, mp, peer) = (s.clone(), mp.clone(), peer.clone());
            std::thread::Builder::new().name("eth-hp-request".into()).spawn(move || {
                eal::lcore::enter_control_thread();
                tracing::info!(pid = peer.pid(), ?req, "hotplug request from a secondary");
                let out = match &req {
                    Request::Attach(a) => primary::attach(&s, a),
                    Request::Detach(p) => primary::detach(&s, *p).map(|()| *p),
                };
                let param = wire::encode_outcome(&out.map_err(|e| e.to_string()));
                if let Err(e) = mp.reply(&MpMessage { name: REQUEST.into(), param, fds: Vec::new() }, &peer) {
                    tracing::warn!(pid = peer.pid(), "cannot answer the hotplug request: {e}");
                }
            })?;
            Ok(())
        })
        .map_err(|e| eal::EalError::Mp(format!("{REQUEST}: {e}")).into())
}

/// Asks the primary to carry out `req` (secondary); the port attached or detached.
pub(crate) fn request(set: &PortSet, req: &Request) -> Result<u16, EthError> {
    let (op, target) = match req {
        Request::Attach(a) => ("attach", a.clone()),
        Request::Detach(p) => ("detach", format!("port {p}")),
    };
    let fail = |why: String| EthError::Hotplug { op, target: target.clone(), why };
    let pid = set.mem.config().primary_pid.load(Ordering::Relaxed);
    if !set.mp.primary_alive() || !eal::process::pid_alive(pid) {
        return Err(fail(format!(
            "the primary (pid {pid}) is not running, so nothing can be attached or detached; start a primary with the same --file-prefix, then start this secondary again"
        )));
    }
    let param = req.encode().ok_or_else(|| fail(format!("devargs longer than {} bytes", wire::MAX_TEXT)))?;
    let timeout = set.detach_timeout() + ATTACH_TIMEOUT + Duration::from_secs(5);
    let reply = set
        .mp
        .request_sync(&MpMessage { name: REQUEST.into(), param, fds: Vec::new() }, timeout)
        .map_err(|e| fail(format!("cannot ask the primary (pid {pid}): {e}")))?;
    let Some(m) = reply.msgs.first() else {
        return Err(fail(format!("the primary (pid {pid}) did not answer within {} s", timeout.as_secs())));
    };
    match wire::decode_outcome(&m.param) {
        Some(Ok(port)) => Ok(port),
        Some(Err(e)) => Err(fail(format!("refused by the primary: {e}"))),
        None => Err(fail("malformed answer from the primary".into())),
    }
}
