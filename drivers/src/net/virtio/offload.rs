//! The virtio-net header's offload fields (virtio 1.x, 5.1.6) and the mbuf's offload
//! flags: on receive, `DATA_VALID` / `NEEDS_CSUM` (with `VIRTIO_NET_F_GUEST_CSUM`) become
//! RX checksum flags; on transmit, an mbuf's L4 checksum and TSO requests become
//! `NEEDS_CSUM` with `csum_start`/`csum_offset` and a GSO type and size (with
//! `VIRTIO_NET_F_CSUM`, `HOST_TSO4/6`). The application puts the pseudo-header sum in the
//! L4 checksum field first, as for any DPDK device (for TSO without the length, which
//! this driver then adds, as Linux's TCP segmentation expects it).

use super::gso::{self, Recorded, TCP_CKSUM_OFF, UDP_CKSUM_OFF};
use eal::mbuf::{OlFlags, TxL4Cksum};
use eal::Mbuf;
use ethdev::cksum;

/// Header flag: the device (or driver) must complete the checksum from `csum_start`,
/// storing it at `csum_start + csum_offset`.
pub const HDR_F_NEEDS_CSUM: u8 = 1;
/// Header flag (receive): the frame's checksums were checked and are right.
pub const HDR_F_DATA_VALID: u8 = 2;
/// GSO type: none.
pub const GSO_NONE: u8 = 0;
/// GSO type: TCP over IPv4.
pub const GSO_TCPV4: u8 = 1;
/// GSO type: TCP over IPv6.
pub const GSO_TCPV6: u8 = 4;

/// The header fields this driver writes and reads (the first 10 bytes of the header; a
/// 12-byte header's `num_buffers` stays zero on transmit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetHdr {
    /// `HDR_F_*`.
    pub flags: u8,
    /// `GSO_*`.
    pub gso_type: u8,
    /// Bytes of headers (L2 to L4) of a GSO frame.
    pub hdr_len: u16,
    /// Payload bytes per segment of a GSO frame.
    pub gso_size: u16,
    /// Where checksumming starts.
    pub csum_start: u16,
    /// Where the result goes, from `csum_start`.
    pub csum_offset: u16,
}

impl NetHdr {
    /// The header as the device reads it (little-endian fields; also right for the legacy
    /// interface on x86).
    pub fn to_bytes(self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }

    /// Reads a header the device wrote; `None` when `b` is shorter than 10 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<NetHdr> {
        let b: &[u8; 10] = b.first_chunk()?;
        let w = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(NetHdr { flags: b[0], gso_type: b[1], hdr_len: w(2), gso_size: w(4), csum_start: w(6), csum_offset: w(8) })
    }
}

/// Where the checksum field of the L4 header asked for lies: `(csum_start, csum_offset)`,
/// or `None` when the packet asks for no L4 checksum.
#[inline(always)]
fn l4_field(f: OlFlags, l2: u16, l3: u16) -> Option<(u16, u16)> {
    let off = if f.contains(OlFlags::TX_TCP_SEG) {
        TCP_CKSUM_OFF
    } else {
        match f.tx_l4() {
            TxL4Cksum::Tcp => TCP_CKSUM_OFF,
            TxL4Cksum::Udp => UDP_CKSUM_OFF,
            TxL4Cksum::None | TxL4Cksum::Sctp => return None,
        }
    };
    Some((l2 + l3, off))
}

/// True when this driver can send `m` as it asks: no offload, or an L4 checksum / TSO
/// whose header lengths put the checksum field inside the first segment. An IPv4 header
/// checksum request is refused (virtio has none: compute it in software), as is SCTP.
#[inline(always)]
pub fn tx_ok(m: &Mbuf) -> bool {
    let f = m.ol_flags();
    if !f.intersects(OlFlags::TX_MASK.difference(OlFlags::TX_IPV4 | OlFlags::TX_IPV6)) {
        return true;
    }
    if f.intersects(OlFlags::TX_IP_CKSUM | OlFlags::TX_VLAN) || f.tx_l4() == TxL4Cksum::Sctp {
        return false;
    }
    let l = m.tx_offload();
    let Some((start, off)) = l4_field(f, u16::from(l.l2_len), l.l3_len) else { return true };
    if f.contains(OlFlags::TX_TCP_SEG) && (l.tso_segsz == 0 || l.l4_len == 0) {
        return false;
    }
    usize::from(start + off) + 2 <= usize::from(m.data_len())
}

