//! Bypass EAL: command-line arguments, the process group's runtime directory and roles,
//! shared memory mapped at the same address in every process, memzones, rings, mempools,
//! mbufs, lcores, IPC and the telemetry socket.

pub mod args;
pub mod bus;
pub mod cli;
pub mod config;
pub mod cpu_level;
pub mod cycles;
mod eal;
pub mod error;
pub mod lcore;
pub mod logging;
pub mod mbuf;
mod mbuf_offload;
pub mod mbuf_ring;
pub mod memory;
pub mod mempool;
pub mod memzone;
pub mod mp;
pub mod name;
pub mod pci;
pub mod prefetch;
pub mod process;
pub mod reclaim;
pub mod ring;
pub mod runtime;
pub mod shm;
pub mod signal;
pub mod spinlock;
pub mod telemetry;
pub mod toeplitz;
pub mod tool;
pub mod vfio;

pub use args::{EalArgs, IovaMode, ProcType};
pub use eal::{Eal, Role};
pub use error::EalError;
pub use mbuf::{Mbuf, PktMbufPool};
pub use mbuf_ring::MbufRing;
pub use memory::Memory;
pub use mempool::Mempool;
pub use memzone::Memzone;
pub use ring::Ring;
