//! Code shared by the Intel PMDs whose queues use *advanced* descriptors: the igb PMD
//! (82576) and the ixgbe PMD (82599).
//!
//! - [`reg_io`]: the [`RegIo`] trait through which every register access of the shared code
//!   goes (implemented for a mapped BAR, [`eal::vfio::MmioRegion`], and for a software
//!   register file, [`reg_io::SoftRegs`], for host tests);
//! - [`iova`]: device addresses of packet buffers that may cross a page of the heap;
//! - [`adv`]: advanced RX/TX descriptors and the RX/TX queues built on them (queue memory in
//!   a memzone, refill, bursts, tail writes). Its module documentation says how a driver
//!   uses it.

pub mod adv;
pub mod iova;
pub mod reg_io;

pub use reg_io::RegIo;
