//! Port offloads, as DPDK's `RTE_ETH_RX_OFFLOAD_*` / `RTE_ETH_TX_OFFLOAD_*`: what a device
//! can do ([`crate::DevInfo`]), what a port is configured to do ([`crate::PortConf`]), and
//! the check of packets against it before they are sent ([`crate::Port::tx_prepare`]).

use eal::mbuf::{OlFlags, TxL4Cksum};
use eal::Mbuf;

bitflags::bitflags! {
    /// Receive offloads.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct RxOffloads: u64 {
        /// Strip VLAN tags into `vlan_tci`.
        const VLAN_STRIP = 1 << 0;
        /// Check IPv4 header checksums.
        const IPV4_CKSUM = 1 << 1;
        /// Check UDP checksums.
        const UDP_CKSUM = 1 << 2;
        /// Check TCP checksums.
        const TCP_CKSUM = 1 << 3;
        /// Receive TCP segments merged into large packets (`OlFlags::RX_LRO`, with the
        /// segment size in `tso_segsz`).
        const TCP_LRO = 1 << 4;
        /// Drop frames whose VLAN id is not in the filter.
        const VLAN_FILTER = 1 << 9;
        /// Receive frames longer than one buffer as chained mbufs.
        const SCATTER = 1 << 13;
        /// Deliver the RSS hash in `rss_hash`.
        const RSS_HASH = 1 << 19;
    }
}

bitflags::bitflags! {
    /// Transmit offloads.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TxOffloads: u64 {
        /// Insert `vlan_tci` as a VLAN tag.
        const VLAN_INSERT = 1 << 0;
        /// Compute IPv4 header checksums.
        const IPV4_CKSUM = 1 << 1;
        /// Compute UDP checksums.
        const UDP_CKSUM = 1 << 2;
        /// Compute TCP checksums.
        const TCP_CKSUM = 1 << 3;
        /// Segment TCP (TSO).
        const TCP_TSO = 1 << 5;
        /// Send chained (multi-segment) mbufs.
        const MULTI_SEGS = 1 << 15;
    }
}

/// DPDK's names of offload bits (as `rte_eth_dev_rx_offload_name`), joined by spaces.
fn names<F: bitflags::Flags + Copy>(f: F, table: &[(F, &str)]) -> String {
    let v: Vec<&str> = table.iter().filter(|(b, _)| f.contains(*b)).map(|(_, n)| *n).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(" ")
    }
}

impl RxOffloads {
    /// DPDK's names of the set bits (`none` when empty).
    pub fn names(self) -> String {
        names(
            self,
            &[
                (RxOffloads::VLAN_STRIP, "VLAN_STRIP"),
                (RxOffloads::IPV4_CKSUM, "IPV4_CKSUM"),
                (RxOffloads::UDP_CKSUM, "UDP_CKSUM"),
                (RxOffloads::TCP_CKSUM, "TCP_CKSUM"),
                (RxOffloads::TCP_LRO, "TCP_LRO"),
                (RxOffloads::VLAN_FILTER, "VLAN_FILTER"),
                (RxOffloads::SCATTER, "SCATTER"),
                (RxOffloads::RSS_HASH, "RSS_HASH"),
            ],
        )
    }
}

impl TxOffloads {
    /// DPDK's names of the set bits (`none` when empty).
    pub fn names(self) -> String {
        names(
            self,
            &[
                (TxOffloads::VLAN_INSERT, "VLAN_INSERT"),
                (TxOffloads::IPV4_CKSUM, "IPV4_CKSUM"),
                (TxOffloads::UDP_CKSUM, "UDP_CKSUM"),
                (TxOffloads::TCP_CKSUM, "TCP_CKSUM"),
                (TxOffloads::TCP_TSO, "TCP_TSO"),
                (TxOffloads::MULTI_SEGS, "MULTI_SEGS"),
            ],
        )
    }
}

