//! Names of the PCI vendors and NICs the project supports, and their Linux kernel drivers:
//! what devbind prints (moved out of the EAL, which names no NIC).
//!
//! A small table, not a copy of pci.ids: devices not in it are described by their hex ids.

/// One supported device: ids, marketing name (as pci.ids spells it), kernel driver.
struct Known {
    vendor: u16,
    device: u16,
    name: &'static str,
    kernel_driver: &'static str,
}

const fn k(vendor: u16, device: u16, name: &'static str, kernel_driver: &'static str) -> Known {
    Known { vendor, device, name, kernel_driver }
}

/// PCI vendor id of Intel.
const VENDOR_INTEL: u16 = 0x8086;
/// PCI vendor id of Red Hat (virtio).
const VENDOR_REDHAT: u16 = 0x1af4;

const DEVICES: &[Known] = &[
    k(VENDOR_INTEL, 0x100e, "82540EM Gigabit Ethernet Controller", "e1000"),
    k(VENDOR_INTEL, 0x10d3, "82574L Gigabit Network Connection", "e1000e"),
    k(VENDOR_INTEL, 0x10c9, "82576 Gigabit Network Connection", "igb"),
    k(VENDOR_INTEL, 0x10f7, "10 Gigabit BR KX4 Dual Port Network Connection", "ixgbe"),
    k(VENDOR_INTEL, 0x10f8, "82599 10 Gigabit Dual Port Backplane Connection", "ixgbe"),
    k(VENDOR_INTEL, 0x10f9, "82599 10 Gigabit Dual Port Network Connection", "ixgbe"),
    k(VENDOR_INTEL, 0x10fb, "82599ES 10-Gigabit SFI/SFP+ Network Connection", "ixgbe"),
    k(VENDOR_INTEL, 0x10fc, "82599 10 Gigabit Dual Port Network Connection", "ixgbe"),
    k(VENDOR_INTEL, 0x1517, "82599ES 10 Gigabit Network Connection", "ixgbe"),
    k(VENDOR_INTEL, 0x151c, "82599 10 Gigabit TN Network Connection", "ixgbe"),
    k(VENDOR_INTEL, 0x1529, "82599 10 Gigabit Dual Port Network Connection with FCoE", "ixgbe"),
    k(VENDOR_INTEL, 0x152a, "82599 10 Gigabit Dual Port Backplane Connection with FCoE", "ixgbe"),
    k(VENDOR_INTEL, 0x154d, "Ethernet 10G 2P X520 Adapter", "ixgbe"),
    k(VENDOR_INTEL, 0x1557, "82599 10 Gigabit Network Connection", "ixgbe"),
    k(VENDOR_INTEL, 0x1528, "Ethernet Controller 10-Gigabit X540-AT2", "ixgbe"),
    k(VENDOR_INTEL, 0x1560, "Ethernet Controller X540", "ixgbe"),
    k(VENDOR_INTEL, 0x1563, "Ethernet Controller X550", "ixgbe"),
    k(VENDOR_INTEL, 0x15d1, "Ethernet Controller 10G X550T", "ixgbe"),
    k(VENDOR_INTEL, 0x10ed, "82599 Ethernet Controller Virtual Function", "ixgbevf"),
    k(VENDOR_INTEL, 0x1515, "X540 Ethernet Controller Virtual Function", "ixgbevf"),
    k(VENDOR_REDHAT, 0x1000, "Virtio network device", "virtio-pci"),
    k(VENDOR_REDHAT, 0x1041, "Virtio 1.0 network device", "virtio-pci"),
];

fn known(vendor: u16, device: u16) -> Option<&'static Known> {
    DEVICES.iter().find(|d| d.vendor == vendor && d.device == device)
}

/// The device's name as pci.ids spells it, if it is in the table.
pub fn device_name(vendor: u16, device: u16) -> Option<&'static str> {
    known(vendor, device).map(|d| d.name)
}

/// The Linux kernel driver that normally drives this device, if it is in the table.
pub fn kernel_driver(vendor: u16, device: u16) -> Option<&'static str> {
    known(vendor, device).map(|d| d.kernel_driver)
}

/// A one-line description as devbind prints it between quotes: the name followed by the
/// device id (`82540EM Gigabit Ethernet Controller 100e`), or `Device 8086:abcd` when unknown.
pub fn describe(vendor: u16, device: u16) -> String {
    match device_name(vendor, device) {
        Some(name) => format!("{name} {device:04x}"),
        None => format!("Device {vendor:04x}:{device:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_supported_nics() {
        assert_eq!(describe(0x8086, 0x100e), "82540EM Gigabit Ethernet Controller 100e");
        assert_eq!(device_name(0x8086, 0x10d3), Some("82574L Gigabit Network Connection"));
        assert_eq!(device_name(0x1af4, 0x1041), Some("Virtio 1.0 network device"));
    }

    #[test]
    fn knows_kernel_drivers() {
        assert_eq!(kernel_driver(0x8086, 0x100e), Some("e1000"));
        assert_eq!(kernel_driver(0x8086, 0x10c9), Some("igb"));
        assert_eq!(kernel_driver(0x8086, 0x10fb), Some("ixgbe"));
        assert_eq!(kernel_driver(0x8086, 0x1528), Some("ixgbe"));
        assert_eq!(kernel_driver(0x1af4, 0x1000), Some("virtio-pci"));
    }

    #[test]
    fn unknown_devices_print_hex_ids() {
        assert_eq!(describe(0x10ec, 0x8168), "Device 10ec:8168");
        assert_eq!(device_name(0x8086, 0xffff), None);
    }

    #[test]
    fn table_has_no_duplicate_ids() {
        for (i, a) in DEVICES.iter().enumerate() {
            for b in &DEVICES[i + 1..] {
                assert!((a.vendor, a.device) != (b.vendor, b.device), "{:04x}:{:04x} twice", a.vendor, a.device);
            }
        }
    }
}
