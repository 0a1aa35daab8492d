//! CRC32-C (Castagnoli) over 64-bit words: SSE4.2's `crc32` instruction when the CPU has it,
//! a table-driven portable version otherwise. Both give the same value, so processes on
//! different CPUs (or built differently) agree on where a key lives.

const POLY: u32 = 0x82F6_3B78; // reflected Castagnoli polynomial

const fn make_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u32; 256] = make_table();

/// Portable CRC32-C step over the 8 little-endian bytes of `w` (no pre/post inversion, like
/// the `crc32` instruction).
pub fn crc32c_u64_soft(mut crc: u32, w: u64) -> u32 {
    for b in w.to_le_bytes() {
        crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// True when this CPU runs the SSE4.2 path.
pub fn has_hw() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("sse4.2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A CRC32-C unit: SSE4.2's `crc32` instruction when [`Crc32c::detect`] found it on this
/// CPU, the portable table otherwise (the same values either way). Only `detect` makes one,
/// so holding a unit that says "hardware" proves the CPU was checked; it is small and `Copy`,
/// meant to be kept in a handle so each hash costs no feature check.
#[derive(Debug, Clone, Copy)]
pub struct Crc32c {
    hw: bool,
}

impl Crc32c {
    /// Checks the CPU once.
    pub fn detect() -> Crc32c {
        Crc32c { hw: has_hw() }
    }

    /// True when this unit uses the `crc32` instruction.
    pub fn is_hw(self) -> bool {
        self.hw
    }

    /// CRC32-C of `words` from `seed` (no pre/post inversion). Inlined, so a key of a
    /// known number of words costs that many `crc32` instructions.
    #[inline(always)]
    pub fn words(self, seed: u32, words: &[u64]) -> u32 {
        #[cfg(target_arch = "x86_64")]
        if self.hw {
            let mut crc = u64::from(seed);
            for &w in words {
                // SAFETY: `hw` is true only when `detect` found SSE4.2 on this CPU, whose
                // `crc32` instruction this is; it reads and writes the two registers only
                // (no memory, no stack, no flags).
                unsafe {
                    std::arch::asm!(
                        "crc32 {crc}, {w}",
                        crc = inout(reg) crc,
                        w = in(reg) w,
                        options(pure, nomem, nostack, preserves_flags)
                    );
                }
            }
            return crc as u32;
        }
        crc32c_words_soft(seed, words)
    }
}

/// CRC32-C of `words` starting from `seed`, hardware-accelerated when available (checks the
/// CPU on the first call; keep a [`Crc32c`] where the check's cost matters).
#[inline]
pub fn crc32c_words(seed: u32, words: &[u64]) -> u32 {
    use std::sync::atomic::{AtomicU8, Ordering};
    static HW: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 no, 2 yes
    let mut hw = HW.load(Ordering::Relaxed);
    if hw == 0 {
        hw = if has_hw() { 2 } else { 1 };
        HW.store(hw, Ordering::Relaxed);
    }
    Crc32c { hw: hw == 2 }.words(seed, words)
}

/// Portable CRC32-C of `words` (for tests and for CPUs without SSE4.2).
pub fn crc32c_words_soft(seed: u32, words: &[u64]) -> u32 {
    words.iter().fold(seed, |c, &w| crc32c_u64_soft(c, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hw_and_soft_agree() {
        let words: Vec<u64> = (0..100u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        for n in 0..words.len() {
            assert_eq!(crc32c_words(7, &words[..n]), crc32c_words_soft(7, &words[..n]));
            assert_eq!(Crc32c::detect().words(7, &words[..n]), crc32c_words_soft(7, &words[..n]));
        }
    }

    #[test]
    fn known_value() {
        // CRC32-C("123456789") = 0xE3069283 with inversion; feed bytes through the word step.
        let data = b"123456789";
        let mut crc = !0u32;
        for &b in data {
            crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
        }
        assert_eq!(!crc, 0xE306_9283);
    }
}
