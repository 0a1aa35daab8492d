//! Legacy RX and TX descriptors (16 bytes: the buffer address, then one word of length,
//! command/status and errors), viewed as pairs of atomic words in shared memory: the device
//! writes them by DMA, any process of the group reads and writes them, and no `unsafe` is
//! needed to do so.

use crate::net::intel::rxq::{RxDone, RxRing};
use crate::net::intel::tx_offload::TxPlan;
use crate::net::intel::txq::TxRing;
use std::sync::atomic::Ordering;

/// Bytes per descriptor.
pub const DESC_SIZE: u64 = crate::net::common::queue_mem::DESC16_SIZE;

bitflags::bitflags! {
    /// The status byte of a legacy RX write-back (bits 39:32 of word 1) this driver reads.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct RxStatus: u8 {
        /// Descriptor done.
        const DD = 1 << 0;
        /// End of packet.
        const EOP = 1 << 1;
    }
}

/// RX errors that make a frame unusable: CRC (CE), symbol (SE), sequence (SEQ), carrier
/// extension (CXE), RX data error (RXE). Checksum errors (TCPE, IPE) do not.
pub const RXD_ERR_FRAME: u64 = 0x01 | 0x02 | 0x04 | 0x10 | 0x80;

bitflags::bitflags! {
    /// The command byte of a legacy TX descriptor (bits 31:24 of word 1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct TxCmd: u8 {
        /// End of packet.
        const EOP = 1 << 0;
        /// Insert the FCS.
        const IFCS = 1 << 1;
        /// TCP segmentation (data descriptor of a TSO packet; context: the context is for
        /// TSO).
        const TSE = 1 << 2;
        /// Report status (write back DD).
        const RS = 1 << 3;
        /// Extended descriptor (context or extended data descriptor, with DTYP).
        const DEXT = 1 << 5;
        /// Insert the VLAN tag of the special field (needs CTRL.VME).
        const VLE = 1 << 6;
    }
}

bitflags::bitflags! {
    /// TUCMD, the command byte of a TCP/IP context descriptor (bits 31:24 of word 1), where
    /// it differs from [`TxCmd`] (TSE, RS and DEXT sit in the same places).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct CtxCmd: u8 {
        /// The packet is TCP (else UDP): for TSO.
        const TCP = 1 << 0;
        /// The packet is IPv4 (else IPv6): for TSO.
        const IP = 1 << 1;
        /// The context is for TCP segmentation.
        const TSE = 1 << 2;
        /// Descriptor extension: set in every context descriptor.
        const DEXT = 1 << 5;
    }
}

bitflags::bitflags! {
    /// POPTS, the packet options of an extended data descriptor (bits 47:40 of word 1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Popts: u8 {
        /// Insert the IP checksum (at IPCSO of the context).
        const IXSM = 1 << 0;
        /// Insert the TCP/UDP checksum (at TUCSO of the context).
        const TXSM = 1 << 1;
    }
}

/// DTYP of an extended data descriptor (bits 23:20 of word 1 = 0001; a context
/// descriptor's is 0000).
pub const TXD_DTYP_DATA: u64 = 1 << 20;

/// What the device wrote back into an RX descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxWriteBack {
    /// Bytes in the buffer.
    pub len: u16,
    /// Status bits (DD, EOP, ...; unknown ones kept).
    pub status: RxStatus,
    /// Error bits.
    pub errors: u64,
    /// The "special" field: the VLAN tag stripped (with status VP).
    pub special: u16,
}

impl RxWriteBack {
    /// Decodes the second word of a legacy RX descriptor.
    pub fn decode(w: u64) -> RxWriteBack {
        RxWriteBack {
            len: w as u16,
            status: RxStatus::from_bits_retain((w >> 32) as u8),
            errors: (w >> 40) & 0xff,
            special: (w >> 48) as u16,
        }
    }
    /// The device is done with the descriptor.
    pub fn done(&self) -> bool {
        self.status.contains(RxStatus::DD)
    }
    /// The last descriptor of a frame.
    pub fn eop(&self) -> bool {
        self.status.contains(RxStatus::EOP)
    }
    /// The frame has a receive error.
    pub fn bad(&self) -> bool {
        self.errors & RXD_ERR_FRAME != 0
    }
}

