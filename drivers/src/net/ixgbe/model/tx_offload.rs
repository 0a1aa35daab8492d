//! The 82599 model's TX offload rules: what an advanced context descriptor and the data
//! descriptors that use it make of a frame (Intel 82599 datasheet 331520, 7.2.3.2.3
//! "Advanced Transmit Context Descriptor", 7.2.3.2.4 "Advanced Transmit Data Descriptor",
//! 7.2.4 "TCP Segmentation", 7.2.5 "Transmit Checksum Offloading").
//!
//! The hardware computes checksums over what is in memory, the checksum fields included:
//! the driver seeds the L4 field with the pseudo-header sum (with the L4 length when not
//! segmenting, without it with TSE, where the device adds each segment's length) and
//! leaves the IPv4 header checksum 0. A driver that seeds wrongly gets wrong checksums
//! here as it would on the wire.

/// One context as the device keeps it (7.2.3.2.3): word 0 VLAN_MACIP_LENS (IPLEN 8:0,
/// MACLEN 15:9, VLAN 31:16), word 1 TYPE_TUCMD_MLHL (TUCMD.IPV4 bit 10, TUCMD.L4T 12:11,
/// DTYP 23:20 = 0010b, DEXT 29) and MSS_L4LEN_IDX in its high dword (IDX 6:4, L4LEN 15:8,
/// MSS 31:16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxContext {
    /// Bytes of IP header (IPLEN).
    pub iplen: usize,
    /// Bytes of MAC header (MACLEN).
    pub maclen: usize,
    /// The VLAN tag inserted with VLE.
    pub vlan: u16,
    /// TUCMD.IPV4.
    pub ipv4: bool,
    /// TUCMD.L4T: 0 UDP, 1 TCP, 2 SCTP.
    pub l4t: u8,
    /// Bytes of L4 header (L4LEN, TSO only).
    pub l4len: usize,
    /// Segment size (MSS, TSO only).
    pub mss: usize,
}

/// Contexts per queue: IDX selects one of two (7.2.3.2.3, "IDX ... 82599 supports 2
/// context descriptors per queue").
pub const CONTEXTS: usize = 2;

impl TxContext {
    /// Decodes a context descriptor's words into its IDX and the context.
    pub fn decode(w0: u64, w1: u64) -> (usize, TxContext) {
        let hi = w1 >> 32;
        let c = TxContext {
            iplen: (w0 & 0x1ff) as usize,
            maclen: ((w0 >> 9) & 0x7f) as usize,
            vlan: (w0 >> 16) as u16,
            ipv4: w1 & (1 << 10) != 0,
            l4t: ((w1 >> 11) & 0x3) as u8,
            l4len: ((hi >> 8) & 0xff) as usize,
            mss: ((hi >> 16) & 0xffff) as usize,
        };
        (((hi >> 4) & 0x7) as usize, c)
    }
}

/// The offload bits of a packet's first data descriptor (7.2.3.2.4): DCMD.VLE (bit 30) and
/// TSE (31); in the olinfo dword IDX (6:4), POPTS.IXSM (8) and TXSM (9), PAYLEN (31:14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketCmd {
    /// Insert the IPv4 header checksum.
    pub ixsm: bool,
    /// Insert the TCP/UDP checksum.
    pub txsm: bool,
    /// Segment (TSO).
    pub tse: bool,
    /// Insert the context's VLAN tag.
    pub vle: bool,
    /// The context used.
    pub idx: usize,
}

impl PacketCmd {
    /// Decodes word 1 of a data descriptor.
    pub fn decode(w1: u64) -> PacketCmd {
        let hi = w1 >> 32;
        PacketCmd {
            ixsm: hi & (1 << 8) != 0,
            txsm: hi & (1 << 9) != 0,
            tse: w1 & (1 << 31) != 0,
            vle: w1 & (1 << 30) != 0,
            idx: ((hi >> 4) & 0x7) as usize,
        }
    }

    /// True when the packet uses its context.
    pub fn uses_context(&self) -> bool {
        self.ixsm || self.txsm || self.tse || self.vle
    }
}

