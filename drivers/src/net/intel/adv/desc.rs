//! Advanced RX and TX descriptors (16 bytes each), the layout the 82576 and the 82599
//! share, viewed as pairs of atomic little-endian words in shared memory: the device writes
//! them by DMA, any process of the group reads and writes them, no `unsafe` needed.
//!
//! RX, read format (software to device): word 0 the packet buffer address, word 1 the
//! header buffer address (0 here: no header split; its bit 0 doubles as DD once written
//! back). RX, write-back format (device to software): word 0 = RSS type (bits 3:0), packet
//! type (16:4), header length/SPH (31:17), RSS hash (63:32); word 1 = extended status
//! (bits 19:0: DD, EOP, VP, checksum bits), extended errors (31:20), packet length (47:32),
//! VLAN tag (63:48).
//!
//! TX data descriptor: word 0 the buffer address; word 1 = DTALEN (15:0), DTYP (23:20,
//! 0x3 = data), DCMD (31:24: EOP, IFCS, RS, DEXT, VLE, TSE), then the "olinfo" dword: STA
//! (35:32, DD written back by the device), IDX/CC (39:36), POPTS (45:40), PAYLEN (63:46).

use crate::net::intel::rxq::{RxDone, RxRing};
use crate::net::intel::txq::TxRing;
use std::sync::atomic::Ordering;

/// Bytes per descriptor.
pub const DESC_SIZE: u64 = crate::net::common::queue_mem::DESC16_SIZE;

bitflags::bitflags! {
    /// The extended status bits (19:0) of an advanced RX write-back this driver knows.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct RxStatus: u32 {
        /// Descriptor done.
        const DD = 1 << 0;
        /// End of packet.
        const EOP = 1 << 1;
        /// The frame carried an 802.1Q tag (stripped into the VLAN field when VLAN
        /// stripping is on).
        const VP = 1 << 3;
        /// UDP checksum computed.
        const UDPCS = 1 << 4;
        /// L4 integrity checked.
        const L4I = 1 << 5;
        /// IPv4 checksum computed.
        const IPCS = 1 << 6;
    }
}
/// RX extended errors: the bits 31:20 of the status/error word.
pub const RXD_ERR_MASK: u32 = 0xfff0_0000;

/// RSS type field: no hash computed.
pub const RSS_TYPE_NONE: u8 = 0;
/// RSS type field: hash over IPv4 addresses and TCP ports.
pub const RSS_TYPE_IPV4_TCP: u8 = 1;
/// RSS type field: hash over IPv4 addresses.
pub const RSS_TYPE_IPV4: u8 = 2;
/// RSS type field: hash over IPv6 addresses and TCP ports.
pub const RSS_TYPE_IPV6_TCP: u8 = 3;
/// RSS type field: hash over IPv6 addresses.
pub const RSS_TYPE_IPV6: u8 = 5;
/// RSS type field: hash over IPv4 addresses and UDP ports.
pub const RSS_TYPE_IPV4_UDP: u8 = 7;
/// RSS type field: hash over IPv6 addresses and UDP ports.
pub const RSS_TYPE_IPV6_UDP: u8 = 8;

/// TX descriptor type: advanced data descriptor (DTYP = 0x3, bits 23:20 of word 1).
pub const TXD_DTYP_DATA: u32 = 0x3 << 20;
bitflags::bitflags! {
    /// DCMD, the command bits of an advanced TX data descriptor, in place (bits 31:24 of
    /// word 1's low dword).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct TxCmd: u32 {
        /// End of packet.
        const EOP = 1 << 24;
        /// Insert the FCS.
        const IFCS = 1 << 25;
        /// Report status (write back DD).
        const RS = 1 << 27;
        /// Descriptor extension (advanced format). Always set by [`tx_data_words`].
        const DEXT = 1 << 29;
        /// Insert the VLAN tag of the context.
        const VLE = 1 << 30;
        /// TCP segmentation (TSO) of the packet, with the context's MSS and L4LEN.
        const TSE = 1 << 31;
    }
}
/// Shift of PAYLEN in the olinfo dword.
pub const TXD_PAYLEN_SHIFT: u32 = 14;
/// Largest PAYLEN (18 bits).
pub const TXD_PAYLEN_MAX: u32 = (1 << 18) - 1;
/// TX status (olinfo bits 3:0 after write-back): descriptor done.
pub const TXD_STAT_DD: u32 = 1 << 0;

