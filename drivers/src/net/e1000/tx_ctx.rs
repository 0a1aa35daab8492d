//! TX checksum and TSO offloads on legacy rings: the TCP/IP context descriptor and the
//! extended data descriptors that use it (82540EM/82574L datasheets, "TCP/IP Context
//! Transmit Descriptor" and "TCP/IP Data Descriptor").
//!
//! Context descriptor: word 0 = IPCSS (bits 7:0, where the IP checksum starts), IPCSO
//! (15:8, where it goes), IPCSE (31:16, its last byte; 0 = to the end), TUCSS (39:32),
//! TUCSO (47:40), TUCSE (63:48) likewise for TCP/UDP; word 1 = PAYLEN (19:0, TSO: the
//! payload after the headers), DTYP 0000 (23:20), TUCMD (31:24: TCP, IP, TSE, DEXT), STA
//! (35:32), HDRLEN (47:40), MSS (63:48). An extended data descriptor has DTYP 0001 and
//! DEXT, TSE in DCMD for a TSO packet, and POPTS (47:40) IXSM/TXSM saying which checksums
//! to insert. The device expects the L4 checksum field to hold the pseudo-header sum
//! (without the length for TSO) and the IPv4 checksum field 0, as DPDK's
//! `rte_eth_tx_prepare` leaves them. VLAN insertion is VLE in DCMD with the tag in the
//! special field (bits 63:48), on any data descriptor, with CTRL.VME on.

use super::desc::{CtxCmd, Popts, TxCmd, TXD_DTYP_DATA};
use crate::net::intel::tx_offload::{CtxLimits, Request, TxPlan};
use eal::mbuf::TxL4Cksum;
use eal::Mbuf;

/// What the one-byte offsets, HDRLEN and the 20-bit PAYLEN hold.
pub const LIMITS: CtxLimits = CtxLimits {
    max_l2: 255,
    max_l3: 255,
    max_l4_off: 255,
    max_tso_hdr: 255,
    max_tso_payload: (1 << 20) - 1,
    max_mss: u16::MAX as u32,
};

