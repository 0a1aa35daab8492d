//! The ixgbe driver's checksum, TSO and VLAN offloads against the 82599 model's offload
//! rules (`model::tx_offload`, `model::rx_offload`): packets flagged as DPDK's csum engine
//! flags them (pseudo-header sums seeded, IPv4 header checksum 0) leave as the datasheet
//! says the device sends them, checked here from their headers with ethdev's checksum
//! code; received frames get the RX checksum and VLAN flags.

use super::*;
use eal::mbuf::{OlFlags, RxCksum, TxOffloadLens};
use ethdev::cksum;
use ethdev::{RxOffloads, TxOffloads};

impl Rig {
    /// As [`Rig::start`] with offloads, recording them in the slot as ethdev's configure
    /// does.
    fn start_offloads(&self, rx: RxOffloads, tx: TxOffloads, pool: &PktMbufPool) {
        let info = self.ctl.info();
        assert!(info.rx_offload_capa.contains(rx) && info.tx_offload_capa.contains(tx), "advertised");
        let conf = PortConf { nb_rxq: 1, nb_txq: 1, rx_offloads: rx, tx_offloads: tx, ..PortConf::default() };
        self.ctl.configure(&conf).unwrap();
        self.slot.rx_offloads.store(rx.bits(), Ordering::Relaxed);
        self.slot.tx_offloads.store(tx.bits(), Ordering::Relaxed);
        self.slot.nb_rxq.store(1, Ordering::Relaxed);
        self.slot.nb_txq.store(1, Ordering::Relaxed);
        self.ctl.rx_queue_setup(0, 128, *pool).unwrap();
        self.slot.rxq_pool[0].store(pool.mempool().header_addr(), Ordering::Relaxed);
        self.ctl.tx_queue_setup(0, 128).unwrap();
        self.ctl.start().unwrap();
    }
}

const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

/// Ethernet / IPv4 (id 0x1234) / TCP (seq 1000, flags `tcp_flags`) or UDP with `payload`
/// bytes; checksums right when `sums`, else 0.
fn ipv4_frame(tcp: bool, tcp_flags: u8, payload: usize, sums: bool) -> Vec<u8> {
    let l4h = if tcp { 20 } else { 8 };
    let mut f = [&MAC[..], &SRC[..], &[0x08, 0x00]].concat();
    let total = (20 + l4h + payload) as u16;
    let proto = if tcp { 6 } else { 17 };
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x50]);
    if tcp {
        f.extend_from_slice(&1000u32.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 1, 0x50, tcp_flags, 0xff, 0xff, 0, 0, 0, 0]);
    } else {
        f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    f.extend((0..payload).map(|i| (i * 13 + 7) as u8));
    if sums {
        let s = cksum::ipv4_hdr_cksum(&f[14..34]).unwrap();
        f[24..26].copy_from_slice(&s.to_be_bytes());
        let phdr = cksum::ipv4_phdr_sum(&f[14..34], false).unwrap();
        let field = if tcp { 16 } else { 6 };
        let s = cksum::l4_cksum(phdr, &f[34..], field, !tcp).unwrap();
        f[34 + field..36 + field].copy_from_slice(&s.to_be_bytes());
    }
    f
}

/// `frame` in mbufs of at most `seg` bytes each, chained.
fn chained(pool: &PktMbufPool, frame: &[u8], seg: usize) -> Mbuf {
    let mut parts = frame.chunks(seg).map(|c| {
        let mut m = pool.alloc().unwrap();
        m.append(c.len() as u16).unwrap().copy_from_slice(c);
        m
    });
    let mut head = parts.next().unwrap();
    for m in parts {
        head.chain(m);
    }
    head
}

/// Seeds `frame` as a TX checksum offload wants it (the csum engine's `hw` path): IPv4
/// header checksum 0, the L4 field holding the pseudo-header sum (without the length
/// for TSO).
fn seed(frame: &mut [u8], tcp: bool, tso: bool) {
    frame[24..26].fill(0);
    let phdr = cksum::ipv4_phdr_sum(&frame[14..34], tso).unwrap();
    let at = 34 + if tcp { 16 } else { 6 };
    frame[at..at + 2].copy_from_slice(&phdr.to_be_bytes());
}

/// True when the IPv4 header at 14 and the TCP (or UDP) checksum of `f` are right.
fn sums_ok(f: &[u8], tcp: bool) -> bool {
    let ip = &f[14..34];
    let ip_ok = cksum::ipv4_hdr_cksum(ip) == Some(u16::from_be_bytes([ip[10], ip[11]]));
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let l4 = &f[34..14 + total];
    ip_ok && cksum::l4_cksum_ok(cksum::ipv4_phdr_sum(ip, false).unwrap(), l4, if tcp { 16 } else { 6 }, !tcp)
}

