//! The 82599's address filters beyond its own address (82599 datasheet 8.2.3.7, receive
//! registers): secondary unicast addresses in receive address entries 1-127 (RAL/RAH at
//! 0x0A200 + 8n, AV in bit 31 of RAH), each given to pool 0 in its MPSAR as DPDK's and
//! Linux's ixgbe drivers do, and the multicast list in the MTA (128 words at 0x05200),
//! enabled by MCSTCTRL.MFE with the multicast offset MCSTCTRL.MO at 0 (address bits
//! 47:36). The table layout and hash are the e1000 family's ([`mac_filter`]).

use super::regs;
use crate::net::intel::mac_filter::{self, RarLayout};
use crate::net::intel::RegIo;
use ethdev::MacLists;

/// The 82599's 128 receive address entries.
pub const RAR: RarLayout = RarLayout { entries: 128, ral: mac_filter::ral_82599 };

/// Programs `lists` (the ethdev layer keeps them within [`RAR`] and the MTA).
pub fn program<R: RegIo + ?Sized>(r: &R, lists: &MacLists) {
    mac_filter::program(r, RAR, lists);
    for n in 1..RAR.entries {
        r.write32(regs::mpsar_lo(n), u32::from(n <= lists.unicast.len()));
    }
    r.write32(regs::MCSTCTRL, regs::MCSTCTRL_MFE);
}
