//! virtio-net facts: feature bits, the device configuration layout, the header before each
//! frame, control-queue commands, and the feature negotiation of this driver.

use super::error::VirtioError;

bitflags::bitflags! {
    /// Feature bits (virtio 1.x, 5.1.3 and 6): those this driver knows by name; a device's
    /// other bits are kept as they are ([`Features::from_bits_retain`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Features: u64 {
        /// The device completes partial checksums of frames it is given (`NEEDS_CSUM`).
        const CSUM = 1 << 0;
        /// The driver takes frames with partial checksums and `DATA_VALID` on receive.
        const GUEST_CSUM = 1 << 1;
        /// The device reports its maximum MTU in its configuration (`mtu`).
        const MTU = 1 << 3;
        /// The driver takes large TCP over IPv4 segments (GSO) on receive (needs
        /// `GUEST_CSUM`).
        const GUEST_TSO4 = 1 << 7;
        /// The driver takes large TCP over IPv6 segments (GSO) on receive (needs
        /// `GUEST_CSUM`).
        const GUEST_TSO6 = 1 << 8;
        /// The device segments TCP over IPv4 (needs `CSUM`).
        const HOST_TSO4 = 1 << 11;
        /// The device segments TCP over IPv6 (needs `CSUM`).
        const HOST_TSO6 = 1 << 12;
        /// The device has a MAC address in its configuration.
        const MAC = 1 << 5;
        /// Receive buffers can be merged (the header has `num_buffers`).
        const MRG_RXBUF = 1 << 15;
        /// The configuration has a link `status` field.
        const STATUS = 1 << 16;
        /// A control queue exists.
        const CTRL_VQ = 1 << 17;
        /// RX mode (promiscuous, all-multicast) through the control queue.
        const CTRL_RX = 1 << 18;
        /// A VLAN filter set through the control queue (with it, the device drops tagged
        /// frames whose VLAN was not added).
        const CTRL_VLAN = 1 << 19;
        /// Several queue pairs (set through the control queue).
        const MQ = 1 << 22;
        /// Descriptors may point at tables of descriptors (one ring entry for a whole chain).
        const INDIRECT_DESC = 1 << 28;
        /// Legacy interface: the device takes the header and the frame in any descriptor
        /// layout, one buffer included (implied on the modern interface).
        const ANY_LAYOUT = 1 << 27;
        /// The MAC address can be set through the control queue.
        const CTRL_MAC_ADDR = 1 << 23;
        /// virtio 1.x device (modern interface, little-endian).
        const VERSION_1 = 1 << 32;
        /// The device accesses memory through the platform's IOMMU.
        const ACCESS_PLATFORM = 1 << 33;
    }
}

/// Names of the feature bits this driver knows, as the specification spells them.
pub const FEATURE_NAMES: [(Features, &str); 19] = [
    (Features::CSUM, "VIRTIO_NET_F_CSUM"),
    (Features::GUEST_CSUM, "VIRTIO_NET_F_GUEST_CSUM"),
    (Features::MTU, "VIRTIO_NET_F_MTU"),
    (Features::GUEST_TSO4, "VIRTIO_NET_F_GUEST_TSO4"),
    (Features::GUEST_TSO6, "VIRTIO_NET_F_GUEST_TSO6"),
    (Features::HOST_TSO4, "VIRTIO_NET_F_HOST_TSO4"),
    (Features::HOST_TSO6, "VIRTIO_NET_F_HOST_TSO6"),
    (Features::MAC, "VIRTIO_NET_F_MAC"),
    (Features::MRG_RXBUF, "VIRTIO_NET_F_MRG_RXBUF"),
    (Features::STATUS, "VIRTIO_NET_F_STATUS"),
    (Features::CTRL_VQ, "VIRTIO_NET_F_CTRL_VQ"),
    (Features::CTRL_RX, "VIRTIO_NET_F_CTRL_RX"),
    (Features::CTRL_VLAN, "VIRTIO_NET_F_CTRL_VLAN"),
    (Features::MQ, "VIRTIO_NET_F_MQ"),
    (Features::CTRL_MAC_ADDR, "VIRTIO_NET_F_CTRL_MAC_ADDR"),
    (Features::INDIRECT_DESC, "VIRTIO_RING_F_INDIRECT_DESC"),
    (Features::ANY_LAYOUT, "VIRTIO_F_ANY_LAYOUT"),
    (Features::VERSION_1, "VIRTIO_F_VERSION_1"),
    (Features::ACCESS_PLATFORM, "VIRTIO_F_ACCESS_PLATFORM"),
];

