//! Binding and unbinding on fake trees, with the fake kernel moving the links.

use std::fs;
use std::time::Duration;

use super::{addr, qemu_like, FakeDevice, FakeSysfs};
use crate::pci::fake::FakeKernel;
use crate::pci::{BindOutcome, Binder, PciError, Restore, UnbindOutcome};

const SETTLE: Duration = Duration::from_secs(2);

/// The write log as (path relative to the sysfs root, value, failed?).
fn log(t: &FakeSysfs, b: &Binder) -> Vec<(String, String, bool)> {
    b.writes()
        .iter()
        .map(|w| {
            let rel = w.path.strip_prefix(t.root()).unwrap();
            (rel.display().to_string(), w.value.clone(), w.error.is_some())
        })
        .collect()
}

fn w(path: &str, value: &str) -> (String, String, bool) {
    (path.to_string(), value.to_string(), false)
}

fn failed(path: &str, value: &str) -> (String, String, bool) {
    (path.to_string(), value.to_string(), true)
}

const OVERRIDE_04: &str = "bus/pci/devices/0000:00:04.0/driver_override";
const OVERRIDE_03: &str = "bus/pci/devices/0000:00:03.0/driver_override";
const PROBE: &str = "bus/pci/drivers_probe";

#[test]
fn bind_unbound_device_writes_override_probe_then_clears() {
    let t = qemu_like();
    let k = FakeKernel::start(t.root());
    let s = t.sysfs();
    let mut b = Binder::new(&s).with_settle(SETTLE);
    let out = b.bind(addr("00:04.0"), "vfio-pci").unwrap();
    assert_eq!(out, BindOutcome::Bound { previous: None });
    assert_eq!(log(&t, &b), [w(OVERRIDE_04, "vfio-pci"), w(PROBE, "0000:00:04.0"), w(OVERRIDE_04, "\n"),]);
    assert_eq!(
        k.events(),
        ["probe 0000:00:04.0 override=vfio-pci -> vfio-pci"],
        "the override was set before the probe"
    );
    let d = s.device(addr("00:04.0")).unwrap();
    assert_eq!(d.driver.as_deref(), Some("vfio-pci"));
    assert_eq!(d.driver_override, None, "override cleared after the bind");
    assert!(t.root().join("bus/pci/drivers/vfio-pci/0000:00:04.0").exists());
}

#[test]
fn bind_bound_device_unbinds_first() {
    let t = qemu_like();
    let k = FakeKernel::start(t.root());
    let s = t.sysfs();
    let mut b = Binder::new(&s).with_settle(SETTLE);
    let out = b.bind(addr("00:03.0"), "vfio-pci").unwrap();
    assert_eq!(out, BindOutcome::Bound { previous: Some("e1000".into()) });
    assert_eq!(
        log(&t, &b),
        [
            w("bus/pci/devices/0000:00:03.0/driver/unbind", "0000:00:03.0"),
            w(OVERRIDE_03, "vfio-pci"),
            w(PROBE, "0000:00:03.0"),
            w(OVERRIDE_03, "\n"),
        ]
    );
    assert_eq!(
        k.events(),
        ["unbind 0000:00:03.0 from e1000 -> ok", "probe 0000:00:03.0 override=vfio-pci -> vfio-pci"]
    );
    assert!(!t.root().join("bus/pci/drivers/e1000/0000:00:03.0").exists());
}

#[test]
fn bind_to_current_driver_writes_nothing() {
    let t = qemu_like();
    let s = t.sysfs();
    let mut b = Binder::new(&s);
    assert_eq!(b.bind(addr("00:05.0"), "vfio-pci").unwrap(), BindOutcome::AlreadyBound);
    assert!(b.writes().is_empty());
}

#[test]
fn bind_to_unloaded_driver_changes_nothing_and_says_modprobe() {
    let t = qemu_like();
    let s = t.sysfs();
    let mut b = Binder::new(&s);
    let err = b.bind(addr("00:03.0"), "igb").unwrap_err();
    assert!(matches!(err, PciError::DriverNotLoaded { .. }));
    assert_eq!(err.to_string(), "igb is not loaded: modprobe igb");
    assert!(b.writes().is_empty());
    assert_eq!(s.current_driver(addr("00:03.0")).unwrap().as_deref(), Some("e1000"));
}