/// What the device wrote back into an advanced RX descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxWriteBack {
    /// RSS type (`RSS_TYPE_*`): which fields were hashed; 0 when no hash was computed.
    pub rss_type: u8,
    /// Packet type (13 bits, device specific).
    pub pkt_type: u16,
    /// The RSS hash (valid when `rss_type != 0`).
    pub rss_hash: u32,
    /// Extended status (bits 19:0) and errors (bits 31:20).
    pub status_error: u32,
    /// Bytes written to the packet buffer.
    pub len: u16,
    /// The VLAN tag (valid with [`RxStatus::VP`] when stripping is on).
    pub vlan: u16,
}

impl RxWriteBack {
    /// Decodes the two words of a written-back descriptor.
    #[inline(always)]
    pub fn decode(w0: u64, w1: u64) -> RxWriteBack {
        RxWriteBack {
            rss_type: (w0 & 0xf) as u8,
            pkt_type: ((w0 >> 4) & 0x1fff) as u16,
            rss_hash: (w0 >> 32) as u32,
            status_error: w1 as u32,
            len: (w1 >> 32) as u16,
            vlan: (w1 >> 48) as u16,
        }
    }

    /// Encodes a write-back (what a device writes; for fake devices in tests).
    #[cfg(test)]
    pub fn encode(&self) -> (u64, u64) {
        let w0 = u64::from(self.rss_type & 0xf)
            | (u64::from(self.pkt_type & 0x1fff) << 4)
            | (u64::from(self.rss_hash) << 32);
        let w1 = u64::from(self.status_error) | (u64::from(self.len) << 32) | (u64::from(self.vlan) << 48);
        (w0, w1)
    }

    /// The extended status bits (the error bits 31:20 left out).
    #[inline(always)]
    pub fn status(&self) -> RxStatus {
        RxStatus::from_bits_retain(self.status_error & !RXD_ERR_MASK)
    }

    /// The device is done with the descriptor.
    #[inline(always)]
    pub fn done(&self) -> bool {
        self.status().contains(RxStatus::DD)
    }

    /// The last descriptor of a frame.
    #[inline(always)]
    pub fn eop(&self) -> bool {
        self.status().contains(RxStatus::EOP)
    }

    /// The error bits (31:20) of the status/error word.
    #[inline(always)]
    pub fn errors(&self) -> u32 {
        self.status_error & RXD_ERR_MASK
    }

    /// True when one of the error bits in `mask` is set (the frame errors differ between
    /// devices: the driver passes its own mask).
    #[inline(always)]
    pub fn has_error(&self, mask: u32) -> bool {
        self.status_error & mask != 0
    }

    /// The RSS hash, if the device computed one.
    #[inline(always)]
    pub fn hash(&self) -> Option<u32> {
        (self.rss_type != RSS_TYPE_NONE).then_some(self.rss_hash)
    }
}

/// Word 1 of an advanced TX data descriptor: `len` bytes in this buffer, the commands
/// `dcmd` ([`TxCmd`]; DEXT and the data type are added), and `paylen`, the whole
/// packet's length (every descriptor of a packet carries it).
#[inline(always)]
pub fn tx_data_word(len: u16, dcmd: TxCmd, paylen: u32) -> u64 {
    let cmd_type_len = u32::from(len) | TXD_DTYP_DATA | ((dcmd | TxCmd::DEXT).bits() & 0xff00_0000);
    let olinfo = (paylen & TXD_PAYLEN_MAX) << TXD_PAYLEN_SHIFT;
    u64::from(cmd_type_len) | (u64::from(olinfo) << 32)
}