/// The names of the bits of `bits` this driver knows.
pub fn feature_names(bits: Features) -> String {
    let v: Vec<&str> = FEATURE_NAMES.iter().filter(|(b, _)| bits.contains(*b)).map(|(_, n)| *n).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join("|")
    }
}

/// Device configuration: the MAC address (6 bytes).
pub const CFG_MAC: u64 = 0;
/// Device configuration: `status` (u16, with `VIRTIO_NET_F_STATUS`).
pub const CFG_STATUS: u64 = 6;
/// Device configuration: `max_virtqueue_pairs` (u16, with `VIRTIO_NET_F_MQ`).
pub const CFG_MAX_PAIRS: u64 = 8;
/// Device configuration: `mtu` (u16, with `VIRTIO_NET_F_MTU`): the largest MTU the device
/// takes.
pub const CFG_MTU: u64 = 10;
/// The largest MTU with mergeable buffers when the device names none: DPDK virtio's
/// 9728-byte longest frame less the Ethernet header, one VLAN tag and the FCS.
pub const MRG_MAX_MTU: u16 = 9728 - 22;
/// `status` bit: the link is up.
pub const S_LINK_UP: u16 = 1;

/// The header before each frame: 12 bytes with VERSION_1 or MRG_RXBUF (`num_buffers`
/// included), else 10 (legacy).
pub fn hdr_len(features: Features) -> u16 {
    if features.intersects(Features::VERSION_1 | Features::MRG_RXBUF) {
        12
    } else {
        10
    }
}

/// Control class: RX mode.
pub const CTRL_RX: u8 = 0;
/// RX mode command: promiscuous on/off (one byte).
pub const CTRL_RX_PROMISC: u8 = 0;
/// RX mode command: all-multicast on/off (one byte).
pub const CTRL_RX_ALLMULTI: u8 = 1;
/// Control class: MAC.
pub const CTRL_MAC: u8 = 1;
/// MAC command: set the address (six bytes).
pub const CTRL_MAC_ADDR_SET: u8 = 1;
/// `VIRTIO_NET_CTRL_MAC_TABLE_SET`: the unicast and multicast filter tables.
pub const CTRL_MAC_TABLE_SET: u8 = 0;
/// Control class: VLAN filter.
pub const CTRL_VLAN: u8 = 2;
/// VLAN command: let frames of a VLAN id through (u16).
pub const CTRL_VLAN_ADD: u8 = 0;
/// VLAN command: drop frames of a VLAN id again (u16).
pub const CTRL_VLAN_DEL: u8 = 1;
/// Highest VLAN id of the filter table (12 bits).
pub const MAX_VLAN_ID: u16 = 4095;
/// Control class: multiqueue.
pub const CTRL_MQ: u8 = 4;
/// Multiqueue command: number of queue pairs to use (u16).
pub const CTRL_MQ_VQ_PAIRS_SET: u8 = 0;
/// Control acknowledgement: done.
pub const CTRL_OK: u8 = 0;

/// The offload features this driver drives; which of them a port uses depends on the
/// offloads it is configured with ([`for_offloads`]).
pub const OFFLOAD_FEATURES: Features = Features::CSUM
    .union(Features::GUEST_CSUM)
    .union(Features::HOST_TSO4)
    .union(Features::HOST_TSO6)
    .union(Features::GUEST_TSO4)
    .union(Features::GUEST_TSO6)
    .union(Features::CTRL_VLAN);

/// Large receive segments, both IP versions.
const GUEST_TSO: Features = Features::GUEST_TSO4.union(Features::GUEST_TSO6);

