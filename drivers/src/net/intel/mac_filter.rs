//! The Intel NICs' exact and hashed address filters: secondary unicast addresses in the
//! receive address registers (RAL/RAH pairs, entry 0 the port's own, AV in bit 31 of RAH)
//! and the multicast list in the 4096-bit Multicast Table Array (MTA, 128 words of 32 bits
//! at 0x5200). With the multicast offset RCTL.MO (MCSTCTRL.MO on the 82599) at 0, a
//! multicast address sets bit `hash` with `hash` its bits 47:36 (byte 4's high nibble, then
//! byte 5): word `hash >> 5`, bit `hash & 31` (the 8254x, 82574L, 82576 and 82599
//! datasheets' MTA and RAL/RAH register descriptions; QEMU's e1000, e1000e and igb models
//! hash the same way).
//!
//! The table is a hash: a group whose hash collides with a listed one's is received too,
//! as on the hardware (DPDK's and Linux's drivers program it the same way).

use super::reg_io::RegIo;
use ethdev::{MacAddr, MacLists};

/// Multicast table array, word `n` at `MTA + 4 * n` (the same offset on every Intel NIC
/// here).
pub const MTA: usize = 0x5200;
/// Words of the multicast table.
pub const MTA_WORDS: usize = 128;
/// RAH: address valid.
pub const RAH_AV: u32 = 1 << 31;

/// Where a NIC's receive address entries are.
#[derive(Debug, Clone, Copy)]
pub struct RarLayout {
    /// Entries, the port's own (entry 0) included.
    pub entries: usize,
    /// Byte offset of entry `n`'s RAL (its RAH follows at +4).
    pub ral: fn(usize) -> usize,
}

/// The 8254x and the 82574L: RAL/RAH `n` at 0x5400 + 8n.
pub fn ral_e1000(n: usize) -> usize {
    0x5400 + 8 * n
}

/// The 82576: entries 0-15 at 0x5400 + 8n, entries 16-23 at 0x54E0 + 8(n - 16).
pub fn ral_82576(n: usize) -> usize {
    if n < 16 {
        0x5400 + 8 * n
    } else {
        0x54E0 + 8 * (n - 16)
    }
}

/// The 82599: RAL/RAH `n` at 0xA200 + 8n (128 entries).
pub fn ral_82599(n: usize) -> usize {
    0xA200 + 8 * n
}

/// The MTA bit of multicast address `m` with the multicast offset at 0: address bits 47:36.
pub fn mta_hash(m: &MacAddr) -> u16 {
    ((u16::from(m[5]) << 4) | (u16::from(m[4]) >> 4)) & 0xfff
}

/// The 128 MTA words for multicast list `mc`.
pub fn mta_words(mc: &[MacAddr]) -> [u32; MTA_WORDS] {
    let mut w = [0u32; MTA_WORDS];
    for m in mc {
        let h = usize::from(mta_hash(m));
        w[h >> 5] |= 1 << (h & 31);
    }
    w
}

/// Writes receive address entry `n`: `m` valid, or invalid when `None`. RAH is cleared
/// first so that no half-written address is ever valid.
pub fn write_rar<R: RegIo + ?Sized>(r: &R, layout: RarLayout, n: usize, m: Option<&MacAddr>) {
    let ral = (layout.ral)(n);
    r.write32(ral + 4, 0);
    if let Some(m) = m {
        r.write32(ral, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        r.write32(ral + 4, u32::from(u16::from_le_bytes([m[4], m[5]])) | RAH_AV);
    } else {
        r.write32(ral, 0);
    }
}

/// Programs `lists`: the secondary unicast addresses in entries 1.. (the rest invalid; the
/// ethdev layer keeps the list within `layout.entries - 1`) and the multicast list in the
/// MTA.
pub fn program<R: RegIo + ?Sized>(r: &R, layout: RarLayout, lists: &MacLists) {
    for n in 1..layout.entries {
        write_rar(r, layout, n, lists.unicast.get(n - 1));
    }
    for (i, w) in mta_words(&lists.multicast).iter().enumerate() {
        r.write32(MTA + 4 * i, *w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::common::reg_io::SoftRegs;

    const E1000: RarLayout = RarLayout { entries: 16, ral: ral_e1000 };
    const IGB: RarLayout = RarLayout { entries: 24, ral: ral_82576 };

    #[test]
    fn the_hash_is_address_bits_47_to_36() {
        // 01:00:5e:01:02:03: byte 4 = 0x02, byte 5 = 0x03 -> 0x030 | 0x0 = 0x030.
        assert_eq!(mta_hash(&[1, 0, 0x5e, 1, 2, 3]), 0x030);
        assert_eq!(mta_hash(&[1, 0, 0x5e, 0, 0xf0, 0xff]), 0xfff);
        assert_eq!(mta_hash(&[0x33, 0x33, 0, 0, 0, 1]), 0x010);
        let w = mta_words(&[[1, 0, 0x5e, 1, 2, 3], [1, 0, 0x5e, 0, 0xf0, 0xff]]);
        assert_eq!(w[1], 1 << 16, "hash 0x030: word 1, bit 16");
        assert_eq!(w[127], 1 << 31);
        assert_eq!(w.iter().map(|v| v.count_ones()).sum::<u32>(), 2);
    }

    #[test]
    fn unicast_entries_follow_the_port_own_and_the_rest_are_invalid() {
        let r = SoftRegs::new(0x6000);
        r.write32(0x5400 + 8 * 3 + 4, RAH_AV | 0x1234);
        let a = [2, 0, 0, 0, 0x34, 0x12];
        program(&r, E1000, &MacLists { unicast: vec![a], multicast: vec![[1, 0, 0x5e, 1, 2, 3]] });
        assert_eq!(r.read32(0x5408), 0x0000_0002);
        assert_eq!(r.read32(0x540C), RAH_AV | 0x1234);
        assert_eq!(r.read32(0x5400 + 8 * 3 + 4), 0, "a stale entry is made invalid");
        assert_eq!(r.read32(0x5404), 0, "entry 0 (the port's own) is left alone");
        assert_eq!(r.read32(MTA + 4), 1 << 16);
    }

    #[test]
    fn the_82576_has_eight_more_entries_at_0x54e0() {
        assert_eq!(ral_82576(15), 0x5478);
        assert_eq!(ral_82576(16), 0x54E0);
        assert_eq!(ral_82576(23), 0x5518);
        let r = SoftRegs::new(0x6000);
        let list: Vec<MacAddr> = (1..=23u8).map(|i| [2, 0, 0, 0, 0, i]).collect();
        program(&r, IGB, &MacLists { unicast: list, multicast: vec![] });
        assert_eq!(r.read32(0x54E0 + 4), RAH_AV | 0x1000, "entry 16 holds the 16th secondary address");
        assert_eq!(r.read32(0x5518 + 4), RAH_AV | 0x1700);
        assert_eq!(ral_82599(1), 0xA208);
    }
}
