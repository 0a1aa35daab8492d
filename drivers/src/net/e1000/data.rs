//! The data path of a port: the shared Intel one ([`IntelData`]) over the legacy ring of
//! the one RX and one TX queue.

use super::desc::Ring;
use super::{regs, rxq, EmState};
use crate::net::common::queue_mem::QueueSlot;
use crate::net::intel::data::{IntelData, QueueMap};
use crate::net::intel::rxq::RxParams;
use eal::vfio::MmioRegion;
use std::sync::Arc;

/// Where the e1000's queues are.
pub(crate) struct EmQueues;

impl QueueMap for EmQueues {
    type Ring = Ring;
    const MAX_QUEUES: usize = 1;
    type State = EmState;
    fn rx_slots(state: &EmState) -> &[QueueSlot] {
        std::slice::from_ref(&state.rxq)
    }
    fn tx_slots(state: &EmState) -> &[QueueSlot] {
        std::slice::from_ref(&state.txq)
    }
    fn rx_params(port: u16, _q: usize) -> RxParams {
        rxq::params(port)
    }
    fn tx_tail(_q: usize) -> usize {
        regs::TDT
    }
    const RX_CKSUM: Option<crate::net::intel::rx_cksum::RxCksumBits> = Some(crate::net::intel::rx_cksum::LEGACY);
}

/// One process's data path of a port: its own BAR0 mapping and the shared slot.
pub(crate) type EmData = IntelData<Arc<MmioRegion>, EmQueues>;
