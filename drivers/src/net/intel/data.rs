//! The data path of an Intel port, the same in every process and for every Intel PMD
//! (e1000, igb, ixgbe): it finds the queues in shared memory on each burst, runs the shared
//! RX/TX logic ([`super::rxq`], [`super::txq`]) and writes only tail registers. A PMD says
//! where its queues are and which registers they use through a [`QueueMap`].

use super::rxq::{self, RxParams, RxRing};
use super::txq::{self, TxRing};
use crate::net::common::iova;
use crate::net::common::queue_mem::{DescArea, QueueMem, QueueSlot};
use crate::net::common::RegIo;
use eal::shm::SharedPlain;
use eal::{Mbuf, Memory, PktMbufPool};
use ethdev::{DataPath, PortSlot};
use std::marker::PhantomData;
use std::sync::atomic::Ordering;

/// Where a PMD keeps its queues (in the port slot) and how they meet the device.
pub trait QueueMap: Send + Sync + 'static {
    /// The descriptor format.
    type Ring: RxRing + TxRing;
    /// Queues per direction.
    const MAX_QUEUES: usize;
    /// The driver's shared state (in the port slot), which records the queues.
    type State: SharedPlain;
    /// The RX queue records of `state`, queue `q` at index `q`.
    fn rx_slots(state: &Self::State) -> &[QueueSlot];
    /// The TX queue records of `state`, likewise.
    fn tx_slots(state: &Self::State) -> &[QueueSlot];
    /// The RX burst parameters of queue `q` of `port`.
    fn rx_params(port: u16, q: usize) -> RxParams;
    /// The tail register of TX queue `q`.
    fn tx_tail(q: usize) -> usize;
    /// Where the descriptor format keeps its RX checksum bits, if the PMD gives RX
    /// checksum offload.
    const RX_CKSUM: Option<super::rx_cksum::RxCksumBits> = None;

    /// RX queue `q` of the port in `slot`, if set up.
    #[inline]
    fn rx_mem(slot: &PortSlot, q: usize) -> Option<QueueMem<Self::Ring>> {
        queue_at(Self::rx_slots(slot.driver_state()), q, Self::MAX_QUEUES)
    }
    /// TX queue `q` of the port in `slot`, if set up.
    #[inline]
    fn tx_mem(slot: &PortSlot, q: usize) -> Option<QueueMem<Self::Ring>> {
        queue_at(Self::tx_slots(slot.driver_state()), q, Self::MAX_QUEUES)
    }
}

/// Queue `q` (of `max`) recorded in `slots`.
#[inline(always)]
fn queue_at<D: DescArea>(slots: &[QueueSlot], q: usize, max: usize) -> Option<QueueMem<D>> {
    if q >= max {
        return None;
    }
    slots.get(q)?.get()
}

/// One process's data path of a port: its register access (its own BAR0 mapping) and the
/// shared slot.
pub struct IntelData<R: RegIo, M: QueueMap> {
    port: u16,
    slot: &'static PortSlot,
    regs: R,
    /// The group's memory (device addresses, page size).
    mem: Memory,
    /// The same when the group runs with IOVA = PA (RX buffers are checked for contiguity).
    pa: Option<Memory>,
    map: PhantomData<M>,
}

impl<R: RegIo, M: QueueMap> IntelData<R, M> {
    /// The data path of `port` (slot `slot`) through `regs`.
    pub fn new(port: u16, slot: &'static PortSlot, mem: Memory, regs: R) -> IntelData<R, M> {
        IntelData { port, slot, regs, mem, pa: iova::pa_mode(mem), map: PhantomData }
    }
}

impl<R: RegIo, M: QueueMap> DataPath for IntelData<R, M> {
    #[inline]
    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize {
        let q = usize::from(q);
        if q >= M::MAX_QUEUES || max == 0 {
            return 0;
        }
        let Some(ring) = M::rx_mem(self.slot, q) else { return 0 };
        let Ok(pool) = PktMbufPool::from_header_addr(self.slot.rxq_pool[q].load(Ordering::Relaxed)) else {
            return 0;
        };
        let mut p = M::rx_params(self.port, q);
        if M::RX_CKSUM.is_some() {
            let rx = ethdev::RxOffloads::from_bits_retain(self.slot.rx_offloads.load(Ordering::Relaxed));
            if super::rx_cksum::wanted(rx) {
                p.cksum = M::RX_CKSUM;
            }
        }
        let rx = self.slot.rx_offloads.load(Ordering::Relaxed);
        p.scatter = rx & ethdev::RxOffloads::SCATTER.bits() != 0;
        p.vlan_strip = rx & ethdev::RxOffloads::VLAN_STRIP.bits() != 0;
        rxq::burst(&self.regs, &ring, &p, &pool, self.pa.as_ref(), &self.slot.counters.rx[q], bufs, max)
    }

    #[inline]
    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize {
        let q = usize::from(q);
        if q >= M::MAX_QUEUES || bufs.is_empty() {
            return 0;
        }
        let Some(ring) = M::tx_mem(self.slot, q) else { return 0 };
        txq::burst(&self.regs, M::tx_tail(q), &ring, &self.mem, &self.slot.counters.tx[q], bufs)
    }

    fn tx_check(&self, m: &Mbuf) -> Result<(), ethdev::TxReject> {
        M::Ring::tx_check(m)
    }
}
