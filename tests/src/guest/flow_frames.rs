//! Flow frames for the RSS scenarios, both sides agree on: IPv4/UDP frames of flow `f`
//! carrying the flow, a sequence number and a tag after a 4-byte magic, 64..=600 bytes,
//! every byte following from (flow, seq). A [`FlowFrames`] says what varies per driver: the
//! magic, which header fields a flow picks (the source address, the UDP ports: what the
//! device hashes) and the payload pattern. Shared by the guest programs and the host-side
//! tests (which include this file by path, next to the shared `frames` module).

use super::frames::ip_checksum;

/// Ethernet + IPv4 + UDP headers.
const HDRS: usize = 14 + 20 + 8;

/// The flow frames of one guest program.
pub struct FlowFrames {
    /// Magic at the start of the UDP payload.
    pub magic: [u8; 4],
    /// Source IPv4 address of flow `f`.
    pub src_ip: fn(u16) -> [u8; 4],
    /// Destination IPv4 address of every flow.
    pub dst_ip: [u8; 4],
    /// UDP source and destination ports of flow `f`.
    pub ports: fn(u16) -> (u16, u16),
    /// Payload byte `i` (after flow, seq and tag) of frame `seq` of flow `f` is
    /// `seq * fill.0 + f * fill.1 + i` (mod 256).
    pub fill: (usize, usize),
}

impl FlowFrames {
    /// Length of frame `seq` of `flow`: 64..=600 bytes.
    pub fn len(flow: u16, seq: u32) -> usize {
        64 + (seq as usize * 97 + flow as usize * 13) % 537
    }

    /// Frame `seq` of `flow` from `src` to `dst`, tagged `tag` (UDP checksum 0: none,
    /// allowed over IPv4).
    pub fn frame(&self, flow: u16, seq: u32, tag: u8, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
        let len = Self::len(flow, seq);
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
        ip[12..16].copy_from_slice(&(self.src_ip)(flow));
        ip[16..20].copy_from_slice(&self.dst_ip);
        let sum = ip_checksum(ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let (sp, dp) = (self.ports)(flow);
        f[34..36].copy_from_slice(&sp.to_be_bytes());
        f[36..38].copy_from_slice(&dp.to_be_bytes());
        f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
        let p = HDRS;
        f[p..p + 4].copy_from_slice(&self.magic);
        f[p + 4..p + 6].copy_from_slice(&flow.to_be_bytes());
        f[p + 6..p + 10].copy_from_slice(&seq.to_be_bytes());
        f[p + 10] = tag;
        let (by_seq, by_flow) = self.fill;
        for (i, b) in f.iter_mut().enumerate().skip(p + 11) {
            *b = (seq as usize).wrapping_mul(by_seq).wrapping_add(flow as usize * by_flow).wrapping_add(i) as u8;
        }
        f
    }

    /// The (flow, seq, tag) of a flow frame, after checking every byte (addresses included)
    /// against what [`FlowFrames::frame`] builds; an error names the first difference.
    pub fn parse(&self, f: &[u8], dst: [u8; 6], src: [u8; 6]) -> Result<(u16, u32, u8), String> {
        if f.len() < HDRS + 11 || f[12..14] != [0x08, 0x00] || f[23] != 17 || f[HDRS..HDRS + 4] != self.magic {
            return Err(format!("not a flow frame ({} bytes)", f.len()));
        }
        let p = HDRS;
        let flow = u16::from_be_bytes([f[p + 4], f[p + 5]]);
        let seq = u32::from_be_bytes([f[p + 6], f[p + 7], f[p + 8], f[p + 9]]);
        let tag = f[p + 10];
        let want = self.frame(flow, seq, tag, dst, src);
        if f.len() != want.len() {
            return Err(format!("flow {flow} frame {seq}: {} bytes, expected {}", f.len(), want.len()));
        }
        if let Some(i) = f.iter().zip(&want).position(|(a, b)| a != b) {
            return Err(format!("flow {flow} frame {seq}: byte {i} is {:#04x}, expected {:#04x}", f[i], want[i]));
        }
        Ok((flow, seq, tag))
    }
}
