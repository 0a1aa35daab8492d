//! RSS programming: MRQC from ethdev hash types, the 40-byte key in RSSRK, and the
//! 128-entry redirection table in RETA (one byte per entry, the queue in its low bits),
//! written by the shared [`crate::net::intel::rss`].

use super::regs;
use crate::net::intel;
use crate::net::intel::rss::RssRegs;
use ethdev::rss::{hash, RssConf};

/// Entries of the redirection table.
pub const RETA_SIZE: usize = intel::rss::RETA_SIZE;
/// The key and table registers; the low four bits of a table entry are the queue.
pub const REGS: RssRegs = RssRegs { rssrk: regs::RSSRK, reta: regs::RETA, queue_mask: 0x0f, queue_shift: 0 };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::intel::reg_io::SoftRegs;
    use crate::net::intel::RegIo;
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
        let reta = default_reta(RETA_SIZE, 4);
        let rw = REGS.reta_words(&reta);
        assert_eq!(rw[0], 0x0302_0100);
        assert_eq!(REGS.reta_from_words(&rw), reta);
        let regs = SoftRegs::new(0x6000);
        REGS.write_reta(&regs, &default_reta(RETA_SIZE, 3));
        assert_eq!(regs.read32(regs::RETA), 0x0002_0100);
        assert_eq!(REGS.read_reta(&regs), default_reta(RETA_SIZE, 3));
        REGS.write_key(&regs, &DEFAULT_RSS_KEY);
        assert_eq!(regs.read32(regs::RSSRK), 0xda56_5a6d, "key byte 0 is the low byte of RSSRK0");
        assert_eq!(regs.read32(regs::RSSRK + 32), u32::from_le_bytes([0x6a, 0x42, 0xb7, 0x3b]));
        assert_eq!(regs.read32(regs::RSSRK + 36), u32::from_le_bytes([0xbe, 0xac, 0x01, 0xfa]));
        assert_eq!(regs.read32(regs::RSSRK + 40), 0, "ten key registers only");
    }
}
