//! Frames that keep a partial checksum from one virtio port to another, large TCP segments
//! (`VIRTIO_NET_F_GUEST_TSO4/6`) included.
//!
//! On receive, a frame whose header says `NEEDS_CSUM` (its sender's stack left the TCP or
//! UDP checksum to be completed) gets what is needed to send it on: the header lengths
//! (`l2_len`, `l3_len`, `l4_len`), the packet type's L3 and L4 fields, and for a large
//! segment (`gso_type` TCPV4/TCPV6) `OlFlags::RX_LRO` with the sender's segment size in
//! `tso_segsz` (as DPDK's virtio PMD sets `RTE_MBUF_F_RX_LRO` and `tso_segsz`).
//!
//! On transmit, such a frame that asks for no offload of its own is sent as it came: with
//! `NEEDS_CSUM` (and, for a large segment, the GSO type and size) when the port has
//! `VIRTIO_NET_F_CSUM` (and `HOST_TSO4/6`), so that io forwarding between two virtio ports
//! moves 64 KiB segments without cutting them; without `CSUM` the checksum is completed
//! here (one-segment frames). A large segment the port cannot send whole is refused. DPDK
//! sends such frames with the partial checksum left in them, which the receiver drops.

use super::net::Features;
use super::offload::{NetHdr, GSO_NONE, GSO_TCPV4, GSO_TCPV6, HDR_F_NEEDS_CSUM};
use eal::mbuf::{OlFlags, PacketType, RxCksum, TxOffloadLens};
use eal::Mbuf;
use ethdev::cksum;

/// Offset of the TCP checksum field in the TCP header.
pub const TCP_CKSUM_OFF: u16 = 16;
/// Offset of the UDP checksum field in the UDP header.
pub const UDP_CKSUM_OFF: u16 = 6;
/// GSO type bit: the segments carry ECN (`VIRTIO_NET_HDR_GSO_ECN`).
const GSO_ECN: u8 = 0x80;

/// What [`record`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A frame with a partial TCP or UDP checksum.
    Partial,
    /// A large TCP segment (flagged `RX_LRO`).
    Large,
    /// Nothing to record: the header asks for no checksum.
    Nothing,
    /// The header does not fit the frame (bad lengths, an unknown GSO type, a GSO frame
    /// that is not TCP): the frame must be dropped.
    Bad,
}

/// Bytes of the Ethernet header of `f` (with one VLAN tag, if any), or `None` when too short.
fn l2_len(f: &[u8]) -> Option<u16> {
    match u16::from_be_bytes([*f.get(12)?, *f.get(13)?]) {
        0x8100 | 0x88a8 => Some(18),
        _ => Some(14),
    }
}

/// Records in `m` (its first segment holding the headers) what header `h` says; see the
/// module documentation. The caller has checked that `h` asks for `NEEDS_CSUM` at a TCP
/// or UDP checksum field inside the first segment.
pub fn record(m: &mut Mbuf, h: &NetHdr) -> Recorded {
    if h.flags & HDR_F_NEEDS_CSUM == 0 {
        return if h.gso_type == GSO_NONE { Recorded::Nothing } else { Recorded::Bad };
    }
    let f = m.data();
    let Some(l2) = l2_len(f) else { return Recorded::Bad };
    let start = h.csum_start;
    if start < l2 + 20 || usize::from(start) + 20 > f.len() {
        return Recorded::Bad;
    }
    let l3 = start - l2;
    let ip6 = f[usize::from(l2)] >> 4 == 6;
    let tcp = h.csum_offset == TCP_CKSUM_OFF;
    let l4 = if tcp { u16::from(f[usize::from(start) + 12] >> 4) * 4 } else { 8 };
    let l3_type = if ip6 { PacketType::L3_IPV6_EXT_UNKNOWN } else { PacketType::L3_IPV4_EXT_UNKNOWN };
    let l4_type = if tcp { PacketType::L4_TCP } else { PacketType::L4_UDP };
    let gso = h.gso_type & !GSO_ECN;
    let large = gso != GSO_NONE;
    if large && (!tcp || h.gso_size == 0 || !(gso == GSO_TCPV4 || gso == GSO_TCPV6) || l4 < 20) {
        return Recorded::Bad;
    }
    m.set_packet_type(PacketType::L2_ETHER | l3_type | l4_type);
    m.set_tx_offload(TxOffloadLens {
        l2_len: l2 as u8,
        l3_len: l3,
        l4_len: l4 as u8,
        tso_segsz: if large { h.gso_size } else { 0 },
    });
    if large {
        m.set_ol_flags(m.ol_flags() | OlFlags::RX_LRO);
        Recorded::Large
    } else {
        Recorded::Partial
    }
}