/// Why a packet cannot be sent as it is (see [`crate::Port::tx_prepare`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxReject {
    /// More segments than the port sends in one packet.
    #[error("{segs} segments: the port sends at most {max} per packet{hint}")]
    TooManySegments {
        /// Segments of the packet.
        segs: u16,
        /// The limit.
        max: u16,
        /// What to enable, if anything.
        hint: &'static str,
    },
    /// The packet asks for an offload the port was not configured with.
    #[error("the packet asks for TX offload {0}, which the port was not configured with (PortConf::tx_offloads)")]
    OffloadOff(&'static str),
    /// TSO without the header lengths or segment size it needs.
    #[error("TSO needs l2_len, l3_len, l4_len and tso_segsz set (Mbuf::set_tx_offload), and TCP checksum")]
    TsoIncomplete,
    /// A checksum offload without the header lengths it needs.
    #[error("a checksum offload needs l2_len and l3_len set (Mbuf::set_tx_offload)")]
    CksumLengths,
    /// A header length or offset over what the device's descriptor fields hold (checked by
    /// the driver, [`crate::DataPath::tx_check`]).
    #[error("{what} of {len} bytes: the device takes at most {max}")]
    DeviceLimit {
        /// Which length.
        what: &'static str,
        /// The packet's value.
        len: u32,
        /// The device's limit.
        max: u32,
    },
    /// TSO of an IPv4 packet without the IPv4 checksum request, on a device that rewrites
    /// every segment's IP header and so must compute its checksum (checked by the driver).
    #[error("TSO of an IPv4 packet needs TX_IP_CKSUM on this device (it rewrites the IP header of every segment): set the flag and zero the header checksum")]
    TsoNeedsIpCksum,
    /// Longer than the port sends, without TSO.
    #[error("{len} bytes: longer than the {max}-byte frames the port sends (raise the MTU or use TSO)")]
    TooLong {
        /// Packet length.
        len: u32,
        /// The longest frame.
        max: u32,
    },
}

/// What a port accepts on transmit, kept in its shared slot so that every process checks
/// the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLimits {
    /// Configured TX offloads.
    pub offloads: TxOffloads,
    /// Most segments per packet.
    pub max_segs: u16,
    /// Longest frame without TSO (MTU plus Ethernet header and one VLAN tag).
    pub max_frame: u32,
}

impl TxLimits {
    /// Checks one packet.
    pub fn check(&self, m: &Mbuf) -> Result<(), TxReject> {
        let segs = m.nb_segs();
        let max_segs = if self.offloads.contains(TxOffloads::MULTI_SEGS) { self.max_segs } else { 1 };
        if segs > max_segs {
            let hint = if max_segs == 1 && self.max_segs > 1 { " (enable TxOffloads::MULTI_SEGS)" } else { "" };
            return Err(TxReject::TooManySegments { segs, max: max_segs, hint });
        }
        let f = m.ol_flags();
        let lens = m.tx_offload();
        let need = |on: bool, bit: TxOffloads, name: &'static str| {
            if on && !self.offloads.contains(bit) {
                Err(TxReject::OffloadOff(name))
            } else {
                Ok(())
            }
        };
        need(f.contains(OlFlags::TX_IP_CKSUM), TxOffloads::IPV4_CKSUM, "IPV4_CKSUM")?;
        need(f.contains(OlFlags::TX_VLAN), TxOffloads::VLAN_INSERT, "VLAN_INSERT")?;
        need(f.contains(OlFlags::TX_TCP_SEG), TxOffloads::TCP_TSO, "TCP_TSO")?;
        match f.tx_l4() {
            TxL4Cksum::Tcp => need(true, TxOffloads::TCP_CKSUM, "TCP_CKSUM")?,
            TxL4Cksum::Udp => need(true, TxOffloads::UDP_CKSUM, "UDP_CKSUM")?,
            TxL4Cksum::Sctp => return Err(TxReject::OffloadOff("SCTP_CKSUM")),
            TxL4Cksum::None => {}
        }
        if f.contains(OlFlags::TX_TCP_SEG) {
            if lens.l2_len == 0 || lens.l3_len == 0 || lens.l4_len == 0 || lens.tso_segsz == 0 {
                return Err(TxReject::TsoIncomplete);
            }
        } else {
            if (f.contains(OlFlags::TX_IP_CKSUM) || f.tx_l4() != TxL4Cksum::None)
                && (lens.l2_len == 0 || lens.l3_len == 0)
            {
                return Err(TxReject::CksumLengths);
            }
            if m.pkt_len() > self.max_frame {
                return Err(TxReject::TooLong { len: m.pkt_len(), max: self.max_frame });
            }
        }
        Ok(())
    }
}

