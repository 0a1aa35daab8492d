//! Flow identification for the samples: a hash of an IPv4 packet's addresses and ports, and
//! the flow's key in a shared table ([`flow_key`]).

/// Length of a [`flow_key`].
pub const FLOW_KEY_LEN: usize = 13;

/// The key of a frame's flow in a shared table: for IPv4, source and destination address,
/// source and destination port (0 unless UDP or TCP) and protocol, in network order; for
/// any other frame its two MAC addresses and the byte 0xff (a reserved protocol number).
pub fn flow_key(frame: &[u8]) -> [u8; FLOW_KEY_LEN] {
    let mut k = [0u8; FLOW_KEY_LEN];
    if frame.len() >= 34 && frame[12] == 0x08 && frame[13] == 0x00 {
        let ihl = ((frame[14] & 0x0f) as usize) * 4;
        let proto = frame[23];
        k[..8].copy_from_slice(&frame[26..34]);
        let l4 = 14 + ihl;
        if (proto == 17 || proto == 6) && frame.len() >= l4 + 4 {
            k[8..12].copy_from_slice(&frame[l4..l4 + 4]);
        }
        k[12] = proto;
    } else {
        let n = frame.len().min(12);
        k[..n].copy_from_slice(&frame[..n]);
        k[12] = 0xff;
    }
    k
}

/// Hashes the IPv4 source/destination addresses and, for UDP/TCP, the ports of an Ethernet
/// frame (FNV-1a). Frames that are not IPv4 hash their MAC addresses instead, so every frame
/// of one flow always gets the same value.
pub fn flow_hash(frame: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h ^= x as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    if frame.len() >= 34 && frame[12] == 0x08 && frame[13] == 0x00 {
        let ihl = ((frame[14] & 0x0f) as usize) * 4;
        eat(&frame[26..34]);
        let proto = frame[23];
        let l4 = 14 + ihl;
        if (proto == 17 || proto == 6) && frame.len() >= l4 + 4 {
            eat(&frame[l4..l4 + 4]);
        }
    } else if frame.len() >= 12 {
        eat(&frame[..12]);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_flow_same_hash_different_ports_differ() {
        let mut a = vec![0u8; 64];
        a[12] = 0x08;
        a[14] = 0x45;
        a[23] = 17;
        a[34..36].copy_from_slice(&1000u16.to_be_bytes());
        let mut b = a.clone();
        b[60] = 9; // payload differs
        assert_eq!(flow_hash(&a), flow_hash(&b));
        b[34..36].copy_from_slice(&1001u16.to_be_bytes());
        assert_ne!(flow_hash(&a), flow_hash(&b));
        a[26..34].copy_from_slice(&[198, 18, 0, 1, 198, 18, 1, 1]);
        assert_eq!(flow_key(&a), [198, 18, 0, 1, 198, 18, 1, 1, 3, 0xe8, 0, 0, 17]);
        assert_eq!(flow_key(&a[..20])[12], 0xff, "not IPv4: the MAC addresses");
    }
}