/// The 16-bit ones' complement sum of `b` (big-endian words, an odd byte padded), added
/// to `sum`.
pub(super) fn ones_sum(b: &[u8], mut sum: u32) -> u32 {
    let mut it = b.chunks_exact(2);
    for w in &mut it {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = it.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// Offset of the L4 checksum field in the L4 header (7.2.5: TCP 16, UDP 6).
fn l4_field(c: &TxContext) -> Result<usize, String> {
    match c.l4t {
        0 => Ok(6),
        1 => Ok(16),
        t => Err(format!("TUCMD.L4T {t:#b}: the model does not do SCTP (7.2.5)")),
    }
}

/// Fills the checksums of one frame (7.2.5): IXSM puts the ones' complement of the IPv4
/// header's sum (as in memory) into its field at MACLEN + 10; TXSM the complement of the
/// sum from MACLEN + IPLEN to the frame's end, plus `l4_len_extra` (TSO: the segment's L4
/// length, which the seed lacks), into the field TUCMD.L4T names.
fn checksums(f: &mut [u8], c: &TxContext, cmd: &PacketCmd, l4_len_extra: u32) -> Result<(), String> {
    let (l3, l4) = (c.maclen, c.maclen + c.iplen);
    if f.len() < l4 {
        return Err(format!("MACLEN {} + IPLEN {} beyond a frame of {}", c.maclen, c.iplen, f.len()));
    }
    if cmd.ixsm {
        if !c.ipv4 {
            return Err("POPTS.IXSM with a context without TUCMD.IPV4 (7.2.3.2.3)".into());
        }
        let s = !(ones_sum(&f[l3..l4], 0) as u16);
        f[l3 + 10..l3 + 12].copy_from_slice(&s.to_be_bytes());
    }
    if cmd.txsm {
        let at = l4 + l4_field(c)?;
        if f.len() < at + 2 {
            return Err(format!("L4 checksum field at {at} beyond a frame of {}", f.len()));
        }
        let mut s = !(ones_sum(&f[l4..], l4_len_extra) as u16);
        if c.l4t == 0 && s == 0 {
            s = 0xffff;
        }
        f[at..at + 2].copy_from_slice(&s.to_be_bytes());
    }
    Ok(())
}

/// Cuts a TSO packet into frames of at most MSS payload bytes (7.2.4): each frame is the
/// header (MACLEN + IPLEN + L4LEN bytes) followed by its part of the payload; the IPv4
/// total length (or IPv6 payload length) is that frame's, the IPv4 identification grows by
/// one per frame (7.2.4.2), the TCP sequence number by the payload sent before it, and
/// FIN and PSH stay only on the last frame (DTXTCPFLGL/H at their initial values mask them
/// from the first and middle ones, 8.2.3.9.x); then the checksums of each frame
/// (with TSE the device adds each frame's L4 length to the seeded sum).
fn segment(f: &[u8], c: &TxContext, cmd: &PacketCmd, paylen: usize) -> Result<Vec<Vec<u8>>, String> {
    if c.l4t != 1 {
        return Err("TSE with a context whose TUCMD.L4T is not TCP (7.2.4)".into());
    }
    if c.mss == 0 || c.l4len < 20 {
        return Err(format!("TSE with MSS {} and L4LEN {} (7.2.3.2.3)", c.mss, c.l4len));
    }
    let hdr = c.maclen + c.iplen + c.l4len;
    if f.len() != hdr + paylen {
        return Err(format!(
            "TSE: PAYLEN {paylen} plus the headers ({hdr}) is not the {} bytes sent (7.2.3.2.4)",
            f.len()
        ));
    }
    let (l3, l4) = (c.maclen, c.maclen + c.iplen);
    let payload = &f[hdr..];
    let n = payload.len().div_ceil(c.mss);
    let mut out = Vec::with_capacity(n);
    let seq0 = u32::from_be_bytes([f[l4 + 4], f[l4 + 5], f[l4 + 6], f[l4 + 7]]);
    for (k, part) in payload.chunks(c.mss).enumerate() {
        let mut s = f[..hdr].to_vec();
        s.extend_from_slice(part);
        let l4_len = (c.l4len + part.len()) as u32;
        if c.ipv4 {
            let total = (c.iplen + c.l4len + part.len()) as u16;
            s[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
            let id = u16::from_be_bytes([f[l3 + 4], f[l3 + 5]]).wrapping_add(k as u16);
            s[l3 + 4..l3 + 6].copy_from_slice(&id.to_be_bytes());
        } else {
            let ext = c.iplen.checked_sub(40).ok_or(format!("IPv6 TSO with IPLEN {} under 40", c.iplen))?;
            let plen = (ext + c.l4len + part.len()) as u16;
            s[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
        }
        let seq = seq0.wrapping_add((k * c.mss) as u32);
        s[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        if k + 1 < n {
            s[l4 + 13] &= !(0x01 | 0x08);
        }
        checksums(&mut s, c, cmd, l4_len)?;
        out.push(s);
    }
    Ok(out)
}

/// What the device sends for one packet of `frame` (the bytes of its data descriptors)
/// with the offload bits `cmd` of its first data descriptor, `paylen` its PAYLEN, `ctx` the
/// context its IDX names (None: never written) and `vlan_ethertype` DMATXCTL.VT: its
/// frames, or why the datasheet forbids it. Without TSE PAYLEN is the packet's length,
/// with it the payload after the headers (7.2.3.2.4). VLE inserts the context's tag after
/// the MAC addresses, with the ethertype of DMATXCTL.VT (8.2.3.9.2), into every frame.
pub fn apply(
    mut frame: Vec<u8>,
    cmd: &PacketCmd,
    paylen: usize,
    ctx: Option<&TxContext>,
    vlan_ethertype: u16,
) -> Result<Vec<Vec<u8>>, String> {
    if !cmd.uses_context() {
        if paylen != frame.len() {
            return Err(format!("PAYLEN {paylen} for a frame of {} (7.2.3.2.4)", frame.len()));
        }
        return Ok(vec![frame]);
    }
    if cmd.idx >= CONTEXTS {
        return Err(format!("IDX {} in a data descriptor: the 82599 has {CONTEXTS} contexts per queue", cmd.idx));
    }
    let Some(c) = ctx else {
        return Err(format!("offloads asked with context IDX {} never written on this queue (7.2.3.2.3)", cmd.idx));
    };
    let mut frames = if cmd.tse {
        segment(&frame, c, cmd, paylen)?
    } else {
        if paylen != frame.len() {
            return Err(format!("PAYLEN {paylen} for a frame of {} without TSE (7.2.3.2.4)", frame.len()));
        }
        checksums(&mut frame, c, cmd, 0)?;
        vec![frame]
    };
    if cmd.vle {
        for f in frames.iter_mut() {
            if f.len() < 12 {
                return Err("VLE on a frame shorter than its MAC addresses".into());
            }
            let tag = [vlan_ethertype.to_be_bytes(), c.vlan.to_be_bytes()].concat();
            f.splice(12..12, tag);
        }
    }
    Ok(frames)
}
