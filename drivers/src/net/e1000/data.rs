//! The data path of a port, the same in every process: it finds the queues in shared memory
//! on each burst and writes only the RDT/TDT tail registers.

use super::{rx_mem, rxq, tx_mem, txq};
use eal::vfio::MmioRegion;
use eal::{Mbuf, Memory, PktMbufPool};
use ethdev::{DataPath, PortCtx, PortSlot};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// One process's data path of a port: its own BAR0 mapping and the shared slot.
pub(crate) struct EmData {
    port: u16,
    slot: &'static PortSlot,
    bar: Arc<MmioRegion>,
    /// The group's memory (device addresses, page size).
    mem: Memory,
    /// The same when the group runs with IOVA = PA (RX buffers are checked for contiguity).
    pa: Option<Memory>,
}

impl EmData {
    pub(crate) fn new(ctx: &PortCtx, bar: Arc<MmioRegion>) -> EmData {
        let pa = (ctx.mem.config().iova_pa.load(Ordering::Acquire) == 1).then_some(ctx.mem);
        EmData { port: ctx.port, slot: ctx.slot, bar, mem: ctx.mem, pa }
    }
}

impl DataPath for EmData {
    #[inline]
    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize {
        if q != 0 || max == 0 {
            return 0;
        }
        let Some(ring) = rx_mem(self.slot) else { return 0 };
        let Ok(pool) = PktMbufPool::from_header_addr(self.slot.rxq_pool[0].load(Ordering::Relaxed)) else {
            return 0;
        };
        rxq::burst(&self.bar, &ring, &pool, self.pa.as_ref(), self.port, &self.slot.counters.rx[0], bufs, max)
    }

    #[inline]
    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize {
        if q != 0 || bufs.is_empty() {
            return 0;
        }
        let Some(ring) = tx_mem(self.slot) else { return 0 };
        txq::burst(&self.bar, &ring, &self.mem, &self.slot.counters.tx[0], bufs)
    }
}
