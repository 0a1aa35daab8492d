//! Fixed-size names stored in shared memory as plain atomics.

use crate::shm::SharedPlain;
use std::sync::atomic::{AtomicU64, Ordering};

/// A NUL-padded UTF-8 name of at most `8*W - 1` bytes, readable and writable from any process.
#[repr(C)]
pub struct SharedName<const W: usize>([AtomicU64; W]);

// SAFETY: an array of atomics; all-zero is the empty name.
unsafe impl<const W: usize> SharedPlain for SharedName<W> {}

impl<const W: usize> SharedName<W> {
    /// Longest name that fits (one byte is kept for the terminating NUL).
    pub const MAX_LEN: usize = 8 * W - 1;

    /// Stores `s`; returns `false` (storing nothing) when it is too long.
    pub fn set(&self, s: &str) -> bool {
        let b = s.as_bytes();
        if b.len() > Self::MAX_LEN {
            return false;
        }
        for (i, w) in self.0.iter().enumerate() {
            let mut word = [0u8; 8];
            for (j, byte) in word.iter_mut().enumerate() {
                if let Some(&c) = b.get(i * 8 + j) {
                    *byte = c;
                }
            }
            w.store(u64::from_le_bytes(word), Ordering::Relaxed);
        }
        true
    }

    /// Reads the name back (lossy for bytes that are not UTF-8).
    pub fn get(&self) -> String {
        let mut bytes = Vec::with_capacity(8 * W);
        for w in &self.0 {
            bytes.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    }

    /// True when the stored name equals `s`, without allocating.
    pub fn eq_str(&self, s: &str) -> bool {
        let b = s.as_bytes();
        if b.len() > Self::MAX_LEN {
            return false;
        }
        self.0.iter().enumerate().all(|(i, w)| {
            let mut word = [0u8; 8];
            for (j, byte) in word.iter_mut().enumerate() {
                if let Some(&c) = b.get(i * 8 + j) {
                    *byte = c;
                }
            }
            w.load(Ordering::Relaxed) == u64::from_le_bytes(word)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeroed<const W: usize>() -> SharedName<W> {
        SharedName(std::array::from_fn(|_| AtomicU64::new(0)))
    }

    #[test]
    fn round_trip_and_limits() {
        let n = zeroed::<4>();
        assert_eq!(n.get(), "");
        assert!(n.set("mbuf_pool"));
        assert_eq!(n.get(), "mbuf_pool");
        assert!(n.eq_str("mbuf_pool"));
        assert!(!n.eq_str("mbuf_poo"));
        assert!(n.set(&"x".repeat(31)));
        assert!(!n.set(&"x".repeat(32)));
        assert_eq!(n.get(), "x".repeat(31));
        assert!(n.set("a"));
        assert_eq!(n.get(), "a", "shorter name clears the old tail");
    }
}
