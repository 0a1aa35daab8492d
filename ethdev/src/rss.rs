//! Receive-side scaling settings, as `rte_eth_rss_conf` and the redirection table API:
//! the hash key, the packet types hashed, and a software Toeplitz hash that computes what a
//! NIC computes (tests use it to predict which queue a flow lands on).

/// Bytes of an RSS hash key (Intel 82576/82599: 40).
pub const RSS_KEY_LEN: usize = eal::toeplitz::KEY_LEN;

/// The widely used default key of Microsoft's RSS specification (also the Intel datasheets'
/// verification key); it spreads IPv4 and UDP/TCP flows well.
pub const DEFAULT_RSS_KEY: [u8; RSS_KEY_LEN] = eal::toeplitz::DEFAULT_KEY;

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

/// The Toeplitz hash of `input` under `key`, bit for bit what Intel NICs compute
/// ([`eal::toeplitz::hash`]).
pub fn toeplitz(key: &[u8; RSS_KEY_LEN], input: &[u8]) -> u32 {
    eal::toeplitz::hash(key, input)
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

    /// The flow input is laid out as the NIC hashes it: the first case of the verification
    /// suite of Microsoft's RSS specification (`eal::toeplitz` checks the rest).
    #[test]
    fn ipv4_l4_input_hashes_to_the_published_value() {
        assert_eq!(
            toeplitz(&DEFAULT_RSS_KEY, &ipv4_l4_input([66, 9, 149, 187], [161, 142, 100, 80], 2794, 1766)),
            0x51ccc178
        );
    }

    #[test]
    fn default_reta_is_round_robin() {
        assert_eq!(default_reta(8, 3), [0, 1, 2, 0, 1, 2, 0, 1]);
        assert_eq!(default_reta(4, 0), [0, 0, 0, 0]);
    }
}
