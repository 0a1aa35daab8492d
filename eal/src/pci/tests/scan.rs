//! Scanning a fake tree into `PciDevice`s.

use std::fs;

use super::{addr, qemu_like};
use crate::pci::{BarKind, PciError, Sysfs};

#[test]
fn scan_reads_every_attribute() {
    let t = qemu_like();
    let devs = t.sysfs().scan().unwrap();
    let names: Vec<String> = devs.iter().map(|d| d.addr.to_string()).collect();
    assert_eq!(names, ["0000:00:03.0", "0000:00:04.0", "0000:00:05.0", "0000:00:1f.2"]);

    let e = &devs[0];
    assert_eq!((e.vendor, e.device), (0x8086, 0x100e));
    assert_eq!(e.subsystem_vendor, Some(0x8086));
    assert_eq!(e.class.0, 0x020000);
    assert!(e.is_network());
    assert_eq!(e.driver.as_deref(), Some("e1000"));
    assert_eq!(e.driver_override, None);
    assert_eq!(e.iommu_group, Some(5));
    assert_eq!(e.numa_node, Some(0));
    assert_eq!(e.interfaces, ["eth0"]);
    assert_eq!(e.ids(), "8086:100e");
    assert_eq!(e.bars.len(), 2);
    assert_eq!(e.bar(0).unwrap().size(), 0x20000);
    assert_eq!(e.bar(0).unwrap().kind(), BarKind::Mem);
    assert_eq!(e.bar(2).unwrap().kind(), BarKind::Io);
    assert!(e.bar(1).is_none());
    assert!(e.sysfs_path.ends_with("bus/pci/devices/0000:00:03.0"));

    let unbound = &devs[1];
    assert_eq!(unbound.driver, None);
    assert_eq!(unbound.numa_node, None, "numa_node -1 means unknown");
    assert!(unbound.interfaces.is_empty());

    assert!(devs[2].is_vfio_bound());
    assert!(!devs[3].is_network());
}

#[test]
fn device_reads_one_and_reports_missing_ones() {
    let t = qemu_like();
    let d = t.sysfs().device(addr("00:04.0")).unwrap();
    assert_eq!(d.device, 0x10d3);
    let err = t.sysfs().device(addr("00:09.0")).unwrap_err();
    assert!(matches!(err, PciError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("0000:00:09.0"), "{err}");
}

#[test]
fn driver_override_is_read_and_null_means_none() {
    let t = qemu_like();
    let dir = t.device_dir(addr("00:04.0"));
    fs::write(dir.join("driver_override"), "vfio-pci\n").unwrap();
    let d = t.sysfs().device(addr("00:04.0")).unwrap();
    assert_eq!(d.driver_override.as_deref(), Some("vfio-pci"));
}

#[test]
fn header_type_from_config_decides_bridge() {
    let t = qemu_like();
    t.add_device(&super::FakeDevice::new("0000:00:1c.0", 0x8086, 0x2940).class(0x060400).header_type(0x81)).unwrap();
    let d = t.sysfs().device(addr("00:1c.0")).unwrap();
    assert_eq!(d.header_type, Some(1), "the multi-function bit is masked off");
    assert!(d.is_bridge());
    let nic = t.sysfs().device(addr("00:03.0")).unwrap();
    assert_eq!(nic.header_type, None);
    assert!(!nic.is_bridge());
}

#[test]
fn find_by_interface_and_loaded_drivers() {
    let t = qemu_like();
    let s = t.sysfs();
    assert_eq!(s.find_by_interface("eth0").unwrap().unwrap().addr, addr("00:03.0"));
    assert!(s.find_by_interface("eth9").unwrap().is_none());
    assert!(s.driver_loaded("vfio-pci"));
    assert!(!s.driver_loaded("igb"));
    assert!(!s.driver_loaded("../drivers/e1000"));
    assert_eq!(s.loaded_drivers().unwrap(), ["ahci", "e1000", "vfio-pci"]);
}

#[test]
fn scan_skips_foreign_entries_and_fails_clearly_without_sysfs() {
    let t = qemu_like();
    fs::create_dir(t.root().join("bus/pci/devices/not-a-device")).unwrap();
    assert_eq!(t.sysfs().scan().unwrap().len(), 4);

    let err = Sysfs::new(t.base().join("nowhere")).scan().unwrap_err();
    assert!(err.to_string().contains("is sysfs mounted"), "{err}");
}

#[test]
fn garbage_ids_are_reported_with_the_file() {
    let t = qemu_like();
    fs::write(t.device_dir(addr("00:04.0")).join("vendor"), "intel\n").unwrap();
    let err = t.sysfs().scan().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("vendor") && msg.contains("intel"), "{msg}");
}

#[test]
fn virtio_interfaces_under_the_child_device_are_found() {
    let t = qemu_like();
    t.add_device(
        &super::FakeDevice::new("0000:00:07.0", 0x1af4, 0x1041).driver("virtio-pci").child_interface("virtio2", "eth3"),
    )
    .unwrap();
    fs::create_dir_all(t.device_dir(addr("00:07.0")).join("power")).unwrap();
    let d = t.sysfs().device(addr("00:07.0")).unwrap();
    assert_eq!(d.interfaces, ["eth3"]);
    let s = t.sysfs();
    assert_eq!(s.find_by_interface("eth3").unwrap().unwrap().addr, addr("00:07.0"));
    let e1000 = s.device(addr("00:03.0")).unwrap();
    assert_eq!(e1000.interfaces, ["eth0"], "links such as driver/ are not followed");
}
