//! The 82599 model's RX offload rules (Intel 82599 datasheet 331520): VLAN stripping per
//! queue with RXDCTL.VME (8.2.3.8.6), the tag's ethertype from VLNCTRL.VET (8.2.3.7.2,
//! 0x8100 from reset), and the receive checksum checks reported in the advanced
//! write-back (7.1.11; 7.1.6.2: status VP bit 3, UDPCS bit 4, L4I bit 5, IPCS bit 6;
//! extended errors TCPE bit 30, IPE bit 31): the IPv4 header checksum of every IPv4 frame,
//! and the TCP/UDP checksum of every unfragmented TCP/UDP packet over IPv4 or IPv6 without
//! extension headers (a UDP checksum of 0 over IPv4 means none, and passes).

use super::tx_offload::ones_sum;

/// VLNCTRL: VLAN control (VET, bits 15:0).
pub const VLNCTRL: usize = 0x05088;
/// Status VP: a VLAN tag was stripped into the write-back.
pub const STAT_VP: u32 = 1 << 3;
/// Status UDPCS: the L4 checksum checked was UDP's.
pub const STAT_UDPCS: u32 = 1 << 4;
/// Status L4I: the TCP/UDP checksum was checked.
pub const STAT_L4I: u32 = 1 << 5;
/// Status IPCS: the IPv4 header checksum was checked.
pub const STAT_IPCS: u32 = 1 << 6;
/// Error TCPE: the TCP/UDP checksum is wrong.
pub const ERR_TCPE: u32 = 1 << 30;
/// Error IPE: the IPv4 header checksum is wrong.
pub const ERR_IPE: u32 = 1 << 31;

/// `frame` without its 802.1Q tag (ethertype `vet` at bytes 12..14) and the tag, or None
/// when it carries none.
pub fn strip(frame: &[u8], vet: u16) -> Option<(Vec<u8>, u16)> {
    if frame.len() < 18 || u16::from_be_bytes([frame[12], frame[13]]) != vet {
        return None;
    }
    let tci = u16::from_be_bytes([frame[14], frame[15]]);
    Some(([&frame[..12], &frame[16..]].concat(), tci))
}

/// The checksum status and error bits of a received frame (as stored, its tag stripped
/// or not).
pub fn cksum_bits(frame: &[u8], vet: u16) -> u32 {
    let mut l3 = 14;
    if frame.len() >= 18 && u16::from_be_bytes([frame[12], frame[13]]) == vet {
        l3 = 18;
    }
    if frame.len() < l3 + 20 {
        return 0;
    }
    let ety = u16::from_be_bytes([frame[l3 - 2], frame[l3 - 1]]);
    let ip = &frame[l3..];
    let (proto, l4, phdr) = match ety {
        0x0800 => {
            let ihl = usize::from(ip[0] & 0xf) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            if ihl < 20 || ip.len() < ihl || total < ihl || total > ip.len() {
                return 0;
            }
            let mut bits = STAT_IPCS;
            if ones_sum(&ip[..ihl], 0) != 0xffff {
                bits |= ERR_IPE;
            }
            if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
                return bits;
            }
            let l4 = &ip[ihl..total];
            let phdr = ones_sum(&ip[12..20], u32::from(ip[9]) + l4.len() as u32);
            return bits | l4_bits(ip[9], l4, phdr, true);
        }
        0x86dd if ip.len() >= 40 => {
            let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            if 40 + plen > ip.len() {
                return 0;
            }
            let l4 = &ip[40..40 + plen];
            (ip[6], l4, ones_sum(&ip[8..40], u32::from(ip[6]) + plen as u32))
        }
        _ => return 0,
    };
    l4_bits(proto, l4, phdr, false)
}

/// L4I (and UDPCS) for a TCP or UDP packet `l4` with pseudo-header sum `phdr`, TCPE when
/// its checksum is wrong.
fn l4_bits(proto: u8, l4: &[u8], phdr: u32, v4: bool) -> u32 {
    let (min, udp) = match proto {
        6 => (20, false),
        17 => (8, true),
        _ => return 0,
    };
    if l4.len() < min {
        return 0;
    }
    let mut bits = STAT_L4I | if udp { STAT_UDPCS } else { 0 };
    let none = udp && v4 && l4[6] == 0 && l4[7] == 0;
    if !none && ones_sum(l4, phdr) != 0xffff {
        bits |= ERR_TCPE;
    }
    bits
}
