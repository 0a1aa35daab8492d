//! Forwarding of one frame: IPv4 header checks (RFC 1812) and TTL decrement with the checksum
//! updated, IPv6 header checks and hop-limit decrement (RFC 8200), and Ethernet addresses
//! rewritten for the output port.

/// Why a frame is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Neither IPv4 nor IPv6 (other EtherType, or too short).
    NotIp,
    /// Bad IP header: version, length or (IPv4) checksum.
    BadHeader,
    /// TTL or hop limit would reach 0.
    TtlExpired,
    /// No route, or a route to a port that is not forwarding.
    NoRoute,
}

/// Offset of the IP header.
pub const L3: usize = 14;
/// Length of the IPv6 header.
pub const IPV6_HDR: usize = 40;

/// The network layer of a frame that passed its header checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ip {
    /// IPv4 with a header of this many bytes.
    V4(usize),
    /// IPv6.
    V6,
}

/// Checks the IPv4 or IPv6 header of `f`, by its EtherType.
pub fn check(f: &[u8]) -> Result<Ip, Drop> {
    match f.get(12..14) {
        Some([0x08, 0x00]) => check_ipv4(f).map(Ip::V4),
        Some([0x86, 0xdd]) => check_ipv6(f).map(|()| Ip::V6),
        _ => Err(Drop::NotIp),
    }
}

/// Validates the IPv6 header of `f`: version 6 and a payload length the frame holds.
pub fn check_ipv6(f: &[u8]) -> Result<(), Drop> {
    if f.len() < L3 + IPV6_HDR || f[12..14] != [0x86, 0xdd] {
        return Err(Drop::NotIp);
    }
    let payload = usize::from(u16::from_be_bytes([f[L3 + 4], f[L3 + 5]]));
    if f[L3] >> 4 != 6 || f.len() < L3 + IPV6_HDR + payload {
        return Err(Drop::BadHeader);
    }
    Ok(())
}

/// IPv6 destination address.
pub fn dst6(f: &[u8]) -> u128 {
    u128::from_be_bytes(f[L3 + 24..L3 + 40].try_into().expect("16 bytes"))
}

/// The IPv6 5-tuple as the EM key: dst, src, dst port, src port, next header; ports are 0
/// unless the next header is TCP or UDP.
pub fn em_key6(f: &[u8]) -> [u8; crate::routes::EM6_KEY_LEN] {
    let proto = f[L3 + 6];
    let l4 = L3 + IPV6_HDR;
    let (sp, dp) = l4_ports(f, proto, l4);
    crate::routes::em_key(&f[L3 + 24..L3 + 40], &f[L3 + 8..L3 + 24], dp, sp, proto)
}

/// (source, destination) ports of a TCP or UDP header at `l4`, else (0, 0).
fn l4_ports(f: &[u8], proto: u8, l4: usize) -> (u16, u16) {
    if (proto == 6 || proto == 17) && f.len() >= l4 + 4 {
        (u16::from_be_bytes([f[l4], f[l4 + 1]]), u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]))
    } else {
        (0, 0)
    }
}

/// Decrements the IPv6 hop limit (dropping at expiry), then writes the Ethernet addresses.
pub fn rewrite6(f: &mut [u8], dmac: [u8; 6], smac: [u8; 6]) -> Result<(), Drop> {
    let hops = f[L3 + 7];
    if hops <= 1 {
        return Err(Drop::TtlExpired);
    }
    f[L3 + 7] = hops - 1;
    f[0..6].copy_from_slice(&dmac);
    f[6..12].copy_from_slice(&smac);
    Ok(())
}

/// Internet checksum of `b` (folded, complemented).
pub fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Validates the IPv4 header of `f` and returns its length.
pub fn check_ipv4(f: &[u8]) -> Result<usize, Drop> {
    if f.len() < L3 + 20 || f[12..14] != [0x08, 0x00] {
        return Err(Drop::NotIp);
    }
    let ihl = usize::from(f[L3] & 0x0f) * 4;
    if f[L3] >> 4 != 4 || ihl < 20 || f.len() < L3 + ihl {
        return Err(Drop::BadHeader);
    }
    let total = usize::from(u16::from_be_bytes([f[L3 + 2], f[L3 + 3]]));
    if total < ihl {
        return Err(Drop::BadHeader);
    }
    if checksum(&f[L3..L3 + ihl]) != 0 {
        return Err(Drop::BadHeader);
    }
    Ok(ihl)
}

/// Destination address.
pub fn dst(f: &[u8]) -> u32 {
    u32::from_be_bytes([f[L3 + 16], f[L3 + 17], f[L3 + 18], f[L3 + 19]])
}

/// The IPv4 5-tuple as the EM key (dst, src, dst port, src port, proto); ports are 0
/// unless TCP or UDP.
pub fn em_key4(f: &[u8], ihl: usize) -> [u8; crate::routes::EM_KEY_LEN] {
    let proto = f[L3 + 9];
    let (sp, dp) = l4_ports(f, proto, L3 + ihl);
    crate::routes::em_key(&f[L3 + 16..L3 + 20], &f[L3 + 12..L3 + 16], dp, sp, proto)
}

