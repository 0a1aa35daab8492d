//! The `csum` forwarding engine, as DPDK testpmd's: each received packet's Ethernet (with
//! up to two VLAN tags), IPv4/IPv6 and TCP/UDP headers are parsed, the header lengths set,
//! and its IP and L4 checksums either left to the TX port (`csum set ip|tcp|udp hw P`,
//! with the pseudo-header sum written first, as the device expects) or computed here
//! (`sw`, the default). `tso set N P` asks port P to segment TCP packets whose payload is
//! longer than N bytes. The RX checksum flags the receiving port set are counted: bad IP
//! and L4 checksums, as DPDK prints them, and good / not-checked L4 checksums beside.

use eal::mbuf::{OlFlags, RxCksum, TxOffloadLens};
use eal::Mbuf;
use ethdev::cksum;

const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_VLAN: u16 = 0x8100;
const ETH_P_QINQ: u16 = 0x88a8;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Where a checksum of one kind is computed for packets a port sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsumWhere {
    /// By testpmd, in software.
    #[default]
    Sw,
    /// By the TX port (an offload flag on the mbuf).
    Hw,
}

/// The csum engine's settings of one TX port (`csum set`, `tso set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CsumConf {
    /// IPv4 header checksum.
    pub ip: CsumWhere,
    /// TCP checksum.
    pub tcp: CsumWhere,
    /// UDP checksum.
    pub udp: CsumWhere,
    /// TSO segment size (0: off).
    pub tso_segsz: u16,
    /// The port computes IPv4 header checksums (IPV4_CKSUM configured): TSO'd IPv4
    /// packets then ask for it whatever `ip` says, as DPDK's testpmd does, since the device
    /// rewrites every segment's IP header. Set by `tso set`.
    pub tso_ip_hw: bool,
    /// The VLAN tag the port inserts into every packet it sends (`tx_vlan set P VID`,
    /// needs VLAN_INSERT configured), none after `tx_vlan reset P`.
    pub tx_vlan: Option<u16>,
}

/// What the csum engine counted on one stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsumCounts {
    /// Packets the receiving port flagged with a bad IPv4 header checksum.
    pub rx_bad_ip: u64,
    /// Packets the receiving port flagged with a bad L4 checksum.
    pub rx_bad_l4: u64,
    /// Packets the receiving port flagged with a good L4 checksum.
    pub rx_good_l4: u64,
    /// Packets flagged as intact with a partial L4 checksum (DPDK's `L4_CKSUM_NONE`).
    pub rx_none_l4: u64,
    /// TCP/UDP packets whose L4 checksum was not checked by the receiving port.
    pub rx_unknown_l4: u64,
    /// Packets sent with TSO asked for.
    pub tx_tso: u64,
    /// Packets whose VLAN tag the receiving port stripped.
    pub rx_vlan_stripped: u64,
    /// Packets the TX port's `tx_prepare` refused (dropped, [`crate::tx_prep`]).
    pub tx_refused: u64,
    /// Why the last of them was refused.
    pub tx_refused_reason: Option<ethdev::TxReject>,
}

impl CsumCounts {
    /// Adds `o` to these counts.
    pub fn add(&mut self, o: &CsumCounts) {
        self.rx_bad_ip += o.rx_bad_ip;
        self.rx_bad_l4 += o.rx_bad_l4;
        self.rx_good_l4 += o.rx_good_l4;
        self.rx_none_l4 += o.rx_none_l4;
        self.rx_unknown_l4 += o.rx_unknown_l4;
        self.tx_tso += o.tx_tso;
        self.rx_vlan_stripped += o.rx_vlan_stripped;
        self.tx_refused += o.tx_refused;
        if o.tx_refused_reason.is_some() {
            self.tx_refused_reason.clone_from(&o.tx_refused_reason);
        }
    }
}

/// The layers of a parsed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers {
    /// Ethernet header bytes, VLAN tags included.
    pub l2_len: u8,
    /// IP header bytes.
    pub l3_len: u16,
    /// L4 header bytes (0 when neither TCP nor UDP).
    pub l4_len: u8,
    /// IPv4 (else IPv6).
    pub ipv4: bool,
    /// The L4 protocol number.
    pub proto: u8,
    /// Bytes of IP header and payload, from the IP header's length field.
    pub ip_total: u16,
}

