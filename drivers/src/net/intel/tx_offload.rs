//! TX checksum and TSO offloads of the Intel rings: what a packet's offload flags make of
//! its descriptors (a context descriptor, bits in each data descriptor), and the limits of
//! the context fields that [`Port::tx_prepare`](ethdev::Port::tx_prepare) checks through
//! [`check`]. A descriptor format says how it encodes the plan
//! ([`super::txq::TxRing::tx_plan`]); the shared TX logic writes a context descriptor only
//! when the plan's context differs from the last one written on the queue.

use eal::mbuf::{OlFlags, TxL4Cksum, TxOffloadLens};
use eal::Mbuf;
use ethdev::TxReject;

/// The TX flags that ask a device for work (checksums, TSO, VLAN insertion). `TX_IPV4` /
/// `TX_IPV6` alone ask for nothing: a packet with none of these takes the plain path.
pub const TX_REQUESTS: OlFlags =
    OlFlags::TX_TCP_SEG.union(OlFlags::TX_UDP_CKSUM).union(OlFlags::TX_IP_CKSUM).union(OlFlags::TX_VLAN);

/// The TX offloads the e1000 (82540EM/82574L) and igb (82576) PMDs give through context
/// descriptors.
pub const CAPA: ethdev::TxOffloads = ethdev::TxOffloads::VLAN_INSERT
    .union(ethdev::TxOffloads::IPV4_CKSUM)
    .union(ethdev::TxOffloads::TCP_CKSUM)
    .union(ethdev::TxOffloads::UDP_CKSUM)
    .union(ethdev::TxOffloads::TCP_TSO);

/// True when `m` asks its TX port for an offload.
#[inline(always)]
pub fn requested(m: &Mbuf) -> bool {
    m.ol_flags().intersects(TX_REQUESTS)
}

/// What a packet's offload requests make of its descriptors in one format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxPlan {
    /// The two words of the context descriptor the packet needs, if any (word 1 is never 0:
    /// every context descriptor has DEXT set, so 0 in the queue's cache means "none
    /// written").
    pub ctx: Option<[u64; 2]>,
    /// Bits ORed into word 1 of each of the packet's data descriptors (descriptor type,
    /// TSE, POPTS, VLE and the legacy special field).
    pub data_bits: u64,
    /// The PAYLEN the advanced format carries in every data descriptor: the packet's length,
    /// or with TSO the payload after the headers.
    pub paylen: u32,
}

/// The header lengths and requests of one packet, decoded from its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Header lengths and MSS.
    pub lens: TxOffloadLens,
    /// IPv4 (else IPv6 or not IP).
    pub ipv4: bool,
    /// IPv4 header checksum asked for.
    pub ip_cksum: bool,
    /// L4 checksum asked for.
    pub l4: TxL4Cksum,
    /// TCP segmentation asked for.
    pub tso: bool,
    /// The VLAN tag to insert, if asked for.
    pub vlan: Option<u16>,
}

impl Request {
    /// Decodes `m`'s requests.
    #[inline]
    pub fn of(m: &Mbuf) -> Request {
        let f = m.ol_flags();
        let tso = f.contains(OlFlags::TX_TCP_SEG);
        Request {
            lens: m.tx_offload(),
            ipv4: f.contains(OlFlags::TX_IPV4) || f.contains(OlFlags::TX_IP_CKSUM),
            ip_cksum: f.contains(OlFlags::TX_IP_CKSUM),
            // TSO implies the TCP checksum, whatever the L4 bits say.
            l4: if tso { TxL4Cksum::Tcp } else { f.tx_l4() },
            tso,
            vlan: f.contains(OlFlags::TX_VLAN).then(|| m.vlan_tci()),
        }
    }

    /// True when the packet asks for a checksum or TSO.
    pub fn cksum_or_tso(&self) -> bool {
        self.ip_cksum || self.tso || self.l4 != TxL4Cksum::None
    }

    /// Bytes of Ethernet, IP and L4 headers (what TSO copies in front of every segment).
    pub fn hdr_len(&self) -> u32 {
        u32::from(self.lens.l2_len) + u32::from(self.lens.l3_len) + u32::from(self.lens.l4_len)
    }

    /// Offset of the L4 checksum field from the frame's start.
    pub fn l4_cksum_at(&self) -> u32 {
        let base = u32::from(self.lens.l2_len) + u32::from(self.lens.l3_len);
        base + if self.l4 == TxL4Cksum::Udp { 6 } else { 16 }
    }
}

/// The sizes of a format's context fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtxLimits {
    /// Largest L2 header (legacy: IPCSS is one byte; advanced: MACLEN is 7 bits).
    pub max_l2: u32,
    /// Largest L3 header (advanced: IPLEN is 9 bits).
    pub max_l3: u32,
    /// Largest offset of a checksum field or start (legacy: TUCSO/TUCSS are one byte).
    pub max_l4_off: u32,
    /// Largest TSO header (legacy: HDRLEN is one byte; advanced: L4LEN one byte and the
    /// header in the first descriptors).
    pub max_tso_hdr: u32,
    /// Largest TSO payload (legacy: PAYLEN 20 bits; advanced: 18 bits).
    pub max_tso_payload: u32,
    /// Largest TSO segment size (MSS).
    pub max_mss: u32,
}

/// Checks what the context descriptor of `m` must hold against the format's `lim`: the
/// reasons a device cannot send it, named. A packet without offload requests passes.
pub fn check(m: &Mbuf, lim: &CtxLimits) -> Result<(), TxReject> {
    if !requested(m) {
        return Ok(());
    }
    let r = Request::of(m);
    let too = |what: &'static str, len: u32, max: u32| {
        if len > max {
            Err(TxReject::DeviceLimit { what, len, max })
        } else {
            Ok(())
        }
    };
    too("L2 header (l2_len)", u32::from(r.lens.l2_len), lim.max_l2)?;
    too("L3 header (l3_len)", u32::from(r.lens.l3_len), lim.max_l3)?;
    if r.l4 != TxL4Cksum::None {
        too("L4 checksum offset (l2_len + l3_len + field)", r.l4_cksum_at(), lim.max_l4_off)?;
    }
    if r.tso {
        if r.ipv4 && !r.ip_cksum {
            return Err(TxReject::TsoNeedsIpCksum);
        }
        too("TSO header (l2_len + l3_len + l4_len)", r.hdr_len(), lim.max_tso_hdr)?;
        let payload = m.pkt_len().saturating_sub(r.hdr_len());
        too("TSO payload", payload, lim.max_tso_payload)?;
        too("TSO segment size (tso_segsz)", u32::from(r.lens.tso_segsz), lim.max_mss)?;
        if m.pkt_len() <= r.hdr_len() {
            return Err(TxReject::DeviceLimit { what: "TSO payload (empty)", len: 0, max: lim.max_tso_payload });
        }
    }
    Ok(())
}
