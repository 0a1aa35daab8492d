//! IOMMU group membership and viability.

use super::{addr, FakeDevice, FakeSysfs};

/// Group 3 holds a NIC on vfio-pci (00:03.0), its sibling function on e1000e (00:03.1), a
/// bridge on pcieport (00:1c.0, header type 1), an unbound device (00:03.2) and one on
/// pci-stub (00:03.3).
fn shared_group() -> FakeSysfs {
    let t = FakeSysfs::new().unwrap();
    let g = 3;
    t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x10d3).driver("vfio-pci").iommu_group(g)).unwrap();
    t.add_device(&FakeDevice::new("0000:00:03.1", 0x8086, 0x10d3).driver("e1000e").iommu_group(g).interface("eth1"))
        .unwrap();
    t.add_device(
        &FakeDevice::new("0000:00:1c.0", 0x8086, 0x2940)
            .class(0x060400)
            .header_type(1)
            .driver("pcieport")
            .iommu_group(g),
    )
    .unwrap();
    t.add_device(&FakeDevice::new("0000:00:03.2", 0x8086, 0x10d3).iommu_group(g)).unwrap();
    t.add_device(&FakeDevice::new("0000:00:03.3", 0x8086, 0x10d3).driver("pci-stub").iommu_group(g)).unwrap();
    t
}

#[test]
fn group_lists_members_with_drivers() {
    let t = shared_group();
    let g = t.sysfs().iommu_group_of(addr("00:03.0")).unwrap().unwrap();
    assert_eq!(g.number, 3);
    let names: Vec<&str> = g.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["0000:00:03.0", "0000:00:03.1", "0000:00:03.2", "0000:00:03.3", "0000:00:1c.0"]);
    let others: Vec<&str> = g.others(addr("00:03.0")).iter().map(|m| m.name.as_str()).collect();
    assert_eq!(others.len(), 4);
    assert!(!others.contains(&"0000:00:03.0"));
    assert_eq!(g.members[1].driver.as_deref(), Some("e1000e"));
    assert!(g.members[4].is_bridge);
}

#[test]
fn only_devices_on_other_drivers_block_viability() {
    let t = shared_group();
    let g = t.sysfs().iommu_group(3).unwrap();
    assert!(!g.is_viable());
    let blockers: Vec<&str> = g.blockers().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(blockers, ["0000:00:03.1"], "bridges, unbound, pci-stub and vfio-pci are fine");

    t.set_driver(addr("00:03.1"), None).unwrap();
    assert!(t.sysfs().iommu_group(3).unwrap().is_viable());
}

#[test]
fn bridge_is_recognised_by_class_without_config() {
    let t = FakeSysfs::new().unwrap();
    t.add_device(&FakeDevice::new("0000:00:1c.0", 0x8086, 0x2940).class(0x060400).driver("pcieport").iommu_group(1))
        .unwrap();
    t.add_device(
        &FakeDevice::new("0000:00:00.0", 0x8086, 0x29c0).class(0x060000).driver("agpgart-intel").iommu_group(1),
    )
    .unwrap();
    let g = t.sysfs().iommu_group(1).unwrap();
    let blockers: Vec<&str> = g.blockers().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(blockers, ["0000:00:00.0"], "a host bridge is not a PCI bridge");
}

#[test]
fn variant_vfio_drivers_are_accepted() {
    assert!(crate::pci::is_vfio_friendly_driver("vfio-pci"));
    assert!(crate::pci::is_vfio_friendly_driver("mlx5-vfio-pci"));
    assert!(crate::pci::is_vfio_friendly_driver("pci-stub"));
    assert!(!crate::pci::is_vfio_friendly_driver("e1000"));
    assert!(!crate::pci::is_vfio_friendly_driver("vfio-pcie"));
}

#[test]
fn device_without_group_has_none_and_missing_group_is_an_error() {
    let t = FakeSysfs::new().unwrap();
    t.add_device(&FakeDevice::new("0000:00:06.0", 0x8086, 0x10c9)).unwrap();
    assert!(t.sysfs().iommu_group_of(addr("00:06.0")).unwrap().is_none());
    assert!(t.sysfs().iommu_group(42).is_err());
    assert!(t.sysfs().iommu_group_of(addr("00:07.0")).is_err());
}
