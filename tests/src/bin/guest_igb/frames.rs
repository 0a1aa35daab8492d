//! The frames both sides of the igb guest test agree on. Shared by the guest program and
//! the host-side test (which includes this file by path).
//!
//! - Pattern frames (`build`/`check`): numbered frames of mixed sizes (60..=1514 bytes) of
//!   an experimental ethertype whose every byte follows from the sequence number.
//! - Flow frames (`udp`/`parse_udp`): IPv4/UDP frames of flow `f` (UDP ports differ per
//!   flow, the addresses are the same), carrying the flow, a sequence number and a tag,
//!   64..=600 bytes, every payload byte following from (flow, seq).

/// The IEEE local experimental ethertype of pattern frames.
pub const ETHERTYPE: [u8; 2] = [0x88, 0xb5];
/// Smallest pattern frame (without FCS).
pub const MIN_LEN: usize = 60;
/// Largest pattern frame (without FCS).
pub const MAX_LEN: usize = 1514;
/// The host peer's MAC address.
pub const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// Source IPv4 address of flow frames.
pub const SRC_IP: [u8; 4] = [10, 0, 0, 1];
/// Destination IPv4 address of flow frames.
pub const DST_IP: [u8; 4] = [10, 0, 0, 2];
/// Magic at the start of a flow frame's UDP payload.
const MAGIC: [u8; 4] = *b"IGBF";
/// Ethernet + IPv4 + UDP headers.
const HDRS: usize = 14 + 20 + 8;

/// The length of pattern frame `seq`: spread over 60..=1514.
pub fn len_of(seq: u32) -> usize {
    MIN_LEN + (seq as usize * 389) % (MAX_LEN - MIN_LEN + 1)
}

fn byte(seq: u32, i: usize) -> u8 {
    (seq as usize).wrapping_mul(31).wrapping_add(i * 7) as u8
}

/// Pattern frame `seq` from `src` to `dst`, tagged with `tag`.
pub fn build(seq: u32, tag: u8, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; len_of(seq)];
    fill(&mut f, seq, tag, dst, src);
    f
}

/// Writes pattern frame `seq` into `out` (`len_of(seq)` bytes).
pub fn fill(out: &mut [u8], seq: u32, tag: u8, dst: [u8; 6], src: [u8; 6]) {
    out[..6].copy_from_slice(&dst);
    out[6..12].copy_from_slice(&src);
    out[12..14].copy_from_slice(&ETHERTYPE);
    out[14..18].copy_from_slice(&seq.to_be_bytes());
    out[18] = tag;
    out[19] = !tag;
    for (i, b) in out.iter_mut().enumerate().skip(20) {
        *b = byte(seq, i);
    }
}

/// The sequence number of a pattern frame, or None.
pub fn seq_of(f: &[u8]) -> Option<u32> {
    (f.len() >= 20 && f[12..14] == ETHERTYPE).then(|| u32::from_be_bytes([f[14], f[15], f[16], f[17]]))
}

/// Checks `f` against pattern frame `seq`; the first difference.
pub fn check(f: &[u8], seq: u32, tag: u8, dst: [u8; 6], src: [u8; 6]) -> Result<(), String> {
    let want = build(seq, tag, dst, src);
    if f.len() != want.len() {
        return Err(format!("frame {seq}: {} bytes, expected {}", f.len(), want.len()));
    }
    match f.iter().zip(&want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!("frame {seq}: byte {i} is {:#04x}, expected {:#04x}", f[i], want[i])),
    }
}

/// UDP source and destination ports of flow `flow`.
pub fn flow_ports(flow: u16) -> (u16, u16) {
    (1024 + flow, 4000 + flow.wrapping_mul(7))
}

/// Length of flow frame `seq` of `flow`: 64..=600 bytes.
pub fn udp_len(flow: u16, seq: u32) -> usize {
    64 + (seq as usize * 97 + flow as usize * 13) % 537
}

fn ip_checksum(h: &[u8]) -> u16 {
    let mut s: u32 = h.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Flow frame `seq` of `flow` from `src` to `dst`, tagged `tag`.
pub fn udp(flow: u16, seq: u32, tag: u8, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let len = udp_len(flow, seq);
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[4..6].copy_from_slice(&(seq as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&SRC_IP);
    ip[16..20].copy_from_slice(&DST_IP);
    let sum = ip_checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let (sp, dp) = flow_ports(flow);
    f[34..36].copy_from_slice(&sp.to_be_bytes());
    f[36..38].copy_from_slice(&dp.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    // UDP checksum 0: none (allowed over IPv4).
    let p = HDRS;
    f[p..p + 4].copy_from_slice(&MAGIC);
    f[p + 4..p + 6].copy_from_slice(&flow.to_be_bytes());
    f[p + 6..p + 10].copy_from_slice(&seq.to_be_bytes());
    f[p + 10] = tag;
    for (i, b) in f.iter_mut().enumerate().skip(p + 11) {
        *b = (seq as usize).wrapping_mul(13).wrapping_add(flow as usize * 5).wrapping_add(i) as u8;
    }
    f
}

/// The (flow, seq, tag) of a flow frame, after checking every byte (addresses included)
/// against what [`udp`] builds; an error names the first difference.
pub fn parse_udp(f: &[u8], dst: [u8; 6], src: [u8; 6]) -> Result<(u16, u32, u8), String> {
    if f.len() < HDRS + 11 || f[12..14] != [0x08, 0x00] || f[23] != 17 || f[HDRS..HDRS + 4] != MAGIC {
        return Err(format!("not a flow frame ({} bytes)", f.len()));
    }
    let p = HDRS;
    let flow = u16::from_be_bytes([f[p + 4], f[p + 5]]);
    let seq = u32::from_be_bytes([f[p + 6], f[p + 7], f[p + 8], f[p + 9]]);
    let tag = f[p + 10];
    let want = udp(flow, seq, tag, dst, src);
    if f.len() != want.len() {
        return Err(format!("flow {flow} frame {seq}: {} bytes, expected {}", f.len(), want.len()));
    }
    if let Some(i) = f.iter().zip(&want).position(|(a, b)| a != b) {
        return Err(format!("flow {flow} frame {seq}: byte {i} is {:#04x}, expected {:#04x}", f[i], want[i]));
    }
    Ok((flow, seq, tag))
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s.split(':').filter_map(|p| u8::from_str_radix(p, 16).ok()).collect();
    v.try_into().ok()
}

/// Formats a MAC address.
pub fn mac_str(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}
