//! TX checksum and TSO offloads on advanced rings: the advanced context descriptor and the
//! data descriptor bits that use it (82576 datasheet 7.2.2.2 "Advanced Transmit Context
//! Descriptor" and 7.2.2.3 "Advanced Transmit Data Descriptor").
//!
//! Context descriptor: word 0 = VLAN_MACIP_LENS (IPLEN 8:0, MACLEN 15:9, VLAN 31:16), then
//! a reserved dword; word 1 = TYPE_TUCMD_MLHL (TUCMD 19:9 with IPV4 at bit 10 and L4T at
//! 12:11, DTYP 0x2 at 23:20, DEXT at 29), then MSS_L4LEN_IDX (IDX 6:4, here 0; L4LEN 15:8;
//! MSS 31:16). A data descriptor of an offloaded packet carries POPTS (olinfo 13:8: IXSM,
//! TXSM), TSE in DCMD for TSO, and PAYLEN = the payload after the headers with TSO. The
//! device expects the L4 checksum field to hold the pseudo-header sum (without the length
//! for TSO) and the IPv4 checksum field 0, as DPDK's `rte_eth_tx_prepare` leaves them.
//!
//! The 82599 lays the context and data descriptors out the same way (its datasheet
//! 7.2.3.2.3/7.2.3.2.4); its data descriptors' CC bit (olinfo bit 7) matters only with TX
//! switching, which the ixgbe PMD does not turn on (see `crate::net::ixgbe::offload`).

use super::desc::{TxCmd, TXD_PAYLEN_MAX};
use crate::net::intel::tx_offload::{CtxLimits, Request, TxPlan};
use eal::mbuf::TxL4Cksum;
use eal::Mbuf;

/// DTYP of a context descriptor (bits 23:20 of word 1).
pub const TXD_DTYP_CTXT: u64 = 0x2 << 20;
/// TUCMD.IPV4: the packet is IPv4.
pub const TUCMD_IPV4: u64 = 1 << 10;
/// TUCMD.L4T = TCP (01 at bits 12:11; 00 is UDP).
pub const TUCMD_L4T_TCP: u64 = 1 << 11;
/// POPTS.IXSM in the olinfo dword, as a bit of word 1: insert the IPv4 checksum.
pub const POPTS_IXSM: u64 = 1 << (32 + 8);
/// POPTS.TXSM likewise: insert the TCP/UDP checksum.
pub const POPTS_TXSM: u64 = 1 << (32 + 9);

/// What the context fields hold: MACLEN 7 bits, IPLEN 9 bits, PAYLEN 18 bits; the TSO
/// header and MSS limits DPDK's igb PMD applies (512 and 9216 bytes).
pub const LIMITS: CtxLimits = CtxLimits {
    max_l2: 127,
    max_l3: 511,
    max_l4_off: u32::MAX,
    max_tso_hdr: 512,
    max_tso_payload: TXD_PAYLEN_MAX,
    max_mss: 9216,
};

/// The context and data descriptor bits of `m`'s requests; `None` when the fields cannot
/// hold its header lengths (see [`LIMITS`]) or it asks for what this PMD does not program
/// (SCTP). VLAN insertion: the tag in the context (VLAN, bits 31:16 of word 0), VLE in the
/// data descriptors.
pub fn plan(m: &Mbuf) -> Option<TxPlan> {
    let r = Request::of(m);
    if r.l4 == TxL4Cksum::Sctp {
        return None;
    }
    crate::net::intel::tx_offload::check(m, &LIMITS).ok()?;
    let mut word0 = 0u64;
    if r.cksum_or_tso() {
        word0 = u64::from(r.lens.l3_len) | (u64::from(r.lens.l2_len) << 9);
    }
    let mut data_bits = 0u64;
    if let Some(tci) = r.vlan {
        word0 |= u64::from(tci) << 16;
        data_bits |= u64::from(TxCmd::VLE.bits());
    }
    let mut tucmd = TXD_DTYP_CTXT | u64::from(TxCmd::DEXT.bits());
    if r.ipv4 {
        tucmd |= TUCMD_IPV4;
    }
    if r.l4 == TxL4Cksum::Tcp {
        tucmd |= TUCMD_L4T_TCP;
    }
    if r.ip_cksum {
        data_bits |= POPTS_IXSM;
    }
    if r.l4 != TxL4Cksum::None {
        data_bits |= POPTS_TXSM;
    }
    let mut paylen = m.pkt_len();
    let mut mss_l4len = 0u64;
    if r.tso {
        data_bits |= u64::from(TxCmd::TSE.bits());
        paylen -= r.hdr_len();
        mss_l4len = (u64::from(r.lens.l4_len) << 8) | (u64::from(r.lens.tso_segsz) << 16);
    }
    Some(TxPlan { ctx: Some([word0, tucmd | (mss_l4len << 32)]), data_bits, paylen })
}

