//! The data path of a port, the same in every process: it finds the queues in shared memory
//! on each burst, runs the shared advanced-descriptor bursts, and writes only the RDT/TDT
//! tail registers.

use super::queues::{rx_mem, rx_params, tx_mem};
use super::regs;
use crate::net::intel::adv::{rx, tx};
use crate::net::intel::RegIo;
use eal::{Mbuf, Memory, PktMbufPool};
use ethdev::{DataPath, PortSlot, MAX_QUEUES};
use std::sync::atomic::Ordering;

/// One process's data path of a port: its register access (its own BAR0 mapping) and the
/// shared slot.
pub struct IxgbeData<R: RegIo> {
    port: u16,
    slot: &'static PortSlot,
    regs: R,
    /// The group's memory (device addresses, page size).
    mem: Memory,
    /// The same when the group runs with IOVA = PA (RX buffers are checked for contiguity).
    pa: Option<Memory>,
}

impl<R: RegIo> IxgbeData<R> {
    /// The data path of `port` (slot `slot`) through `regs`.
    pub fn new(port: u16, slot: &'static PortSlot, mem: Memory, regs: R) -> IxgbeData<R> {
        let pa = (mem.config().iova_pa.load(Ordering::Acquire) == 1).then_some(mem);
        IxgbeData { port, slot, regs, mem, pa }
    }
}

impl<R: RegIo> DataPath for IxgbeData<R> {
    #[inline]
    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize {
        let qi = usize::from(q);
        if qi >= MAX_QUEUES || max == 0 {
            return 0;
        }
        let Some(ring) = rx_mem(self.slot, qi) else { return 0 };
        let Ok(pool) = PktMbufPool::from_header_addr(self.slot.rxq_pool[qi].load(Ordering::Relaxed)) else {
            return 0;
        };
        let p = rx_params(qi, self.port);
        rx::burst(&self.regs, &ring, &p, &pool, self.pa.as_ref(), &self.slot.counters.rx[qi], bufs, max)
    }

    #[inline]
    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize {
        let qi = usize::from(q);
        if qi >= MAX_QUEUES || bufs.is_empty() {
            return 0;
        }
        let Some(ring) = tx_mem(self.slot, qi) else { return 0 };
        tx::burst(&self.regs, regs::tdt(qi), &ring, &self.mem, &self.slot.counters.tx[qi], bufs)
    }
}