#[test]
fn bind_or_unbind_of_missing_device_is_not_found() {
    let t = qemu_like();
    let s = t.sysfs();
    let mut b = Binder::new(&s);
    assert!(matches!(b.bind(addr("00:09.0"), "vfio-pci"), Err(PciError::NotFound { .. })));
    assert!(matches!(b.unbind(addr("00:09.0")), Err(PciError::NotFound { .. })));
}

#[test]
fn refused_bind_reports_kernel_error_and_restores_previous_driver() {
    let t = qemu_like();
    t.break_bind_file("vfio-pci").unwrap();
    let k = FakeKernel::start_refusing(t.root(), &["vfio-pci"]);
    let s = t.sysfs();
    let mut b = Binder::new(&s).with_settle(Duration::from_millis(100));
    let err = b.bind(addr("00:03.0"), "vfio-pci").unwrap_err();
    let PciError::BindFailed { reason, restore, .. } = &err else {
        panic!("{err}");
    };
    assert!(reason.contains("drivers/vfio-pci/bind"), "{reason}");
    assert!(reason.contains("No space left on device"), "{reason}");
    assert_eq!(restore, &Restore::Restored("e1000".into()));
    assert!(err.to_string().contains("bound to e1000 again"), "{err}");
    assert_eq!(
        log(&t, &b),
        [
            w("bus/pci/devices/0000:00:03.0/driver/unbind", "0000:00:03.0"),
            w(OVERRIDE_03, "vfio-pci"),
            w(PROBE, "0000:00:03.0"),
            failed("bus/pci/drivers/vfio-pci/bind", "0000:00:03.0"),
            w(OVERRIDE_03, "e1000"),
            w(PROBE, "0000:00:03.0"),
            w(OVERRIDE_03, "\n"),
        ]
    );
    assert_eq!(
        k.events(),
        [
            "unbind 0000:00:03.0 from e1000 -> ok",
            "probe 0000:00:03.0 override=vfio-pci -> no driver",
            "probe 0000:00:03.0 override=e1000 -> e1000",
        ]
    );
    let d = s.device(addr("00:03.0")).unwrap();
    assert_eq!(d.driver.as_deref(), Some("e1000"));
    assert_eq!(d.driver_override, None);
}

#[test]
fn bind_that_no_driver_claims_times_out_and_leaves_unbound_device_unbound() {
    let t = qemu_like();
    let _k = FakeKernel::start_refusing(t.root(), &["vfio-pci"]);
    let s = t.sysfs();
    let mut b = Binder::new(&s).with_settle(Duration::from_millis(50));
    let err = b.bind(addr("00:04.0"), "vfio-pci").unwrap_err();
    let PciError::BindFailed { reason, restore, .. } = &err else {
        panic!("{err}");
    };
    assert!(reason.contains("did not claim the device within 50 ms"), "{reason}");
    assert_eq!(restore, &Restore::NothingToRestore);
    let d = s.device(addr("00:04.0")).unwrap();
    assert_eq!(d.driver, None);
    assert_eq!(d.driver_override, None, "override cleared after a failure too");
}

#[test]
fn failed_restore_is_reported() {
    let t = qemu_like();
    let _k = FakeKernel::start_refusing(t.root(), &["vfio-pci", "e1000"]);
    let s = t.sysfs();
    let mut b = Binder::new(&s).with_settle(Duration::from_millis(30));
    let err = b.bind(addr("00:03.0"), "vfio-pci").unwrap_err();
    let PciError::BindFailed { restore, .. } = &err else {
        panic!("{err}");
    };
    assert!(matches!(restore, Restore::Failed { driver, .. } if driver == "e1000"));
    assert!(err.to_string().contains("left unbound"), "{err}");
}