#[cfg(test)]
mod tests {
    use super::super::desc::{tx_data_word, TxData};
    use super::*;
    use crate::net::common::test_mbuf::{self, pkt};
    use eal::mbuf::{OlFlags, TxOffloadLens};

    #[test]
    fn context_and_data_bits_follow_the_82576_layout() {
        let (_mem, pool) = test_mbuf::pool("adv_ctx", 16);
        let lens = TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 20, tso_segsz: 0 };
        let m = pkt(&pool, 100, OlFlags::TX_IPV4 | OlFlags::TX_IP_CKSUM | OlFlags::TX_TCP_CKSUM, lens);
        let p = plan(&m).unwrap();
        let ctx = p.ctx.unwrap();
        assert_eq!(ctx[0], 20 | (14 << 9), "IPLEN 20, MACLEN 14");
        assert_eq!(ctx[1] as u32, 0x2000_0000 | 0x0020_0000 | 0x400 | 0x800, "DEXT, DTYP ctxt, IPV4, L4T TCP");
        assert_eq!(ctx[1] >> 32, 0, "no MSS/L4LEN without TSO, IDX 0");
        assert_eq!(p.data_bits, POPTS_IXSM | POPTS_TXSM);
        assert_eq!(p.paylen, 100);
        // What a data descriptor of that packet then says.
        let w = tx_data_word(100, TxCmd::EOP | TxCmd::RS, p.paylen) | p.data_bits;
        assert_eq!((w >> 40) & 0x3f, 0b11, "POPTS IXSM|TXSM");
        assert_eq!(TxData::decode(0, w).paylen, 100);

        let u = pkt(&pool, 90, OlFlags::TX_IPV6 | OlFlags::TX_UDP_CKSUM, TxOffloadLens { l3_len: 40, ..lens });
        let p = plan(&u).unwrap();
        assert_eq!(p.ctx.unwrap()[1] as u32 & 0x1c00, 0, "IPv6 UDP: neither IPV4 nor L4T TCP");
        assert_eq!(p.data_bits, POPTS_TXSM);

        let f = OlFlags::TX_IPV4 | OlFlags::TX_IP_CKSUM | OlFlags::TX_TCP_CKSUM | OlFlags::TX_TCP_SEG;
        let t = pkt(&pool, 1514, f, TxOffloadLens { l4_len: 32, tso_segsz: 800, ..lens });
        let p = plan(&t).unwrap();
        assert_eq!(p.ctx.unwrap()[1] >> 32, (32 << 8) | (800 << 16), "L4LEN 32, MSS 800");
        assert_eq!(p.paylen, 1514 - 66, "PAYLEN: the payload after the headers");
        let w = tx_data_word(1514, TxCmd::EOP, p.paylen) | p.data_bits;
        assert!(TxData::decode(0, w).dcmd.contains(TxCmd::TSE | TxCmd::DEXT));

        let mut v = pkt(&pool, 100, OlFlags::TX_VLAN, lens);
        v.set_vlan_tci(0x0064);
        let p = plan(&v).unwrap();
        assert_eq!(p.ctx.unwrap()[0], 0x0064 << 16, "VLAN alone: the tag, no header lengths");
        assert_eq!(p.data_bits, u64::from(TxCmd::VLE.bits()));
        let wide = pkt(&pool, 200, OlFlags::TX_IPV4 | OlFlags::TX_IP_CKSUM, TxOffloadLens { l2_len: 130, ..lens });
        assert_eq!(plan(&wide), None, "MACLEN holds 7 bits");
        let e = crate::net::intel::tx_offload::check(&wide, &LIMITS).unwrap_err();
        assert!(e.to_string().contains("L2 header (l2_len) of 130 bytes: the device takes at most 127"), "{e}");
    }
}
