//! Code shared by the Intel PMDs: e1000 (82540EM/82574L), igb (82576) and ixgbe (82599).
//!
//! - [`e1000_family`]: registers and statistics counters the e1000 and igb PMDs share;
//! - [`data`]: the data path (RX/TX bursts in any process) of every Intel PMD;
//! - [`rx_filter`]: VLAN filter table and all-multicast mode;
//! - [`mac_filter`]: secondary unicast addresses (RAL/RAH) and the multicast table (MTA);
//! - [`rss`]: the redirection table check (and register layout) of RSS;
//! - [`rx_cksum`]: RX checksum offload (RXCSUM, descriptor bits to mbuf flags);
//! - [`rx_scatter`]: frames spanning several RX descriptors, delivered as mbuf chains;
//! - [`vlan_offload`]: VLAN stripping and insertion (CTRL.VME);
//! - [`tx_offload`]: TX checksum and TSO requests made into context and data descriptor bits;
//! - [`rxq`], [`txq`]: the RX and TX queue logic (refill, bursts, reclaim, tail writes) of
//!   rings of 16-byte descriptors, for the legacy format (e1000) and the advanced one;
//! - [`reg_io`]: the [`RegIo`] trait through which every register access of the shared code
//!   goes (implemented for a mapped BAR, [`eal::vfio::MmioRegion`], and for a software
//!   register file, `reg_io::SoftRegs`, in unit tests);
//! - [`adv`]: advanced RX/TX descriptors and the RX/TX queues built on them (queue memory in
//!   a memzone, refill, bursts, tail writes). Its module documentation says how a driver
//!   uses it.

pub mod adv;
pub mod data;
pub mod e1000_family;
pub mod error;
pub mod mac_filter;
pub mod port_cfg;
pub mod queue_header;
pub mod rss;
pub mod rx_cksum;
pub mod rx_filter;
pub mod rx_scatter;
pub mod rxq;
pub mod tx_offload;
pub mod txq;
pub mod vlan_offload;
pub use crate::net::common::reg_io;

pub use reg_io::RegIo;