#[test]
fn tso_cuts_a_chained_packet_at_the_mss_with_headers_and_checksums_per_segment() {
    let f = need_fixture!();
    let r = rig(f);
    let pool = r.pool("tso");
    let tx = TxOffloads::IPV4_CKSUM | TxOffloads::TCP_CKSUM | TxOffloads::TCP_TSO | TxOffloads::MULTI_SEGS;
    r.start_offloads(RxOffloads::empty(), tx, &pool);
    // 2500 payload bytes, PSH|FIN|ACK, in mbufs of 1000 bytes: three segments of MSS 1000.
    let mut frame = ipv4_frame(true, 0x19, 2500, false);
    let original = frame.clone();
    seed(&mut frame, true, true);
    let mut m = chained(&pool, &frame, 1000);
    m.set_ol_flags(OlFlags::TX_IPV4 | OlFlags::TX_IP_CKSUM | OlFlags::TX_TCP_CKSUM | OlFlags::TX_TCP_SEG);
    m.set_tx_offload(TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 20, tso_segsz: 1000 });
    let mut bufs = vec![m];
    let port_tx = &r.data;
    assert_eq!(port_tx.tx_check(&bufs[0]), Ok(()), "tx_prepare's driver check passes");
    assert_eq!(port_tx.tx_burst(0, &mut bufs), 1);
    assert!(r.model.faults().is_empty(), "{:?}", r.model.faults());
    let out = r.model.take_tx();
    assert_eq!(out.iter().map(|t| t.data.len()).collect::<Vec<_>>(), vec![1054, 1054, 554], "MSS-sized segments");
    let mut payload = Vec::new();
    for (k, t) in out.iter().enumerate() {
        let s = &t.data;
        assert_eq!(s[..14], original[..14], "the Ethernet header in front of every segment");
        assert_eq!(u16::from_be_bytes([s[16], s[17]]) as usize, s.len() - 14, "IPv4 total length of segment {k}");
        assert_eq!(u16::from_be_bytes([s[18], s[19]]), 0x1234 + k as u16, "IP identification grows per segment");
        assert_eq!(u32::from_be_bytes([s[38], s[39], s[40], s[41]]), 1000 + 1000 * k as u32, "sequence number");
        let fin_psh = s[47] & 0x09;
        assert_eq!(fin_psh, if k == 2 { 0x09 } else { 0 }, "FIN and PSH only on the last segment");
        assert!(sums_ok(s, true), "segment {k}: IPv4 and TCP checksums filled by the device");
        payload.extend_from_slice(&s[54..]);
    }
    assert_eq!(payload, original[54..], "the payload, in order, once");
    assert_eq!(r.slot.counters.tx[0].packets.load(Ordering::Relaxed), 1);
    r.ctl.close();
}

#[test]
fn checksum_offloads_and_vlan_insertion_switch_contexts_per_packet() {
    let f = need_fixture!();
    let r = rig(f);
    let pool = r.pool("csum");
    let tx = TxOffloads::IPV4_CKSUM | TxOffloads::UDP_CKSUM | TxOffloads::TCP_CKSUM | TxOffloads::VLAN_INSERT;
    r.start_offloads(RxOffloads::empty(), tx, &pool);
    let mut bufs = Vec::new();
    // UDP with IP and UDP checksums; TCP with the TCP checksum only (IP checksum already
    // right); a plain frame with a VLAN tag; UDP again with the tag.
    let want_udp = ipv4_frame(false, 0, 300, true);
    let mut udp = want_udp.clone();
    seed(&mut udp, false, false);
    let mut m = chained(&pool, &udp, 2000);
    m.set_ol_flags(OlFlags::TX_IPV4 | OlFlags::TX_IP_CKSUM | OlFlags::TX_UDP_CKSUM);
    m.set_tx_offload(TxOffloadLens { l2_len: 14, l3_len: 20, ..Default::default() });
    bufs.push(m);
    let want_tcp = ipv4_frame(true, 0x10, 700, true);
    let mut tcp = want_tcp.clone();
    let phdr = cksum::ipv4_phdr_sum(&tcp[14..34], false).unwrap();
    tcp[50..52].copy_from_slice(&phdr.to_be_bytes());
    let mut m = chained(&pool, &tcp, 400);
    m.set_ol_flags(OlFlags::TX_IPV4 | OlFlags::TX_TCP_CKSUM);
    m.set_tx_offload(TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 20, ..Default::default() });
    bufs.push(m);
    let plain = ipv4_frame(false, 0, 50, true);
    let mut m = chained(&pool, &plain, 2000);
    m.set_ol_flags(OlFlags::TX_VLAN);
    m.set_vlan_tci(0x2064);
    bufs.push(m);
    let mut m = chained(&pool, &udp, 2000);
    m.set_ol_flags(OlFlags::TX_IPV4 | OlFlags::TX_IP_CKSUM | OlFlags::TX_UDP_CKSUM | OlFlags::TX_VLAN);
    m.set_tx_offload(TxOffloadLens { l2_len: 14, l3_len: 20, ..Default::default() });
    m.set_vlan_tci(7);
    bufs.push(m);
    assert_eq!(r.data.tx_burst(0, &mut bufs), 4);
    assert!(r.model.faults().is_empty(), "{:?}", r.model.faults());
    let out: Vec<Vec<u8>> = r.model.take_tx().into_iter().map(|t| t.data).collect();
    assert_eq!(out.len(), 4);
    assert_eq!(out[0], want_udp, "IPv4 and UDP checksums as software computes them");
    assert_eq!(out[1], want_tcp, "TCP checksum as software computes it");
    let tagged = |f: &[u8], tci: u16| [&f[..12], &[0x81, 0x00], &tci.to_be_bytes()[..], &f[12..]].concat();
    assert_eq!(out[2], tagged(&plain, 0x2064), "the tag inserted after the MAC addresses");
    assert_eq!(out[3], tagged(&want_udp, 7), "checksums and a tag from one context");
    r.ctl.close();
}