/// A packet of a burst that [`crate::Port::tx_prepare`] refused: its index and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("packet {index} of the burst: {reason}")]
pub struct TxPrepareError {
    /// Index in the burst (the packets before it are fine).
    pub index: usize,
    /// Why.
    pub reason: TxReject,
}

#[cfg(test)]
mod tests {
    use super::*;
    use eal::mbuf::TxOffloadLens;
    use eal::{Memory, PktMbufPool};

    fn chain(pool: &PktMbufPool, segs: usize, len: u16) -> Mbuf {
        let mut head = pool.alloc().unwrap();
        head.append(len).unwrap();
        for _ in 1..segs {
            let mut m = pool.alloc().unwrap();
            m.append(len).unwrap();
            head.chain(m);
        }
        head
    }

    #[test]
    fn packets_are_checked_against_the_port_configuration() {
        let mem = Memory::anonymous(8 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "prep", 64, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        let multi = TxLimits { offloads: TxOffloads::MULTI_SEGS, max_segs: 20, max_frame: 1518 };
        let single = TxLimits { offloads: TxOffloads::empty(), ..multi };
        assert_eq!(multi.check(&chain(&pool, 20, 60)), Ok(()));
        assert_eq!(
            multi.check(&chain(&pool, 21, 60)),
            Err(TxReject::TooManySegments { segs: 21, max: 20, hint: "" }),
            "a chain longer than the device's segment limit"
        );
        let e = single.check(&chain(&pool, 2, 60)).unwrap_err();
        assert!(e.to_string().contains("enable TxOffloads::MULTI_SEGS"), "{e}");
        assert_eq!(single.check(&chain(&pool, 1, 1518)), Ok(()));
        assert_eq!(single.check(&chain(&pool, 1, 1519)), Err(TxReject::TooLong { len: 1519, max: 1518 }));

        let mut m = chain(&pool, 1, 100);
        m.set_ol_flags(OlFlags::TX_IP_CKSUM | OlFlags::TX_IPV4);
        assert_eq!(single.check(&m), Err(TxReject::OffloadOff("IPV4_CKSUM")));
        let csum = TxLimits { offloads: TxOffloads::IPV4_CKSUM | TxOffloads::UDP_CKSUM, ..single };
        assert_eq!(csum.check(&m), Err(TxReject::CksumLengths), "checksums need the header lengths");
        m.set_tx_offload(TxOffloadLens { l2_len: 14, l3_len: 20, ..Default::default() });
        assert_eq!(csum.check(&m), Ok(()));
        m.set_ol_flags(OlFlags::TX_TCP_CKSUM | OlFlags::TX_IPV4);
        assert_eq!(csum.check(&m), Err(TxReject::OffloadOff("TCP_CKSUM")));

        let tso = TxLimits { offloads: TxOffloads::TCP_TSO | TxOffloads::TCP_CKSUM | TxOffloads::IPV4_CKSUM, ..single };
        let mut big = chain(&pool, 1, 2000);
        big.set_ol_flags(OlFlags::TX_TCP_SEG | OlFlags::TX_TCP_CKSUM | OlFlags::TX_IPV4);
        assert_eq!(tso.check(&big), Err(TxReject::TsoIncomplete));
        big.set_tx_offload(TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 20, tso_segsz: 1460 });
        assert_eq!(tso.check(&big), Ok(()), "TSO frames may be longer than the MTU");
    }

    #[test]
    fn offload_names_are_dpdks() {
        assert_eq!((TxOffloads::TCP_TSO | TxOffloads::MULTI_SEGS).names(), "TCP_TSO MULTI_SEGS");
        assert_eq!(RxOffloads::empty().names(), "none");
        assert_eq!(RxOffloads::SCATTER.names(), "SCATTER");
    }
}
