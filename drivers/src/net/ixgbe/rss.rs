//! Receive-side scaling (82599 datasheet 7.1.2.8): the Toeplitz key in RSSRK (10
//! registers, key byte 4n in bits 7:0 of RSSRK[n]), the 128-entry redirection table in RETA
//! (32 registers, four entries each, entry 4n in bits 7:0 of RETA[n]; the 82599 uses the
//! low 4 bits of an entry, so RSS spreads over at most 16 queues), and MRQC (RSS enable and
//! the packet fields hashed). RXCSUM.PCSD makes the device report the hash in the RX
//! descriptor instead of the fragment checksum.

use super::hw::{clear_bits, set_bits};
use super::regs;
use crate::net::intel::rss::RssRegs;
use crate::net::intel::RegIo;
use ethdev::rss::hash;

/// Most queues RSS spreads over (4-bit redirection entries).
pub const MAX_RSS_QUEUES: u16 = 16;

/// The [`hash`] types the 82599 hashes on.
pub const HASH_TYPES: u64 = hash::ALL;

/// MRQC field-enable bits for `types` ([`hash`] bits).
pub fn mrqc_fields(types: u64) -> u32 {
    let map = [
        (hash::IPV4, regs::MRQC_IPV4),
        (hash::TCP_IPV4, regs::MRQC_IPV4_TCP),
        (hash::UDP_IPV4, regs::MRQC_IPV4_UDP),
        (hash::IPV6, regs::MRQC_IPV6),
        (hash::TCP_IPV6, regs::MRQC_IPV6_TCP),
        (hash::UDP_IPV6, regs::MRQC_IPV6_UDP),
    ];
    map.iter().filter(|(t, _)| types & t != 0).fold(0, |acc, (_, bit)| acc | bit)
}

/// The key and table registers (written by the shared [`crate::net::intel::rss`]); the
/// low four bits of a table entry are the queue.
pub const REGS: RssRegs = RssRegs { rssrk: regs::rssrk(0), reta: regs::reta(0), queue_mask: 0x0f, queue_shift: 0 };
const _: () = assert!(regs::RETA_ENTRIES == crate::net::intel::rss::RETA_SIZE);

/// Turns RSS on over the packet types `types` (key and table programmed separately).
pub fn enable<R: RegIo + ?Sized>(r: &R, types: u64) {
    set_bits(r, regs::RXCSUM, regs::RXCSUM_PCSD);
    r.write32(regs::MRQC, regs::MRQC_RSS_EN | mrqc_fields(types));
}

/// Turns RSS off: every frame goes to queue 0.
pub fn disable<R: RegIo + ?Sized>(r: &R) {
    r.write32(regs::MRQC, 0);
    clear_bits(r, regs::RXCSUM, regs::RXCSUM_PCSD);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::intel::reg_io::SoftRegs;

    #[test]
    fn reta_packs_four_entries_per_register_entry_0_lowest() {
        let r = SoftRegs::new(0x10000);
        let reta: Vec<u16> = (0..128).map(|i| (i % 5) as u16).collect();
        REGS.write_reta(&r, &reta);
        // Entries 0..4 = 0,1,2,3 → bytes 00 01 02 03 of RETA[0].
        assert_eq!(r.read32(regs::reta(0)), 0x0302_0100);
        assert_eq!(r.read32(regs::reta(1)), 0x0201_0004);
        assert_eq!(REGS.read_reta(&r), reta);
    }

    #[test]
    fn key_byte_0_is_the_low_byte_of_rssrk0() {
        let r = SoftRegs::new(0x10000);
        REGS.write_key(&r, &ethdev::rss::DEFAULT_RSS_KEY);
        assert_eq!(r.read32(regs::rssrk(0)), 0xda56_5a6d);
        assert_eq!(REGS.read_key(&r), ethdev::rss::DEFAULT_RSS_KEY);
        assert_eq!(r.take_writes().len(), 10);
    }

    #[test]
    fn hash_types_map_to_mrqc_fields() {
        assert_eq!(mrqc_fields(hash::IPV4 | hash::UDP_IPV4), regs::MRQC_IPV4 | regs::MRQC_IPV4_UDP);
        assert_eq!(mrqc_fields(HASH_TYPES).count_ones(), 6);
        assert_eq!(mrqc_fields(0), 0);
    }
}
