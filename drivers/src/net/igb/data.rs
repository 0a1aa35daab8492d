//! The data path of a port, the same in every process: it finds the queues in shared memory
//! on each burst and writes only the RDT/TDT tail registers of the queue it polls.

use super::{regs, rx_mem, tx_mem, RX_BUF};
use crate::net::intel::adv::{rx, tx, RxParams, RX_FRAME_ERRORS_82576};
use eal::vfio::MmioRegion;
use eal::{Mbuf, Memory, PktMbufPool};
use ethdev::{DataPath, PortCtx, PortSlot};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The RX burst parameters of queue `q` of port `port`.
pub(crate) fn rx_params(port: u16, q: usize) -> RxParams {
    RxParams { tail_reg: regs::rdt(q), frame_errors: RX_FRAME_ERRORS_82576, buf_len: RX_BUF, port }
}

/// One process's data path of a port: its own BAR0 mapping and the shared slot.
pub(crate) struct IgbData {
    port: u16,
    slot: &'static PortSlot,
    bar: Arc<MmioRegion>,
    /// The group's memory (device addresses, page size).
    mem: Memory,
    /// The same when the group runs with IOVA = PA (RX buffers are checked for contiguity).
    pa: Option<Memory>,
}

impl IgbData {
    pub(crate) fn new(ctx: &PortCtx, bar: Arc<MmioRegion>) -> IgbData {
        let pa = (ctx.mem.config().iova_pa.load(Ordering::Acquire) == 1).then_some(ctx.mem);
        IgbData { port: ctx.port, slot: ctx.slot, bar, mem: ctx.mem, pa }
    }
}

impl DataPath for IgbData {
    #[inline]
    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize {
        let q = usize::from(q);
        if max == 0 || q >= super::MAX_QUEUES {
            return 0;
        }
        let Some(ring) = rx_mem(self.slot, q) else { return 0 };
        let Ok(pool) = PktMbufPool::from_header_addr(self.slot.rxq_pool[q].load(Ordering::Relaxed)) else {
            return 0;
        };
        let p = rx_params(self.port, q);
        rx::burst(&*self.bar, &ring, &p, &pool, self.pa.as_ref(), &self.slot.counters.rx[q], bufs, max)
    }

    #[inline]
    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize {
        let q = usize::from(q);
        if bufs.is_empty() || q >= super::MAX_QUEUES {
            return 0;
        }
        let Some(ring) = tx_mem(self.slot, q) else { return 0 };
        tx::burst(&*self.bar, regs::tdt(q), &ring, &self.mem, &self.slot.counters.tx[q], bufs)
    }
}