/// Both words of an advanced TX data descriptor (see [`tx_data_word`]).
#[inline(always)]
pub fn tx_data_words(addr: u64, len: u16, dcmd: TxCmd, paylen: u32) -> [u64; 2] {
    [addr, tx_data_word(len, dcmd, paylen)]
}

/// A decoded TX data descriptor (for fake devices in tests; test builds only).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxData {
    /// Buffer address.
    pub addr: u64,
    /// Bytes in the buffer.
    pub len: u16,
    /// DTYP field (3 for data).
    pub dtyp: u8,
    /// DCMD bits (in their place, bits 31:24).
    pub dcmd: TxCmd,
    /// PAYLEN.
    pub paylen: u32,
    /// Status bits (DD after write-back).
    pub sta: u8,
}

#[cfg(test)]
impl TxData {
    /// Decodes a TX descriptor's two words.
    pub fn decode(w0: u64, w1: u64) -> TxData {
        TxData {
            addr: w0,
            len: w1 as u16,
            dtyp: ((w1 >> 20) & 0xf) as u8,
            dcmd: TxCmd::from_bits_retain((w1 as u32) & 0xff00_0000),
            paylen: (w1 >> (32 + TXD_PAYLEN_SHIFT)) as u32,
            sta: ((w1 >> 32) & 0xf) as u8,
        }
    }
}

crate::net::intel::queue_header::desc_ring! {
    /// A ring of advanced descriptors: a view of the queue memory's descriptor words.
    pub struct AdvRing;
}

impl AdvRing {
    /// The raw words of descriptor `i` (for fake devices and debugging).
    pub fn raw(&self, i: usize) -> [u64; 2] {
        [self.0.load(i, 0, Ordering::Acquire), self.0.load(i, 1, Ordering::Acquire)]
    }

    /// Writes the raw words of descriptor `i` (word 1 last, with release ordering: what a
    /// device's write-back looks like to a reader that checks DD in word 1).
    pub fn set_raw(&self, i: usize, w: [u64; 2]) {
        self.0.store(i, w[0], w[1], Ordering::Release);
    }

    /// Reads RX descriptor `i`: None while the device has not written it back (no DD).
    /// Word 1 is read first with acquire ordering, so the rest of the descriptor and the
    /// buffer are complete once DD is seen.
    #[inline(always)]
    pub fn rx_read(&self, i: usize) -> Option<RxWriteBack> {
        let w1 = self.0.load(i, 1, Ordering::Acquire);
        if (w1 as u32) & RxStatus::DD.bits() == 0 {
            return None;
        }
        Some(RxWriteBack::decode(self.0.load(i, 0, Ordering::Relaxed), w1))
    }

    /// Fills TX descriptor `i` as a data descriptor (see [`tx_data_word`]).
    #[inline(always)]
    pub fn tx_fill(&self, i: usize, iova: u64, len: u16, dcmd: TxCmd, paylen: u32) {
        self.0.store(i, iova, tx_data_word(len, dcmd, paylen), Ordering::Relaxed);
    }
}

impl RxRing for AdvRing {
    #[inline(always)]
    fn rx_done(&self, i: usize) -> Option<RxDone> {
        let wb = self.rx_read(i)?;
        let status = wb.status_error;
        Some(RxDone {
            len: wb.len,
            eop: wb.eop(),
            errors: wb.status_error,
            hash: wb.hash().unwrap_or(0),
            status,
            vlan: wb.vlan,
        })
    }
}

impl TxRing for AdvRing {
    const SENDS_EMPTY: bool = false;
    #[inline(always)]
    fn tx_put(&self, i: usize, iova: u64, len: u16, eop: bool, paylen: u32, extra: u64) {
        let dcmd = TxCmd::IFCS | TxCmd::RS | if eop { TxCmd::EOP } else { TxCmd::empty() };
        self.0.store(i, iova, tx_data_word(len, dcmd, paylen) | extra, Ordering::Relaxed);
    }
    fn tx_plan(m: &eal::Mbuf) -> Option<crate::net::intel::tx_offload::TxPlan> {
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

    fn leak_words(n: usize, v: u64) -> &'static [AtomicU64] {
        Box::leak((0..n).map(|_| AtomicU64::new(v)).collect::<Vec<_>>().into_boxed_slice())
    }

