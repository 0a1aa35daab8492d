//! The addresses a port receives beside its own, as DPDK's `rte_eth_dev_mac_addr_add` /
//! `_remove` (secondary unicast addresses) and `rte_eth_dev_set_mc_addr_list` (the
//! multicast list): kept in the port's shared slot as plain data, so that every process
//! reads them and the driver programs them again at each start.
//!
//! Each change is checked here before the driver is asked (address kind, duplicates, the
//! device's limits from [`DevInfo`](crate::DevInfo)); the driver gets the whole new state
//! ([`Control::mac_filters`](crate::Control::mac_filters)) and the slot records it only
//! when the driver took it.
//!
//! Virtual ports (`net_null`, `net_ring`) filter nothing, so they keep the lists and
//! receive as before (as DPDK's tap PMD accepts a multicast list it does not need).

use crate::error::EthError;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A 48-bit Ethernet address, byte 0 first on the wire.
pub type MacAddr = [u8; 6];

/// Most secondary unicast addresses a port keeps (ixgbe's 128 receive-address entries less
/// the port's own).
pub const MAX_EXTRA_MACS: usize = 127;
/// Most addresses in a port's multicast list.
pub const MAX_MC_ADDRS: usize = 128;

crate::shared_state! {
    /// A port's secondary unicast addresses and multicast list.
    pub struct MacFilters {
        /// Change sequence: odd while the primary writes.
        seq: AtomicU32,
        /// Secondary unicast addresses in use.
        nb_uc: AtomicU32,
        /// Multicast addresses in use.
        nb_mc: AtomicU32,
        /// Secondary unicast addresses (low 48 bits, byte 0 lowest).
        uc: [AtomicU64; MAX_EXTRA_MACS],
        /// Multicast addresses.
        mc: [AtomicU64; MAX_MC_ADDRS],
    }
}

fn pack(m: &MacAddr) -> u64 {
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(m);
    u64::from_le_bytes(b)
}

fn unpack(v: u64) -> MacAddr {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

/// True for a group (multicast or broadcast) address: bit 0 of byte 0.
pub fn is_multicast(m: &MacAddr) -> bool {
    m[0] & 1 == 1
}

/// `m` as `xx:xx:xx:xx:xx:xx`.
pub fn format_mac(m: &MacAddr) -> String {
    m.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Parses `xx:xx:xx:xx:xx:xx` (or with `-`), as `rte_ether_unformat_addr`; the error names
/// the expected form.
pub fn parse_mac(s: &str) -> Result<MacAddr, String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let bad = || format!("bad MAC address '{s}': six hex bytes, e.g. 01:00:5E:01:02:03");
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut m = [0u8; 6];
    for (b, p) in m.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(m)
}

/// A port's address lists as read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MacLists {
    /// Secondary unicast addresses (the port's own is not among them).
    pub unicast: Vec<MacAddr>,
    /// The multicast list.
    pub multicast: Vec<MacAddr>,
}

impl MacFilters {
    /// Both lists, never torn by a concurrent change.
    pub fn read(&self) -> MacLists {
        loop {
            let s = self.seq.load(Ordering::Acquire);
            let nu = (self.nb_uc.load(Ordering::Relaxed) as usize).min(MAX_EXTRA_MACS);
            let nm = (self.nb_mc.load(Ordering::Relaxed) as usize).min(MAX_MC_ADDRS);
            let l = MacLists {
                unicast: self.uc[..nu].iter().map(|a| unpack(a.load(Ordering::Relaxed))).collect(),
                multicast: self.mc[..nm].iter().map(|a| unpack(a.load(Ordering::Relaxed))).collect(),
            };
            std::sync::atomic::fence(Ordering::Acquire);
            if s & 1 == 0 && self.seq.load(Ordering::Relaxed) == s {
                return l;
            }
            std::hint::spin_loop();
        }
    }

