//! `devbind --status` on fake trees.

mod common;

use common::{Fixture, ROUTE6_ETH1_LINK_LOCAL};

const EXPECTED: &str = "\
Network devices using a DPDK-compatible driver
==============================================
0000:00:05.0 'Virtio 1.0 network device 1041' drv=vfio-pci unused=virtio-pci iommu_group=7

Network devices using kernel driver
===================================
0000:00:03.0 '82540EM Gigabit Ethernet Controller 100e' drv=e1000 unused=vfio-pci if=eth0 iommu_group=5 *Active*
0000:00:06.0 '82576 Gigabit Network Connection 10c9' drv=igb unused=vfio-pci if=eth1 iommu_group=8

Other Network devices
=====================
0000:00:04.0 '82574L Gigabit Network Connection 10d3' unused=e1000e,vfio-pci iommu_group=6
";

#[test]
fn status_groups_network_devices_by_driver_kind() {
    let fx = Fixture::qemu();
    let r = fx.run(&["--status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, EXPECTED, "{r:?}");
    assert!(!r.stdout.contains("0000:00:1f.2"), "non-network devices are not listed");
}

#[test]
fn short_flag_and_environment_roots_work_the_same() {
    let fx = Fixture::qemu();
    let r = fx.run_env(&["-s"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, EXPECTED);
}

#[test]
fn empty_groups_say_none_and_unknown_devices_show_hex_ids() {
    let fx = Fixture::new("", ROUTE6_ETH1_LINK_LOCAL);
    fx.sys.add_device(&eal::pci::fake::FakeDevice::new("0000:01:00.0", 0x10ec, 0x8168).driver("r8169")).unwrap();
    let r = fx.run(&["-s"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "\
Network devices using a DPDK-compatible driver
==============================================
<none>

Network devices using kernel driver
===================================
0000:01:00.0 'Device 10ec:8168' drv=r8169 unused=vfio-pci

Other Network devices
=====================
<none>
"
    );
}

#[test]
fn global_ipv6_route_makes_an_interface_active() {
    let route6 = format!(
        "{ROUTE6_ETH1_LINK_LOCAL}20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1\n"
    );
    let fx = Fixture::qemu();
    std::fs::write(fx.proc_root.join("net/ipv6_route"), route6).unwrap();
    let r = fx.run(&["-s"]);
    assert!(r.stdout.contains("if=eth1 iommu_group=8 *Active*"), "{r:?}");
}

#[test]
fn status_after_bind_shows_the_new_state() {
    let fx = Fixture::qemu();
    let _k = eal::pci::fake::FakeKernel::start(fx.sys.root());
    let r = fx.run(&["-b", "vfio-pci", "00:04.0", "--status"]);
    assert_eq!(r.code, 0, "{r:?}");
    let dpdk_section = r.stdout.split("Network devices using kernel driver").next().unwrap();
    assert!(dpdk_section.contains("0000:00:04.0 '82574L Gigabit Network Connection 10d3' drv=vfio-pci"), "{r:?}");
    assert!(r.stdout.ends_with("Other Network devices\n=====================\n<none>\n"), "{r:?}");
}
