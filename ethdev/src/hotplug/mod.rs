//! Ports that come and go while the group runs, as DPDK's `rte_dev_probe` /
//! `rte_dev_remove` with multi-process synchronisation.
//!
//! The primary attaches and detaches; a secondary asks the primary to do it ([`REQUEST`]).
//! Every step is confirmed by every secondary before the call returns:
//!
//! - attach: the primary probes the device into a free slot of the port table (its
//!   generation bumped), then asks every secondary to attach it ([`NEW`]); a secondary that
//!   fails or does not answer makes the attach fail and be undone everywhere;
//! - detach, in two phases: [`PREPARE`] asks each process to release the port (it answers
//!   once no handle of the port is left in it, or says it is busy after the timeout); when
//!   every process agreed, [`COMMIT`] removes it everywhere and the primary closes the
//!   device and frees the slot; otherwise [`ROLLBACK`] and the port keeps working.
//!
//! Messages carry the slot's generation, so a message about an earlier port of a reused slot
//! is never applied to the new one. `new` and `removed` events reach the callbacks of every
//! process ([`PortEvent`]).

pub(crate) mod local;
pub(crate) mod peers;
pub(crate) mod port_set;
pub(crate) mod primary;
pub(crate) mod secondary;
pub mod wire;

use std::time::Duration;

/// IPC request: the primary asks the secondaries to attach a new port.
pub const NEW: &str = "eth_hp_new";
/// IPC request: the primary asks the secondaries to release a port (detach, phase 1).
pub const PREPARE: &str = "eth_hp_prepare";
/// IPC request: the primary tells the secondaries to drop a port (detach, phase 2).
pub const COMMIT: &str = "eth_hp_commit";
/// IPC message: the primary tells the secondaries that a prepared detach was abandoned.
pub const ROLLBACK: &str = "eth_hp_rollback";
/// IPC request: a secondary asks the primary to attach or detach.
pub const REQUEST: &str = "eth_hp_request";

/// How long a detach waits by default for the processes to release the port.
pub const DEFAULT_DETACH_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the primary waits for the secondaries to attach a new port.
pub const ATTACH_TIMEOUT: Duration = Duration::from_secs(5);

/// A port event, as DPDK's `RTE_ETH_EVENT_NEW` / `RTE_ETH_EVENT_DESTROY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortEvent {
    /// The port was attached; it is usable in this process.
    New,
    /// The port was detached; it is gone from this process.
    Removed,
}

impl PortEvent {
    /// "new" or "removed".
    pub fn name(self) -> &'static str {
        match self {
            PortEvent::New => "new",
            PortEvent::Removed => "removed",
        }
    }
}

/// A port event callback: (port, event).
pub type PortEventCallback = dyn Fn(u16, PortEvent) + Send + Sync;