    /// Records `l` (primary only: one writer; lengths checked by [`check_mc_list`] and
    /// [`check_mac_add`]).
    pub(crate) fn write(&self, l: &MacLists) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1) | 1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        for (slot, m) in self.uc.iter().zip(&l.unicast) {
            slot.store(pack(m), Ordering::Relaxed);
        }
        for (slot, m) in self.mc.iter().zip(&l.multicast) {
            slot.store(pack(m), Ordering::Relaxed);
        }
        self.nb_uc.store(l.unicast.len().min(MAX_EXTRA_MACS) as u32, Ordering::Relaxed);
        self.nb_mc.store(l.multicast.len().min(MAX_MC_ADDRS) as u32, Ordering::Relaxed);
        self.seq.store((s | 1).wrapping_add(1), Ordering::Release);
    }
}

/// Why an address change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacFilterError {
    /// A unicast address in the multicast list.
    #[error("{0} is a unicast address: the multicast list takes group addresses only (bit 0 of the first byte set, e.g. 01:00:5E:..); add it with mac_addr_add")]
    UnicastInMcList(String),
    /// A multicast address given as a secondary unicast address.
    #[error("{0} is a multicast address: mac_addr_add takes unicast addresses; put it in the multicast list (set_mc_addr_list / mcast_addr add)")]
    MulticastAsUnicast(String),
    /// The all-zero address.
    #[error("00:00:00:00:00:00 is not an address")]
    Zero,
    /// An address given twice or already present.
    #[error("{0} is already {1}")]
    Duplicate(String, &'static str),
    /// More addresses than the device holds.
    #[error("{what}: {have} addresses, the device holds at most {max}")]
    TooMany {
        /// Which list.
        what: &'static str,
        /// Addresses asked for.
        have: usize,
        /// The device's limit.
        max: usize,
    },
    /// Removing the port's own address.
    #[error("{0} is the port's own address (index 0): change it with set_mac / mac_addr set instead of removing it")]
    RemovePrimary(String),
    /// Removing an address the port does not have.
    #[error("{0} is not one of the port's secondary addresses")]
    NotPresent(String),
}

impl MacFilterError {
    /// As an [`EthError`] of port `port`.
    pub fn on(self, port: u16) -> EthError {
        EthError::Unsupported { port, what: self.to_string() }
    }
}

/// Checks a new multicast list against the device's limit `max`.
pub fn check_mc_list(list: &[MacAddr], max: usize) -> Result<(), MacFilterError> {
    for (i, m) in list.iter().enumerate() {
        if !is_multicast(m) {
            return Err(MacFilterError::UnicastInMcList(format_mac(m)));
        }
        if list[..i].contains(m) {
            return Err(MacFilterError::Duplicate(format_mac(m), "in the list"));
        }
    }
    if list.len() > max {
        return Err(MacFilterError::TooMany { what: "multicast list", have: list.len(), max });
    }
    Ok(())
}

/// Checks adding `m` as a secondary unicast address to a port whose own address is `own`,
/// with secondary addresses `extra`, on a device holding `max_mac_addrs` addresses
/// (its own included).
pub fn check_mac_add(
    m: &MacAddr,
    own: &MacAddr,
    extra: &[MacAddr],
    max_mac_addrs: usize,
) -> Result<(), MacFilterError> {
    if *m == [0; 6] {
        return Err(MacFilterError::Zero);
    }
    if is_multicast(m) {
        return Err(MacFilterError::MulticastAsUnicast(format_mac(m)));
    }
    if m == own {
        return Err(MacFilterError::Duplicate(format_mac(m), "the port's own address"));
    }
    if extra.contains(m) {
        return Err(MacFilterError::Duplicate(format_mac(m), "one of the port's addresses"));
    }
    let max = max_mac_addrs.min(MAX_EXTRA_MACS + 1);
    if extra.len() + 2 > max {
        return Err(MacFilterError::TooMany { what: "unicast addresses", have: extra.len() + 2, max });
    }
    Ok(())
}