/// Decrements the TTL (dropping at expiry) and updates the checksum incrementally
/// (RFC 1624), then writes the Ethernet addresses.
pub fn rewrite(f: &mut [u8], dmac: [u8; 6], smac: [u8; 6]) -> Result<(), Drop> {
    let ttl = f[L3 + 8];
    if ttl <= 1 {
        return Err(Drop::TtlExpired);
    }
    f[L3 + 8] = ttl - 1;
    // TTL is the high byte of its 16-bit word: the sum drops by 0x0100, so the checksum
    // (its complement) grows by 0x0100, with end-around carry.
    let c = u32::from(u16::from_be_bytes([f[L3 + 10], f[L3 + 11]])) + 0x0100;
    let c = ((c & 0xffff) + (c >> 16)) as u16;
    f[L3 + 10..L3 + 12].copy_from_slice(&c.to_be_bytes());
    f[0..6].copy_from_slice(&dmac);
    f[6..12].copy_from_slice(&smac);
    Ok(())
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A UDP frame to `dst` with `ttl` and a correct header checksum.
    pub fn frame(src: u32, dst: u32, ttl: u8) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[L3] = 0x45;
        f[L3 + 2..L3 + 4].copy_from_slice(&46u16.to_be_bytes());
        f[L3 + 8] = ttl;
        f[L3 + 9] = 17;
        f[L3 + 12..L3 + 16].copy_from_slice(&src.to_be_bytes());
        f[L3 + 16..L3 + 20].copy_from_slice(&dst.to_be_bytes());
        f[34..36].copy_from_slice(&9u16.to_be_bytes());
        f[36..38].copy_from_slice(&9u16.to_be_bytes());
        let c = checksum(&f[L3..L3 + 20]);
        f[L3 + 10..L3 + 12].copy_from_slice(&c.to_be_bytes());
        f
    }

    #[test]
    fn ttl_and_checksum() {
        for ttl in [2u8, 64, 255] {
            for dst in [0xC612_0100u32, 0xFFFF_FFFF, 0, 0x0102_0304] {
                let mut f = frame(0xC612_0001, dst, ttl);
                assert_eq!(check_ipv4(&f), Ok(20));
                rewrite(&mut f, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 9]).unwrap();
                assert_eq!(f[L3 + 8], ttl - 1);
                assert_eq!(check_ipv4(&f), Ok(20), "checksum right after the update (ttl {ttl}, dst {dst:#x})");
                assert_eq!(f[..6], [2, 0, 0, 0, 0, 1]);
            }
        }
        let mut f = frame(1, 2, 1);
        assert_eq!(rewrite(&mut f, [0; 6], [0; 6]), Err(Drop::TtlExpired));
        let mut f = frame(1, 2, 64);
        f[L3 + 10] ^= 1;
        assert_eq!(check_ipv4(&f), Err(Drop::BadHeader));
        let mut f = frame(1, 2, 64);
        f[12] = 0x86;
        assert_eq!(check_ipv4(&f), Err(Drop::NotIp));
        assert_eq!(check_ipv4(&f[..20]), Err(Drop::NotIp));
        assert_eq!(em_key4(&frame(1, 2, 64), 20), [0, 0, 0, 2, 0, 0, 0, 1, 0, 9, 0, 9, 17]);
    }

    /// A UDP over IPv6 frame to `dst` with `hops`.
    pub fn frame6(src: u128, dst: u128, hops: u8) -> Vec<u8> {
        let mut f = vec![0u8; L3 + IPV6_HDR + 8];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[L3] = 0x60;
        f[L3 + 4..L3 + 6].copy_from_slice(&8u16.to_be_bytes());
        f[L3 + 6] = 17;
        f[L3 + 7] = hops;
        f[L3 + 8..L3 + 24].copy_from_slice(&src.to_be_bytes());
        f[L3 + 24..L3 + 40].copy_from_slice(&dst.to_be_bytes());
        f[L3 + 40..L3 + 42].copy_from_slice(&7u16.to_be_bytes());
        f[L3 + 42..L3 + 44].copy_from_slice(&9u16.to_be_bytes());
        f
    }

    #[test]
    fn hop_limit() {
        let mut f = frame6(1, 0x2001_0200 << 96, 64);
        assert_eq!(check(&f), Ok(Ip::V6));
        assert_eq!(dst6(&f), 0x2001_0200 << 96);
        rewrite6(&mut f, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 9]).unwrap();
        assert_eq!((f[L3 + 7], &f[..6]), (63, &[2, 0, 0, 0, 0, 1][..]));
        let k = em_key6(&f);
        assert_eq!((k[15], k[31], &k[32..]), (0, 1, &[0, 9, 0, 7, 17][..]));
        assert_eq!(rewrite6(&mut frame6(1, 2, 1), [0; 6], [0; 6]), Err(Drop::TtlExpired));
        let mut f = frame6(1, 2, 64);
        f[L3 + 5] = 9; // payload longer than the frame
        assert_eq!(check(&f), Err(Drop::BadHeader));
        let mut f = frame6(1, 2, 64);
        f[L3] = 0x40;
        assert_eq!(check(&f), Err(Drop::BadHeader));
        assert_eq!(check(&frame6(1, 2, 64)[..50]), Err(Drop::NotIp));
        assert_eq!(check(&frame(1, 2, 64)), Ok(Ip::V4(20)));
    }
}
