//! VLAN stripping on receive and insertion on transmit, for the e1000 family and the 82576
//! (without VMDq): CTRL.VME (bit 30) turns both on (8254x/82574 datasheets, "Device
//! Control Register": "VLAN Mode Enable"; the 82576 strips with it when VMDq is off), with
//! the 802.1Q ethertype in VET. A received frame whose tag was removed has VP in its
//! status and the tag in its descriptor; a transmitted one asks for its tag with VLE in
//! DCMD (legacy: the tag in the descriptor's special field; advanced: in the context).

use super::reg_io::RegIo;
use super::rx_filter::{ETH_P_8021Q, VET};

/// CTRL: VLAN mode enable.
pub const CTRL_VME: u32 = 1 << 30;

/// CTRL.VME on or off; VET's 802.1Q ethertype (its low half) written when on.
pub fn program<R: RegIo + ?Sized>(r: &R, on: bool) {
    let ctrl = r.read32(super::e1000_family::CTRL);
    if on {
        r.write32(VET, (r.read32(VET) & 0xffff_0000) | ETH_P_8021Q);
        r.write32(super::e1000_family::CTRL, ctrl | CTRL_VME);
    } else {
        r.write32(super::e1000_family::CTRL, ctrl & !CTRL_VME);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::intel::reg_io::SoftRegs;

    #[test]
    fn vme_is_set_and_cleared_keeping_the_other_ctrl_bits() {
        let r = SoftRegs::new(0x6000);
        r.write32(crate::net::intel::e1000_family::CTRL, 0x40);
        program(&r, true);
        assert_eq!(r.read32(crate::net::intel::e1000_family::CTRL), 0x40 | CTRL_VME);
        assert_eq!(r.read32(VET) & 0xffff, 0x8100);
        program(&r, false);
        assert_eq!(r.read32(crate::net::intel::e1000_family::CTRL), 0x40);
    }
}
