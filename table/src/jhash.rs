//! Bob Jenkins' lookup3 hash (`hashlittle`), the values of DPDK's `rte_jhash`: the hash
//! `rte_hash` tables use by default, so a key hashed here and by a DPDK program agrees.

/// The 32-bit jhash of `key` with initial value `init` (`rte_jhash(key, key.len(), init)`).
pub fn hash(key: &[u8], init: u32) -> u32 {
    let start = 0xdead_beef_u32.wrapping_add(key.len() as u32).wrapping_add(init);
    let (mut a, mut b, mut c) = (start, start, start);
    let word = |bytes: &[u8]| {
        let mut w = [0u8; 4];
        w[..bytes.len()].copy_from_slice(bytes);
        u32::from_le_bytes(w)
    };
    // Whole 12-byte blocks but the last (a key of a multiple of 12 bytes ends on a full one).
    let mut rest = key;
    while rest.len() > 12 {
        let (block, tail) = rest.split_at(12);
        a = a.wrapping_add(word(&block[..4]));
        b = b.wrapping_add(word(&block[4..8]));
        c = c.wrapping_add(word(&block[8..]));
        (a, b, c) = mix(a, b, c);
        rest = tail;
    }
    if rest.is_empty() {
        // Only an empty key gets here: no final mix.
        return c;
    }
    // The last 1 to 12 bytes, zero-padded, little-endian.
    let mut last = [0u8; 12];
    last[..rest.len()].copy_from_slice(rest);
    a = a.wrapping_add(word(&last[..4]));
    b = b.wrapping_add(word(&last[4..8]));
    c = c.wrapping_add(word(&last[8..]));
    fin(a, b, c)
}

/// lookup3's `mix`: every input bit of the three words reaches the others.
fn mix(mut a: u32, mut b: u32, mut c: u32) -> (u32, u32, u32) {
    a = a.wrapping_sub(c) ^ c.rotate_left(4);
    c = c.wrapping_add(b);
    b = b.wrapping_sub(a) ^ a.rotate_left(6);
    a = a.wrapping_add(c);
    c = c.wrapping_sub(b) ^ b.rotate_left(8);
    b = b.wrapping_add(a);
    a = a.wrapping_sub(c) ^ c.rotate_left(16);
    c = c.wrapping_add(b);
    b = b.wrapping_sub(a) ^ a.rotate_left(19);
    a = a.wrapping_add(c);
    c = c.wrapping_sub(b) ^ b.rotate_left(4);
    b = b.wrapping_add(a);
    (a, b, c)
}

/// lookup3's `final`: the last block's mix, which settles `c`.
fn fin(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c = (c ^ b).wrapping_sub(b.rotate_left(14));
    a = (a ^ c).wrapping_sub(c.rotate_left(11));
    b = (b ^ a).wrapping_sub(a.rotate_left(25));
    c = (c ^ b).wrapping_sub(b.rotate_left(16));
    a = (a ^ c).wrapping_sub(c.rotate_left(4));
    b = (b ^ a).wrapping_sub(a.rotate_left(14));
    (c ^ b).wrapping_sub(b.rotate_left(24))
}

#[cfg(test)]
mod tests {
    use super::hash;

    /// The values lookup3.c's own self-test prints for `hashlittle`.
    #[test]
    fn matches_lookup3_published_values() {
        assert_eq!(hash(b"", 0), 0xdead_beef);
        assert_eq!(hash(b"", 0xdead_beef), 0xbd5b_7dde);
        assert_eq!(hash(b"Four score and seven years ago", 0), 0x1777_0551);
        assert_eq!(hash(b"Four score and seven years ago", 1), 0xcd62_8161);
    }

    /// Tails of every length class and keys ending on a whole 12-byte block (36 bytes), against
    /// values printed by DPDK 22.11's `rte_jhash` for the same bytes (`i * 37 + 1`) and
    /// initial value 7.
    #[test]
    fn matches_rte_jhash_on_every_tail_length() {
        let key: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37).wrapping_add(1)).collect();
        let want: [(usize, u32); 10] = [
            (1, 0x5543_253f),
            (8, 0xf7ca_f825),
            (15, 0xc79c_383c),
            (22, 0xeeea_2850),
            (29, 0x517a_f020),
            (36, 0xd6e2_3a71),
            (43, 0x34dc_b0b4),
            (50, 0x52c0_bb9b),
            (57, 0x31d4_5d0f),
            (64, 0x6d38_14d1),
        ];
        for (len, h) in want {
            assert_eq!(hash(&key[..len], 7), h, "{len} bytes");
        }
    }
}
