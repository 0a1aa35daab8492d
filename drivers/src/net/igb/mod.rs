//! `net_igb`: the PMD for the Intel 82576 (8086:10c9), as QEMU's `igb` model emulates it.
//!
//! Up to [`MAX_QUEUES`] RX and TX queues of advanced descriptors (the shared
//! [`crate::net::intel::adv`] code, one memzone per queue), RSS over the RX queues (key,
//! hash types and the 128-entry redirection table), CRC stripping, 2 KiB receive buffers,
//! promiscuous mode, statistics folded by the primary from the clear-on-read registers,
//! and link-status interrupts on their own MSI-X vector (GPIE in MSI-X mode, the "other"
//! causes routed by IVAR_MISC). All queue state lives in shared memory (the port slot's
//! driver words and the queue memzones), so a secondary can poll the queues the
//! application gives it; a secondary only ever writes the tail registers (RDT/TDT) of its
//! queues and never reads interrupt causes.

mod control;
mod data;
mod init;
mod intr;
pub mod regs;
pub mod rss;
mod stats;

use crate::net::intel::adv::QueueMem;
use eal::bus::BusDevice;
use ethdev::{DataPath, EthError, Pmd, PortCtx, PortSlot, Probed, VdevArgs};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The driver's name.
pub const NAME: &str = "net_igb";
/// PCI ids taken: the 82576 (copper), QEMU's `igb`.
pub const PCI_IDS: &[(u16, u16)] = &[(0x8086, 0x10c9)];
/// RX/TX queues per direction (the 82576 has 16 in VMDq mode, 8 for RSS).
pub const MAX_QUEUES: usize = 8;
/// Receive buffer size (SRRCTL.BSIZEPKT) every RX mbuf must hold after the headroom.
pub const RX_BUF: u16 = 2048;
/// Largest MTU: a frame (MTU + 18) must fit one receive buffer.
pub const MAX_MTU: u16 = RX_BUF - 18;

/// The igb PMD.
pub struct IgbPmd;

/// Driver words of the port slot.
pub(crate) mod w {
    /// 1 when link-status interrupts are wanted.
    pub const LSC: usize = 0;
    /// RX queue `q`'s memzone: `RXQ + q` holds the address | descriptors / 8.
    pub const RXQ: usize = 2;
    /// TX queue `q`'s memzone: `TXQ + q`, packed as for RX.
    pub const TXQ: usize = RXQ + super::MAX_QUEUES;
    /// One past the queue words.
    pub const END: usize = TXQ + super::MAX_QUEUES;
}
const _: () = assert!(w::END <= stats::FIRST_WORD);

/// Packs a queue memzone's address (4 KiB aligned) and its descriptor count (a multiple of
/// 8, at most 4096) into one word.
pub(crate) fn pack_queue(addr: u64, nb: u16) -> u64 {
    debug_assert!(addr.is_multiple_of(4096) && nb.is_multiple_of(8) && nb <= 4096);
    addr | u64::from(nb / 8)
}

/// The queue memory a packed word describes (None for 0: not set up).
pub(crate) fn unpack_queue(word: u64) -> Option<QueueMem> {
    QueueMem::at(word & !0xfff, ((word & 0xfff) * 8) as usize)
}

/// RX queue `q` of the port in `slot`, if set up.
#[inline]
pub(crate) fn rx_mem(slot: &PortSlot, q: usize) -> Option<QueueMem> {
    unpack_queue(slot.private.get(w::RXQ + q)?.load(Ordering::Acquire))
}

/// TX queue `q` of the port in `slot`, if set up.
#[inline]
pub(crate) fn tx_mem(slot: &PortSlot, q: usize) -> Option<QueueMem> {
    unpack_queue(slot.private.get(w::TXQ + q)?.load(Ordering::Acquire))
}

fn device_err(ctx: &PortCtx, msg: impl Into<String>) -> EthError {
    EthError::Device { port: ctx.port, msg: msg.into() }
}

fn bar0(ctx: &PortCtx, dev: &BusDevice) -> Result<Arc<eal::vfio::MmioRegion>, EthError> {
    dev.bar(0).cloned().ok_or_else(|| {
        device_err(ctx, format!("{}: BAR0 (the registers) is not mapped; is the device bound to vfio-pci?", dev.addr()))
    })
}

impl Pmd for IgbPmd {
    fn name(&self) -> &'static str {
        NAME
    }

    fn probe_vdev(&self, ctx: &PortCtx, args: &VdevArgs) -> Result<Probed, EthError> {
        Err(EthError::BadDevargs {
            args: args.raw.clone(),
            why: format!(
                "{NAME} drives PCI devices only (port {}): bind the NIC to vfio-pci and use -a <BDF>",
                ctx.port
            ),
        })
    }

    fn attach(&self, ctx: &PortCtx) -> Result<Arc<dyn DataPath>, EthError> {
        Err(device_err(ctx, format!("{NAME} ports are PCI devices: the secondary must attach through the PCI bus")))
    }

    fn pci_ids(&self) -> &'static [(u16, u16)] {
        PCI_IDS
    }

    fn probe_pci(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Probed, EthError> {
        let bar = bar0(ctx, dev)?;
        for word in &ctx.slot.private {
            word.store(0, Ordering::Relaxed);
        }
        ctx.slot.private[w::LSC].store(1, Ordering::Relaxed);
        let control = control::IgbControl::probe(ctx, dev, bar.clone())?;
        tracing::info!(port = ctx.port, addr = %dev.addr(), mac = ?ctx.slot.mac(), "igb probed");
        Ok(Probed { control: Box::new(control), data: Arc::new(data::IgbData::new(ctx, bar)) })
    }

    fn attach_pci(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Arc<dyn DataPath>, EthError> {
        let bar = bar0(ctx, dev)?;
        Ok(Arc::new(data::IgbData::new(ctx, bar)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_words_pack_address_and_count() {
        let mem = eal::Memory::anonymous(4 << 20).unwrap();
        let (mz, _) = crate::net::intel::adv::queue::reserve(&mem, "igb_pack", 4096).unwrap();
        let word = pack_queue(mz.addr(), 4096);
        let q = unpack_queue(word).unwrap();
        assert_eq!(q.nb(), 4096);
        assert_eq!(pack_queue(mz.addr(), 8) & 0xfff, 1);
        assert!(unpack_queue(0).is_none());
    }
}
