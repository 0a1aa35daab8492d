//! IPv4 forwarding of one frame: header checks (RFC 1812), TTL decrement with the checksum
//! updated, and Ethernet addresses rewritten for the output port.

/// Why a frame is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Not an IPv4 frame (other EtherType, or too short).
    NotIpv4,
    /// Bad IPv4 header: version, length or checksum.
    BadHeader,
    /// TTL would reach 0.
    TtlExpired,
    /// No route, or a route to a port that is not forwarding.
    NoRoute,
}

/// Offset of the IPv4 header.
pub const L3: usize = 14;

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
        return Err(Drop::NotIpv4);
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

/// The 5-tuple (dst, src, dst port, src port, proto); ports are 0 unless TCP or UDP.
pub fn five_tuple(f: &[u8], ihl: usize) -> (u32, u32, u16, u16, u8) {
    let src = u32::from_be_bytes([f[L3 + 12], f[L3 + 13], f[L3 + 14], f[L3 + 15]]);
    let proto = f[L3 + 9];
    let l4 = L3 + ihl;
    let (sp, dp) = if (proto == 6 || proto == 17) && f.len() >= l4 + 4 {
        (u16::from_be_bytes([f[l4], f[l4 + 1]]), u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]))
    } else {
        (0, 0)
    };
    (dst(f), src, dp, sp, proto)
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
        assert_eq!(check_ipv4(&f), Err(Drop::NotIpv4));
        assert_eq!(check_ipv4(&f[..20]), Err(Drop::NotIpv4));
        assert_eq!(five_tuple(&frame(1, 2, 64), 20), (2, 1, 9, 9, 17));
    }
}
