//! What an mbuf says about offloads, as DPDK's `ol_flags`, `packet_type` and `tx_offload`
//! fields: what the device checked or stripped on receive, and what the application asks it
//! to do on transmit. Re-exported from [`crate::mbuf`].

bitflags::bitflags! {
    /// Offload flags of an mbuf (DPDK's `RTE_MBUF_F_*`): RX flags are set by the driver
    /// that received the packet; TX flags are requests to the driver that sends it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct OlFlags: u64 {
        /// RX: `vlan_tci` holds the VLAN tag of the frame.
        const RX_VLAN = 1 << 0;
        /// RX: `rss_hash` holds the device's RSS hash.
        const RX_RSS_HASH = 1 << 1;
        /// RX: the L4 (TCP/UDP) checksum is wrong.
        const RX_L4_CKSUM_BAD = 1 << 3;
        /// RX: the IPv4 header checksum is wrong.
        const RX_IP_CKSUM_BAD = 1 << 4;
        /// RX: the VLAN tag was removed from the frame (it is in `vlan_tci`).
        const RX_VLAN_STRIPPED = 1 << 6;
        /// RX: the IPv4 header checksum is right.
        const RX_IP_CKSUM_GOOD = 1 << 7;
        /// RX: the L4 checksum is right.
        const RX_L4_CKSUM_GOOD = 1 << 8;
        /// RX: the device merged several TCP segments into this packet (LRO, or a large
        /// segment a virtual device received whole); `tso_segsz` holds the segment size
        /// the sender used and the header lengths are set, so that the packet can be sent
        /// again with TSO.
        const RX_LRO = 1 << 16;
        /// TX: segment the TCP payload into `tso_segsz`-byte segments (needs the header
        /// lengths and the IP/TCP checksum flags).
        const TX_TCP_SEG = 1 << 50;
        /// TX: compute the TCP checksum.
        const TX_TCP_CKSUM = 1 << 52;
        /// TX: compute the UDP checksum.
        const TX_UDP_CKSUM = 3 << 52;
        /// TX: compute the IPv4 header checksum.
        const TX_IP_CKSUM = 1 << 54;
        /// TX: the packet is IPv4.
        const TX_IPV4 = 1 << 55;
        /// TX: the packet is IPv6.
        const TX_IPV6 = 1 << 56;
        /// TX: insert `vlan_tci` as a VLAN tag.
        const TX_VLAN = 1 << 57;
    }
}

impl OlFlags {
    /// Every TX request flag.
    pub const TX_MASK: OlFlags = OlFlags::TX_TCP_SEG
        .union(OlFlags::TX_UDP_CKSUM)
        .union(OlFlags::TX_IP_CKSUM)
        .union(OlFlags::TX_IPV4)
        .union(OlFlags::TX_IPV6)
        .union(OlFlags::TX_VLAN);

    /// The L4 checksum asked for on transmit (the two bits hold one of three values).
    pub fn tx_l4(self) -> TxL4Cksum {
        match (self.bits() >> 52) & 3 {
            1 => TxL4Cksum::Tcp,
            3 => TxL4Cksum::Udp,
            0 => TxL4Cksum::None,
            _ => TxL4Cksum::Sctp,
        }
    }

    /// How the device judged the IPv4 header checksum on receive.
    pub fn rx_ip_cksum(self) -> RxCksum {
        RxCksum::from_bits(self.contains(OlFlags::RX_IP_CKSUM_GOOD), self.contains(OlFlags::RX_IP_CKSUM_BAD))
    }

    /// How the device judged the L4 checksum on receive.
    pub fn rx_l4_cksum(self) -> RxCksum {
        RxCksum::from_bits(self.contains(OlFlags::RX_L4_CKSUM_GOOD), self.contains(OlFlags::RX_L4_CKSUM_BAD))
    }
}

/// The L4 checksum a packet asks for on transmit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxL4Cksum {
    /// None.
    None,
    /// TCP.
    Tcp,
    /// SCTP (no Bypass driver computes it).
    Sctp,
    /// UDP.
    Udp,
}

