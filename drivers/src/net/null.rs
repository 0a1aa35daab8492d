//! `net_null`: RX returns bursts of synthetic packets of a set size, TX frees what it gets.
//! The reference for the framework's own per-packet cost.
//!
//! Devargs: `size=N` (packet length, default 64), `copy=1` (write the packet bytes, not just
//! the length), `no-rx=1` (RX returns nothing).

use super::virtual_port::{VirtualControl, VirtualQueues};
use eal::{Mbuf, PktMbufPool};
use ethdev::{DataPath, EthError, Pmd, PortCtx, PortSlot, Probed, VdevArgs};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The null driver.
pub struct NullPmd;

ethdev::shared_state! {
    /// What a null port was probed with (its driver state in the port slot).
    struct NullState {
        /// Packet length.
        size: AtomicU32,
        /// 1: write the packet bytes.
        copy: AtomicU32,
        /// 1: RX returns nothing.
        no_rx: AtomicU32,
    }
}

struct NullData {
    slot: &'static PortSlot,
    port: u16,
    size: u16,
    copy: bool,
    no_rx: bool,
}

impl DataPath for NullData {
    #[inline]
    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize {
        if self.no_rx || max == 0 {
            return 0;
        }
        let counters = &self.slot.counters.rx[q as usize];
        let Ok(pool) = PktMbufPool::from_header_addr(self.slot.rxq_pool[q as usize].load(Ordering::Relaxed)) else {
            return 0;
        };
        let start = bufs.len();
        if !pool.alloc_bulk(bufs, max) {
            counters.add_nombuf(max as u64);
            return 0;
        }
        for m in &mut bufs[start..] {
            m.set_len(self.size);
            m.set_port(self.port);
            if self.copy {
                m.data_mut().fill(0);
            }
        }
        counters.add(max as u64, max as u64 * self.size as u64);
        max
    }

    #[inline]
    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize {
        let n = bufs.len();
        let bytes: u64 = bufs.iter().map(|m| m.pkt_len() as u64).sum();
        eal::mbuf::free_bulk(bufs);
        self.slot.counters.tx[q as usize].add(n as u64, bytes);
        n
    }
}

struct NullQueues;

impl VirtualQueues for NullQueues {
    fn rx_queue_setup(&self, ctx: &PortCtx, _q: u16, pool: PktMbufPool) -> Result<(), EthError> {
        let size = ctx.slot.driver_state::<NullState>().size.load(Ordering::Relaxed) as u16;
        if (pool.data_room() as u32) < eal::mbuf::HEADROOM as u32 + size as u32 {
            return Err(EthError::Unsupported {
                port: ctx.port,
                what: format!("mbufs of pool '{}' are too small for {size}-byte packets", pool.mempool().name()),
            });
        }
        Ok(())
    }
    fn tx_queue_setup(&self, _ctx: &PortCtx, _q: u16) -> Result<(), EthError> {
        Ok(())
    }
}

fn data(ctx: &PortCtx) -> Arc<dyn DataPath> {
    let st = ctx.slot.driver_state::<NullState>();
    Arc::new(NullData {
        slot: ctx.slot,
        port: ctx.port,
        size: st.size.load(Ordering::Relaxed) as u16,
        copy: st.copy.load(Ordering::Relaxed) != 0,
        no_rx: st.no_rx.load(Ordering::Relaxed) != 0,
    })
}

impl Pmd for NullPmd {
    fn name(&self) -> &'static str {
        "net_null"
    }

    fn probe_vdev(&self, ctx: &PortCtx, args: &VdevArgs) -> Result<Probed, EthError> {
        args.check_keys(&["size", "copy", "no-rx"])?;
        let size: u16 = args.get_num("size", 64)?;
        if !(14..=9018).contains(&size) {
            return Err(EthError::BadDevargs {
                args: args.raw.clone(),
                why: format!("size={size}: must be 14..=9018"),
            });
        }
        let st = ctx.slot.driver_state::<NullState>();
        st.size.store(u32::from(size), Ordering::Relaxed);
        st.copy.store(u32::from(args.get_num::<u64>("copy", 0)? != 0), Ordering::Relaxed);
        st.no_rx.store(u32::from(args.get_num::<u64>("no-rx", 0)? != 0), Ordering::Relaxed);
        ctx.slot.set_mac(super::virtual_mac(ctx.port));
        let control = VirtualControl { ctx: ctx.clone(), driver_name: self.name(), queues: NullQueues };
        Ok(Probed { control: Box::new(control), data: data(ctx) })
    }

    fn attach(&self, ctx: &PortCtx) -> Result<Arc<dyn DataPath>, EthError> {
        Ok(data(ctx))
    }
}
