//! RSS of the 82574L over its two RX queues (82574 datasheet, MRQC/RETA/RSSRK; QEMU's
//! e1000e model): MRQC enables RSS with 01b in bits 1:0 and picks the hashed fields (TCP
//! over IPv4 bit 16, IPv4 17, TCP over IPv6 18, IPv6 with extension headers 19, IPv6 20; no
//! UDP); the 40-byte key sits in RSSRK (byte i of the key is byte i % 4 of register i / 4);
//! RETA holds 128 one-byte entries indexed by the hash's low 7 bits, and bit 7 of an
//! entry is the queue. The device computes the hash only with extended RX descriptors
//! (RFCTL.EXSTEN) and RXCSUM.PCSD, which put it into the write-back.

use super::regs;
use crate::net::intel::RegIo;
use ethdev::rss::{hash, RssConf, RSS_KEY_LEN};

/// Entries of the redirection table.
pub const RETA_SIZE: usize = 128;
/// The hash types the 82574 computes (IP addresses, and TCP ports; UDP is hashed on the
/// addresses only).
pub const HASH_TYPES: u64 = hash::IPV4 | hash::TCP_IPV4 | hash::IPV6 | hash::TCP_IPV6;
/// MRQC: RSS on (MRQ enable 01b).
pub const MRQC_RSS: u32 = 0x1;
/// The queue bit of a RETA entry.
const RETA_QUEUE1: u8 = 0x80;

/// MRQC hash-field bits for ethdev `hash_types`.
pub fn mrqc_fields(hash_types: u64) -> u32 {
    let mut v = 0;
    for (t, bits) in [
        (hash::TCP_IPV4, 1 << 16),
        (hash::IPV4, 1 << 17),
        (hash::TCP_IPV6, 1 << 18),
        (hash::IPV6, (1 << 19) | (1 << 20)),
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
        MRQC_RSS | mrqc_fields(conf.hash_types)
    } else {
        0
    }
}

/// The RETA register values of a 128-entry table of queues 0 and 1.
pub fn reta_words(reta: &[u16]) -> [u32; RETA_SIZE / 4] {
    let mut w = [0u32; RETA_SIZE / 4];
    for (i, q) in reta.iter().take(RETA_SIZE).enumerate() {
        let b = if *q == 1 { RETA_QUEUE1 } else { 0 };
        w[i / 4] |= u32::from(b) << (8 * (i % 4));
    }
    w
}

/// The table held in RETA register values.
pub fn reta_from_words(w: &[u32]) -> Vec<u16> {
    w.iter().flat_map(|r| r.to_le_bytes()).map(|b| u16::from(b & RETA_QUEUE1 != 0)).collect()
}

/// Writes the key.
pub fn write_key<R: RegIo + ?Sized>(r: &R, key: &[u8; RSS_KEY_LEN]) {
    for (i, c) in key.chunks_exact(4).enumerate() {
        r.write32(regs::RSSRK + 4 * i, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
}

/// Writes the redirection table (`reta` has [`RETA_SIZE`] entries, each 0 or 1).
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

/// Programs key, hash fields and MRQC (RSS on when `on`).
pub fn program<R: RegIo + ?Sized>(r: &R, on: bool, conf: &RssConf) {
    write_key(r, &conf.key);
    r.write32(regs::MRQC, mrqc(on, conf));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::intel::reg_io::SoftRegs;
    use ethdev::rss::default_reta;

    #[test]
    fn mrqc_maps_hash_types() {
        assert_eq!(mrqc(false, &RssConf::default()), 0);
        let ip = RssConf { hash_types: hash::IPV4 | hash::IPV6, ..RssConf::default() };
        assert_eq!(mrqc(true, &ip), 0x1 | (1 << 17) | (1 << 19) | (1 << 20));
        assert_eq!(mrqc_fields(HASH_TYPES), 0x001f_0000);
        assert_eq!(mrqc_fields(hash::UDP_IPV4), 0, "the 82574 hashes no UDP ports");
    }

    #[test]
    fn reta_puts_the_queue_in_bit_7() {
        let reta = default_reta(RETA_SIZE, 2);
        let w = reta_words(&reta);
        assert_eq!(w[0], 0x8000_8000);
        assert_eq!(reta_from_words(&w), reta);
        let regs = SoftRegs::new(0x6000);
        write_reta(&regs, &reta);
        assert_eq!(read_reta(&regs), reta);
        program(&regs, true, &RssConf::default());
        assert_eq!(regs.read32(regs::RSSRK), u32::from_le_bytes([0x6d, 0x5a, 0x56, 0xda]));
        assert_eq!(regs.read32(regs::RSSRK + 40), 0, "ten key registers only");
        assert_eq!(regs.read32(regs::MRQC) & 3, 1);
    }
}
