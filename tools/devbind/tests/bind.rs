//! `devbind --bind` / `--unbind` on fake trees, with the fake kernel moving the links.

mod common;

use common::Fixture;
use eal::pci::fake::{FakeDevice, FakeKernel};

/// The lines of `--verbose` output that record sysfs writes, with the root cut off.
fn writes(fx: &Fixture, stdout: &str) -> Vec<String> {
    let root = fx.sys.root().display().to_string();
    stdout.lines().filter_map(|l| l.strip_prefix("  write ")).map(|l| l.replace(&root, "/sys")).collect()
}

#[test]
fn bind_writes_override_then_probe_then_clears_override() {
    let fx = Fixture::qemu();
    let k = FakeKernel::start(fx.sys.root());
    let r = fx.run(&["--bind", "vfio-pci", "0000:00:04.0", "-v"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        writes(&fx, &r.stdout),
        [
            r#""vfio-pci" to /sys/bus/pci/devices/0000:00:04.0/driver_override"#,
            r#""0000:00:04.0" to /sys/bus/pci/drivers_probe"#,
            r#""\n" to /sys/bus/pci/devices/0000:00:04.0/driver_override"#,
        ],
        "{r:?}"
    );
    assert_eq!(
        k.events(),
        ["probe 0000:00:04.0 override=vfio-pci -> vfio-pci"],
        "the kernel saw the override before the probe"
    );
    assert!(r.stdout.contains("0000:00:04.0: bound to vfio-pci (was no driver)"), "{r:?}");
    assert_eq!(fx.driver_of("00:04.0").as_deref(), Some("vfio-pci"));
    let dev = fx.sys.sysfs().device("00:04.0".parse().unwrap()).unwrap();
    assert_eq!(dev.driver_override, None, "override cleared");
    assert!(r.stderr.is_empty(), "group 6 is viable: no warning\n{r:?}");
}

#[test]
fn bind_by_interface_name_unbinds_the_kernel_driver_first() {
    let fx = Fixture::qemu();
    let k = FakeKernel::start(fx.sys.root());
    let r = fx.run(&["-b", "vfio-pci", "eth1", "-v"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(writes(&fx, &r.stdout)[0], r#""0000:00:06.0" to /sys/bus/pci/devices/0000:00:06.0/driver/unbind"#);
    assert_eq!(k.events(), ["unbind 0000:00:06.0 from igb -> ok", "probe 0000:00:06.0 override=vfio-pci -> vfio-pci"]);
    assert!(r.stdout.contains("0000:00:06.0: bound to vfio-pci (was igb)"), "{r:?}");
    assert_eq!(fx.driver_of("00:06.0").as_deref(), Some("vfio-pci"));
}

#[test]
fn bind_back_to_the_kernel_driver() {
    let fx = Fixture::qemu();
    fx.sys.add_driver("virtio-pci").unwrap();
    let _k = FakeKernel::start(fx.sys.root());
    let r = fx.run(&["-b", "virtio-pci", "00:05.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fx.driver_of("00:05.0").as_deref(), Some("virtio-pci"));
}

#[test]
fn already_bound_is_success_without_writes() {
    let fx = Fixture::qemu();
    let r = fx.run(&["-b", "vfio-pci", "00:05.0", "-v"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("0000:00:05.0: already bound to vfio-pci"), "{r:?}");
    assert!(writes(&fx, &r.stdout).is_empty());
}

#[test]
fn unbind_writes_address_to_driver_unbind() {
    let fx = Fixture::qemu();
    let k = FakeKernel::start(fx.sys.root());
    let r = fx.run(&["--unbind", "00:05.0", "00:04.0", "-v"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(writes(&fx, &r.stdout), [r#""0000:00:05.0" to /sys/bus/pci/devices/0000:00:05.0/driver/unbind"#]);
    assert_eq!(k.events(), ["unbind 0000:00:05.0 from vfio-pci -> ok"]);
    assert!(r.stdout.contains("0000:00:05.0: unbound from vfio-pci"), "{r:?}");
    assert!(r.stdout.contains("0000:00:04.0: not bound to any driver; nothing to do"), "{r:?}");
    assert_eq!(fx.driver_of("00:05.0"), None);
}

#[test]
fn bind_none_means_unbind() {
    let fx = Fixture::qemu();
    let _k = FakeKernel::start(fx.sys.root());
    let r = fx.run(&["-b", "none", "00:05.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fx.driver_of("00:05.0"), None);
}

#[test]
fn active_interface_is_refused_without_force() {
    let fx = Fixture::qemu();
    let k = FakeKernel::start(fx.sys.root());
    for args in [&["-b", "vfio-pci", "eth0"][..], &["-u", "0000:00:03.0"]] {
        let r = fx.run(args);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(r.stderr.contains("interface eth0 is active"), "{r:?}");
        assert!(r.stderr.contains("route default via 10.0.2.2 dev eth0"), "{r:?}");
        assert!(r.stderr.contains("--force"), "{r:?}");
    }
    assert!(k.events().is_empty(), "nothing was written");
    assert_eq!(fx.driver_of("00:03.0").as_deref(), Some("e1000"));
}

#[test]
fn refusal_does_not_stop_the_other_devices() {
    let fx = Fixture::qemu();
    let _k = FakeKernel::start(fx.sys.root());
    let r = fx.run(&["-b", "vfio-pci", "eth0", "00:04.0"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(fx.driver_of("00:03.0").as_deref(), Some("e1000"));
    assert_eq!(fx.driver_of("00:04.0").as_deref(), Some("vfio-pci"));
}

#[test]
fn force_binds_an_active_interface_with_a_warning() {
    let fx = Fixture::qemu();
    let _k = FakeKernel::start(fx.sys.root());
    let r = fx.run(&["-b", "vfio-pci", "eth0", "--force"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("going on because of --force"), "{r:?}");
    assert_eq!(fx.driver_of("00:03.0").as_deref(), Some("vfio-pci"));
}

#[test]
fn unviable_group_is_warned_about_with_the_fix() {
    let fx = Fixture::qemu();
    fx.sys
        .add_device(&FakeDevice::new("0000:00:04.1", 0x8086, 0x10d3).driver("e1000e").iommu_group(6).interface("eth2"))
        .unwrap();
    fx.sys
        .add_device(&FakeDevice::new("0000:00:1c.0", 0x8086, 0x2940).class(0x060400).driver("pcieport").iommu_group(6))
        .unwrap();
    let _k = FakeKernel::start(fx.sys.root());
    let r = fx.run(&["-b", "vfio-pci", "00:04.0"]);
    assert_eq!(r.code, 0, "binding worked; the warning does not fail it\n{r:?}");
    assert!(r.stderr.contains("IOMMU group 6 is not viable"), "{r:?}");
    assert!(r.stderr.contains("0000:00:04.1 '82574L Gigabit Network Connection 10d3' drv=e1000e"), "{r:?}");
    assert!(!r.stderr.contains("0000:00:1c.0"), "a bridge does not block\n{r:?}");
    assert!(r.stderr.contains("devbind -b vfio-pci 0000:00:04.1"), "{r:?}");

    let r = fx.run(&["-b", "vfio-pci", "00:04.1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("not viable"), "viable once both are bound\n{r:?}");
}

#[test]
fn unloaded_driver_fails_with_modprobe_hint_and_changes_nothing() {
    let fx = Fixture::qemu();
    let k = FakeKernel::start(fx.sys.root());
    let r = fx.run(&["-b", "uio_pci_generic", "00:06.0"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("uio_pci_generic is not loaded: modprobe uio_pci_generic"), "{r:?}");
    assert!(k.events().is_empty());
    assert_eq!(fx.driver_of("00:06.0").as_deref(), Some("igb"));
}

#[test]
fn failed_bind_restores_the_previous_driver_and_exits_4() {
    let fx = Fixture::qemu();
    fx.sys.break_bind_file("vfio-pci").unwrap();
    let _k = FakeKernel::start_refusing(fx.sys.root(), &["vfio-pci"]);
    let r = fx.run(&["-b", "vfio-pci", "00:06.0"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("cannot bind 0000:00:06.0 to vfio-pci"), "{r:?}");
    assert!(r.stderr.contains("No space left on device"), "the sysfs error\n{r:?}");
    assert!(r.stderr.contains("bound to igb again"), "{r:?}");
    assert_eq!(fx.driver_of("00:06.0").as_deref(), Some("igb"));
}

#[test]
fn unknown_device_exits_2_and_changes_nothing() {
    let fx = Fixture::qemu();
    let k = FakeKernel::start(fx.sys.root());
    for arg in ["0000:00:09.0", "09:00.0", "eth9"] {
        let r = fx.run(&["-b", "vfio-pci", "00:04.0", arg]);
        assert_eq!(r.code, 2, "{arg}: {r:?}");
        assert!(r.stderr.contains("devbind --status"), "{r:?}");
    }
    let r = fx.run(&["-u", "02:00.9"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("invalid PCI address"), "{r:?}");
    assert!(k.events().is_empty(), "nothing was touched");
    assert_eq!(fx.driver_of("00:04.0"), None);
}

#[test]
fn unbinding_a_vfio_device_in_use_is_refused_without_force() {
    let fx = Fixture::qemu();
    let fd = fx.proc_root.join("4242/fd");
    std::fs::create_dir_all(&fd).unwrap();
    std::fs::write(fx.proc_root.join("4242/comm"), "testpmd\n").unwrap();
    std::os::unix::fs::symlink("/dev/vfio/7", fd.join("9")).unwrap();
    let k = FakeKernel::start(fx.sys.root());
    let r = fx.run(&["-u", "00:05.0"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("IOMMU group 7 is open in pid 4242 (testpmd)"), "{r:?}");
    assert!(k.events().is_empty());

    let r = fx.run(&["-u", "00:05.0", "--force"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fx.driver_of("00:05.0"), None);
}