#[test]
fn vfio_bind_of_device_without_iommu_group_explains_why() {
    let t = FakeSysfs::new().unwrap();
    t.add_driver("vfio-pci").unwrap();
    t.add_device(&FakeDevice::new("0000:00:06.0", 0x8086, 0x10c9)).unwrap();
    let _k = FakeKernel::start_refusing(t.root(), &["vfio-pci"]);
    let s = t.sysfs();
    let err = Binder::new(&s).with_settle(Duration::from_millis(20)).bind(addr("00:06.0"), "vfio-pci").unwrap_err();
    assert!(err.to_string().contains("no IOMMU group"), "{err}");
}

#[test]
fn failed_probe_write_falls_back_to_driver_bind_file() {
    let t = qemu_like();
    let probe = t.root().join(PROBE);
    fs::remove_file(&probe).unwrap();
    fs::create_dir(&probe).unwrap();
    let k = FakeKernel::start(t.root());
    let s = t.sysfs();
    let mut b = Binder::new(&s).with_settle(SETTLE);
    b.bind(addr("00:04.0"), "vfio-pci").unwrap();
    assert_eq!(
        log(&t, &b),
        [
            w(OVERRIDE_04, "vfio-pci"),
            failed(PROBE, "0000:00:04.0"),
            w("bus/pci/drivers/vfio-pci/bind", "0000:00:04.0"),
            w(OVERRIDE_04, "\n"),
        ]
    );
    assert_eq!(k.events(), ["bind 0000:00:04.0 to vfio-pci -> ok"]);
}

#[test]
fn without_driver_override_the_driver_bind_file_is_used() {
    let t = FakeSysfs::new().unwrap();
    t.add_driver("e1000e").unwrap();
    t.add_device(&FakeDevice::new("0000:00:04.0", 0x8086, 0x10d3).without_driver_override()).unwrap();
    let _k = FakeKernel::start(t.root());
    let s = t.sysfs();
    let mut b = Binder::new(&s).with_settle(SETTLE);
    b.bind(addr("00:04.0"), "e1000e").unwrap();
    assert_eq!(log(&t, &b), [w("bus/pci/drivers/e1000e/bind", "0000:00:04.0")]);
    assert_eq!(s.current_driver(addr("00:04.0")).unwrap().as_deref(), Some("e1000e"));
}

#[test]
fn unbind_writes_address_to_driver_unbind() {
    let t = qemu_like();
    let k = FakeKernel::start(t.root());
    let s = t.sysfs();
    let mut b = Binder::new(&s).with_settle(SETTLE);
    assert_eq!(b.unbind(addr("00:05.0")).unwrap(), UnbindOutcome::Unbound { previous: "vfio-pci".into() });
    assert_eq!(log(&t, &b), [w("bus/pci/devices/0000:00:05.0/driver/unbind", "0000:00:05.0")]);
    assert_eq!(k.events(), ["unbind 0000:00:05.0 from vfio-pci -> ok"]);
    assert_eq!(s.current_driver(addr("00:05.0")).unwrap(), None);

    b.take_writes();
    assert_eq!(b.unbind(addr("00:04.0")).unwrap(), UnbindOutcome::NotBound);
    assert!(b.writes().is_empty());
}

#[test]
fn unbind_that_does_not_take_is_an_error() {
    let t = qemu_like();
    let s = t.sysfs();
    let err = Binder::new(&s).with_settle(Duration::from_millis(20)).unbind(addr("00:03.0")).unwrap_err();
    assert!(matches!(err, PciError::UnbindFailed { .. }));
    assert!(err.to_string().contains("still bound"), "{err}");
}

#[test]
fn unbind_write_error_carries_the_sysfs_error() {
    let t = qemu_like();
    let unbind = t.root().join("bus/pci/drivers/e1000/unbind");
    fs::remove_file(&unbind).unwrap();
    std::os::unix::fs::symlink("/dev/full", &unbind).unwrap();
    let s = t.sysfs();
    let err = Binder::new(&s).unbind(addr("00:03.0")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cannot unbind 0000:00:03.0 from e1000"), "{msg}");
    assert!(msg.contains("No space left on device"), "{msg}");
}