/// The header for sending `m` (checked by [`tx_ok`] first). For TSO, adds the TCP length
/// to the pseudo-header sum the application left in the checksum field (DPDK leaves the
/// length out for TSO; Linux, which segments the frame, counts it in).
#[inline(always)]
pub fn tx_header(m: &mut Mbuf) -> NetHdr {
    let f = m.ol_flags();
    let l = m.tx_offload();
    let Some((start, off)) = l4_field(f, u16::from(l.l2_len), l.l3_len) else { return NetHdr::default() };
    let mut h = NetHdr { flags: HDR_F_NEEDS_CSUM, csum_start: start, csum_offset: off, ..NetHdr::default() };
    if f.contains(OlFlags::TX_TCP_SEG) {
        h.gso_type = if f.contains(OlFlags::TX_IPV6) { GSO_TCPV6 } else { GSO_TCPV4 };
        h.gso_size = l.tso_segsz;
        h.hdr_len = start + u16::from(l.l4_len);
        let l4_len = m.pkt_len().saturating_sub(u32::from(start));
        let at = usize::from(start + off);
        let d = m.data_mut();
        let old = u16::from_be_bytes([d[at], d[at + 1]]);
        let fixed = cksum::fold(u32::from(old) + l4_len);
        d[at..at + 2].copy_from_slice(&fixed.to_be_bytes());
    }
    h
}

/// Sets the RX checksum flags of `m` (its frame; the `hdr`-byte header just before it in
/// the headroom) from the header the device wrote: `DATA_VALID` is a good L4 checksum;
/// `NEEDS_CSUM` on TCP or UDP is DPDK's `L4_CKSUM_NONE` (data known intact, checksum field
/// holding only the pseudo-header sum); any other `NEEDS_CSUM` is completed here in
/// software and then reported good, so that no partial checksum leaves unflagged. A
/// TCP/UDP partial checksum and a large segment (GSO) are recorded for sending on
/// ([`gso::record`]); what was recorded is returned, [`Recorded::Bad`] for a header that
/// does not fit the frame (drop it).
#[inline(always)]
pub fn rx_flags(m: &mut Mbuf, hdr: u16) -> Recorded {
    let Some(h) = m.prepend(hdr).map(|b| NetHdr::from_bytes(b)) else { return Recorded::Nothing };
    m.adj(hdr);
    let Some(h) = h else { return Recorded::Nothing };
    let mut recorded = Recorded::Nothing;
    if h.flags & HDR_F_NEEDS_CSUM != 0 {
        let (start, off) = (usize::from(h.csum_start), usize::from(h.csum_offset));
        let in_frame = start + off + 2 <= usize::from(m.data_len());
        let flags = if in_frame && (h.csum_offset == TCP_CKSUM_OFF || h.csum_offset == UDP_CKSUM_OFF) {
            recorded = gso::record(m, &h);
            OlFlags::RX_L4_CKSUM_GOOD | OlFlags::RX_L4_CKSUM_BAD
        } else if h.gso_type == GSO_NONE && m.nb_segs() == 1 && cksum::complete_partial(m.data_mut(), start, off) {
            OlFlags::RX_L4_CKSUM_GOOD
        } else if h.gso_type != GSO_NONE {
            return Recorded::Bad;
        } else {
            OlFlags::RX_L4_CKSUM_BAD
        };
        m.set_ol_flags(m.ol_flags() | flags);
    } else if h.gso_type != GSO_NONE {
        return Recorded::Bad;
    } else if h.flags & HDR_F_DATA_VALID != 0 {
        m.set_ol_flags(m.ol_flags() | OlFlags::RX_L4_CKSUM_GOOD);
    }
    recorded
}

#[cfg(test)]
mod tests {
    use super::*;
    use eal::mbuf::{RxCksum, TxOffloadLens};
    use eal::{Memory, PktMbufPool};

