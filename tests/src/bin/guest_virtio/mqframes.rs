//! The multiqueue test frames: IPv4/UDP frames of one fixed size whose UDP source port
//! names a flow (the host's TAP device picks a queue by a hash of the flow), carrying a
//! sequence number and a direction tag after a magic word. Shared by the guest program and
//! the host-side test (which includes this file by path, next to the shared `frames`
//! module at its crate root).

use crate::frames::ip_checksum;

/// Frame length (without FCS).
pub const LEN: usize = 128;
/// Magic word at the start of the UDP payload.
pub const MAGIC: [u8; 4] = *b"BPMQ";
/// Offset of the UDP payload.
const PAYLOAD: usize = 14 + 20 + 8;
/// Offset of the tag byte.
pub const TAG_AT: usize = PAYLOAD + 8;

/// Frame `seq` of `flow` from `src` to `dst`, tagged `tag`.
pub fn build(seq: u32, flow: u16, tag: u8, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(LEN);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((LEN - 14) as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&(seq as u16).to_be_bytes());
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let c = ip_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&(10_000 + flow).to_be_bytes());
    f.extend_from_slice(&20_000u16.to_be_bytes());
    f.extend_from_slice(&((LEN - 34) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&MAGIC);
    f.extend_from_slice(&seq.to_be_bytes());
    f.push(tag);
    while f.len() < LEN {
        f.push((seq as usize).wrapping_mul(13).wrapping_add(f.len()) as u8);
    }
    f
}

/// (sequence number, flow, tag) of a test frame; None for anything else.
pub fn parse(f: &[u8]) -> Option<(u32, u16, u8)> {
    if f.len() != LEN || f[12..14] != [0x08, 0x00] || f[PAYLOAD..PAYLOAD + 4] != MAGIC {
        return None;
    }
    let seq = u32::from_be_bytes([f[PAYLOAD + 4], f[PAYLOAD + 5], f[PAYLOAD + 6], f[PAYLOAD + 7]]);
    let flow = u16::from_be_bytes([f[34], f[35]]).wrapping_sub(10_000);
    Some((seq, flow, f[TAG_AT]))
}

/// Turns a received frame around: new addresses and tag, everything else kept.
pub fn reflect(f: &mut [u8], tag: u8, dst: [u8; 6], src: [u8; 6]) {
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[TAG_AT] = tag;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_parse_reflect() {
        let mut f = build(77, 3, 0x11, [2; 6], [4; 6]);
        assert_eq!(f.len(), LEN);
        assert_eq!(ip_checksum(&f[14..34]), 0, "header checksum verifies");
        assert_eq!(parse(&f), Some((77, 3, 0x11)));
        reflect(&mut f, 0x22, [4; 6], [2; 6]);
        assert_eq!(f, build(77, 3, 0x22, [4; 6], [2; 6]));
    }
}
