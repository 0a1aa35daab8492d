//! `net_ring`: a port whose queues are Bypass mbuf rings in shared memory, so two ports (or
//! two processes) can be the two ends of a link with no device at all.
//!
//! Devargs: `rx=NAME` and `tx=NAME` name the rings (queue `q` uses `NAME_q`; a missing ring
//! is created); both default to the port's own name, which makes the port loop back what
//! it sends. `size=N` sets the ring size (power of two, default 1024). Each ring has one
//! producer queue and one consumer queue (single-producer/single-consumer, as DPDK's).

use super::virtual_port::{VirtualControl, VirtualQueues};
use eal::ring::flags;
use eal::{Mbuf, MbufRing, PktMbufPool};
use ethdev::{DataPath, EthError, Pmd, PortCtx, PortSlot, Probed, VdevArgs, MAX_QUEUES};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// The ring driver.
pub struct RingPmd;

ethdev::shared_state! {
    /// A ring port's rings (its driver state in the port slot).
    struct RingState {
        /// Header address of RX queue `q`'s ring at index `q` (0: not set up).
        rx: [AtomicU64; MAX_QUEUES],
        /// Header address of TX queue `q`'s ring.
        tx: [AtomicU64; MAX_QUEUES],
        /// Size of the rings the port creates.
        size: AtomicU32,
    }
}

fn state(slot: &PortSlot) -> &RingState {
    slot.driver_state()
}

struct RingData {
    slot: &'static PortSlot,
    port: u16,
}

impl RingData {
    #[inline(always)]
    fn ring(&self, header: Option<&AtomicU64>) -> Option<MbufRing> {
        MbufRing::from_header_addr(header?.load(Ordering::Relaxed)).ok()
    }
}

impl DataPath for RingData {
    #[inline]
    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize {
        let Some(r) = self.ring(state(self.slot).rx.get(usize::from(q))) else { return 0 };
        let start = bufs.len();
        let n = r.dequeue_burst(bufs, max);
        let mut bytes = 0u64;
        for m in &mut bufs[start..] {
            m.set_port(self.port);
            bytes += m.pkt_len() as u64;
        }
        self.slot.counters.rx[q as usize].add(n as u64, bytes);
        n
    }

    #[inline]
    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize {
        let Some(r) = self.ring(state(self.slot).tx.get(usize::from(q))) else { return 0 };
        let before: u64 = bufs.iter().map(|m| m.pkt_len() as u64).sum();
        let n = r.enqueue_burst(bufs);
        let after: u64 = bufs.iter().map(|m| m.pkt_len() as u64).sum();
        self.slot.counters.tx[q as usize].add(n as u64, before - after);
        n
    }
}

struct RingQueues {
    rx: String,
    tx: String,
}

impl RingQueues {
    fn setup(&self, ctx: &PortCtx, base: &str, q: u16, header: &AtomicU64) -> Result<(), EthError> {
        let name = format!("{base}_{q}");
        let size = state(ctx.slot).size.load(Ordering::Relaxed);
        let r = match MbufRing::lookup(&ctx.mem, &name) {
            Ok(r) => r,
            Err(_) => MbufRing::create(&ctx.mem, &name, size, flags::SP_ENQ | flags::SC_DEQ)?,
        };
        header.store(r.header_addr(), Ordering::Release);
        Ok(())
    }
}

impl VirtualQueues for RingQueues {
    fn rx_queue_setup(&self, ctx: &PortCtx, q: u16, _pool: PktMbufPool) -> Result<(), EthError> {
        self.setup(ctx, &self.rx, q, &state(ctx.slot).rx[usize::from(q)])
    }
    fn tx_queue_setup(&self, ctx: &PortCtx, q: u16) -> Result<(), EthError> {
        self.setup(ctx, &self.tx, q, &state(ctx.slot).tx[usize::from(q)])
    }
    /// Frees the mbufs still waiting in this port's RX rings, so they return to their pools.
    fn close(&self, ctx: &PortCtx) {
        let mut bufs = Vec::new();
        for header in &state(ctx.slot).rx {
            if let Ok(r) = MbufRing::from_header_addr(header.load(Ordering::Acquire)) {
                while r.dequeue_burst(&mut bufs, 64) > 0 {
                    eal::mbuf::free_bulk(&mut bufs);
                }
            }
        }
    }
}

impl Pmd for RingPmd {
    fn name(&self) -> &'static str {
        "net_ring"
    }

    fn probe_vdev(&self, ctx: &PortCtx, args: &VdevArgs) -> Result<Probed, EthError> {
        args.check_keys(&["rx", "tx", "size"])?;
        let size: u32 = args.get_num("size", 1024)?;
        if !size.is_power_of_two() || size < 2 {
            return Err(EthError::BadDevargs { args: args.raw.clone(), why: format!("size={size}: a power of two") });
        }
        let name_of = |k: &str| -> Result<String, EthError> {
            let v = args.get(k).unwrap_or(&args.name).to_string();
            if v.is_empty() || v.len() > 24 {
                return Err(EthError::BadDevargs {
                    args: args.raw.clone(),
                    why: format!("{k}= needs a name of 1..=24 bytes"),
                });
            }
            Ok(v)
        };
        let (rx, tx) = (name_of("rx")?, name_of("tx")?);
        state(ctx.slot).size.store(size, Ordering::Relaxed);
        ctx.slot.set_mac(super::virtual_mac(ctx.port));
        let data = Arc::new(RingData { slot: ctx.slot, port: ctx.port });
        let control = VirtualControl { ctx: ctx.clone(), driver_name: self.name(), queues: RingQueues { rx, tx } };
        Ok(Probed { control: Box::new(control), data })
    }

    fn attach(&self, ctx: &PortCtx) -> Result<Arc<dyn DataPath>, EthError> {
        Ok(Arc::new(RingData { slot: ctx.slot, port: ctx.port }))
    }
}