    #[test]
    fn rx_write_back_fields_decode() {
        // RSS type 7 (IPv4/UDP), packet type 0x11, hash 0xdeadbeef; status DD|EOP|VP,
        // error bit 31; length 1514; VLAN 0x0123.
        let w0 = 7u64 | (0x11 << 4) | (0xdead_beef << 32);
        let w1 = 0x8000_000bu64 | (1514 << 32) | (0x0123 << 48);
        let d = RxWriteBack::decode(w0, w1);
        assert_eq!(d.rss_type, RSS_TYPE_IPV4_UDP);
        assert_eq!(d.pkt_type, 0x11);
        assert_eq!(d.hash(), Some(0xdead_beef));
        assert!(d.done() && d.eop());
        assert!(d.status().contains(RxStatus::VP));
        assert_eq!((d.len, d.vlan), (1514, 0x0123));
        assert_eq!(d.errors(), 0x8000_0000);
        assert!(d.has_error(0x8000_0000) && !d.has_error(0x0100_0000));
        assert_eq!(d.encode(), (w0, w1), "encode is the inverse of decode");
        let none = RxWriteBack::decode(0x1234_0000_0000_0000, 1);
        assert_eq!(none.hash(), None, "no hash without an RSS type");
        assert!(!RxWriteBack::decode(0, 0).done());
    }

    #[test]
    fn tx_data_descriptor_layout() {
        let [a, w] = tx_data_words(0x1234_5678_9000, 60, TxCmd::EOP | TxCmd::IFCS | TxCmd::RS, 60);
        assert_eq!(a, 0x1234_5678_9000);
        // bytes: len 60, 0, DTYP 3 in the high nibble of byte 2, DCMD = EOP|IFCS|RS|DEXT
        // (0x2b) in byte 3; PAYLEN 60 << 14 in the olinfo dword.
        assert_eq!(w.to_le_bytes()[..4], [60, 0, 0x30, 0x2b]);
        assert_eq!((w >> 32) as u32, 60 << 14);
        let d = TxData::decode(a, w);
        assert_eq!(
            d,
            TxData {
                addr: a,
                len: 60,
                dtyp: 3,
                dcmd: TxCmd::EOP | TxCmd::IFCS | TxCmd::RS | TxCmd::DEXT,
                paylen: 60,
                sta: 0
            }
        );
        // Only command bits reach the command byte: the type and length fields stay theirs.
        assert_eq!(tx_data_word(1, TxCmd::all(), 0) as u16, 1);
        assert_eq!(TxData::decode(0, tx_data_word(9000, TxCmd::empty(), 9000)).paylen, 9000);
    }

    #[test]
    fn ring_round_trip() {
        let words = leak_words(8, 7);
        let r = AdvRing::new(words);
        assert_eq!(r.words().len(), 4);
        r.rx_arm(1, 0x1000);
        assert_eq!(r.raw(1), [0x1000, 0]);
        assert!(r.rx_read(1).is_none());
        let wb = RxWriteBack {
            rss_type: 2,
            rss_hash: 5,
            status_error: (RxStatus::DD | RxStatus::EOP).bits(),
            len: 64,
            ..Default::default()
        };
        let (w0, w1) = wb.encode();
        r.set_raw(1, [w0, w1]);
        assert_eq!(r.rx_read(1), Some(wb));
        r.tx_fill(2, 0x2000, 64, TxCmd::RS, 64);
        assert!(!r.tx_done(2));
        let [_, w] = r.raw(2);
        r.set_raw(2, [0, w | (u64::from(TXD_STAT_DD) << 32)]);
        assert!(r.tx_done(2));
        r.words().clear();
        assert!(words.iter().all(|w| w.load(Ordering::Relaxed) == 0));
    }
}
