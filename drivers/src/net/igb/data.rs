//! The data path of a port: the shared Intel one ([`IntelData`]) over the advanced rings of
//! up to [`MAX_QUEUES`] queues per direction.

use super::{regs, IgbState, MAX_QUEUES, RX_BUF};
use crate::net::common::queue_mem::QueueSlot;
use crate::net::intel::adv::{AdvRing, RxParams, RX_FRAME_ERRORS_82576};
use crate::net::intel::data::{IntelData, QueueMap};
use eal::vfio::MmioRegion;
use std::sync::Arc;

/// The RX burst parameters of queue `q` of port `port`.
pub(crate) fn rx_params(port: u16, q: usize) -> RxParams {
    RxParams {
        tail_reg: regs::rdt(q),
        frame_errors: RX_FRAME_ERRORS_82576,
        buf_len: RX_BUF,
        port,
        cksum: None,
        scatter: false,
        vlan_strip: false,
    }
}

/// Where the igb's queues are.
pub(crate) struct IgbQueues;

impl QueueMap for IgbQueues {
    type Ring = AdvRing;
    const MAX_QUEUES: usize = MAX_QUEUES;
    type State = IgbState;
    fn rx_slots(state: &IgbState) -> &[QueueSlot] {
        &state.rxq
    }
    fn tx_slots(state: &IgbState) -> &[QueueSlot] {
        &state.txq
    }
    fn rx_params(port: u16, q: usize) -> RxParams {
        rx_params(port, q)
    }
    fn tx_tail(q: usize) -> usize {
        regs::tdt(q)
    }
    const RX_CKSUM: Option<crate::net::intel::rx_cksum::RxCksumBits> = Some(crate::net::intel::rx_cksum::ADV_82576);
}

/// One process's data path of a port: its own BAR0 mapping and the shared slot.
pub(crate) type IgbData = IntelData<Arc<MmioRegion>, IgbQueues>;
