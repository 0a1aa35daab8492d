//! RX checksum offload of the e1000 family and the 82576: the RXCSUM register that turns
//! the device's IPv4 and TCP/UDP checks on (8254x/82574/82576 datasheets, RXCSUM:
//! IPOFLD bit 8, TUOFLD bit 9), and the translation of a written-back descriptor's
//! checksum status and error bits into the mbuf's RX checksum flags: IPCS with IPE is a
//! bad IPv4 header checksum, without it a good one; TCPCS/UDPCS (L4I) with TCPE (L4E) a bad
//! L4 checksum, without it a good one; IXSM set, or no "checked" bit, leaves the flag
//! unknown. The legacy format has the status and error bytes apart; the advanced one has
//! both in one word, the error bits at other places.

use super::reg_io::RegIo;
use eal::mbuf::OlFlags;

/// RXCSUM register (the same offset on the 8254x, 82574 and 82576).
pub const RXCSUM: usize = 0x5000;
/// RXCSUM: IPv4 header checksum offload on.
pub const RXCSUM_IPOFLD: u32 = 1 << 8;
/// RXCSUM: TCP/UDP checksum offload on.
pub const RXCSUM_TUOFLD: u32 = 1 << 9;

/// Turns the device's RX checksum checks on or off, keeping RXCSUM's other bits (the
/// 82576's PCSD, which RSS sets).
pub fn program<R: RegIo + ?Sized>(r: &R, on: bool) {
    let v = r.read32(RXCSUM) & !(RXCSUM_IPOFLD | RXCSUM_TUOFLD);
    r.write32(RXCSUM, v | if on { RXCSUM_IPOFLD | RXCSUM_TUOFLD } else { 0 });
}

/// True when `rx` asks for any RX checksum offload.
pub fn wanted(rx: ethdev::RxOffloads) -> bool {
    use ethdev::RxOffloads as R;
    rx.intersects(R::IPV4_CKSUM | R::TCP_CKSUM | R::UDP_CKSUM)
}

/// The RX offloads the e1000 family and the 82576 give (the checksums, and the VLAN
/// filter of [`super::rx_filter`]).
pub const CAPA: ethdev::RxOffloads = ethdev::RxOffloads::IPV4_CKSUM
    .union(ethdev::RxOffloads::TCP_CKSUM)
    .union(ethdev::RxOffloads::UDP_CKSUM)
    .union(ethdev::RxOffloads::VLAN_FILTER);

/// Where a descriptor format keeps its checksum bits: in the status value (`ixsm`, `ipcs`,
/// `l4cs`) and in the error value (`ipe`, `l4e`) of [`super::rxq::RxDone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxCksumBits {
    /// "Ignore checksum indication".
    pub ixsm: u32,
    /// The IPv4 header checksum was checked.
    pub ipcs: u32,
    /// The TCP or UDP checksum was checked (TCPCS | UDPCS, or L4I).
    pub l4cs: u32,
    /// The IPv4 header checksum is wrong.
    pub ipe: u32,
    /// The TCP/UDP checksum is wrong.
    pub l4e: u32,
}

/// The legacy descriptor of the 8254x and 82574 (status byte: IXSM 2, UDPCS 4, TCPCS 5,
/// IPCS 6; error byte: TCPE 5, IPE 6).
pub const LEGACY: RxCksumBits =
    RxCksumBits { ixsm: 1 << 2, ipcs: 1 << 6, l4cs: (1 << 5) | (1 << 4), ipe: 1 << 6, l4e: 1 << 5 };

/// The 82576's advanced write-back (one status/error word: IXSM 2, UDPCS 4, L4I 5, IPCS 6;
/// L4E 29, IPE 30).
pub const ADV_82576: RxCksumBits =
    RxCksumBits { ixsm: 1 << 2, ipcs: 1 << 6, l4cs: (1 << 5) | (1 << 4), ipe: 1 << 30, l4e: 1 << 29 };

impl RxCksumBits {
    /// The RX checksum flags of a descriptor with `status` and `errors`.
    #[inline(always)]
    pub fn flags(&self, status: u32, errors: u32) -> OlFlags {
        if status & self.ixsm != 0 {
            return OlFlags::empty();
        }
        let mut f = OlFlags::empty();
        if status & self.ipcs != 0 {
            f |= if errors & self.ipe != 0 { OlFlags::RX_IP_CKSUM_BAD } else { OlFlags::RX_IP_CKSUM_GOOD };
        }
        if status & self.l4cs != 0 {
            f |= if errors & self.l4e != 0 { OlFlags::RX_L4_CKSUM_BAD } else { OlFlags::RX_L4_CKSUM_GOOD };
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::common::reg_io::SoftRegs;
    use eal::mbuf::RxCksum;

    #[test]
    fn legacy_bits_become_flags() {
        let f = LEGACY.flags(0x40 | 0x20 | 0x03, 0);
        assert_eq!((f.rx_ip_cksum(), f.rx_l4_cksum()), (RxCksum::Good, RxCksum::Good));
        let f = LEGACY.flags(0x40 | 0x10 | 0x03, 0x20);
        assert_eq!((f.rx_ip_cksum(), f.rx_l4_cksum()), (RxCksum::Good, RxCksum::Bad), "UDP checked, TCPE");
        let f = LEGACY.flags(0x40 | 0x20 | 0x03, 0x40);
        assert_eq!(f.rx_ip_cksum(), RxCksum::Bad);
        assert_eq!(LEGACY.flags(0x04 | 0x40 | 0x20, 0x60), OlFlags::empty(), "IXSM: no indication");
        assert_eq!(LEGACY.flags(0x03, 0x60), OlFlags::empty(), "nothing checked (not IP)");
    }

    #[test]
    fn advanced_82576_bits_become_flags() {
        let w = 0x40 | 0x20 | 0x03;
        let f = ADV_82576.flags(w, w);
        assert_eq!((f.rx_ip_cksum(), f.rx_l4_cksum()), (RxCksum::Good, RxCksum::Good));
        let w = 0x40 | 0x20 | 0x03 | (1 << 29);
        let f = ADV_82576.flags(w, w);
        assert_eq!((f.rx_ip_cksum(), f.rx_l4_cksum()), (RxCksum::Good, RxCksum::Bad));
        let w = 0x40 | 0x03 | (1 << 30);
        let f = ADV_82576.flags(w, w);
        assert_eq!((f.rx_ip_cksum(), f.rx_l4_cksum()), (RxCksum::Bad, RxCksum::Unknown));
    }

    #[test]
    fn programming_keeps_the_other_bits() {
        let r = SoftRegs::new(0x6000);
        r.write32(RXCSUM, 1 << 13);
        program(&r, true);
        assert_eq!(r.read32(RXCSUM), (1 << 13) | RXCSUM_IPOFLD | RXCSUM_TUOFLD);
        program(&r, false);
        assert_eq!(r.read32(RXCSUM), 1 << 13);
    }
}
