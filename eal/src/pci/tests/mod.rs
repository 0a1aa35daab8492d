//! Tests of scanning, binding and IOMMU groups against fake sysfs trees.

mod bind;
mod iommu;
mod scan;

use super::fake::{FakeDevice, FakeSysfs};
use super::PciAddr;

fn addr(s: &str) -> PciAddr {
    s.parse().unwrap()
}

/// An 82540EM at 00:03.0 on e1000 with eth0 and two BARs (group 5), an unbound 82574L at
/// 00:04.0 (group 6), a virtio-net on vfio-pci at 00:05.0 (group 7), and a SATA
/// controller at 00:1f.2 on ahci.
fn qemu_like() -> FakeSysfs {
    let t = FakeSysfs::new().unwrap();
    t.add_driver("vfio-pci").unwrap();
    t.add_device(
        &FakeDevice::new("0000:00:03.0", 0x8086, 0x100e)
            .driver("e1000")
            .iommu_group(5)
            .numa_node(0)
            .interface("eth0")
            .resource(0xfebc_0000, 0xfebd_ffff, 0x40200)
            .resource(0, 0, 0)
            .resource(0xc000, 0xc03f, 0x40101),
    )
    .unwrap();
    t.add_device(&FakeDevice::new("0000:00:04.0", 0x8086, 0x10d3).iommu_group(6)).unwrap();
    t.add_device(&FakeDevice::new("0000:00:05.0", 0x1af4, 0x1041).driver("vfio-pci").iommu_group(7)).unwrap();
    t.add_device(&FakeDevice::new("0000:00:1f.2", 0x8086, 0x2922).class(0x010601).driver("ahci")).unwrap();
    t
}
