//! PCI class codes (`class` in sysfs: base class, subclass, programming interface).

use std::fmt;

/// A 24-bit PCI class code such as `0x020000` (Ethernet controller).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct PciClass(pub u32);

impl PciClass {
    /// Base class of network controllers.
    pub const BASE_NETWORK: u8 = 0x02;
    /// Base class of bridges.
    pub const BASE_BRIDGE: u8 = 0x06;

    /// The base class (top byte).
    pub const fn base(self) -> u8 {
        (self.0 >> 16) as u8
    }

    /// The subclass (middle byte).
    pub const fn subclass(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// The programming interface (low byte).
    pub const fn prog_if(self) -> u8 {
        self.0 as u8
    }

    /// Whether this is a network controller (class 0x02xxxx).
    pub const fn is_network(self) -> bool {
        self.base() == Self::BASE_NETWORK
    }

    /// Whether this is a bridge to another bus (PCI-to-PCI 0x0604, CardBus 0x0607,
    /// semi-transparent PCI-to-PCI 0x0609): the kinds whose config header is not type 0.
    pub const fn is_pci_bridge(self) -> bool {
        self.base() == Self::BASE_BRIDGE && matches!(self.subclass(), 0x04 | 0x07 | 0x09)
    }
}

impl fmt::Display for PciClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fields() {
        let c = PciClass(0x020003);
        assert_eq!((c.base(), c.subclass(), c.prog_if()), (2, 0, 3));
        assert!(c.is_network());
        assert!(!c.is_pci_bridge());
        assert_eq!(c.to_string(), "020003");
    }

    #[test]
    fn recognises_bridges_but_not_host_bridges() {
        assert!(PciClass(0x060400).is_pci_bridge());
        assert!(PciClass(0x060401).is_pci_bridge());
        assert!(!PciClass(0x060000).is_pci_bridge());
        assert!(!PciClass(0x010802).is_network());
    }
}