/// The context and data descriptor bits of `m`'s requests; `None` when the fields cannot
/// hold its header lengths (see [`LIMITS`]) or it asks for what the format has no bit for
/// (SCTP).
pub fn plan(m: &Mbuf) -> Option<TxPlan> {
    let r = Request::of(m);
    if r.l4 == TxL4Cksum::Sctp {
        return None;
    }
    crate::net::intel::tx_offload::check(m, &LIMITS).ok()?;
    let vlan_bits = match r.vlan {
        Some(tci) => (u64::from(TxCmd::VLE.bits()) << 24) | (u64::from(tci) << 48),
        None => 0,
    };
    if !r.cksum_or_tso() {
        // VLAN insertion alone: a plain descriptor does it, no context.
        return Some(TxPlan { ctx: None, data_bits: vlan_bits, paylen: m.pkt_len() });
    }
    let l2 = u64::from(r.lens.l2_len);
    let l3_end = l2 + u64::from(r.lens.l3_len);
    let mut popts = Popts::empty();
    let mut word0 = 0u64;
    if r.ip_cksum || r.tso {
        // IPCSS, IPCSO (the IPv4 checksum field is 10 bytes in), IPCSE (inclusive).
        word0 |= l2 | ((l2 + 10) << 8) | ((l3_end - 1) << 16);
        if r.ip_cksum {
            popts |= Popts::IXSM;
        }
    }
    if r.l4 != TxL4Cksum::None {
        // TUCSS, TUCSO, TUCSE 0 (to the end of the packet).
        word0 |= (l3_end << 32) | (u64::from(r.l4_cksum_at()) << 40);
        popts |= Popts::TXSM;
    }
    let mut tucmd = CtxCmd::DEXT;
    if r.l4 == TxL4Cksum::Tcp {
        tucmd |= CtxCmd::TCP;
    }
    if r.ipv4 {
        tucmd |= CtxCmd::IP;
    }
    let mut dcmd = TxCmd::DEXT;
    let mut word1 = 0u64;
    if r.tso {
        tucmd |= CtxCmd::TSE;
        dcmd |= TxCmd::TSE;
        let hdr = r.hdr_len();
        word1 |= u64::from(m.pkt_len() - hdr) | (u64::from(hdr) << 40) | (u64::from(r.lens.tso_segsz) << 48);
    }
    word1 |= u64::from(tucmd.bits()) << 24;
    let data_bits = TXD_DTYP_DATA | (u64::from(dcmd.bits()) << 24) | (u64::from(popts.bits()) << 40) | vlan_bits;
    Some(TxPlan { ctx: Some([word0, word1]), data_bits, paylen: m.pkt_len() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::common::test_mbuf::{self, pkt};
    use crate::net::intel::tx_offload::check;
    use eal::mbuf::{OlFlags, TxOffloadLens};
    use eal::{Memory, PktMbufPool};

    fn pool() -> (Memory, PktMbufPool) {
        test_mbuf::pool("e1k_ctx", 16)
    }

    #[test]
    fn checksum_context_has_the_offsets_and_data_descriptors_the_popts() {
        let (_mem, pool) = pool();
        let lens = TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 20, tso_segsz: 0 };
        let m = pkt(&pool, 100, OlFlags::TX_IPV4 | OlFlags::TX_IP_CKSUM | OlFlags::TX_TCP_CKSUM, lens);
        let p = plan(&m).unwrap();
        let ctx = p.ctx.unwrap();
        let b = ctx[0].to_le_bytes();
        // IPCSS 14, IPCSO 24, IPCSE 33; TUCSS 34, TUCSO 50, TUCSE 0.
        assert_eq!(b, [14, 24, 33, 0, 34, 50, 0, 0]);
        let w1 = ctx[1].to_le_bytes();
        assert_eq!(w1[3], 0x20 | 0x02 | 0x01, "TUCMD DEXT|IP|TCP, no TSE");
        assert_eq!(&w1[0..3], &[0, 0, 0], "PAYLEN 0 and DTYP 0 (context) without TSO");
        assert_eq!(p.data_bits, (1 << 20) | (0x20 << 24) | (0x03 << 40), "DTYP 1, DEXT, POPTS IXSM|TXSM");
        assert_eq!(p.paylen, 100);
        // UDP over IPv6: TXSM only, TUCSO at the UDP checksum, no IP checksum.
        let lens6 = TxOffloadLens { l2_len: 18, l3_len: 40, l4_len: 8, tso_segsz: 0 };
        let u = pkt(&pool, 100, OlFlags::TX_IPV6 | OlFlags::TX_UDP_CKSUM, lens6);
        let p = plan(&u).unwrap();
        let ctx = p.ctx.unwrap();
        assert_eq!(ctx[0].to_le_bytes(), [0, 0, 0, 0, 58, 64, 0, 0]);
        assert_eq!(ctx[1].to_le_bytes()[3], 0x20, "UDP over IPv6: neither TCP nor IP");
        assert_eq!(p.data_bits >> 40, 0x02);
    }

    #[test]
    fn tso_context_carries_payload_header_and_mss() {
        let (_mem, pool) = pool();
        let lens = TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 32, tso_segsz: 800 };
        let f = OlFlags::TX_IPV4 | OlFlags::TX_IP_CKSUM | OlFlags::TX_TCP_CKSUM | OlFlags::TX_TCP_SEG;
        let m = pkt(&pool, 1514, f, lens);
        let p = plan(&m).unwrap();
        let w1 = p.ctx.unwrap()[1];
        assert_eq!(w1 & 0xf_ffff, 1514 - 66, "PAYLEN: after the headers");
        assert_eq!((w1 >> 24) as u8, 0x20 | 0x04 | 0x02 | 0x01, "TUCMD DEXT|TSE|IP|TCP");
        assert_eq!((w1 >> 40) as u8, 66, "HDRLEN");
        assert_eq!((w1 >> 48) as u16, 800, "MSS");
        assert_eq!((p.data_bits >> 24) as u8, 0x20 | 0x04, "data: DEXT|TSE");
    }

    #[test]
    fn what_the_fields_cannot_hold_is_refused_with_the_reason() {
        let (_mem, pool) = pool();
        let f = OlFlags::TX_IPV4 | OlFlags::TX_TCP_CKSUM | OlFlags::TX_TCP_SEG;
        let lens = TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 20, tso_segsz: 800 };
        let no_ip = pkt(&pool, 1514, f, lens);
        assert_eq!(check(&no_ip, &LIMITS), Err(ethdev::TxReject::TsoNeedsIpCksum), "IPv4 TSO rewrites the IP header");
        assert_eq!(plan(&no_ip), None);
        let f = f | OlFlags::TX_IP_CKSUM;
        let long = pkt(&pool, 1514, f, TxOffloadLens { l3_len: 200, l4_len: 60, ..lens });
        let e = check(&long, &LIMITS).unwrap_err();
        assert!(e.to_string().contains("TSO header (l2_len + l3_len + l4_len) of 274 bytes"), "{e}");
        assert_eq!(plan(&long), None);
        let mut vlan = pkt(&pool, 100, OlFlags::TX_VLAN, TxOffloadLens::default());
        vlan.set_vlan_tci(0x2064);
        let p = plan(&vlan).unwrap();
        assert_eq!(p.ctx, None, "VLAN insertion alone needs no context");
        assert_eq!(p.data_bits, (0x40 << 24) | (0x2064 << 48), "VLE and the tag in the special field");
        let plain = pkt(&pool, 100, OlFlags::TX_IPV4, TxOffloadLens::default());
        assert_eq!(check(&plain, &LIMITS), Ok(()), "no request, nothing to check");
    }
}
