//! Bypass ethdev: the port table in shared memory (the same port ids in every process),
//! the driver traits PMDs implement, bursts, link-status events forwarded from the primary
//! to the secondaries, statistics, and the `/ethdev/*` telemetry commands.

pub mod capture;
pub mod cksum;
pub mod devargs;
pub mod device_xstats;
pub mod driver;
pub mod driver_state;
pub mod error;
pub mod ethdev;
pub mod events;
pub mod hotplug;
pub mod link;
pub mod mac_filters;
pub mod offload;
pub mod port;
pub mod port_table;
pub mod rss;
pub mod rx_idle;
pub mod rx_intr;
pub mod scatter;
mod slot_reset;
pub mod stats;
pub mod stats_refresh;
pub mod telemetry;

pub use devargs::VdevArgs;
pub use driver::{capa, Control, DataPath, DescLimits, DevInfo, Dir, Pmd, PortConf, PortCtx, Probed};
pub use driver_state::{SharedStr, PRIVATE_BYTES};
pub use error::{BurstError, EthError};
pub use ethdev::Ethdev;
pub use hotplug::PortEvent;
pub use link::Link;
pub use mac_filters::{MacAddr, MacLists};
pub use offload::{RxOffloads, TxOffloads, TxPrepareError, TxReject};
pub use port::{Port, PortControl};
pub use port_table::{PortSlot, PortState, MAX_PORTS};
pub use rss::RssConf;
pub use rx_idle::RxIdleSleeper;
pub use rx_intr::{RxInterruptWaiter, RxIntrSource};
pub use stats::{QueueCounters, Stats, MAX_QUEUES};
