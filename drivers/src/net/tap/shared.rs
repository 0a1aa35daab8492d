//! What a TAP port keeps in its slot's private words, so that secondaries can find it: the
//! interface's index and name, the queue counts, and where to ask the primary for the queue
//! fds.

use std::sync::atomic::{AtomicU64, Ordering};

/// Interface index.
pub const W_IFINDEX: usize = 0;
/// Queue fds the primary opened.
pub const W_NB_QUEUES: usize = 1;
/// Queues attached (receiving); TX queue `q` writes to fd `q % attached`.
pub const W_ATTACHED: usize = 2;
/// Interface name: 2 words.
pub const W_IFNAME: usize = 4;
/// Directory of the primary's fd endpoint: [`DIR_WORDS`] words.
pub const W_DIR: usize = 8;
/// Words of [`W_DIR`].
pub const DIR_WORDS: usize = 32;

/// Stores `s` NUL-padded in `words`; false (nothing stored) if it does not fit.
pub fn store_str(words: &[AtomicU64], s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() >= words.len() * 8 || b.contains(&0) {
        return false;
    }
    for (i, w) in words.iter().enumerate() {
        let mut chunk = [0u8; 8];
        for (j, c) in chunk.iter_mut().enumerate() {
            *c = b.get(i * 8 + j).copied().unwrap_or(0);
        }
        w.store(u64::from_le_bytes(chunk), Ordering::Relaxed);
    }
    true
}

/// Reads a string stored by [`store_str`] (lossy UTF-8).
pub fn load_str(words: &[AtomicU64]) -> String {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes()).collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_overflow_is_refused() {
        let w: Vec<AtomicU64> = (0..2).map(|_| AtomicU64::new(u64::MAX)).collect();
        assert!(store_str(&w, "dtap12"));
        assert_eq!(load_str(&w), "dtap12");
        assert!(store_str(&w, "123456789012345"));
        assert_eq!(load_str(&w), "123456789012345");
        assert!(!store_str(&w, "1234567890123456"), "no room for the NUL");
        assert!(store_str(&w, ""));
        assert_eq!(load_str(&w), "");
    }
}
