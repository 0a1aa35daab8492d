//! The primary's side of hotplug: attach and detach, each confirmed by every secondary.

use super::peers;
use super::port_set::PortSet;
use super::wire::{Answer, Notice};
use super::{PortEvent, ATTACH_TIMEOUT, COMMIT, NEW, PREPARE, ROLLBACK};
use crate::error::EthError;
use eal::mp::MpMessage;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Extra time the primary gives the secondaries beyond the release wait it asks of them.
const ANSWER_MARGIN: Duration = Duration::from_secs(2);

/// Sends `name` about `notice` to every secondary and waits for their answers; the problems
/// (refusals, silent pids) as one sentence, or None when all agreed.
fn broadcast(set: &PortSet, name: &str, notice: Notice, timeout: Duration) -> Option<String> {
    let expected = peers::secondaries(&set.run_dir);
    let msg = MpMessage { name: name.into(), param: notice.encode(), fds: Vec::new() };
    match set.mp.request_sync(&msg, timeout) {
        Ok(reply) => {
            let answers: Vec<Answer> = reply.msgs.iter().filter_map(|m| Answer::decode(&m.param)).collect();
            let malformed = reply.msgs.len() - answers.len();
            let mut why = peers::problems(&answers, &expected, reply.nb_received < reply.nb_sent);
            if malformed > 0 {
                let m = format!("{malformed} malformed answer(s)");
                why = Some(why.map_or(m.clone(), |w| format!("{w}; {m}")));
            }
            why
        }
        Err(e) => Some(format!("cannot reach the secondaries: {e}")),
    }
}

/// Attaches the device of `devargs` in the primary and in every secondary.
pub(crate) fn attach(set: &PortSet, devargs: &str) -> Result<u16, EthError> {
    let _op = set.op.lock().unwrap_or_else(|e| e.into_inner());
    let devargs = devargs.trim();
    let id = match devargs.split(',').next().unwrap_or("").parse::<eal::pci::PciAddr>() {
        Ok(_) => {
            let parsed = devargs.parse::<eal::pci::Devargs>().map_err(|e| EthError::BadDevargs {
                args: devargs.into(),
                why: format!("{e}; a PCI device is given as <BDF>[,key=value...], e.g. 0000:00:04.0"),
            })?;
            set.probe_pci_at_run_time(&parsed)?
        }
        Err(_) => set.probe_vdev(devargs)?,
    };
    let generation = set.table.slot(id).map_or(0, |s| s.generation.load(Ordering::Relaxed));
    let notice = Notice { port: id, generation, wait_ms: 0 };
    if let Some(why) = broadcast(set, NEW, notice, ATTACH_TIMEOUT) {
        // Undo everywhere: the secondaries that attached drop it again.
        let _ = broadcast(set, COMMIT, notice, ATTACH_TIMEOUT);
        set.close_and_free(id);
        return Err(EthError::Hotplug {
            op: "attach",
            target: devargs.into(),
            why: format!("the secondaries could not attach it ({why}); it was removed again"),
        });
    }
    set.fire(id, PortEvent::New);
    Ok(id)
}

/// Waits until this process holds no handle of port `id` (then marks it as being detached)
/// or until `deadline`; the handles still held at the deadline otherwise. `rollbacks` is the
/// port's rollback count when the detach began (a rolled-back detach marks nothing).
pub(crate) fn wait_release(
    set: &PortSet,
    id: u16,
    generation: u32,
    rollbacks: u32,
    deadline: Instant,
) -> Result<(), usize> {
    loop {
        match set.local.try_mark_detaching(id, generation, rollbacks) {
            Some(0) | None => return Ok(()),
            Some(held) if Instant::now() >= deadline => return Err(held),
            Some(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Detaches port `id` from every process, in two phases (see the module documentation).
pub(crate) fn detach(set: &PortSet, id: u16) -> Result<(), EthError> {
    let _op = set.op.lock().unwrap_or_else(|e| e.into_inner());
    if !set.local.ids().contains(&id) {
        return Err(EthError::NoSuchPort(id));
    }
    let generation = set.table.slot(id).map_or(0, |s| s.generation.load(Ordering::Relaxed));
    let wait = set.detach_timeout();
    let refused = |why: String| EthError::Hotplug {
        op: "detach",
        target: format!("port {id}"),
        why: format!("{why}; the port stays attached and keeps working"),
    };
    if let Err(held) = wait_release(set, id, generation, set.local.rollbacks(id), Instant::now() + wait) {
        return Err(refused(format!(
            "this process (pid {}) still holds {held} handle(s) of it after {} ms; drop them first",
            std::process::id(),
            wait.as_millis()
        )));
    }
    let notice = Notice { port: id, generation, wait_ms: wait.as_millis() as u32 };
    if let Some(why) = broadcast(set, PREPARE, notice, wait + ANSWER_MARGIN) {
        let msg = MpMessage { name: ROLLBACK.into(), param: notice.encode(), fds: Vec::new() };
        if let Err(e) = set.mp.send(&msg) {
            tracing::warn!(port = id, "cannot send the detach rollback: {e}");
        }
        set.local.unmark_detaching(id, generation);
        return Err(refused(why));
    }
    if let Some(why) = broadcast(set, COMMIT, notice, ATTACH_TIMEOUT) {
        // Every secondary had released it; one that did not confirm the removal in time
        // drops it when the message reaches it (the generation guards a reused slot).
        tracing::warn!(port = id, "detach: {why}");
    }
    set.close_and_free(id);
    set.fire(id, PortEvent::Removed);
    Ok(())
}
