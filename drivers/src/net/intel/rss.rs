//! RSS pieces the Intel PMDs share (e1000 on the 82574L, igb, ixgbe): the 40-byte key in ten
//! RSSRK registers (key byte i is byte i % 4 of register i / 4), the 128-entry redirection
//! table in 32 RETA registers (one byte per entry, entry i in byte i % 4 of register i / 4),
//! and the check of a table given to `reta_update`. What differs between the devices is
//! where the registers are and which bits of an entry hold the queue ([`RssRegs`]).

use super::RegIo;
use ethdev::rss::RSS_KEY_LEN;
use ethdev::EthError;

/// Entries of the redirection table (82574L, 82576, 82599).
pub const RETA_SIZE: usize = 128;

/// Where a device keeps its RSS key and redirection table, and which bits of a table
/// entry hold the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RssRegs {
    /// The first of the ten key registers (RSSRK0).
    pub rssrk: usize,
    /// The first of the 32 redirection table registers (RETA0).
    pub reta: usize,
    /// The queue bits of an entry, before the shift (82576, 82599: 0x0f; 82574L: 0x01).
    pub queue_mask: u8,
    /// Where the queue bits start in an entry (82576, 82599: bit 0; 82574L: bit 7).
    pub queue_shift: u8,
}

/// The RSSRK register values of `key` (byte i of the key is byte i % 4 of register i / 4).
pub fn key_words(key: &[u8; RSS_KEY_LEN]) -> [u32; RSS_KEY_LEN / 4] {
    let mut w = [0u32; RSS_KEY_LEN / 4];
    for (i, c) in key.chunks_exact(4).enumerate() {
        w[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    w
}

impl RssRegs {
    /// The entry byte of queue `q` (the bits the device does not hold are dropped).
    fn entry(&self, q: u16) -> u8 {
        (q as u8 & self.queue_mask) << self.queue_shift
    }

    /// The queue of entry byte `b`.
    fn queue(&self, b: u8) -> u16 {
        u16::from((b >> self.queue_shift) & self.queue_mask)
    }

    /// The RETA register values of `reta` (entries past the first [`RETA_SIZE`] are ignored,
    /// missing ones are queue 0).
    pub fn reta_words(&self, reta: &[u16]) -> [u32; RETA_SIZE / 4] {
        let mut w = [0u32; RETA_SIZE / 4];
        for (i, &q) in reta.iter().take(RETA_SIZE).enumerate() {
            w[i / 4] |= u32::from(self.entry(q)) << (8 * (i % 4));
        }
        w
    }

    /// The table held in RETA register values `w`.
    pub fn reta_from_words(&self, w: &[u32]) -> Vec<u16> {
        w.iter().flat_map(|r| r.to_le_bytes()).map(|b| self.queue(b)).collect()
    }

    /// Writes the key.
    pub fn write_key<R: RegIo + ?Sized>(&self, r: &R, key: &[u8; RSS_KEY_LEN]) {
        for (i, v) in key_words(key).iter().enumerate() {
            r.write32(self.rssrk + 4 * i, *v);
        }
    }

    /// Reads the key back.
    #[cfg(test)]
    pub fn read_key<R: RegIo + ?Sized>(&self, r: &R) -> [u8; RSS_KEY_LEN] {
        let mut key = [0u8; RSS_KEY_LEN];
        for (i, chunk) in key.chunks_exact_mut(4).enumerate() {
            chunk.copy_from_slice(&r.read32(self.rssrk + 4 * i).to_le_bytes());
        }
        key
    }

    /// Writes the redirection table (`reta` has [`RETA_SIZE`] entries, each a queue the
    /// entry can hold: [`check_reta`] first for a table from outside).
    pub fn write_reta<R: RegIo + ?Sized>(&self, r: &R, reta: &[u16]) {
        for (i, v) in self.reta_words(reta).iter().enumerate() {
            r.write32(self.reta + 4 * i, *v);
        }
    }

    /// Reads the redirection table back.
    pub fn read_reta<R: RegIo + ?Sized>(&self, r: &R) -> Vec<u16> {
        let w: Vec<u32> = (0..RETA_SIZE / 4).map(|i| r.read32(self.reta + 4 * i)).collect();
        self.reta_from_words(&w)
    }
}

/// Checks a redirection table given to a driver's `reta_update`: exactly [`RETA_SIZE`]
/// entries, each below `max_queues` (the queues the driver of `port` offers); the error
/// says what the device takes.
pub fn check_reta(port: u16, reta: &[u16], max_queues: usize) -> Result<(), EthError> {
    if reta.len() != RETA_SIZE || reta.iter().any(|&q| usize::from(q) >= max_queues) {
        return Err(EthError::Unsupported {
            port,
            what: format!("a redirection table of {RETA_SIZE} entries, each a queue below {max_queues}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::intel::reg_io::SoftRegs;
    use ethdev::rss::{default_reta, DEFAULT_RSS_KEY};

    const LOW4: RssRegs = RssRegs { rssrk: 0x5c80, reta: 0x5c00, queue_mask: 0x0f, queue_shift: 0 };
    const BIT7: RssRegs = RssRegs { queue_mask: 0x01, queue_shift: 7, ..LOW4 };

    #[test]
    fn key_byte_0_is_the_low_byte_of_the_first_key_register() {
        let w = key_words(&DEFAULT_RSS_KEY);
        assert_eq!(w[0], 0xda56_5a6d);
        let regs = SoftRegs::new(0x6000);
        LOW4.write_key(&regs, &DEFAULT_RSS_KEY);
        assert_eq!(regs.read32(0x5c80 + 36), u32::from_le_bytes([0xbe, 0xac, 0x01, 0xfa]));
        assert_eq!(regs.read32(0x5c80 + 40), 0, "ten key registers only");
        assert_eq!(LOW4.read_key(&regs), DEFAULT_RSS_KEY);
    }

    #[test]
    fn entries_hold_the_queue_where_the_layout_says() {
        let reta = default_reta(RETA_SIZE, 4);
        assert_eq!(LOW4.reta_words(&reta)[0], 0x0302_0100, "entry 0 in the low byte");
        assert_eq!(LOW4.reta_from_words(&LOW4.reta_words(&reta)), reta);
        assert_eq!(LOW4.reta_words(&[16, 17])[0], 0x0100, "four queue bits");
        let two = default_reta(RETA_SIZE, 2);
        assert_eq!(BIT7.reta_words(&two)[0], 0x8000_8000, "queue 1 is bit 7");
        assert_eq!(BIT7.reta_from_words(&BIT7.reta_words(&two)), two);
        assert_eq!(BIT7.reta_from_words(&[0x7f7f_ff80]), [1, 1, 0, 0], "only bit 7 is read");
        assert_eq!(LOW4.reta_words(&[1; 2])[1], 0, "missing entries are queue 0");
        let regs = SoftRegs::new(0x6000);
        BIT7.write_reta(&regs, &two);
        assert_eq!(regs.read32(0x5c00 + 4 * 31), 0x8000_8000);
        assert_eq!(BIT7.read_reta(&regs), two);
    }

    #[test]
    fn a_table_of_the_wrong_size_or_with_a_queue_out_of_range_is_refused() {
        assert!(check_reta(3, &default_reta(RETA_SIZE, 2), 2).is_ok());
        let e = check_reta(3, &default_reta(64, 2), 2).unwrap_err();
        assert_eq!(e.to_string(), check_reta(3, &[], 2).unwrap_err().to_string());
        assert!(e.to_string().contains("a redirection table of 128 entries, each a queue below 2"), "{e}");
        let mut reta = default_reta(RETA_SIZE, 2);
        reta[127] = 2;
        assert!(matches!(check_reta(3, &reta, 2), Err(EthError::Unsupported { port: 3, .. })));
        assert!(check_reta(3, &reta, 16).is_ok());
    }
}
