//! Fresh device counters for every process. Only the primary may read a device's
//! clear-on-read statistics registers; a secondary (`procinfo`, `dumpcap`, an application's
//! own secondary) asks it over IPC to read them now, and then reads the folded totals and
//! the driver's published list ([`crate::device_xstats`]) from the shared port slot, as
//! DPDK's `dpdk-proc-info` gets fresh hardware counters from a secondary.
//!
//! The request names one port (two bytes, little-endian); the primary answers once the
//! counters are published, or with an error text when it has no such port.

use crate::error::EthError;
use crate::hotplug::port_set::PortSet;
use crate::port::PortControl;
use eal::mp::{Mp, MpMessage};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The IPC action.
pub(crate) const ACTION: &str = "eth_stats_refresh";
/// How long a secondary waits for the primary's answer.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);
/// First byte of a reply: the counters are fresh.
const DONE: u8 = 1;
/// First byte of a reply: the primary could not refresh (an error text follows).
const FAILED: u8 = 0;

/// The primary's ports, whose counters it refreshes for the IPC thread and telemetry.
pub(crate) struct StatsRefresh {
    set: Weak<PortSet>,
}

impl StatsRefresh {
    /// Refreshes the ports of `set` (not keeping it alive).
    pub(crate) fn new(set: &Arc<PortSet>) -> Arc<StatsRefresh> {
        Arc::new(StatsRefresh { set: Arc::downgrade(set) })
    }

    /// Reads port `id`'s device counters now and publishes them for every process.
    pub(crate) fn refresh(&self, id: u16) -> Result<(), EthError> {
        let set = self.set.upgrade().ok_or(EthError::NoSuchPort(id))?;
        let (port, ctl) = set.local.control(id).ok_or(EthError::NoSuchPort(id))?;
        PortControl { port, ctl, _ethdev: std::marker::PhantomData }.refresh_stats();
        Ok(())
    }

    /// Serves secondaries' refresh requests on the IPC thread (primary).
    pub(crate) fn serve(self: &Arc<Self>, mp: &Mp) -> Result<(), EthError> {
        let me = self.clone();
        mp.register(ACTION, move |mp, msg, peer| {
            let mut answer = match <[u8; 2]>::try_from(msg.param.as_slice()) {
                Ok(b) => match me.refresh(u16::from_le_bytes(b)) {
                    Ok(()) => vec![DONE],
                    Err(e) => [&[FAILED][..], e.to_string().as_bytes()].concat(),
                },
                Err(_) => {
                    [&[FAILED][..], format!("malformed request of {} bytes", msg.param.len()).as_bytes()].concat()
                }
            };
            answer.truncate(eal::mp::MAX_PARAM_LEN);
            mp.reply(&MpMessage::new(ACTION, &answer)?, peer)?;
            Ok(())
        })
        .map_err(|e| EthError::Eal(eal::EalError::Mp(e.to_string())))
    }
}

/// Asks the primary to refresh port `id`'s device counters (from a secondary); returns
/// once they are published, or why not.
pub(crate) fn request(mp: &Mp, id: u16) -> Result<(), EthError> {
    let fail = |why: String| EthError::StatsRefresh { port: id, why };
    let msg = MpMessage::new(ACTION, &id.to_le_bytes()).map_err(|e| fail(e.to_string()))?;
    let reply = mp.request_sync(&msg, REFRESH_TIMEOUT).map_err(|e| fail(e.to_string()))?;
    let Some(r) = reply.msgs.first() else {
        return Err(fail(format!(
            "the primary did not answer within {REFRESH_TIMEOUT:?}; the counters shown are as it last read them"
        )));
    };
    match r.param.split_first() {
        Some((&DONE, _)) => Ok(()),
        Some((_, why)) => Err(fail(String::from_utf8_lossy(why).into_owned())),
        None => Err(fail("empty answer from the primary".into())),
    }
}
