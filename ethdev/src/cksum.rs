//! Internet checksums of packet headers (RFC 1071, as DPDK's `rte_ip.h`): the IPv4 header
//! checksum, the TCP/UDP pseudo-header sums a device needs before it completes an L4
//! checksum on transmit, and whole L4 checksums computed in software. Every function reads
//! header bytes in network order and never panics on short input (a short header gives
//! `None`).

/// Adds the 16-bit big-endian words of `data` (an odd last byte padded with zero) to `sum`.
pub fn raw_sum(data: &[u8], mut sum: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        if sum >= 0x8000_0000 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let [b] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*b) << 8);
    }
    sum
}

/// Folds a 32-bit sum into 16 bits (one's complement addition of the halves).
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The IPv4 header checksum of `ip` (its checksum field counted as zero): the value to
/// store in bytes 10..12. `None` when `ip` is shorter than its IHL says.
pub fn ipv4_hdr_cksum(ip: &[u8]) -> Option<u16> {
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ihl < 20 || ip.len() < ihl {
        return None;
    }
    let sum = raw_sum(&ip[..10], 0);
    let sum = raw_sum(&ip[12..ihl], sum);
    Some(!fold(sum))
}

/// The IPv4 pseudo-header sum (addresses, protocol, L4 length), folded, not inverted: what
/// a device completing the L4 checksum expects in the checksum field (DPDK's
/// `rte_ipv4_phdr_cksum`). With `tso` the length is left out, as DPDK does for TSO (each
/// segment gets its own length).
pub fn ipv4_phdr_sum(ip: &[u8], tso: bool) -> Option<u16> {
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ihl < 20 || ip.len() < 20 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let l4_len = if tso { 0 } else { total.checked_sub(ihl)? as u32 };
    let sum = raw_sum(&ip[12..20], 0) + u32::from(ip[9]) + l4_len;
    Some(fold(sum))
}

/// The IPv6 pseudo-header sum (addresses, L4 length, next header), folded, not inverted
/// (DPDK's `rte_ipv6_phdr_cksum`); `next` is the L4 protocol. With `tso` the length is
/// left out.
pub fn ipv6_phdr_sum(ip6: &[u8], next: u8, tso: bool) -> Option<u16> {
    if ip6.len() < 40 {
        return None;
    }
    let l4_len = if tso { 0 } else { u32::from(u16::from_be_bytes([ip6[4], ip6[5]])) };
    let sum = raw_sum(&ip6[8..40], 0) + u32::from(next) + l4_len;
    Some(fold(sum))
}

/// The full checksum of the L4 segment `l4` (header with its checksum field at
/// `cksum_off` counted as zero, and payload) over the pseudo-header sum `phdr` computed
/// with the length: the value to store in the checksum field. A UDP result of 0 is sent as
/// 0xffff (RFC 768), so `udp` makes that substitution.
pub fn l4_cksum(phdr: u16, l4: &[u8], cksum_off: usize, udp: bool) -> Option<u16> {
    if l4.len() < cksum_off + 2 {
        return None;
    }
    let sum = raw_sum(&l4[..cksum_off], u32::from(phdr));
    let sum = raw_sum(&l4[cksum_off + 2..], sum);
    let c = !fold(sum);
    Some(if udp && c == 0 { 0xffff } else { c })
}

/// True when the L4 segment `l4` carries a right checksum under pseudo-header sum `phdr`
/// (computed with the length). A UDP checksum of 0 means "none" and counts as right.
pub fn l4_cksum_ok(phdr: u16, l4: &[u8], cksum_off: usize, udp: bool) -> bool {
    if l4.len() < cksum_off + 2 {
        return false;
    }
    if udp && l4[cksum_off] == 0 && l4[cksum_off + 1] == 0 {
        return true;
    }
    fold(raw_sum(l4, u32::from(phdr))) == 0xffff
}

