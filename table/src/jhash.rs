//! Bob Jenkins' lookup3 hash (`hashlittle`), the values of DPDK's `rte_jhash`: the hash
//! `rte_hash` tables use by default, so a key hashed here and by a DPDK program agrees.

/// The 32-bit jhash of `key` with initial value `init` (`rte_jhash(key, key.len(), init)`).
pub fn hash(key: &[u8], init: u32) -> u32 {
    let start = 0xdead_beef_u32.wrapping_add(key.len() as u32).wrapping_add(init);
    let mut v = [start; 3];
    // Adds a 12-byte block to the state, as three little-endian words.
    let add = |v: &mut [u32; 3], block: &[u8]| {
        for (x, w) in v.iter_mut().zip(block.as_chunks::<4>().0) {
            *x = x.wrapping_add(u32::from_le_bytes(*w));
        }
    };
    // Whole 12-byte blocks but the last (a key of a multiple of 12 bytes ends on a full one).
    let mut rest = key;
    while rest.len() > 12 {
        let (block, tail) = rest.split_at(12);
        add(&mut v, block);
        v = mix(v);
        rest = tail;
    }
    if rest.is_empty() {
        // Only an empty key gets here: no final mix.
        return v[2];
    }
    // The last 1 to 12 bytes, zero-padded, little-endian.
    let mut last = [0u8; 12];
    last[..rest.len()].copy_from_slice(rest);
    add(&mut v, &last);
    fin(v)
}

/// lookup3's `mix`: six rounds of `x -= z; x ^= z <<< r; z += y`, with `(x, y, z)` taking
/// the roles `(a, b, c)`, `(b, c, a)`, `(c, a, b)` in turn, so every input bit of the three
/// words reaches the others.
fn mix(mut v: [u32; 3]) -> [u32; 3] {
    for (i, r) in [4, 6, 8, 16, 19, 4].into_iter().enumerate() {
        let (x, y, z) = (i % 3, (i + 1) % 3, (i + 2) % 3);
        v[x] = v[x].wrapping_sub(v[z]) ^ v[z].rotate_left(r);
        v[z] = v[z].wrapping_add(v[y]);
    }
    v
}

/// lookup3's `final`, which settles `c`: seven rounds of `x ^= z; x -= z <<< r`, with
/// `(x, z)` taking the roles `(c, b)`, `(a, c)`, `(b, a)` in turn.
fn fin(mut v: [u32; 3]) -> u32 {
    for (i, r) in [14, 11, 25, 16, 4, 14, 24].into_iter().enumerate() {
        let (x, z) = ((i + 2) % 3, (i + 1) % 3);
        v[x] = (v[x] ^ v[z]).wrapping_sub(v[z].rotate_left(r));
    }
    v[2]
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
