//! The data path of a port, the same in every process: it finds the queues in shared memory
//! on each burst and only rings doorbells (an MMIO write, or a write to the legacy I/O
//! port through the device fd).

use super::pci::Notifier;
use super::rx_merge::Merge;
use super::{rx_ring, rxq, state, tx_ring, txq};
use eal::{Mbuf, Memory, PktMbufPool};
use ethdev::{DataPath, PortCtx, PortSlot, MAX_QUEUES};
use std::sync::atomic::Ordering;

/// One process's data path of a port.
pub(crate) struct VirtioData {
    port: u16,
    slot: &'static PortSlot,
    kick: Notifier,
    mem: Memory,
    /// The same when the group runs with IOVA = PA (RX buffers are checked for contiguity).
    pa: Option<Memory>,
    hdr: u16,
    /// `VIRTIO_NET_F_MRG_RXBUF` was negotiated.
    mrg: bool,
}

impl VirtioData {
    pub(crate) fn new(ctx: &PortCtx, kick: Notifier) -> VirtioData {
        let pa = crate::net::common::iova::pa_mode(ctx.mem);
        let hdr = state(ctx.slot).hdr_len.load(Ordering::Acquire) as u16;
        let features = super::net::Features::from_bits_retain(state(ctx.slot).features.load(Ordering::Acquire));
        let mrg = features.contains(super::net::Features::MRG_RXBUF);
        VirtioData { port: ctx.port, slot: ctx.slot, kick, mem: ctx.mem, pa, hdr, mrg }
    }
}

impl VirtioData {
    /// How RX treats frames over several buffers: by the negotiated features and the port's
    /// `RxOffloads::SCATTER` or `TCP_LRO` (large segments span several buffers).
    #[inline]
    fn merge(&self) -> Merge {
        let chain = ethdev::RxOffloads::SCATTER | ethdev::RxOffloads::TCP_LRO;
        if !self.mrg {
            Merge::Off
        } else if self.slot.rx_offloads.load(Ordering::Relaxed) & chain.bits() != 0 {
            Merge::Chain
        } else {
            Merge::Drop
        }
    }
}

impl DataPath for VirtioData {
    #[inline]
    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize {
        let qi = usize::from(q);
        if max == 0 || qi >= MAX_QUEUES {
            return 0;
        }
        let Some(ring) = rx_ring(self.slot, qi) else { return 0 };
        let Ok(pool) = PktMbufPool::from_header_addr(self.slot.rxq_pool[qi].load(Ordering::Relaxed)) else {
            return 0;
        };
        rxq::burst(
            &ring,
            &self.kick,
            &pool,
            self.pa.as_ref(),
            self.hdr,
            self.port,
            self.merge(),
            &self.slot.counters.rx[qi],
            bufs,
            max,
        )
    }

    #[inline]
    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize {
        let qi = usize::from(q);
        if bufs.is_empty() || qi >= MAX_QUEUES {
            return 0;
        }
        let Some(ring) = tx_ring(self.slot, qi) else { return 0 };
        // The port's features as configured (they change with its offloads at configure).
        let features = super::net::Features::from_bits_retain(state(self.slot).features.load(Ordering::Relaxed));
        let ind_addr = ring.hdr().ind_addr.load(Ordering::Relaxed);
        let tx = txq::Tx { q: &ring, mem: &self.mem, hdr: self.hdr, features, ind_addr };
        let (mut taken, mut kick) = (0, false);
        // One call sends at most `txq::PASS` frames: more calls for a longer burst, one
        // doorbell at the end.
        loop {
            let (n, k) = tx.burst(&self.slot.counters.tx[qi], bufs);
            (taken, kick) = (taken + n, kick | k);
            if n < txq::PASS || bufs.is_empty() {
                break;
            }
        }
        if kick {
            self.kick.notify(
                ring.hdr().index.load(Ordering::Relaxed) as u16,
                ring.hdr().notify_off.load(Ordering::Relaxed) as u16,
            );
        }
        taken
    }
}
