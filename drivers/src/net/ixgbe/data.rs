//! The data path of a port: the shared Intel one ([`IntelData`]) over the advanced rings,
//! the same code the igb PMD runs.

use super::queues::rx_params;
use super::{regs, IxgbeState};
use crate::net::common::queue_mem::QueueSlot;
use crate::net::intel::adv::{AdvRing, RxParams};
use crate::net::intel::data::{IntelData, QueueMap};
use ethdev::MAX_QUEUES;

/// Where the ixgbe's queues are.
pub struct IxgbeQueues;

impl QueueMap for IxgbeQueues {
    type Ring = AdvRing;
    const MAX_QUEUES: usize = MAX_QUEUES;
    type State = IxgbeState;
    fn rx_slots(state: &IxgbeState) -> &[QueueSlot] {
        &state.rxq
    }
    fn tx_slots(state: &IxgbeState) -> &[QueueSlot] {
        &state.txq
    }
    fn rx_params(port: u16, q: usize) -> RxParams {
        rx_params(port, q)
    }
    fn tx_tail(q: usize) -> usize {
        regs::tdt(q)
    }
    const RX_CKSUM: Option<crate::net::intel::rx_cksum::RxCksumBits> = Some(super::offload::RX_CKSUM_82599);
}

/// One process's data path of a port: its register access `R` (its own BAR0 mapping, or a
/// register model in tests) and the shared slot.
pub type IxgbeData<R> = IntelData<R, IxgbeQueues>;
