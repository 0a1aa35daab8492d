//! The port calls of [`crate::mac_filters`]: `set_mc_addr_list`, `mac_addr_add`,
//! `mac_addr_remove` (control, primary) and the lists as read by any process.

use super::{Port, PortControl};
use crate::error::EthError;
use crate::mac_filters::{self, MacAddr, MacLists};

impl Port {
    /// The port's secondary unicast addresses and multicast list, as last set (any process).
    pub fn mac_lists(&self) -> MacLists {
        self.slot.mac_filters.read()
    }
}

impl PortControl<'_> {
    /// Checks `lists` with the driver and records them in the slot.
    fn apply_mac_lists(&self, lists: MacLists) -> Result<(), EthError> {
        self.ctl.mac_filters(&lists).map_err(|e| self.named(e))?;
        self.port.slot.mac_filters.write(&lists);
        Ok(())
    }

    /// Replaces the multicast list (`rte_eth_dev_set_mc_addr_list`): with promiscuous and
    /// all-multicast modes off, the port receives multicast frames of these groups (and
    /// broadcast) only. An empty list clears it. Every address must be a group address,
    /// given once, and there must be at most [`DevInfo::max_mc_addrs`](crate::DevInfo::max_mc_addrs).
    /// Kept across stop and start.
    pub fn set_mc_addr_list(&self, list: &[MacAddr]) -> Result<(), EthError> {
        let max = usize::from(self.ctl.info().max_mc_addrs).min(mac_filters::MAX_MC_ADDRS);
        mac_filters::check_mc_list(list, max).map_err(|e| e.on(self.port.id))?;
        let mut l = self.mac_lists();
        l.multicast = list.to_vec();
        self.apply_mac_lists(l)
    }

    /// Adds a secondary unicast address (`rte_eth_dev_mac_addr_add`): the port receives
    /// frames to it as to its own. It must be unicast, non-zero and new, and the port holds
    /// at most [`DevInfo::max_mac_addrs`](crate::DevInfo::max_mac_addrs) addresses, its own
    /// included. Kept across stop and start.
    pub fn mac_addr_add(&self, mac: MacAddr) -> Result<(), EthError> {
        let mut l = self.mac_lists();
        let max = usize::from(self.ctl.info().max_mac_addrs);
        mac_filters::check_mac_add(&mac, &self.mac(), &l.unicast, max).map_err(|e| e.on(self.port.id))?;
        l.unicast.push(mac);
        self.apply_mac_lists(l)
    }

    /// Removes a secondary unicast address (`rte_eth_dev_mac_addr_remove`); the port's own
    /// address cannot be removed.
    pub fn mac_addr_remove(&self, mac: MacAddr) -> Result<(), EthError> {
        let mut l = self.mac_lists();
        let i = mac_filters::check_mac_remove(&mac, &self.mac(), &l.unicast).map_err(|e| e.on(self.port.id))?;
        l.unicast.remove(i);
        self.apply_mac_lists(l)
    }
}
