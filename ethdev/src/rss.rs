//! Receive-side scaling settings, as `rte_eth_rss_conf` and the redirection table API:
//! the hash key, the packet types hashed, and a software Toeplitz hash that computes what a
//! NIC computes (tests use it to predict which queue a flow lands on).

/// Bytes of an RSS hash key (Intel 82576/82599: 40).
pub const RSS_KEY_LEN: usize = 40;

/// The widely used default key of Microsoft's RSS specification (also the Intel datasheets'
/// verification key); it spreads IPv4 and UDP/TCP flows well.
pub const DEFAULT_RSS_KEY: [u8; RSS_KEY_LEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b,
    0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac,
    0x01, 0xfa,
];

/// Packet types hashed ([`RssConf::hash_types`] bits, as DPDK's `RTE_ETH_RSS_*`).
pub mod hash {
    /// IPv4 addresses of any IPv4 packet.
    pub const IPV4: u64 = 1 << 0;
    /// IPv4 addresses and TCP ports.
    pub const TCP_IPV4: u64 = 1 << 1;
    /// IPv4 addresses and UDP ports.
    pub const UDP_IPV4: u64 = 1 << 2;
    /// IPv6 addresses of any IPv6 packet.
    pub const IPV6: u64 = 1 << 3;
    /// IPv6 addresses and TCP ports.
    pub const TCP_IPV6: u64 = 1 << 4;
    /// IPv6 addresses and UDP ports.
    pub const UDP_IPV6: u64 = 1 << 5;
    /// Everything above.
    pub const ALL: u64 = IPV4 | TCP_IPV4 | UDP_IPV4 | IPV6 | TCP_IPV6 | UDP_IPV6;
}

/// RSS settings: the key and the packet types hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RssConf {
    /// The Toeplitz key.
    pub key: [u8; RSS_KEY_LEN],
    /// [`hash`] bits.
    pub hash_types: u64,
}

impl Default for RssConf {
    /// The default key, hashing IPv4/IPv6 addresses and TCP/UDP ports.
    fn default() -> Self {
        RssConf { key: DEFAULT_RSS_KEY, hash_types: hash::ALL }
    }
}

/// The Toeplitz hash of `input` under `key`, bit for bit what Intel NICs compute: for each
/// set bit of the input (most significant first) the 32-bit window of the key starting at
/// that bit is XORed into the result.
pub fn toeplitz(key: &[u8; RSS_KEY_LEN], input: &[u8]) -> u32 {
    let mut hash = 0u32;
    // The window: key bits [i, i+32) with i the input bit index; shifted in one bit at a time.
    let mut window = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    for (byte_i, &b) in input.iter().enumerate() {
        for bit in 0..8 {
            if b & (0x80 >> bit) != 0 {
                hash ^= window;
            }
            let next_bit_index = (byte_i + 4) * 8 + bit;
            let next = key.get(next_bit_index / 8).map_or(0, |k| (k >> (7 - next_bit_index % 8)) & 1);
            window = (window << 1) | u32::from(next);
        }
    }
    hash
}

/// The hash input of an IPv4 UDP or TCP flow: source address, destination address, source
/// port, destination port, all in network order.
pub fn ipv4_l4_input(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> [u8; 12] {
    let mut v = [0u8; 12];
    v[..4].copy_from_slice(&src);
    v[4..8].copy_from_slice(&dst);
    v[8..10].copy_from_slice(&sport.to_be_bytes());
    v[10..12].copy_from_slice(&dport.to_be_bytes());
    v
}

/// A redirection table that spreads its entries round-robin over `nb_queues` queues, as
/// drivers program it at configure time.
pub fn default_reta(size: usize, nb_queues: u16) -> Vec<u16> {
    (0..size).map(|i| (i % usize::from(nb_queues.max(1))) as u16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verification suite of Microsoft's RSS specification (IPv4 with TCP ports), which
    /// the 82576 and 82599 datasheets reproduce.
    #[test]
    fn toeplitz_matches_the_published_verification_values() {
        // (source, source port, destination, destination port, hash of IPs, hash with ports)
        type Case = ([u8; 4], u16, [u8; 4], u16, u32, u32);
        let cases: [Case; 3] = [
            ([66, 9, 149, 187], 2794, [161, 142, 100, 80], 1766, 0x323e8fc2, 0x51ccc178),
            ([199, 92, 111, 2], 14230, [65, 69, 140, 83], 4739, 0xd718262a, 0xc626b0ea),
            ([24, 19, 198, 95], 12898, [12, 22, 207, 184], 38024, 0xd2d0a5de, 0x5c2b394a),
        ];
        for (src, sport, dst, dport, ip_only, with_ports) in cases {
            let mut ip = [0u8; 8];
            ip[..4].copy_from_slice(&src);
            ip[4..].copy_from_slice(&dst);
            assert_eq!(toeplitz(&DEFAULT_RSS_KEY, &ip), ip_only, "{src:?} -> {dst:?}");
            assert_eq!(toeplitz(&DEFAULT_RSS_KEY, &ipv4_l4_input(src, dst, sport, dport)), with_ports);
        }
    }

    #[test]
    fn default_reta_is_round_robin() {
        assert_eq!(default_reta(8, 3), [0, 1, 2, 0, 1, 2, 0, 1]);
        assert_eq!(default_reta(4, 0), [0, 0, 0, 0]);
    }
}
