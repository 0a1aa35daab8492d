//! Receive filters of the e1000 family and the 82576 beyond the unicast address: the VLAN
//! filter table (VFTA, 128 words of 32 bits, one bit per VLAN id, enabled by RCTL.VFE with
//! the VLAN ethertype in VET) and all-multicast mode (RCTL.MPE). Register offsets and bits
//! from the 8254x, 82574 and 82576 datasheets.

use super::reg_io::RegIo;
use ethdev::{PortSlot, RxOffloads};
use std::sync::atomic::Ordering;

/// VLAN filter table array, word `n` at `VFTA + 4 * n`.
pub const VFTA: usize = 0x5600;
/// Words of the VLAN filter table.
pub const VFTA_WORDS: usize = 128;
/// VLAN ethertype register.
pub const VET: usize = 0x0038;
/// 802.1Q ethertype.
pub const ETH_P_8021Q: u32 = 0x8100;
/// RCTL: multicast promiscuous.
pub const RCTL_MPE: u32 = 1 << 4;
/// RCTL: VLAN filter enable.
pub const RCTL_VFE: u32 = 1 << 18;

/// The RCTL bits the port's filters need: MPE in all-multicast mode, VFE with the
/// VLAN_FILTER offload.
pub fn rctl_bits(slot: &PortSlot) -> u32 {
    let mut v = 0;
    if slot.allmulti.load(Ordering::Relaxed) == 1 {
        v |= RCTL_MPE;
    }
    if RxOffloads::from_bits_retain(slot.rx_offloads.load(Ordering::Relaxed)).contains(RxOffloads::VLAN_FILTER) {
        v |= RCTL_VFE;
    }
    v
}

/// RCTL `v` with all-multicast `on` (MPE kept when `promisc`, which needs it too).
pub fn with_allmulti(v: u32, on: bool, promisc: bool) -> u32 {
    if on || promisc {
        v | RCTL_MPE
    } else {
        v & !RCTL_MPE
    }
}

/// Empties the VLAN filter table and sets the VLAN ethertype (at configure, when the
/// VLAN_FILTER offload is asked for: no VLAN passes until one is added).
pub fn reset_vlans<R: RegIo + ?Sized>(r: &R) {
    r.write32(VET, ETH_P_8021Q);
    for n in 0..VFTA_WORDS {
        r.write32(VFTA + 4 * n, 0);
    }
}

/// Adds (`on`) or removes VLAN `vid` (0-4095) in the filter table.
pub fn set_vlan<R: RegIo + ?Sized>(r: &R, vid: u16, on: bool) {
    let reg = VFTA + 4 * usize::from((vid >> 5) & 0x7f);
    let bit = 1u32 << (vid & 0x1f);
    let v = r.read32(reg);
    r.write32(reg, if on { v | bit } else { v & !bit });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::common::reg_io::SoftRegs;

    #[test]
    fn vlan_ids_map_to_one_bit_each() {
        let r = SoftRegs::new(0x6000);
        r.write32(VFTA + 4, 0xdead_0000);
        reset_vlans(&r);
        assert_eq!(r.read32(VFTA + 4), 0);
        assert_eq!(r.read32(VET), 0x8100);
        set_vlan(&r, 100, true);
        set_vlan(&r, 4095, true);
        assert_eq!(r.read32(VFTA + 4 * 3), 1 << 4, "VLAN 100: word 3, bit 4");
        assert_eq!(r.read32(VFTA + 4 * 127), 1 << 31);
        set_vlan(&r, 100, false);
        assert_eq!(r.read32(VFTA + 4 * 3), 0);
    }

    #[test]
    fn allmulti_keeps_mpe_for_promiscuous_mode() {
        assert_eq!(with_allmulti(0, true, false), RCTL_MPE);
        assert_eq!(with_allmulti(RCTL_MPE | 2, false, false), 2);
        assert_eq!(with_allmulti(RCTL_MPE, false, true), RCTL_MPE);
    }
}