/// The features a port configured with `rx` and `tx` offloads uses, of the `negotiated`
/// ones: `GUEST_CSUM` only when RX checksums are asked for (else the device could hand
/// over frames whose checksum is only partial to an application that does not look),
/// `CSUM` only with a TX checksum or TSO, `HOST_TSO4/6` only with TSO, `GUEST_TSO4/6`
/// (with `GUEST_CSUM`, which they need) only with `TCP_LRO` (as DPDK's virtio PMD), and
/// `CTRL_VLAN` only with `VLAN_FILTER` (with it the device drops every tagged frame whose
/// VLAN was not added, which a port that asked for no filter must not see).
pub fn for_offloads(negotiated: Features, rx: ethdev::RxOffloads, tx: ethdev::TxOffloads) -> Features {
    use ethdev::{RxOffloads as R, TxOffloads as T};
    let mut f = negotiated - OFFLOAD_FEATURES;
    if rx.intersects(R::TCP_CKSUM | R::UDP_CKSUM | R::TCP_LRO) {
        f |= negotiated & Features::GUEST_CSUM;
    }
    if rx.contains(R::TCP_LRO) {
        f |= negotiated & GUEST_TSO;
    }
    if rx.contains(R::VLAN_FILTER) {
        f |= negotiated & Features::CTRL_VLAN;
    }
    if tx.intersects(T::TCP_CKSUM | T::UDP_CKSUM | T::TCP_TSO) {
        f |= negotiated & Features::CSUM;
    }
    if tx.contains(T::TCP_TSO) {
        f |= negotiated & (Features::HOST_TSO4 | Features::HOST_TSO6);
    }
    f
}

/// The RX and TX offloads a device with `negotiated` features can give.
pub fn offload_capa(negotiated: Features) -> (ethdev::RxOffloads, ethdev::TxOffloads) {
    use ethdev::{RxOffloads as R, TxOffloads as T};
    let mut rx = R::empty();
    let mut tx = T::empty();
    if negotiated.contains(Features::GUEST_CSUM) {
        rx |= R::TCP_CKSUM | R::UDP_CKSUM;
    }
    if negotiated.intersects(GUEST_TSO) {
        rx |= R::TCP_LRO;
    }
    if negotiated.contains(Features::CTRL_VLAN) {
        rx |= R::VLAN_FILTER;
    }
    if negotiated.contains(Features::CSUM) {
        tx |= T::TCP_CKSUM | T::UDP_CKSUM;
        if negotiated.contains(Features::HOST_TSO4 | Features::HOST_TSO6) {
            tx |= T::TCP_TSO;
        }
    }
    (rx, tx)
}