/// Checks removing `m` from a port whose own address is `own`; the index of `m` in `extra`.
pub fn check_mac_remove(m: &MacAddr, own: &MacAddr, extra: &[MacAddr]) -> Result<usize, MacFilterError> {
    if m == own {
        return Err(MacFilterError::RemovePrimary(format_mac(m)));
    }
    extra.iter().position(|e| e == m).ok_or_else(|| MacFilterError::NotPresent(format_mac(m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: MacAddr = [2, 0, 0, 0, 0, 1];
    const G: MacAddr = [1, 0, 0x5e, 1, 2, 3];

    #[test]
    fn mc_list_takes_group_addresses_once_within_the_limit() {
        assert_eq!(check_mc_list(&[G, [0xff; 6]], 2), Ok(()));
        assert_eq!(check_mc_list(&[], 0), Ok(()));
        assert!(matches!(check_mc_list(&[OWN], 4), Err(MacFilterError::UnicastInMcList(_))));
        assert!(matches!(check_mc_list(&[G, G], 4), Err(MacFilterError::Duplicate(..))));
        assert_eq!(
            check_mc_list(&[G, [0xff; 6]], 1),
            Err(MacFilterError::TooMany { what: "multicast list", have: 2, max: 1 })
        );
    }

    #[test]
    fn mac_add_takes_new_unicast_addresses_within_the_limit() {
        let a = [2, 0, 0, 0, 0, 2];
        assert_eq!(check_mac_add(&a, &OWN, &[], 2), Ok(()));
        assert!(matches!(check_mac_add(&a, &OWN, &[[2, 0, 0, 0, 0, 3]], 2), Err(MacFilterError::TooMany { .. })));
        assert!(matches!(check_mac_add(&G, &OWN, &[], 16), Err(MacFilterError::MulticastAsUnicast(_))));
        assert_eq!(check_mac_add(&[0; 6], &OWN, &[], 16), Err(MacFilterError::Zero));
        assert!(matches!(check_mac_add(&OWN, &OWN, &[], 16), Err(MacFilterError::Duplicate(..))));
        assert!(matches!(check_mac_add(&a, &OWN, &[a], 16), Err(MacFilterError::Duplicate(..))));
    }

    #[test]
    fn mac_remove_refuses_the_own_and_absent_addresses() {
        let a = [2, 0, 0, 0, 0, 2];
        assert_eq!(check_mac_remove(&a, &OWN, &[[2, 0, 0, 0, 0, 9], a]), Ok(1));
        assert!(matches!(check_mac_remove(&OWN, &OWN, &[a]), Err(MacFilterError::RemovePrimary(_))));
        assert!(matches!(check_mac_remove(&a, &OWN, &[]), Err(MacFilterError::NotPresent(_))));
    }

    #[test]
    fn lists_read_back_as_written() {
        let f: Box<MacFilters> = Box::new(MacFilters {
            seq: AtomicU32::new(0),
            nb_uc: AtomicU32::new(0),
            nb_mc: AtomicU32::new(0),
            uc: std::array::from_fn(|_| AtomicU64::new(0)),
            mc: std::array::from_fn(|_| AtomicU64::new(0)),
        });
        let l = MacLists { unicast: vec![[2, 0, 0, 0, 0, 2]], multicast: vec![G, [0xff; 6]] };
        f.write(&l);
        assert_eq!(f.read(), l);
        f.write(&MacLists::default());
        assert_eq!(f.read(), MacLists::default());
        assert_eq!(format_mac(&G), "01:00:5E:01:02:03");
    }

    #[test]
    fn addresses_parse_from_text() {
        assert_eq!(parse_mac("01:00:5e:01:02:03"), Ok(G));
        assert_eq!(parse_mac("02-00-00-00-00-01"), Ok(OWN));
        for bad in ["", "01:00:5e:01:02", "01:00:5e:01:02:03:04", "01:00:5e:01:02:zz", "001:00:5e:01:02:03"] {
            assert!(parse_mac(bad).is_err_and(|e| e.contains("six hex bytes")), "{bad}");
        }
    }
}
