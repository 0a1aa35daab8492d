//! The data path of a port: the shared Intel one ([`IntelData`]) over the queues of the
//! port, legacy descriptors on the 82540EM ([`Ring`]), extended RX descriptors on the
//! 82574L ([`ExtRing`]: the same memory and registers, the write-back read otherwise).

use super::desc::{self, Ring};
use super::ext_desc::{self, ExtRing};
use super::{regs, rxq, EmState, MAX_QUEUES};
use crate::net::common::queue_mem::QueueSlot;
use crate::net::intel::data::{IntelData, QueueMap};
use crate::net::intel::rx_cksum::{self, RxCksumBits};
use crate::net::intel::rxq::{RxParams, RxRing};
use crate::net::intel::txq::TxRing;
use eal::vfio::MmioRegion;
use std::marker::PhantomData;
use std::sync::Arc;

/// What an e1000 RX descriptor format says of a frame: the same queues and registers, the
/// write-back read by the format.
pub(crate) trait EmRing: RxRing + TxRing {
    /// The error bits (as the format reports them) that make a frame unusable.
    const FRAME_ERRORS: u32;
    /// Where the format keeps its RX checksum bits.
    const CKSUM: RxCksumBits;
}

impl EmRing for Ring {
    const FRAME_ERRORS: u32 = desc::RXD_ERR_FRAME as u32;
    const CKSUM: RxCksumBits = rx_cksum::LEGACY;
}

impl EmRing for ExtRing {
    const FRAME_ERRORS: u32 = ext_desc::FRAME_ERRORS;
    const CKSUM: RxCksumBits = ext_desc::CKSUM;
}

/// Where the e1000's queues are, read as descriptor format `D` ([`Ring`] on the 82540EM,
/// [`ExtRing`] on the 82574L).
pub(crate) struct EmQueues<D>(PhantomData<D>);

impl<D: EmRing + Send + Sync + 'static> QueueMap for EmQueues<D> {
    type Ring = D;
    const MAX_QUEUES: usize = MAX_QUEUES;
    type State = EmState;
    fn rx_slots(state: &EmState) -> &[QueueSlot] {
        &state.rxq
    }
    fn tx_slots(state: &EmState) -> &[QueueSlot] {
        &state.txq
    }
    fn rx_params(port: u16, q: usize) -> RxParams {
        RxParams { frame_errors: D::FRAME_ERRORS, ..rxq::params(port, q) }
    }
    fn tx_tail(q: usize) -> usize {
        regs::queue_reg(regs::TDT, q)
    }
    const RX_CKSUM: Option<RxCksumBits> = Some(D::CKSUM);
}

/// One process's data path of an 82540EM port: its own BAR0 mapping and the shared slot.
pub(crate) type EmData = IntelData<Arc<MmioRegion>, EmQueues<Ring>>;
/// The same for an 82574L port.
pub(crate) type EmExtData = IntelData<Arc<MmioRegion>, EmQueues<ExtRing>>;