/// Parses Ethernet / VLAN / IPv4 or IPv6 / TCP or UDP at the start of `f`; `None` for a
/// packet that is not IP, an IP fragment, an IPv6 packet with extension headers, or one
/// shorter than its headers say.
pub fn parse(f: &[u8]) -> Option<Headers> {
    let mut l2 = 14usize;
    let mut ety = u16::from_be_bytes([*f.get(12)?, *f.get(13)?]);
    for _ in 0..2 {
        if ety != ETH_P_VLAN && ety != ETH_P_QINQ {
            break;
        }
        ety = u16::from_be_bytes([*f.get(l2 + 2)?, *f.get(l2 + 3)?]);
        l2 += 4;
    }
    let ip = f.get(l2..)?;
    let (l3, proto, ip_total, ipv4) = match ety {
        ETH_P_IPV4 => {
            let ihl = usize::from(*ip.first()? & 0x0f) * 4;
            let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x3fff;
            if ihl < 20 || ip.len() < ihl || frag != 0 {
                return None;
            }
            (ihl, ip[9], u16::from_be_bytes([ip[2], ip[3]]), true)
        }
        ETH_P_IPV6 => {
            if ip.len() < 40 {
                return None;
            }
            (40, ip[6], u16::from_be_bytes([ip[4], ip[5]]).checked_add(40)?, false)
        }
        _ => return None,
    };
    if usize::from(ip_total) > ip.len() || usize::from(ip_total) < l3 {
        return None;
    }
    let l4 = &ip[l3..usize::from(ip_total)];
    let l4_len = match proto {
        IPPROTO_TCP => {
            let off = usize::from(*l4.get(12)? >> 4) * 4;
            if off < 20 || l4.len() < off {
                return None;
            }
            off as u8
        }
        IPPROTO_UDP if l4.len() >= 8 => 8,
        IPPROTO_UDP => return None,
        _ => 0,
    };
    Some(Headers { l2_len: l2 as u8, l3_len: l3 as u16, l4_len, ipv4, proto, ip_total })
}

/// Counts the RX checksum flags of `m` into `c`.
fn count_rx(m: &Mbuf, h: Option<&Headers>, c: &mut CsumCounts) {
    let f = m.ol_flags();
    if f.rx_ip_cksum() == RxCksum::Bad {
        c.rx_bad_ip += 1;
    }
    match f.rx_l4_cksum() {
        RxCksum::Bad => c.rx_bad_l4 += 1,
        RxCksum::Good => c.rx_good_l4 += 1,
        RxCksum::None => c.rx_none_l4 += 1,
        RxCksum::Unknown if h.is_some_and(|h| h.l4_len > 0) => c.rx_unknown_l4 += 1,
        RxCksum::Unknown => {}
    }
}

/// Prepares one packet for sending by a port with settings `conf`: header lengths, TX
/// offload flags, pseudo-header sums or software checksums. A packet that is not IP over
/// one segment goes out as it came (its RX flags cleared).
pub fn prepare(m: &mut Mbuf, conf: &CsumConf, c: &mut CsumCounts) {
    prepare_l3l4(m, conf, c);
    if let Some(tci) = conf.tx_vlan {
        m.set_vlan_tci(tci);
        m.set_ol_flags(m.ol_flags() | OlFlags::TX_VLAN);
    }
}

