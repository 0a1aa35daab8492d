//! The e1000e RSS flow frames both sides agree on: IPv4/UDP frames whose flow picks the
//! source address (the 82574 hashes IPv4 addresses and TCP ports, never UDP ports), carrying
//! the flow, a sequence number and a tag, 64..=600 bytes, every byte following from
//! (flow, seq). Shared by the guest program and the host-side test (which includes this
//! file by path, next to the shared `frames` module at its crate root).

use crate::frames::ip_checksum;

/// Destination IPv4 address of every flow frame.
pub const DST_IP: [u8; 4] = [10, 0, 0, 2];
/// Magic at the start of a flow frame's UDP payload.
const MAGIC: [u8; 4] = *b"EMRS";
/// Ethernet + IPv4 + UDP headers.
const HDRS: usize = 14 + 20 + 8;

/// Source IPv4 address of flow `flow`.
pub fn src_ip(flow: u16) -> [u8; 4] {
    let [hi, lo] = flow.to_be_bytes();
    [10, 1, hi, lo]
}

/// Flow frame `seq` of `flow` from `src` to `dst`, tagged `tag`.
pub fn frame(flow: u16, seq: u32, tag: u8, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let len = 64 + (seq as usize * 97 + flow as usize * 13) % 537;
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
    ip[12..16].copy_from_slice(&src_ip(flow));
    ip[16..20].copy_from_slice(&DST_IP);
    let sum = ip_checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f[34..36].copy_from_slice(&5000u16.to_be_bytes());
    f[36..38].copy_from_slice(&6000u16.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    let p = HDRS;
    f[p..p + 4].copy_from_slice(&MAGIC);
    f[p + 4..p + 6].copy_from_slice(&flow.to_be_bytes());
    f[p + 6..p + 10].copy_from_slice(&seq.to_be_bytes());
    f[p + 10] = tag;
    for (i, b) in f.iter_mut().enumerate().skip(p + 11) {
        *b = (seq as usize).wrapping_mul(7).wrapping_add(flow as usize * 3).wrapping_add(i) as u8;
    }
    f
}

/// The (flow, seq, tag) of a flow frame, after checking every byte against what [`frame`]
/// builds; an error names the first difference.
pub fn parse(f: &[u8], dst: [u8; 6], src: [u8; 6]) -> Result<(u16, u32, u8), String> {
    if f.len() < HDRS + 11 || f[12..14] != [0x08, 0x00] || f[23] != 17 || f[HDRS..HDRS + 4] != MAGIC {
        return Err(format!("not a flow frame ({} bytes)", f.len()));
    }
    let p = HDRS;
    let flow = u16::from_be_bytes([f[p + 4], f[p + 5]]);
    let seq = u32::from_be_bytes([f[p + 6], f[p + 7], f[p + 8], f[p + 9]]);
    let tag = f[p + 10];
    let want = frame(flow, seq, tag, dst, src);
    if f.len() != want.len() {
        return Err(format!("flow {flow} frame {seq}: {} bytes, expected {}", f.len(), want.len()));
    }
    if let Some(i) = f.iter().zip(&want).position(|(a, b)| a != b) {
        return Err(format!("flow {flow} frame {seq}: byte {i} is {:#04x}, expected {:#04x}", f[i], want[i]));
    }
    Ok((flow, seq, tag))
}
