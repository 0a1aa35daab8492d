//! The Toeplitz hash that NICs compute for receive-side scaling (RSS), in software. `ethdev`
//! predicts a flow's queue with it; a hash table hashing its keys with it can take a NIC's
//! RSS hash of a packet ([`crate::mbuf::Mbuf::rss_hash`]) as the hash of the packet's key.

/// Bytes of the usual RSS hash key (Intel 82576/82599, Microsoft's specification: 40).
pub const KEY_LEN: usize = 40;

/// Longest input a [`KEY_LEN`]-byte key hashes with every input bit under a full 32-bit key
/// window: 36 bytes (an IPv6 address pair with ports). Past it the windows run off the key's
/// end and later input bits change the hash less, then not at all.
pub const MAX_INPUT: usize = KEY_LEN - 4;

/// The widely used default key of Microsoft's RSS specification (also the Intel datasheets'
/// verification key); it spreads IPv4 and UDP/TCP flows well.
pub const DEFAULT_KEY: [u8; KEY_LEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b,
    0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac,
    0x01, 0xfa,
];

/// The Toeplitz hash of `input` under `key`, bit for bit what Intel NICs compute: for each
/// set bit of the input (most significant first) the 32-bit window of the key starting at
/// that bit is XORed into the result (key bits past its end count as 0).
pub fn hash(key: &[u8], input: &[u8]) -> u32 {
    let key_bit = |i: usize| key.get(i / 8).map_or(0, |k| u32::from((k >> (7 - i % 8)) & 1));
    let mut hash = 0u32;
    // The window: key bits [i, i+32) with i the input bit index; shifted in one bit at a time.
    let mut window = (0..32).fold(0u32, |w, i| w << 1 | key_bit(i));
    for (byte_i, &b) in input.iter().enumerate() {
        for bit in 0..8 {
            if b & (0x80 >> bit) != 0 {
                hash ^= window;
            }
            window = window << 1 | key_bit((byte_i + 4) * 8 + bit);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verification suite of Microsoft's RSS specification (IPv4 with TCP ports), which
    /// the 82576 and 82599 datasheets reproduce.
    #[test]
    fn hash_matches_the_published_verification_values() {
        // (source, source port, destination, destination port, hash of IPs, hash with ports)
        type Case = ([u8; 4], u16, [u8; 4], u16, u32, u32);
        let cases: [Case; 3] = [
            ([66, 9, 149, 187], 2794, [161, 142, 100, 80], 1766, 0x323e8fc2, 0x51ccc178),
            ([199, 92, 111, 2], 14230, [65, 69, 140, 83], 4739, 0xd718262a, 0xc626b0ea),
            ([24, 19, 198, 95], 12898, [12, 22, 207, 184], 38024, 0xd2d0a5de, 0x5c2b394a),
        ];
        for (src, sport, dst, dport, ip_only, with_ports) in cases {
            let mut input = [0u8; 12];
            input[..4].copy_from_slice(&src);
            input[4..8].copy_from_slice(&dst);
            input[8..10].copy_from_slice(&sport.to_be_bytes());
            input[10..].copy_from_slice(&dport.to_be_bytes());
            assert_eq!(hash(&DEFAULT_KEY, &input[..8]), ip_only, "{src:?} -> {dst:?}");
            assert_eq!(hash(&DEFAULT_KEY, &input), with_ports, "{src:?}:{sport} -> {dst:?}:{dport}");
        }
    }

    #[test]
    fn a_short_key_reads_as_zeros_past_its_end() {
        assert_eq!(hash(&[], &[0xff; 8]), 0);
        assert_eq!(hash(&[0x80], &[0x80]), 0x8000_0000);
    }
}
