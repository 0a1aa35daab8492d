//! The 82574L's extended RX descriptors (RFCTL.EXSTEN), which carry the RSS hash: read
//! format the buffer address then a reserved word (so arming is the legacy one); write-back
//! word 0 the MRQ word (RSS type in bits 3:0, queue in bits 12:8) and the RSS hash (with
//! RXCSUM.PCSD), word 1 the extended status/error word (status bits 19:0 where the legacy
//! status byte has them, the legacy error byte in bits 31:24), the length (bits 47:32) and
//! the VLAN tag (bits 63:48). TX descriptors stay legacy: transmit goes through [`Ring`].

use super::desc::{Ring, RXD_ERR_FRAME};
use crate::net::common::queue_mem::Desc16;
use crate::net::intel::rx_cksum::RxCksumBits;
use crate::net::intel::rxq::{RxDone, RxRing};
use crate::net::intel::tx_offload::TxPlan;
use crate::net::intel::txq::TxRing;
use std::sync::atomic::Ordering;

/// Status bit DD of the extended status/error word.
const STAT_DD: u32 = 1 << 0;
/// Status bit EOP.
const STAT_EOP: u32 = 1 << 1;
/// The RSS type field of the MRQ word (0: no hash computed).
const MRQ_RSS_TYPE: u32 = 0xf;

/// Error bits of the status/error word that make a frame unusable (the legacy byte's CE,
/// SE, SEQ, CXE and RXE, moved to bits 31:24).
pub const FRAME_ERRORS: u32 = (RXD_ERR_FRAME as u32) << 24;

/// Checksum bits of the extended write-back: the legacy status byte's (IXSM 2, UDPCS 4,
/// TCPCS 5, IPCS 6) and the legacy error byte's moved to bits 31:24 (TCPE 29, IPE 30).
pub const CKSUM: RxCksumBits =
    RxCksumBits { ixsm: 1 << 2, ipcs: 1 << 6, l4cs: (1 << 5) | (1 << 4), ipe: 1 << 30, l4e: 1 << 29 };

/// What the device wrote back into an extended RX descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtWriteBack {
    /// The MRQ word: RSS type (bits 3:0) and the queue RSS chose (bits 12:8).
    pub mrq: u32,
    /// The RSS hash (valid when the RSS type is not 0).
    pub rss: u32,
    /// The status/error word.
    pub status_error: u32,
    /// Bytes in the buffer.
    pub len: u16,
    /// The VLAN tag the device stripped (with status VP).
    pub vlan: u16,
}

impl ExtWriteBack {
    /// Decodes the two words of a written-back extended descriptor.
    pub fn decode(w0: u64, w1: u64) -> ExtWriteBack {
        ExtWriteBack {
            mrq: w0 as u32,
            rss: (w0 >> 32) as u32,
            status_error: w1 as u32,
            len: (w1 >> 32) as u16,
            vlan: (w1 >> 48) as u16,
        }
    }
    /// The RSS hash, when the device computed one.
    pub fn hash(&self) -> Option<u32> {
        (self.mrq & MRQ_RSS_TYPE != 0).then_some(self.rss)
    }
}

crate::net::intel::queue_header::desc_ring! {
    /// A ring of 82574 extended RX descriptors (and legacy TX ones): a view of the queue
    /// memory's descriptor words, the same memory layout as [`Ring`].
    pub struct ExtRing;
}

impl ExtRing {
    /// The same descriptors seen as legacy ones (for TX).
    #[inline(always)]
    fn legacy(&self) -> Ring {
        Ring::from_words(self.0)
    }
}

impl RxRing for ExtRing {
    #[inline(always)]
    fn rx_done(&self, i: usize) -> Option<RxDone> {
        let w1 = self.0.load(i, 1, Ordering::Acquire);
        if (w1 as u32) & STAT_DD == 0 {
            return None;
        }
        let wb = ExtWriteBack::decode(self.0.load(i, 0, Ordering::Relaxed), w1);
        Some(RxDone {
            len: wb.len,
            eop: wb.status_error & STAT_EOP != 0,
            errors: wb.status_error,
            hash: wb.hash().unwrap_or(0),
            status: wb.status_error,
            vlan: wb.vlan,
        })
    }
}

impl TxRing for ExtRing {
    const SENDS_EMPTY: bool = <Ring as TxRing>::SENDS_EMPTY;
    #[inline(always)]
    fn tx_put(&self, i: usize, iova: u64, len: u16, eop: bool, paylen: u32, extra: u64) {
        self.legacy().tx_put(i, iova, len, eop, paylen, extra)
    }
    fn tx_plan(m: &eal::Mbuf) -> Option<TxPlan> {
        <Ring as TxRing>::tx_plan(m)
    }
    fn tx_check(m: &eal::Mbuf) -> Result<(), ethdev::TxReject> {
        <Ring as TxRing>::tx_check(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::common::queue_mem::DescWords;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn write_back_decodes_hash_status_length_and_vlan() {
        // MRQ: RSS type 1 (IPv4/TCP), queue 1; hash 0xdeadbeef; status DD|EOP|VP|IPCS;
        // errors IPE; length 1514; VLAN 100.
        let w0 = 0x101u64 | (0xdead_beefu64 << 32);
        let w1 = u64::from(1 | 2 | 8 | 0x40 | (1u32 << 30)) | (1514u64 << 32) | (100u64 << 48);
        let wb = ExtWriteBack::decode(w0, w1);
        assert_eq!(wb.hash(), Some(0xdead_beef));
        assert_eq!((wb.len, wb.vlan), (1514, 100));
        assert_eq!(wb.status_error & FRAME_ERRORS, 0, "an IP checksum error is not a frame error");
        assert_eq!(ExtWriteBack::decode(0xdead_beefu64 << 32, 0).hash(), None, "RSS type 0: no hash");
        assert_ne!((1u32 << 24) & FRAME_ERRORS, 0, "CE");
    }

    #[test]
    fn ring_reads_done_descriptors_only() {
        let words: &'static [AtomicU64] =
            Box::leak((0..8).map(|_| AtomicU64::new(0)).collect::<Vec<_>>().into_boxed_slice());
        let r = ExtRing::from_words(DescWords::new(words));
        assert!(r.rx_done(1).is_none());
        words[2].store(0x2 | (0x1234_5678u64 << 32), Ordering::Relaxed);
        words[3].store(3 | (60u64 << 32), Ordering::Relaxed);
        let d = r.rx_done(1).expect("DD set");
        assert_eq!((d.len, d.eop, d.hash), (60, true, 0x1234_5678));
        r.tx_put(2, 0x2000, 64, true, 0, 0);
        assert_eq!(words[4].load(Ordering::Relaxed), 0x2000);
    }
}