/// What a device found about a checksum on receive (DPDK's two bits per checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxCksum {
    /// Not checked (no flag).
    Unknown,
    /// Checked and right.
    Good,
    /// Checked and wrong.
    Bad,
    /// Both flags: the device did not check it but the data is known to be valid (DPDK's
    /// `*_CKSUM_NONE`).
    None,
}

impl RxCksum {
    fn from_bits(good: bool, bad: bool) -> RxCksum {
        match (good, bad) {
            (false, false) => RxCksum::Unknown,
            (true, false) => RxCksum::Good,
            (false, true) => RxCksum::Bad,
            (true, true) => RxCksum::None,
        }
    }
}

bitflags::bitflags! {
    /// The layers a packet was recognised to have (DPDK's `RTE_PTYPE_*`, one value per
    /// layer field).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PacketType: u32 {
        /// Ethernet.
        const L2_ETHER = 0x0000_0001;
        /// Ethernet with a VLAN tag.
        const L2_ETHER_VLAN = 0x0000_0006;
        /// IPv4 without options.
        const L3_IPV4 = 0x0000_0010;
        /// IPv4, options unknown.
        const L3_IPV4_EXT_UNKNOWN = 0x0000_0090;
        /// IPv6 without extension headers.
        const L3_IPV6 = 0x0000_0040;
        /// IPv6, extension headers unknown.
        const L3_IPV6_EXT_UNKNOWN = 0x0000_00e0;
        /// TCP.
        const L4_TCP = 0x0000_0100;
        /// UDP.
        const L4_UDP = 0x0000_0200;
        /// An IP fragment.
        const L4_FRAG = 0x0000_0300;
    }
}

impl PacketType {
    /// The L2 field.
    pub const L2_MASK: u32 = 0x0000_000f;
    /// The L3 field.
    pub const L3_MASK: u32 = 0x0000_00f0;
    /// The L4 field.
    pub const L4_MASK: u32 = 0x0000_0f00;
}

/// The header lengths and segment size a driver needs for TX checksum and TSO offloads
/// (DPDK's `l2_len`, `l3_len`, `l4_len`, `tso_segsz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxOffloadLens {
    /// Bytes of the L2 header (Ethernet, with any VLAN tag).
    pub l2_len: u8,
    /// Bytes of the L3 header (IP, with options or extension headers).
    pub l3_len: u16,
    /// Bytes of the L4 header (TCP with options, UDP).
    pub l4_len: u8,
    /// Payload bytes per TCP segment for TSO (the MSS).
    pub tso_segsz: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_l4_checksum_request_is_one_of_three_values() {
        assert_eq!(OlFlags::empty().tx_l4(), TxL4Cksum::None);
        assert_eq!(OlFlags::TX_TCP_CKSUM.tx_l4(), TxL4Cksum::Tcp);
        assert_eq!(OlFlags::TX_UDP_CKSUM.tx_l4(), TxL4Cksum::Udp);
        assert_eq!((OlFlags::TX_UDP_CKSUM | OlFlags::TX_IPV4).tx_l4(), TxL4Cksum::Udp);
        assert!(OlFlags::TX_MASK.contains(OlFlags::TX_TCP_SEG | OlFlags::TX_VLAN));
        assert!(!OlFlags::TX_MASK.intersects(OlFlags::RX_VLAN | OlFlags::RX_L4_CKSUM_GOOD));
    }

    #[test]
    fn rx_checksum_states() {
        assert_eq!(OlFlags::empty().rx_ip_cksum(), RxCksum::Unknown);
        assert_eq!(OlFlags::RX_IP_CKSUM_GOOD.rx_ip_cksum(), RxCksum::Good);
        assert_eq!(OlFlags::RX_L4_CKSUM_BAD.rx_l4_cksum(), RxCksum::Bad);
        assert_eq!((OlFlags::RX_L4_CKSUM_BAD | OlFlags::RX_L4_CKSUM_GOOD).rx_l4_cksum(), RxCksum::None);
    }
}