/// What the driver asks for on a device with the modern (`modern`) or legacy interface,
/// given what it offers: mergeable RX buffers (jumbo frames) and the device's MTU when
/// offered. VERSION_1 is required on the modern interface; ACCESS_PLATFORM is
/// taken when offered (the device then goes through the IOMMU); without it (or on the
/// legacy interface) the device uses physical addresses and `iova_pa` must be true. On the
/// legacy interface ANY_LAYOUT is required: the header and the frame share one buffer.
pub fn negotiate(offered: Features, modern: bool, iova_pa: bool) -> Result<Features, VirtioError> {
    let mut want = Features::MAC
        | Features::STATUS
        | Features::CTRL_VQ
        | Features::CTRL_RX
        | Features::MQ
        | Features::CTRL_MAC_ADDR
        | Features::MRG_RXBUF
        | Features::MTU
        | Features::INDIRECT_DESC
        | OFFLOAD_FEATURES;
    if modern {
        if !offered.contains(Features::VERSION_1) {
            return Err(VirtioError::NoVersion1);
        }
        want |= Features::VERSION_1 | Features::ACCESS_PLATFORM;
    } else {
        if !offered.contains(Features::ANY_LAYOUT) {
            return Err(VirtioError::NoAnyLayout);
        }
        want |= Features::ANY_LAYOUT;
    }
    let mut got = offered & want;
    if !got.contains(Features::CTRL_VQ) {
        got.remove(Features::CTRL_RX | Features::MQ | Features::CTRL_MAC_ADDR | Features::CTRL_VLAN);
    }
    // Large segments need partial checksums on receive and, here, mergeable buffers (the
    // driver posts no 64 KiB buffers).
    if !got.contains(Features::GUEST_CSUM | Features::MRG_RXBUF) {
        got.remove(GUEST_TSO);
    }
    if !got.contains(Features::CSUM) {
        got.remove(Features::HOST_TSO4 | Features::HOST_TSO6);
    }
    if !got.contains(Features::ACCESS_PLATFORM) && !iova_pa {
        let why = if modern {
            "does not offer VIRTIO_F_ACCESS_PLATFORM"
        } else {
            "is driven through its legacy interface, which has no VIRTIO_F_ACCESS_PLATFORM"
        };
        return Err(VirtioError::NeedsIovaPa { why });
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU_MODERN: Features = Features::MAC
        .union(Features::STATUS)
        .union(Features::CTRL_VQ)
        .union(Features::CTRL_RX)
        .union(Features::MQ)
        .union(Features::CTRL_MAC_ADDR)
        .union(Features::VERSION_1)
        .union(Features::ACCESS_PLATFORM)
        .union(Features::from_bits_retain(1 << 2));

    #[test]
    fn modern_takes_access_platform_and_version_1() {
        let got = negotiate(QEMU_MODERN, true, false).unwrap();
        assert_eq!(got, QEMU_MODERN.difference(Features::from_bits_retain(1 << 2)));
        assert_eq!(hdr_len(got), 12);
    }

    #[test]
    fn missing_features_are_named() {
        let e = negotiate(QEMU_MODERN.difference(Features::VERSION_1), true, false).unwrap_err().to_string();
        assert!(e.contains("VIRTIO_F_VERSION_1"), "{e}");
        let e = negotiate(QEMU_MODERN.difference(Features::ACCESS_PLATFORM), true, false).unwrap_err().to_string();
        assert!(e.contains("VIRTIO_F_ACCESS_PLATFORM") && e.contains("--iova-mode pa"), "{e}");
        assert!(negotiate(QEMU_MODERN.difference(Features::ACCESS_PLATFORM), true, true).is_ok());
    }

    #[test]
    fn legacy_needs_pa_and_has_a_10_byte_header_without_mergeable_buffers() {
        let offered = Features::from_bits_retain(QEMU_MODERN.bits() & 0xffff_ffff) | Features::ANY_LAYOUT;
        assert!(negotiate(offered, false, false).unwrap_err().to_string().contains("--iova-mode pa"));
        let got = negotiate(offered, false, true).unwrap();
        assert!(!got.intersects(Features::VERSION_1 | Features::ACCESS_PLATFORM | Features::MRG_RXBUF));
        assert!(got.contains(Features::ANY_LAYOUT), "header and frame share a descriptor only with ANY_LAYOUT");
        assert_eq!(hdr_len(got), 10);
        let got = negotiate(offered | Features::MRG_RXBUF, false, true).unwrap();
        assert!(got.contains(Features::MRG_RXBUF), "jumbo frames over mergeable buffers");
        assert_eq!(hdr_len(got), 12, "the header has num_buffers");
    }

    #[test]
    fn mergeable_buffers_and_mtu_are_taken_when_offered() {
        let got = negotiate(QEMU_MODERN | Features::MRG_RXBUF | Features::MTU, true, false).unwrap();
        assert!(got.contains(Features::MRG_RXBUF | Features::MTU));
        assert_eq!(feature_names(Features::MTU | Features::MRG_RXBUF), "VIRTIO_NET_F_MTU|VIRTIO_NET_F_MRG_RXBUF");
    }

    #[test]
    fn legacy_without_any_layout_is_refused_and_modern_does_not_ask_for_it() {
        let offered = Features::from_bits_retain(QEMU_MODERN.bits() & 0xffff_ffff);
        let e = negotiate(offered, false, true).unwrap_err().to_string();
        assert!(e.contains("VIRTIO_F_ANY_LAYOUT") && e.contains("modern"), "{e}");
        let got = negotiate(QEMU_MODERN | Features::ANY_LAYOUT, true, false).unwrap();
        assert!(!got.contains(Features::ANY_LAYOUT));
    }

    #[test]
    fn offload_features_follow_the_port_configuration() {
        use ethdev::{RxOffloads as R, TxOffloads as T};
        let got = negotiate(QEMU_MODERN | OFFLOAD_FEATURES, true, false).unwrap();
        assert!(got.contains(OFFLOAD_FEATURES - GUEST_TSO), "{}", feature_names(got));
        assert!(!got.intersects(GUEST_TSO), "large segments need mergeable buffers");
        assert_eq!(
            offload_capa(got),
            (R::TCP_CKSUM | R::UDP_CKSUM | R::VLAN_FILTER, T::TCP_CKSUM | T::UDP_CKSUM | T::TCP_TSO)
        );
        assert_eq!(for_offloads(got, R::empty(), T::empty()), got - OFFLOAD_FEATURES, "no offload: plain frames");
        assert_eq!(for_offloads(got, R::TCP_CKSUM, T::empty()) & OFFLOAD_FEATURES, Features::GUEST_CSUM);
        assert_eq!(for_offloads(got, R::empty(), T::UDP_CKSUM) & OFFLOAD_FEATURES, Features::CSUM);
        assert_eq!(
            for_offloads(got, R::empty(), T::TCP_TSO | T::TCP_CKSUM) & OFFLOAD_FEATURES,
            Features::CSUM | Features::HOST_TSO4 | Features::HOST_TSO6
        );
        assert_eq!(for_offloads(got, R::VLAN_FILTER, T::empty()) & OFFLOAD_FEATURES, Features::CTRL_VLAN);
        let no_csum = negotiate(QEMU_MODERN | Features::HOST_TSO4, true, false).unwrap();
        assert!(!no_csum.contains(Features::HOST_TSO4), "TSO needs VIRTIO_NET_F_CSUM");
        assert_eq!(offload_capa(no_csum), (R::empty(), T::empty()));
    }

    #[test]
    fn large_segments_come_with_lro_over_mergeable_buffers_and_partial_checksums() {
        use ethdev::{RxOffloads as R, TxOffloads as T};
        let got = negotiate(QEMU_MODERN | OFFLOAD_FEATURES | Features::MRG_RXBUF, true, false).unwrap();
        assert!(got.contains(GUEST_TSO));
        assert!(offload_capa(got).0.contains(R::TCP_LRO));
        let lro = for_offloads(got, R::TCP_LRO | R::SCATTER, T::empty());
        assert_eq!(lro & OFFLOAD_FEATURES, GUEST_TSO | Features::GUEST_CSUM, "GUEST_TSO needs GUEST_CSUM");
        assert_eq!(for_offloads(got, R::TCP_CKSUM, T::empty()) & GUEST_TSO, Features::empty(), "only with TCP_LRO");
        let no_csum = negotiate(QEMU_MODERN | Features::MRG_RXBUF | GUEST_TSO, true, false).unwrap();
        assert!(!no_csum.intersects(GUEST_TSO), "GUEST_TSO4/6 need GUEST_CSUM");
        assert_eq!(
            feature_names(GUEST_TSO | Features::CTRL_VLAN),
            "VIRTIO_NET_F_GUEST_TSO4|VIRTIO_NET_F_GUEST_TSO6|VIRTIO_NET_F_CTRL_VLAN"
        );
    }

    #[test]
    fn no_control_queue_means_no_control_features() {
        let got = negotiate(QEMU_MODERN.difference(Features::CTRL_VQ), true, false).unwrap();
        assert!(!got.intersects(Features::CTRL_RX | Features::MQ | Features::CTRL_MAC_ADDR | Features::CTRL_VLAN));
        assert_eq!(feature_names(Features::MQ | Features::STATUS), "VIRTIO_NET_F_STATUS|VIRTIO_NET_F_MQ");
    }
}
