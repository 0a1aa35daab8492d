//! RSS programming: MRQC from ethdev hash types, the 40-byte key in RSSRK, and the
//! 128-entry redirection table in RETA (one byte per entry, the queue in its low bits).

use super::regs;
use crate::net::intel::RegIo;
use ethdev::rss::{hash, RssConf, RSS_KEY_LEN};

/// Entries of the redirection table.
pub const RETA_SIZE: usize = 128;
/// The hash types the 82576 computes.
pub const HASH_TYPES: u64 = hash::ALL;

/// MRQC hash-field bits for ethdev `hash_types` (IPv6 types also cover extension
/// headers).
pub fn mrqc_fields(hash_types: u64) -> u32 {
    let mut v = 0;
    for (t, bits) in [
        (hash::IPV4, regs::MRQC_IPV4),
        (hash::TCP_IPV4, regs::MRQC_TCP_IPV4),
        (hash::UDP_IPV4, regs::MRQC_UDP_IPV4),
        (hash::IPV6, regs::MRQC_IPV6 | regs::MRQC_IPV6_EX),
        (hash::TCP_IPV6, regs::MRQC_TCP_IPV6 | regs::MRQC_TCP_IPV6_EX),
        (hash::UDP_IPV6, regs::MRQC_UDP_IPV6 | regs::MRQC_UDP_IPV6_EX),
    ] {
        if hash_types & t != 0 {
            v |= bits;
        }
    }
    v
}

/// MRQC for a port: RSS with `conf`'s hash types when `on`, else 0 (everything to queue 0).
pub fn mrqc(on: bool, conf: &RssConf) -> u32 {
    if on {
        regs::MRQC_RSS | mrqc_fields(conf.hash_types)
    } else {
        0
    }
}

/// The RSSRK register values of `key` (byte i of the key is byte i % 4 of register i / 4).
pub fn key_words(key: &[u8; RSS_KEY_LEN]) -> [u32; RSS_KEY_LEN / 4] {
    let mut w = [0u32; RSS_KEY_LEN / 4];
    for (i, c) in key.chunks_exact(4).enumerate() {
        w[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    w
}

/// The RETA register values of a 128-entry table.
pub fn reta_words(reta: &[u16]) -> [u32; RETA_SIZE / 4] {
    let mut w = [0u32; RETA_SIZE / 4];
    for (i, q) in reta.iter().take(RETA_SIZE).enumerate() {
        w[i / 4] |= u32::from(*q as u8 & 0x0f) << (8 * (i % 4));
    }
    w
}

/// The table held in RETA register values.
pub fn reta_from_words(w: &[u32]) -> Vec<u16> {
    w.iter().flat_map(|r| r.to_le_bytes()).map(|b| u16::from(b & 0x0f)).collect()
}

/// Writes the key.
pub fn write_key<R: RegIo + ?Sized>(r: &R, key: &[u8; RSS_KEY_LEN]) {
    for (i, v) in key_words(key).iter().enumerate() {
        r.write32(regs::RSSRK + 4 * i, *v);
    }
}

/// Writes the redirection table (`reta` has [`RETA_SIZE`] entries).
pub fn write_reta<R: RegIo + ?Sized>(r: &R, reta: &[u16]) {
    for (i, v) in reta_words(reta).iter().enumerate() {
        r.write32(regs::RETA + 4 * i, *v);
    }
}

/// Reads the redirection table back.
pub fn read_reta<R: RegIo + ?Sized>(r: &R) -> Vec<u16> {
    let w: Vec<u32> = (0..RETA_SIZE / 4).map(|i| r.read32(regs::RETA + 4 * i)).collect();
    reta_from_words(&w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::intel::reg_io::SoftRegs;
    use ethdev::rss::{default_reta, DEFAULT_RSS_KEY};

    #[test]
    fn mrqc_maps_hash_types() {
        assert_eq!(mrqc(false, &RssConf::default()), 0);
        let udp4 = RssConf { hash_types: hash::UDP_IPV4, ..RssConf::default() };
        assert_eq!(mrqc(true, &udp4), 0x2 | (1 << 22));
        assert_eq!(mrqc_fields(hash::IPV4 | hash::TCP_IPV4), (1 << 17) | (1 << 16));
        assert_eq!(mrqc_fields(hash::ALL), 0x01ff_0000);
        assert_eq!(mrqc_fields(0), 0);
    }

    #[test]
    fn key_and_reta_layout() {
        let w = key_words(&DEFAULT_RSS_KEY);
        assert_eq!(w[0], 0xda56_5a6d, "key byte 0 is the low byte of RSSRK0");
        let reta = default_reta(RETA_SIZE, 4);
        let rw = reta_words(&reta);
        assert_eq!(rw[0], 0x0302_0100);
        assert_eq!(reta_from_words(&rw), reta);
        let regs = SoftRegs::new(0x6000);
        write_reta(&regs, &default_reta(RETA_SIZE, 3));
        assert_eq!(read_reta(&regs), default_reta(RETA_SIZE, 3));
        write_key(&regs, &DEFAULT_RSS_KEY);
        assert_eq!(regs.read32(regs::RSSRK + 32), u32::from_le_bytes([0x6a, 0x42, 0xb7, 0x3b]));
        assert_eq!(regs.read32(regs::RSSRK + 36), u32::from_le_bytes([0xbe, 0xac, 0x01, 0xfa]));
        assert_eq!(regs.read32(regs::RSSRK + 40), 0, "ten key registers only");
    }
}
