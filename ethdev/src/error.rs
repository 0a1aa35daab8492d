//! Errors of the port layer.

/// What a port operation can fail with; messages name the problem and the fix.
#[derive(Debug, thiserror::Error)]
pub enum EthError {
    /// No port has this id.
    #[error("port {0} does not exist (see the ports listed at start, e.g. with --vdev net_null0)")]
    NoSuchPort(u16),
    /// A `--vdev` names no known driver.
    #[error("unknown device '{name}': no driver matches; known drivers: {known}")]
    UnknownDriver {
        /// The devargs name.
        name: String,
        /// Driver names.
        known: String,
    },
    /// The device arguments are malformed.
    #[error("invalid device arguments '{args}': {why}")]
    BadDevargs {
        /// The full devargs.
        args: String,
        /// What is wrong.
        why: String,
    },
    /// The operation needs another port state.
    #[error("port {port}: {op} is not allowed while the port is {state}; {fix}")]
    BadState {
        /// Port id.
        port: u16,
        /// The operation.
        op: &'static str,
        /// Current state.
        state: &'static str,
        /// What to do.
        fix: &'static str,
    },
    /// A queue index is out of range.
    #[error("port {port}: {dir} queue {queue} does not exist ({nb} configured)")]
    QueueOutOfRange {
        /// Port id.
        port: u16,
        /// "rx" or "tx".
        dir: &'static str,
        /// The queue asked for.
        queue: u16,
        /// Queues configured.
        nb: u16,
    },
    /// An argument is outside what the device supports.
    #[error("port {port}: {what}")]
    Unsupported {
        /// Port id.
        port: u16,
        /// What is unsupported, with the supported range.
        what: String,
    },
    /// The primary could not refresh the device counters for this process.
    #[error("port {port}: device counters not refreshed: {why}")]
    StatsRefresh {
        /// Port id.
        port: u16,
        /// Why.
        why: String,
    },
    /// Only the primary process may do this.
    #[error("{0} is a control operation: only the primary process may do it")]
    PrimaryOnly(&'static str),
    /// Too many ports.
    #[error("too many ports (at most {0})")]
    TooManyPorts(usize),
    /// An attach or detach did not happen (see [`crate::hotplug`]).
    #[error("{op} {target} failed: {why}")]
    Hotplug {
        /// "attach" or "detach".
        op: &'static str,
        /// The devargs or the port.
        target: String,
        /// Why, with the pids involved and the fix.
        why: String,
    },
    /// An error from the EAL (memory, rings, IPC).
    #[error(transparent)]
    Eal(#[from] eal::EalError),
    /// Waiting for RX interrupts failed in the system (epoll).
    #[error("RX interrupt wait: {what}: {source}")]
    RxIntrWait {
        /// The step that failed.
        what: &'static str,
        /// The system error.
        source: std::io::Error,
    },
    /// The device failed (driver-specific message).
    #[error("port {port}: {msg}")]
    Device {
        /// Port id.
        port: u16,
        /// What the driver says.
        msg: String,
    },
}

/// Why a burst moved nothing; cheap to return on the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BurstError {
    /// The port is not started.
    #[error("port {0} is not started")]
    NotStarted(u16),
    /// The queue does not exist.
    #[error("port {port}: queue {queue} does not exist ({nb} configured)")]
    BadQueue {
        /// Port id.
        port: u16,
        /// The queue.
        queue: u16,
        /// Queues configured.
        nb: u16,
    },
    /// The queue was stopped on its own (`rx_queue_stop` / `tx_queue_stop`).
    #[error("port {port}: queue {queue} is stopped (start it again with the queue start call)")]
    QueueStopped {
        /// Port id.
        port: u16,
        /// The queue.
        queue: u16,
    },
}
