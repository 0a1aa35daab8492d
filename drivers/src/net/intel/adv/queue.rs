//! A queue's shared memory: the [`queue_mem`] layout every
//! DMA queue uses (descriptors at offset 0, software ring of mbufs, header words in one
//! memzone), with the descriptors viewed as advanced ones.

use super::desc::AdvRing;
use crate::net::common::queue_mem;
use eal::{EalError, Memory, Memzone};

/// Ring lengths (RDLEN/TDLEN) must be multiples of 128 bytes: descriptor counts multiples
/// of this.
pub const DESC_ALIGN: u16 = 8;

/// The shared memory of one queue of advanced descriptors.
pub type QueueMem = queue_mem::QueueMem<AdvRing>;

/// Reserves the memzone `name` for a queue of `nb` descriptors, replacing a previous one
/// of that name (a queue set up again: release its mbufs first), and returns it with the
/// queue zeroed.
pub fn reserve(mem: &Memory, name: &str, nb: usize) -> Result<(Memzone, QueueMem), EalError> {
    queue_mem::reserve(mem, name, nb)
}
