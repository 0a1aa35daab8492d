//! A queue's shared memory: the [`queue_mem`] layout every
//! DMA queue uses (descriptors at offset 0, so their device address is the memzone's
//! IOVA; the software ring of mbufs; header words), with the descriptors viewed as legacy
//! ones.

use super::desc::Ring;
use crate::net::common::queue_mem;

/// The shared memory of one queue of legacy descriptors.
pub type QueueMem = queue_mem::QueueMem<Ring>;