/// What a device does to complete a partial checksum (virtio's `NEEDS_CSUM`, Linux's
/// `CHECKSUM_PARTIAL`): sums `frame[start..]` (the field at `start + offset` holding the
/// pseudo-header sum) and stores the inverted result there. `false` (frame untouched) when
/// the field lies outside the frame.
pub fn complete_partial(frame: &mut [u8], start: usize, offset: usize) -> bool {
    let at = start + offset;
    if start > frame.len() || at + 2 > frame.len() {
        return false;
    }
    let c = !fold(raw_sum(&frame[start..], 0));
    frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4/TCP segment taken from a real capture (checksums as sent by Linux).
    fn tcp_frame() -> Vec<u8> {
        let mut f = vec![
            0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 0xac, 0x10, 0x0a, 0x63, 0xac, 0x10,
            0x0a, 0x0c,
        ];
        // TCP SYN header, 40 bytes with options: checksum at offset 16 left zero.
        f.extend_from_slice(&[
            0xa6, 0xec, 0x00, 0x50, 0x4b, 0x95, 0x6e, 0x6b, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0x72, 0x10, 0x00, 0x00,
            0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x9c, 0x27, 0x24, 0x00, 0x00, 0x00, 0x00,
            0x01, 0x03, 0x03, 0x07,
        ]);
        f
    }

    #[test]
    fn ipv4_header_checksum_matches_a_known_header() {
        // The well-known example header (192.168.0.1 -> 192.168.0.199, UDP): checksum 0xb861.
        let ip = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(ipv4_hdr_cksum(&ip), Some(0xb861));
        assert_eq!(ipv4_hdr_cksum(&ip[..19]), None, "short header");
    }

    #[test]
    fn partial_checksum_completed_as_a_device_does_equals_the_software_one() {
        let mut f = tcp_frame();
        let ip_c = ipv4_hdr_cksum(&f[..20]).unwrap();
        f[10..12].copy_from_slice(&ip_c.to_be_bytes());
        let phdr = ipv4_phdr_sum(&f[..20], false).unwrap();
        let full = l4_cksum(phdr, &f[20..], 16, false).unwrap();
        // Offload: the pseudo-header sum in the field, then the device completes it.
        let mut off = f.clone();
        off[36..38].copy_from_slice(&phdr.to_be_bytes());
        assert!(complete_partial(&mut off, 20, 16));
        assert_eq!(u16::from_be_bytes([off[36], off[37]]), full);
        assert!(l4_cksum_ok(phdr, &off[20..], 16, false));
        off[50] ^= 1;
        assert!(!l4_cksum_ok(phdr, &off[20..], 16, false), "a flipped bit is caught");
        assert!(!complete_partial(&mut off, 50, 16), "a field outside the frame is refused");
    }

    #[test]
    fn tso_pseudo_header_leaves_the_length_out() {
        let f = tcp_frame();
        let with = ipv4_phdr_sum(&f[..20], false).unwrap();
        let without = ipv4_phdr_sum(&f[..20], true).unwrap();
        assert_eq!(fold(u32::from(without) + 40), with);
        let mut ip6 = [0u8; 40];
        ip6[4..6].copy_from_slice(&100u16.to_be_bytes());
        ip6[8] = 0xfe;
        ip6[24] = 0xfe;
        assert_eq!(ipv6_phdr_sum(&ip6, 6, false), Some(fold(0xfe00 * 2 + 6 + 100)));
        assert_eq!(ipv6_phdr_sum(&ip6, 6, true), Some(fold(0xfe00 * 2 + 6)));
        assert_eq!(ipv6_phdr_sum(&ip6[..39], 6, true), None);
    }

    #[test]
    fn udp_zero_checksum_is_sent_as_ffff_and_accepted_as_none() {
        let l4 = [0u8; 8];
        // phdr 0xffff and zero data: the sum is 0xffff, inverted 0.
        assert_eq!(l4_cksum(0xffff, &l4, 6, true), Some(0xffff));
        assert_eq!(l4_cksum(0xffff, &l4, 6, false), Some(0));
        assert!(l4_cksum_ok(0x1234, &l4, 6, true));
    }
}
