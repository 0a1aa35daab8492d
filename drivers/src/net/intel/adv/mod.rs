//! Advanced descriptors and the queues built on them, shared by the igb (82576) and ixgbe
//! (82599) PMDs: both devices lay out advanced RX/TX descriptors the same way. The RX/TX
//! queue logic itself ([`rx`], [`tx`]) is the e1000 PMD's too, over its legacy descriptors.
//!
//! # How a driver uses it
//!
//! **Registers.** Everything that touches registers is generic over
//! [`RegIo`](crate::net::intel::RegIo) (`read32`/`write32` by byte offset), implemented for
//! `eal::vfio::MmioRegion` (pass the BAR0 mapping, or an `Arc` of it) and for
//! `reg_io::SoftRegs` in unit tests. The shared code writes
//! only the registers the driver names: the ring registers in a [`RingRegs`] and the tail
//! offset in the burst calls. Tail offsets are device specific: igb RDT(n) = 0xC018 +
//! 0x40·n, TDT(n) = 0xE018 + 0x40·n; ixgbe RDT(n) = 0x1018 + 0x40·n (n < 64), TDT(n) =
//! 0x6018 + 0x40·n. (For both, [`RingRegs::block`] of the queue block's base gives all five.)
//!
//! **Queue memory.** Each queue is one memzone: [`queue::reserve`]`(mem, name, nb)` returns
//! the `Memzone` and a [`QueueMem`] view (descriptors at offset 0, so the ring's device
//! address is `Memzone::iova()`; then the software ring of mbufs, then header words: the
//! layout of [`crate::net::common::queue_mem`]). Record the memzone address and `nb` in a
//! [`QueueSlot`](crate::net::common::queue_mem::QueueSlot) of the driver's shared state;
//! every process (primary or secondary) rebuilds the view with
//! [`QueueSlot::get`](crate::net::common::queue_mem::QueueSlot::get) and polls the queue. Descriptor counts must be multiples of [`queue::DESC_ALIGN`] (8). The
//! data path of every Intel PMD is [`IntelData`](crate::net::intel::data::IntelData): a
//! driver describes its queue records and registers in a
//! [`QueueMap`](crate::net::intel::data::QueueMap).
//!
//! **RX (primary, at start).** Program SRRCTL (one buffer per descriptor, advanced
//! one-buffer type, BSIZEPKT = `buf_len / 1024`) and the rest yourself; then
//! [`rx::fill`]`(&q, &params, &pool, pa)`, [`ring::program`]`(regs, &ring_regs, &q,
//! mz_iova)`, enable the queue (RXDCTL.ENABLE, poll until it reads back set), and write
//! [`rx::initial_tail`]`(&q)` to the tail register.
//! **RX (any process, per burst).** [`rx::burst`]`(regs, &q, &params, &pool, pa, counters,
//! &mut bufs, max)` with an [`RxParams`] `{ tail_reg, frame_errors, buf_len, port }`:
//! `frame_errors` is the device's mask of status/error bits that make a frame unusable
//! (82576: [`RX_FRAME_ERRORS_82576`]); `pa` is `Some(mem)` when the group runs with IOVA =
//! PA (buffers are checked for contiguity), else `None`. Received mbufs carry length, port
//! and the RSS hash (`Mbuf::rss_hash`, 0 when none).
//!
//! **TX (primary, at start).** [`tx::reset`]`(&q)`, [`ring::program`], then enable the
//! queue (TXDCTL.ENABLE). **TX (any process).** [`tx::burst`]`(regs, tail_reg, &q, &mem,
//! counters, &mut bufs)`: reclaims written-back descriptors, sends from the front of
//! `bufs`, writes the tail once. Every descriptor is an advanced data descriptor with
//! IFCS|RS (EOP on the last of a packet) and PAYLEN = packet length.
//!
//! **Stop/close (primary).** Disable the queue, then `QueueMem::release_all()` frees the
//! mbufs the ring holds.

pub mod desc;
pub mod queue;
pub mod ring;
pub mod tx_ctx;

/// The RX queue logic, shared with the e1000 PMD's legacy rings.
pub use super::rxq as rx;
/// The TX queue logic, shared with the e1000 PMD's legacy rings.
pub use super::txq as tx;

#[cfg(test)]
mod tests;

pub use desc::{AdvRing, RxWriteBack};
pub use queue::QueueMem;
pub use ring::RingRegs;
pub use rx::RxParams;

/// 82576 extended errors that make a received frame unusable: RXE (bit 31), CXE (28), SEQ
/// (26), SE (25), CE (24). TCPE/IPE (checksum errors, bits 29/30) are not among them.
pub const RX_FRAME_ERRORS_82576: u32 = 0x8000_0000 | 0x1000_0000 | 0x0400_0000 | 0x0200_0000 | 0x0100_0000;
