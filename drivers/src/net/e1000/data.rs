//! The data path of a port: the shared Intel one ([`IntelData`]) over the queues of the
//! port, legacy descriptors on the 82540EM ([`EmQueues`]), extended RX descriptors on the
//! 82574L ([`EmExtQueues`]: the same memory and registers, the write-back read as
//! [`ExtRing`]).

use super::desc::Ring;
use super::ext_desc::{self, ExtRing};
use super::{regs, rxq, EmState, MAX_QUEUES};
use crate::net::common::queue_mem::QueueSlot;
use crate::net::intel::data::{IntelData, QueueMap};
use crate::net::intel::rxq::RxParams;
use eal::vfio::MmioRegion;
use std::sync::Arc;

/// Where the e1000's queues are (legacy descriptors).
pub(crate) struct EmQueues;

impl QueueMap for EmQueues {
    type Ring = Ring;
    const MAX_QUEUES: usize = MAX_QUEUES;
    type State = EmState;
    fn rx_slots(state: &EmState) -> &[QueueSlot] {
        &state.rxq
    }
    fn tx_slots(state: &EmState) -> &[QueueSlot] {
        &state.txq
    }
    fn rx_params(port: u16, q: usize) -> RxParams {
        rxq::params(port, q)
    }
    fn tx_tail(q: usize) -> usize {
        regs::queue_reg(regs::TDT, q)
    }
    const RX_CKSUM: Option<crate::net::intel::rx_cksum::RxCksumBits> = Some(crate::net::intel::rx_cksum::LEGACY);
}

/// The 82574L's queues: extended RX descriptors, legacy TX ones.
pub(crate) struct EmExtQueues;

impl QueueMap for EmExtQueues {
    type Ring = ExtRing;
    const MAX_QUEUES: usize = MAX_QUEUES;
    type State = EmState;
    fn rx_slots(state: &EmState) -> &[QueueSlot] {
        &state.rxq
    }
    fn tx_slots(state: &EmState) -> &[QueueSlot] {
        &state.txq
    }
    fn rx_params(port: u16, q: usize) -> RxParams {
        RxParams { frame_errors: ext_desc::FRAME_ERRORS, ..rxq::params(port, q) }
    }
    fn tx_tail(q: usize) -> usize {
        regs::queue_reg(regs::TDT, q)
    }
    const RX_CKSUM: Option<crate::net::intel::rx_cksum::RxCksumBits> = Some(ext_desc::CKSUM);
}

/// One process's data path of an 82540EM port: its own BAR0 mapping and the shared slot.
pub(crate) type EmData = IntelData<Arc<MmioRegion>, EmQueues>;
/// The same for an 82574L port.
pub(crate) type EmExtData = IntelData<Arc<MmioRegion>, EmExtQueues>;
