//! RSS of the 82574L over its two RX queues (82574 datasheet, MRQC/RETA/RSSRK; QEMU's
//! e1000e model): MRQC enables RSS with 01b in bits 1:0 and picks the hashed fields (TCP
//! over IPv4 bit 16, IPv4 17, TCP over IPv6 18, IPv6 with extension headers 19, IPv6 20; no
//! UDP); the 40-byte key sits in RSSRK (byte i of the key is byte i % 4 of register i / 4);
//! RETA holds 128 one-byte entries indexed by the hash's low 7 bits, and bit 7 of an
//! entry is the queue. The device computes the hash only with extended RX descriptors
//! (RFCTL.EXSTEN) and RXCSUM.PCSD, which put it into the write-back.

use super::regs;
use crate::net::intel::rss::RssRegs;
use crate::net::intel::{self, RegIo};
use ethdev::rss::{hash, RssConf};

/// Entries of the redirection table.
pub const RETA_SIZE: usize = intel::rss::RETA_SIZE;
/// The hash types the 82574 computes (IP addresses, and TCP ports; UDP is hashed on the
/// addresses only).
pub const HASH_TYPES: u64 = hash::IPV4 | hash::TCP_IPV4 | hash::IPV6 | hash::TCP_IPV6;
/// MRQC: RSS on (MRQ enable 01b).
pub const MRQC_RSS: u32 = 0x1;
/// The key and table registers; bit 7 of a table entry is the queue.
pub const REGS: RssRegs = RssRegs { rssrk: regs::RSSRK, reta: regs::RETA, queue_mask: 0x01, queue_shift: 7 };

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

/// Programs key, hash fields and MRQC (RSS on when `on`).
pub fn program<R: RegIo + ?Sized>(r: &R, on: bool, conf: &RssConf) {
    REGS.write_key(r, &conf.key);
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
        let w = REGS.reta_words(&reta);
        assert_eq!(w[0], 0x8000_8000);
        assert_eq!(REGS.reta_from_words(&w), reta);
        let regs = SoftRegs::new(0x6000);
        REGS.write_reta(&regs, &reta);
        assert_eq!(regs.read32(regs::RETA), 0x8000_8000);
        assert_eq!(REGS.read_reta(&regs), reta);
        program(&regs, true, &RssConf::default());
        assert_eq!(regs.read32(regs::RSSRK), u32::from_le_bytes([0x6d, 0x5a, 0x56, 0xda]));
        assert_eq!(regs.read32(regs::RSSRK + 40), 0, "ten key registers only");
        assert_eq!(regs.read32(regs::MRQC) & 3, 1);
    }
}