#[test]
fn rx_checksum_flags_and_vlan_stripping() {
    let f = need_fixture!();
    let r = rig(f);
    let pool = r.pool("rxoff");
    let rx = RxOffloads::IPV4_CKSUM | RxOffloads::TCP_CKSUM | RxOffloads::UDP_CKSUM | RxOffloads::VLAN_STRIP;
    r.start_offloads(rx, TxOffloads::empty(), &pool);
    assert_ne!(r.model.peek(regs::rxdctl(0)) & crate::net::ixgbe::offload::RXDCTL_VME, 0, "RXDCTL.VME");
    let good = ipv4_frame(true, 0x10, 100, true);
    let mut bad_ip = good.clone();
    bad_ip[22] ^= 1; // TTL changed, checksum not
    let mut bad_l4 = good.clone();
    bad_l4[60] ^= 0xff;
    let udp = ipv4_frame(false, 0, 64, true);
    let tagged = [&udp[..12], &[0x81, 0x00, 0x00, 0x2a], &udp[12..]].concat();
    for fr in [&good, &bad_ip, &bad_l4, &udp, &tagged] {
        r.model.deliver(fr).unwrap();
    }
    let mut got = Vec::new();
    assert_eq!(r.data.rx_burst(0, &mut got, 32), 5);
    let flags: Vec<(RxCksum, RxCksum)> =
        got.iter().map(|m| (m.ol_flags().rx_ip_cksum(), m.ol_flags().rx_l4_cksum())).collect();
    assert_eq!(
        flags,
        vec![
            (RxCksum::Good, RxCksum::Good),
            (RxCksum::Bad, RxCksum::Good),
            (RxCksum::Good, RxCksum::Bad),
            (RxCksum::Good, RxCksum::Good),
            (RxCksum::Good, RxCksum::Good),
        ]
    );
    let t = &got[4];
    assert!(t.ol_flags().contains(OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED));
    assert_eq!((t.vlan_tci(), t.data()), (0x2a, &udp[..]), "tag stripped into vlan_tci");
    assert!(!got[3].ol_flags().contains(OlFlags::RX_VLAN_STRIPPED));
    drop(got);
    // Stripping off at run time: the tag stays in the frame.
    r.ctl.vlan_strip(false).unwrap();
    r.model.deliver(&tagged).unwrap();
    let mut got = Vec::new();
    assert_eq!(r.data.rx_burst(0, &mut got, 32), 1);
    assert_eq!(got[0].data(), &tagged[..]);
    assert!(r.model.faults().is_empty(), "{:?}", r.model.faults());
    drop(got);
    r.ctl.close();
}

#[test]
fn model_refuses_offloads_without_a_context_and_a_wrong_tso_paylen() {
    use crate::net::ixgbe::model::tx_offload::{apply, PacketCmd, TxContext};
    let frame = ipv4_frame(true, 0x10, 100, false);
    let cmd = PacketCmd { txsm: true, ..PacketCmd::default() };
    let e = apply(frame.clone(), &cmd, frame.len(), None, 0x8100).unwrap_err();
    assert!(e.contains("never written"), "{e}");
    let c = TxContext { iplen: 20, maclen: 14, ipv4: true, l4t: 1, l4len: 20, mss: 50, ..TxContext::default() };
    let tso = PacketCmd { txsm: true, tse: true, ..PacketCmd::default() };
    let e = apply(frame.clone(), &tso, frame.len(), Some(&c), 0x8100).unwrap_err();
    assert!(e.contains("PAYLEN"), "{e}");
    assert_eq!(apply(frame.clone(), &tso, 100, Some(&c), 0x8100).unwrap().len(), 2, "100 bytes at MSS 50");
}