/// True when `m` carries a partial checksum recorded by [`record`] and asks for no TX
/// offload itself: [`tx_header`] must be used to send it.
#[inline(always)]
pub fn is_forwarded_partial(m: &Mbuf) -> bool {
    let f = m.ol_flags();
    f.rx_l4_cksum() == RxCksum::None
        && !f.intersects(OlFlags::TX_MASK)
        && m.tx_offload().l3_len != 0
        && matches!(m.packet_type().bits() & PacketType::L4_MASK, 0x100 | 0x200)
}

/// Why a forwarded frame cannot be sent on this port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A large segment, but the port has no `HOST_TSO4/6` for its IP version.
    NoTso,
    /// A partial checksum in a chained frame on a port without `CSUM`.
    ChainWithoutCsum,
    /// The recorded lengths do not fit the frame.
    BadLengths,
}

/// The header for sending `m` (a frame for which [`is_forwarded_partial`] holds) on a
/// port using `features`; completes the checksum here when the port has no `CSUM`.
/// `Ok((header, large))`, `large` when it goes out as a large segment.
pub fn tx_header(m: &mut Mbuf, features: Features) -> Result<(NetHdr, bool), Refused> {
    let l = m.tx_offload();
    let start = u16::from(l.l2_len) + l.l3_len;
    let tcp = m.packet_type().bits() & PacketType::L4_MASK == PacketType::L4_TCP.bits();
    let off = if tcp { TCP_CKSUM_OFF } else { UDP_CKSUM_OFF };
    if usize::from(start + off) + 2 > usize::from(m.data_len()) {
        return Err(Refused::BadLengths);
    }
    let hdr_len = start + u16::from(l.l4_len);
    let large = m.ol_flags().contains(OlFlags::RX_LRO)
        && l.tso_segsz != 0
        && m.pkt_len() > u32::from(hdr_len) + u32::from(l.tso_segsz);
    if large {
        let ip6 = m.packet_type().bits() & PacketType::L3_MASK == PacketType::L3_IPV6_EXT_UNKNOWN.bits();
        let (need, gso_type) = if ip6 { (Features::HOST_TSO6, GSO_TCPV6) } else { (Features::HOST_TSO4, GSO_TCPV4) };
        if !features.contains(need | Features::CSUM) {
            return Err(Refused::NoTso);
        }
        let h = NetHdr {
            flags: HDR_F_NEEDS_CSUM,
            gso_type,
            hdr_len,
            gso_size: l.tso_segsz,
            csum_start: start,
            csum_offset: off,
        };
        return Ok((h, true));
    }
    if features.contains(Features::CSUM) {
        return Ok((
            NetHdr { flags: HDR_F_NEEDS_CSUM, csum_start: start, csum_offset: off, ..NetHdr::default() },
            false,
        ));
    }
    if m.nb_segs() != 1 {
        return Err(Refused::ChainWithoutCsum);
    }
    if !cksum::complete_partial(m.data_mut(), usize::from(start), usize::from(off)) {
        return Err(Refused::BadLengths);
    }
    Ok((NetHdr::default(), false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eal::{Memory, PktMbufPool};

    /// An Ethernet/IPv4/TCP frame of `payload` bytes whose TCP checksum field holds the
    /// pseudo-header sum with the length (as Linux leaves a partial checksum).
    fn partial_frame(pool: &PktMbufPool, payload: usize) -> Mbuf {
        let mut f = vec![0u8; 14 + 20 + 32 + payload];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + 32 + payload) as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
        ip[16..20].copy_from_slice(&[198, 18, 0, 2]);
        let c = cksum::ipv4_hdr_cksum(ip).unwrap();
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f[34 + 12] = 8 << 4;
        for (i, b) in f[66..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        let ph = cksum::ipv4_phdr_sum(&f[14..34], false).unwrap();
        f[50..52].copy_from_slice(&ph.to_be_bytes());
        let mut m = pool.alloc().unwrap();
        m.append(f.len() as u16).unwrap().copy_from_slice(&f);
        m
    }

    fn pool() -> (Memory, PktMbufPool) {
        crate::net::common::test_mbuf::pool("vio_gso", 64)
    }

    fn partial_hdr(gso_type: u8, gso_size: u16) -> NetHdr {
        NetHdr { flags: HDR_F_NEEDS_CSUM, gso_type, hdr_len: 66, gso_size, csum_start: 34, csum_offset: 16 }
    }

    #[test]
    fn a_large_segment_is_flagged_lro_and_goes_out_whole_with_tso() {
        let (_mem, pool) = pool();
        let mut m = partial_frame(&pool, 1800);
        m.set_ol_flags(OlFlags::RX_L4_CKSUM_GOOD | OlFlags::RX_L4_CKSUM_BAD);
        assert_eq!(record(&mut m, &partial_hdr(GSO_TCPV4 | GSO_ECN, 1448)), Recorded::Large);
        assert!(m.ol_flags().contains(OlFlags::RX_LRO));
        assert_eq!(m.tx_offload(), TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 32, tso_segsz: 1448 });
        assert!(is_forwarded_partial(&m));
        let before = m.to_vec();
        let tso = Features::CSUM | Features::HOST_TSO4;
        let (h, large) = tx_header(&mut m, tso).unwrap();
        assert!(large);
        assert_eq!(
            h,
            NetHdr {
                flags: HDR_F_NEEDS_CSUM,
                gso_type: GSO_TCPV4,
                hdr_len: 66,
                gso_size: 1448,
                csum_start: 34,
                csum_offset: 16
            }
        );
        assert_eq!(m.to_vec(), before, "the frame goes out untouched: the device segments it");
        assert_eq!(tx_header(&mut m, Features::CSUM | Features::HOST_TSO6), Err(Refused::NoTso));
    }

    #[test]
    fn a_partial_checksum_is_passed_on_or_completed_when_the_port_has_no_csum() {
        let (_mem, pool) = pool();
        let mut m = partial_frame(&pool, 100);
        m.set_ol_flags(OlFlags::RX_L4_CKSUM_GOOD | OlFlags::RX_L4_CKSUM_BAD);
        assert_eq!(record(&mut m, &partial_hdr(GSO_NONE, 0)), Recorded::Partial);
        assert!(!m.ol_flags().contains(OlFlags::RX_LRO));
        let (h, large) = tx_header(&mut m, Features::CSUM).unwrap();
        assert!(!large);
        assert_eq!((h.flags, h.gso_type, h.csum_start, h.csum_offset), (HDR_F_NEEDS_CSUM, GSO_NONE, 34, 16));
        let (h, _) = tx_header(&mut m, Features::empty()).unwrap();
        assert_eq!(h, NetHdr::default());
        let f = m.to_vec();
        let ph = cksum::ipv4_phdr_sum(&f[14..34], false).unwrap();
        assert!(cksum::l4_cksum_ok(ph, &f[34..], 16, false), "completed in software");
    }

    #[test]
    fn headers_that_do_not_fit_the_frame_are_refused() {
        let (_mem, pool) = pool();
        let mut m = partial_frame(&pool, 10);
        assert_eq!(record(&mut m, &NetHdr { csum_start: 4000, ..partial_hdr(GSO_NONE, 0) }), Recorded::Bad);
        assert_eq!(record(&mut m, &partial_hdr(3, 1448)), Recorded::Bad, "UDP fragmentation offload is not taken");
        assert_eq!(record(&mut m, &partial_hdr(GSO_TCPV4, 0)), Recorded::Bad, "no segment size");
        assert_eq!(record(&mut m, &NetHdr { gso_type: GSO_TCPV4, ..NetHdr::default() }), Recorded::Bad);
        assert_eq!(record(&mut m, &NetHdr::default()), Recorded::Nothing);
        assert!(!is_forwarded_partial(&m), "nothing was recorded");
    }
}