    /// An Ethernet/IPv4/TCP frame with `payload` bytes, the TCP checksum field holding the
    /// pseudo-header sum (with or without the length, as for TSO).
    fn tcp_frame(pool: &PktMbufPool, payload: usize, tso: bool) -> Mbuf {
        let mut f = vec![0u8; 14 + 20 + 20 + payload];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + 20 + payload) as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
        ip[16..20].copy_from_slice(&[198, 18, 1, 2]);
        let c = cksum::ipv4_hdr_cksum(ip).unwrap();
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f[34 + 12] = 5 << 4;
        for (i, b) in f[54..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let ph = cksum::ipv4_phdr_sum(&f[14..34], tso).unwrap();
        f[50..52].copy_from_slice(&ph.to_be_bytes());
        let mut m = pool.alloc().unwrap();
        m.append(f.len() as u16).unwrap().copy_from_slice(&f);
        m.set_tx_offload(TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 20, tso_segsz: if tso { 800 } else { 0 } });
        m
    }

    fn pool() -> (Memory, PktMbufPool) {
        crate::net::common::test_mbuf::pool("vio_ol", 64)
    }

    #[test]
    fn tcp_checksum_request_becomes_needs_csum_that_completes_to_the_right_checksum() {
        let (_mem, pool) = pool();
        let mut m = tcp_frame(&pool, 100, false);
        m.set_ol_flags(OlFlags::TX_TCP_CKSUM | OlFlags::TX_IPV4);
        assert!(tx_ok(&m));
        let h = tx_header(&mut m);
        assert_eq!(h, NetHdr { flags: HDR_F_NEEDS_CSUM, csum_start: 34, csum_offset: 16, ..NetHdr::default() });
        // Complete it as the device does, then check it as a receiver does.
        let mut f = m.to_vec();
        assert!(cksum::complete_partial(&mut f, 34, 16));
        let ph = cksum::ipv4_phdr_sum(&f[14..34], false).unwrap();
        assert!(cksum::l4_cksum_ok(ph, &f[34..], 16, false));
    }

    #[test]
    fn tso_request_becomes_gso_with_the_length_added_to_the_pseudo_header() {
        let (_mem, pool) = pool();
        let mut m = tcp_frame(&pool, 1448, true);
        m.set_ol_flags(OlFlags::TX_TCP_SEG | OlFlags::TX_TCP_CKSUM | OlFlags::TX_IPV4);
        assert!(tx_ok(&m));
        let h = tx_header(&mut m);
        assert_eq!((h.gso_type, h.gso_size, h.hdr_len, h.csum_start, h.csum_offset), (GSO_TCPV4, 800, 54, 34, 16));
        let f = m.to_vec();
        let with_len = cksum::ipv4_phdr_sum(&f[14..34], false).unwrap();
        assert_eq!(u16::from_be_bytes([f[50], f[51]]), with_len, "Linux segments from the full pseudo-header");
        let b = h.to_bytes();
        assert_eq!(NetHdr::from_bytes(&b), Some(h));
    }

    #[test]
    fn requests_virtio_cannot_do_are_refused() {
        let (_mem, pool) = pool();
        let mut m = tcp_frame(&pool, 10, false);
        m.set_ol_flags(OlFlags::TX_IP_CKSUM | OlFlags::TX_IPV4);
        assert!(!tx_ok(&m), "virtio has no IPv4 header checksum");
        m.set_ol_flags(OlFlags::TX_TCP_CKSUM | OlFlags::TX_IPV4);
        m.set_tx_offload(TxOffloadLens { l2_len: 14, l3_len: 200, ..Default::default() });
        assert!(!tx_ok(&m), "a checksum field beyond the frame");
        m.set_ol_flags(OlFlags::empty());
        assert!(tx_ok(&m), "no offload");
        assert_eq!(tx_header(&mut m), NetHdr::default());
    }

    #[test]
    fn rx_header_flags_become_checksum_flags() {
        let (_mem, pool) = pool();
        let put = |m: &mut Mbuf, h: NetHdr| {
            m.prepend(12).unwrap()[..10].copy_from_slice(&h.to_bytes());
            m.adj(12);
        };
        let mut m = tcp_frame(&pool, 10, false);
        put(&mut m, NetHdr { flags: HDR_F_DATA_VALID, ..NetHdr::default() });
        rx_flags(&mut m, 12);
        assert_eq!(m.ol_flags().rx_l4_cksum(), RxCksum::Good);
        assert_eq!(m.data_len(), 64, "the frame is unchanged");

        let mut m = tcp_frame(&pool, 10, false);
        put(&mut m, NetHdr { flags: HDR_F_NEEDS_CSUM, csum_start: 34, csum_offset: 16, ..NetHdr::default() });
        rx_flags(&mut m, 12);
        assert_eq!(m.ol_flags().rx_l4_cksum(), RxCksum::None);

        let mut m = tcp_frame(&pool, 10, false);
        put(&mut m, NetHdr::default());
        rx_flags(&mut m, 12);
        assert_eq!(m.ol_flags().rx_l4_cksum(), RxCksum::Unknown, "no flag: not checked");

        // An unusual partial checksum is completed in software.
        let mut m = tcp_frame(&pool, 10, false);
        put(&mut m, NetHdr { flags: HDR_F_NEEDS_CSUM, csum_start: 34, csum_offset: 2, ..NetHdr::default() });
        rx_flags(&mut m, 12);
        assert_eq!(m.ol_flags().rx_l4_cksum(), RxCksum::Good);
        let f = m.to_vec();
        assert_eq!(cksum::fold(cksum::raw_sum(&f[34..], 0)), 0xffff);
    }
}