/// [`prepare`] without the VLAN tag.
fn prepare_l3l4(m: &mut Mbuf, conf: &CsumConf, c: &mut CsumCounts) {
    let h = if m.nb_segs() == 1 { parse(m.data()) } else { None };
    count_rx(m, h.as_ref(), c);
    if m.ol_flags().contains(OlFlags::RX_VLAN_STRIPPED) {
        c.rx_vlan_stripped += 1;
    }
    m.set_ol_flags(OlFlags::empty());
    let Some(h) = h else { return };
    let (l2, l3, l4) = (usize::from(h.l2_len), usize::from(h.l3_len), usize::from(h.l4_len));
    // Ethernet padding past the IP packet would enter a device's L4 sum: cut it off.
    let end = l2 + usize::from(h.ip_total);
    if usize::from(m.data_len()) > end {
        m.trim(m.data_len() - end as u16);
    }
    let mut flags = if h.ipv4 { OlFlags::TX_IPV4 } else { OlFlags::TX_IPV6 };
    let payload = usize::from(h.ip_total) - l3 - l4;
    let tso = h.proto == IPPROTO_TCP && conf.tso_segsz > 0 && payload > usize::from(conf.tso_segsz);
    let d = m.data_mut();
    if h.ipv4 {
        if conf.ip == CsumWhere::Hw || (tso && conf.tso_ip_hw) {
            flags |= OlFlags::TX_IP_CKSUM;
            d[l2 + 10..l2 + 12].fill(0);
        } else if let Some(s) = cksum::ipv4_hdr_cksum(&d[l2..l2 + l3]) {
            d[l2 + 10..l2 + 12].copy_from_slice(&s.to_be_bytes());
        }
    }
    let (field, udp, hw) = match h.proto {
        IPPROTO_TCP => (16, false, conf.tcp == CsumWhere::Hw || tso),
        IPPROTO_UDP => (6, true, conf.udp == CsumWhere::Hw),
        _ => {
            m.set_ol_flags(flags);
            m.set_tx_offload(TxOffloadLens { l2_len: h.l2_len, l3_len: h.l3_len, ..Default::default() });
            return;
        }
    };
    let ip = &d[l2..l2 + l3];
    let phdr = |tso: bool| {
        if h.ipv4 {
            cksum::ipv4_phdr_sum(ip, tso)
        } else {
            cksum::ipv6_phdr_sum(ip, h.proto, tso)
        }
    };
    let at = l2 + l3 + field;
    if hw {
        let Some(sum) = phdr(tso) else { return };
        d[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        flags |= if udp { OlFlags::TX_UDP_CKSUM } else { OlFlags::TX_TCP_CKSUM };
        if tso {
            flags |= OlFlags::TX_TCP_SEG;
            c.tx_tso += 1;
        }
    } else {
        let Some(sum) = phdr(false) else { return };
        if let Some(v) = cksum::l4_cksum(sum, &d[l2 + l3..end], field, udp) {
            d[at..at + 2].copy_from_slice(&v.to_be_bytes());
        }
    }
    m.set_ol_flags(flags);
    let tso_segsz = if tso { conf.tso_segsz } else { 0 };
    m.set_tx_offload(TxOffloadLens { l2_len: h.l2_len, l3_len: h.l3_len, l4_len: h.l4_len, tso_segsz });
}

#[cfg(test)]
mod tests {
    use super::*;
    use eal::{Memory, PktMbufPool};

    /// Ethernet (with `vlans` tags) / IPv4 or IPv6 / TCP or UDP with `payload` bytes and
    /// right checksums.
    fn frame(vlans: usize, v6: bool, tcp: bool, payload: usize) -> Vec<u8> {
        let l4h = if tcp { 20 } else { 8 };
        let l3 = if v6 { 40 } else { 20 };
        let mut f = vec![0u8; 12];
        for _ in 0..vlans {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        f.extend_from_slice(&(if v6 { ETH_P_IPV6 } else { ETH_P_IPV4 }).to_be_bytes());
        let l2 = f.len();
        f.resize(l2 + l3 + l4h + payload, 0);
        let ip = &mut f[l2..l2 + l3];
        let proto = if tcp { IPPROTO_TCP } else { IPPROTO_UDP };
        if v6 {
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&((l4h + payload) as u16).to_be_bytes());
            ip[6] = proto;
            ip[7] = 64;
            ip[8] = 0xfd;
            ip[24] = 0xfd;
            ip[39] = 2;
        } else {
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&((l3 + l4h + payload) as u16).to_be_bytes());
            ip[8] = 64;
            ip[9] = proto;
            ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
            ip[16..20].copy_from_slice(&[198, 18, 1, 2]);
        }
        if tcp {
            f[l2 + l3 + 12] = 5 << 4;
        } else {
            f[l2 + l3 + 4..l2 + l3 + 6].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
        }
        for (i, b) in f[l2 + l3 + l4h..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        f
    }

    fn mbuf(pool: &PktMbufPool, f: &[u8]) -> Mbuf {
        let mut m = pool.alloc().unwrap();
        m.append(f.len() as u16).unwrap().copy_from_slice(f);
        m
    }

    /// True when every checksum of the (IPv4 or IPv6) frame `f` is right.
    fn checksums_right(f: &[u8]) -> bool {
        let h = parse(f).unwrap();
        let (l2, l3) = (usize::from(h.l2_len), usize::from(h.l3_len));
        let ip = &f[l2..l2 + l3];
        if h.ipv4 && cksum::fold(cksum::raw_sum(ip, 0)) != 0xffff {
            return false;
        }
        let ph = if h.ipv4 { cksum::ipv4_phdr_sum(ip, false) } else { cksum::ipv6_phdr_sum(ip, h.proto, false) };
        let off = if h.proto == IPPROTO_TCP { 16 } else { 6 };
        cksum::l4_cksum_ok(ph.unwrap(), &f[l2 + l3..l2 + usize::from(h.ip_total)], off, h.proto == IPPROTO_UDP)
    }

    fn pool() -> (Memory, PktMbufPool) {
        let mem = Memory::anonymous(8 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "csum_t", 64, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        (mem, pool)
    }

    #[test]
    fn headers_are_found_through_vlan_tags_and_both_ip_versions() {
        let h = parse(&frame(0, false, true, 10)).unwrap();
        assert_eq!((h.l2_len, h.l3_len, h.l4_len, h.ipv4, h.proto), (14, 20, 20, true, 6));
        let h = parse(&frame(2, true, false, 10)).unwrap();
        assert_eq!((h.l2_len, h.l3_len, h.l4_len, h.ipv4, h.proto), (22, 40, 8, false, 17));
        assert_eq!(parse(&frame(1, false, true, 10)[..40]), None, "truncated");
        let mut arp = frame(0, false, true, 10);
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(parse(&arp), None);
    }

    #[test]
    fn software_checksums_are_right_for_every_kind() {
        let (_mem, pool) = pool();
        let conf = CsumConf::default();
        for (vl, v6, tcp) in [(0, false, true), (1, false, false), (0, true, true), (2, true, false)] {
            let mut m = mbuf(&pool, &frame(vl, v6, tcp, 333));
            let mut c = CsumCounts::default();
            prepare(&mut m, &conf, &mut c);
            assert!(checksums_right(m.data()), "vlans {vl} v6 {v6} tcp {tcp}");
            assert_eq!(m.ol_flags().tx_l4(), eal::mbuf::TxL4Cksum::None, "software: no TX request");
            assert_eq!(c.rx_unknown_l4, 1);
        }
    }

    #[test]
    fn hardware_checksums_leave_the_pseudo_header_and_the_flags() {
        let (_mem, pool) = pool();
        let conf = CsumConf {
            ip: CsumWhere::Hw,
            tcp: CsumWhere::Hw,
            udp: CsumWhere::Hw,
            tso_segsz: 0,
            tso_ip_hw: false,
            tx_vlan: None,
        };
        let f = frame(0, false, true, 100);
        let mut m = mbuf(&pool, &f);
        let mut c = CsumCounts::default();
        prepare(&mut m, &conf, &mut c);
        let fl = m.ol_flags();
        assert!(fl.contains(OlFlags::TX_IP_CKSUM | OlFlags::TX_IPV4 | OlFlags::TX_TCP_CKSUM));
        assert_eq!(m.tx_offload(), TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 20, tso_segsz: 0 });
        let mut d = m.to_vec();
        assert_eq!(u16::from_be_bytes([d[50], d[51]]), cksum::ipv4_phdr_sum(&d[14..34], false).unwrap());
        // What the device does: both checksums then verify.
        let ipc = cksum::ipv4_hdr_cksum(&d[14..34]).unwrap();
        d[24..26].copy_from_slice(&ipc.to_be_bytes());
        assert!(cksum::complete_partial(&mut d, 34, 16));
        assert!(checksums_right(&d));
    }

    #[test]
    fn tso_only_for_tcp_payloads_longer_than_the_segment_size() {
        let (_mem, pool) = pool();
        let conf = CsumConf { tso_segsz: 800, ..CsumConf::default() };
        let mut c = CsumCounts::default();
        let mut big = mbuf(&pool, &frame(0, false, true, 1448));
        prepare(&mut big, &conf, &mut c);
        assert!(big.ol_flags().contains(OlFlags::TX_TCP_SEG | OlFlags::TX_TCP_CKSUM));
        assert_eq!(big.tx_offload().tso_segsz, 800);
        let d = big.to_vec();
        assert_eq!(u16::from_be_bytes([d[50], d[51]]), cksum::ipv4_phdr_sum(&d[14..34], true).unwrap());
        let mut small = mbuf(&pool, &frame(0, false, true, 700));
        prepare(&mut small, &conf, &mut c);
        assert!(!small.ol_flags().contains(OlFlags::TX_TCP_SEG));
        assert!(checksums_right(small.data()), "no TSO: software checksum");
        assert_eq!(c.tx_tso, 1);
        assert!(!big.ol_flags().contains(OlFlags::TX_IP_CKSUM), "the port has no IPv4 checksum: the device's own");
        let conf = CsumConf { tso_ip_hw: true, ..conf };
        let mut big = mbuf(&pool, &frame(0, false, true, 1448));
        prepare(&mut big, &conf, &mut c);
        assert!(big.ol_flags().contains(OlFlags::TX_IP_CKSUM), "TSO'd IPv4 asks for the IP checksum");
        assert_eq!(&big.data()[24..26], &[0, 0], "and leaves the field 0 for the device");
        let mut small = mbuf(&pool, &frame(0, false, true, 700));
        prepare(&mut small, &conf, &mut c);
        assert!(!small.ol_flags().contains(OlFlags::TX_IP_CKSUM), "not TSO'd: ip sw as set");
    }

    #[test]
    fn the_tx_vlan_tag_is_asked_for_and_stripped_tags_counted() {
        let (_mem, pool) = pool();
        let conf = CsumConf { tx_vlan: Some(100), ..CsumConf::default() };
        let mut c = CsumCounts::default();
        for f in [frame(0, false, true, 10), vec![0xff; 60]] {
            let mut m = mbuf(&pool, &f);
            m.set_ol_flags(OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED);
            prepare(&mut m, &conf, &mut c);
            assert!(m.ol_flags().contains(OlFlags::TX_VLAN), "IP or not, the tag goes on");
            assert_eq!(m.vlan_tci(), 100);
        }
        assert_eq!(c.rx_vlan_stripped, 2);
        let mut m = mbuf(&pool, &frame(0, false, true, 10));
        prepare(&mut m, &CsumConf::default(), &mut c);
        assert!(!m.ol_flags().contains(OlFlags::TX_VLAN));
    }

    #[test]
    fn rx_flags_are_counted_and_padding_is_cut() {
        let (_mem, pool) = pool();
        let mut c = CsumCounts::default();
        let mut f = frame(0, false, true, 1);
        f.extend_from_slice(&[0xaa; 5]);
        let mut m = mbuf(&pool, &f);
        m.set_ol_flags(OlFlags::RX_IP_CKSUM_BAD | OlFlags::RX_L4_CKSUM_BAD);
        prepare(&mut m, &CsumConf::default(), &mut c);
        assert_eq!((c.rx_bad_ip, c.rx_bad_l4), (1, 1));
        assert_eq!(m.data_len(), 55, "the non-zero padding is gone");
        assert!(checksums_right(m.data()));
        let mut m = mbuf(&pool, &frame(0, false, false, 1));
        m.set_ol_flags(OlFlags::RX_L4_CKSUM_GOOD | OlFlags::RX_L4_CKSUM_BAD);
        prepare(&mut m, &CsumConf::default(), &mut c);
        assert_eq!(c.rx_none_l4, 1);
    }
}