/// The second word of a legacy TX descriptor: length, command, status 0.
pub fn tx_word(len: u16, cmd: TxCmd) -> u64 {
    u64::from(len) | (u64::from(cmd.bits()) << 24)
}

crate::net::intel::queue_header::desc_ring! {
    /// A ring of legacy descriptors: a view of the queue memory's descriptor words.
    pub struct Ring;
}

impl Ring {
    /// Reads RX descriptor `i`'s write-back word (acquire: the buffer it describes is
    /// complete once DD is seen).
    #[inline(always)]
    pub fn rx_read(&self, i: usize) -> RxWriteBack {
        RxWriteBack::decode(self.0.load(i, 1, Ordering::Acquire))
    }

    /// Fills TX descriptor `i`.
    #[inline(always)]
    pub fn tx_fill(&self, i: usize, iova: u64, len: u16, cmd: TxCmd) {
        self.0.store(i, iova, tx_word(len, cmd), Ordering::Relaxed);
    }
}

impl RxRing for Ring {
    #[inline(always)]
    fn rx_done(&self, i: usize) -> Option<RxDone> {
        let wb = self.rx_read(i);
        let status = u32::from(wb.status.bits());
        wb.done().then_some(RxDone {
            len: wb.len,
            eop: wb.eop(),
            errors: wb.errors as u32,
            hash: 0,
            status,
            vlan: wb.special,
        })
    }
}

impl TxRing for Ring {
    /// The e1000 PMD always sent an empty mbuf as a zero-length descriptor.
    const SENDS_EMPTY: bool = true;
    #[inline(always)]
    fn tx_put(&self, i: usize, iova: u64, len: u16, eop: bool, _paylen: u32, extra: u64) {
        let cmd = TxCmd::IFCS | TxCmd::RS | if eop { TxCmd::EOP } else { TxCmd::empty() };
        self.0.store(i, iova, tx_word(len, cmd) | extra, Ordering::Relaxed);
    }
    fn tx_plan(m: &eal::Mbuf) -> Option<TxPlan> {
        super::tx_ctx::plan(m)
    }
    fn tx_check(m: &eal::Mbuf) -> Result<(), ethdev::TxReject> {
        crate::net::intel::tx_offload::check(m, &super::tx_ctx::LIMITS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::common::queue_mem::Desc16;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn write_back_fields_decode() {
        // length 1514, csum 0xbeef, status DD|EOP|IXSM, errors CE.
        let w = 1514u64 | (0xbeef << 16) | (0x07 << 32) | (0x01 << 40);
        let d = RxWriteBack::decode(w);
        assert_eq!(d.len, 1514);
        assert!(d.done() && d.eop() && d.bad());
        let ok = RxWriteBack::decode(60 | (0x03 << 32) | (0x20 << 40));
        assert!(!ok.bad(), "a TCP checksum error is not a frame error");
        assert!(!RxWriteBack::decode(0).done());
    }

    #[test]
    fn tx_word_puts_cmd_in_byte_11() {
        let w = tx_word(60, TxCmd::EOP | TxCmd::IFCS | TxCmd::RS);
        assert_eq!(w.to_le_bytes(), [60, 0, 0, 0x0b, 0, 0, 0, 0]);
    }

    #[test]
    fn ring_round_trip() {
        let words: &'static [AtomicU64] =
            Box::leak((0..8).map(|_| AtomicU64::new(7)).collect::<Vec<_>>().into_boxed_slice());
        let r = Ring::new(words);
        assert_eq!(r.words().len(), 4);
        r.rx_arm(1, 0x1000);
        assert_eq!(words[2].load(Ordering::Relaxed), 0x1000);
        assert!(!r.rx_read(1).done());
        r.tx_fill(2, 0x2000, 64, TxCmd::RS);
        assert!(!r.tx_done(2));
        words[5].store(words[5].load(Ordering::Relaxed) | (1 << 32), Ordering::Relaxed);
        assert!(r.tx_done(2));
        r.words().clear();
        assert!(words.iter().all(|w| w.load(Ordering::Relaxed) == 0));
    }
}
