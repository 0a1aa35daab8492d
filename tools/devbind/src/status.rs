//! The `--status` listing: network devices grouped by the kind of driver they use.

use eal::pci::{GroupKind, PciDevice, VFIO_PCI};

use crate::routes::{route_of, Route};

/// The driver Bypass can use a device through.
pub fn is_bypass_driver(driver: &str) -> bool {
    driver == VFIO_PCI
}

/// The three groups (VFIO, kernel driver, no driver), each with a title, an underline and
/// one line per network device (or `<none>`), separated by blank lines.
pub fn render(devices: &[PciDevice], routes: &[Route]) -> String {
    let net: Vec<&PciDevice> = devices.iter().filter(|d| d.is_network()).collect();
    let groups: [(&str, Vec<&PciDevice>); 3] = [
        (
            "Network devices using a DPDK-compatible driver",
            net.iter().copied().filter(|d| d.driver.as_deref().is_some_and(is_bypass_driver)).collect(),
        ),
        (
            "Network devices using kernel driver",
            net.iter().copied().filter(|d| d.driver.as_deref().is_some_and(|x| !is_bypass_driver(x))).collect(),
        ),
        ("Other Network devices", net.iter().copied().filter(|d| d.driver.is_none()).collect()),
    ];
    let mut out = String::new();
    for (i, (title, devs)) in groups.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(title);
        out.push('\n');
        out.push_str(&"=".repeat(title.len()));
        out.push('\n');
        if devs.is_empty() {
            out.push_str("<none>\n");
        }
        for d in devs {
            out.push_str(&device_line(d, routes));
            out.push('\n');
        }
    }
    out
}

/// `0000:00:03.0 '82540EM Gigabit Ethernet Controller 100e' drv=e1000 unused=vfio-pci
/// if=eth0 iommu_group=5 *Active*`; fields without a value are left out. A group of VFIO's
/// no-IOMMU mode is marked `mode=noiommu` after its number.
pub fn device_line(d: &PciDevice, routes: &[Route]) -> String {
    let mut line = format!("{} '{}'", d.addr, crate::ids::describe(d.vendor, d.device));
    if let Some(drv) = &d.driver {
        line.push_str(&format!(" drv={drv}"));
    }
    let unused = unused_drivers(d);
    if !unused.is_empty() {
        line.push_str(&format!(" unused={}", unused.join(",")));
    }
    if !d.interfaces.is_empty() {
        line.push_str(&format!(" if={}", d.interfaces.join(",")));
    }
    if let Some(g) = d.iommu_group {
        line.push_str(&format!(" iommu_group={g}"));
        // VFIO's no-IOMMU groups are named so (`iommu_group/name`).
        let name = std::fs::read_to_string(d.sysfs_path.join("iommu_group/name")).ok();
        if GroupKind::from_group_name(name.as_deref()) == GroupKind::NoIommu {
            line.push_str(" mode=noiommu");
        }
    }
    if d.interfaces.iter().any(|i| route_of(routes, i).is_some()) {
        line.push_str(" *Active*");
    }
    line
}

/// The drivers the device could use but does not: its kernel driver (from the id table)
/// and vfio-pci, less the current one.
fn unused_drivers(d: &PciDevice) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for cand in crate::ids::kernel_driver(d.vendor, d.device).into_iter().chain([VFIO_PCI]) {
        if d.driver.as_deref() != Some(cand) && !v.contains(&cand) {
            v.push(cand);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use eal::pci::fake::{FakeDevice, FakeSysfs};

    #[test]
    fn noiommu_groups_are_marked() {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).driver("vfio-pci").noiommu_group(0)).unwrap();
        let devs = t.sysfs().scan().unwrap();
        assert!(device_line(&devs[0], &[]).ends_with("iommu_group=0 mode=noiommu"), "{}", device_line(&devs[0], &[]));
    }

    #[test]
    fn line_has_every_field_in_order() {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).driver("vfio-pci").iommu_group(5)).unwrap();
        t.add_device(&FakeDevice::new("0000:00:04.0", 0x1234, 0xabcd).driver("foo").interface("eth0")).unwrap();
        let devs = t.sysfs().scan().unwrap();
        let routes = [Route { iface: "eth0".into(), desc: "default".into() }];
        assert_eq!(
            device_line(&devs[0], &routes),
            "0000:00:03.0 '82540EM Gigabit Ethernet Controller 100e' drv=vfio-pci unused=e1000 iommu_group=5"
        );
        assert_eq!(
            device_line(&devs[1], &routes),
            "0000:00:04.0 'Device 1234:abcd' drv=foo unused=vfio-pci if=eth0 *Active*"
        );
    }
}
