//! Which PCI devices the primary takes: a sysfs scan, the `-a`/`-b` filter, devices bound to
//! vfio-pci only, IOMMU groups checked for viability. Pure sysfs: tested on fake trees.

use super::error::BusError;
use crate::pci::{Devargs, GroupKind, PciAddr, PciDevice, PciFilter, Sysfs};

/// A device the bus will open.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The sysfs snapshot of the device.
    pub dev: PciDevice,
    /// Its IOMMU group.
    pub group: u32,
    /// Whether the group is an IOMMU group or one of VFIO's no-IOMMU mode.
    pub kind: GroupKind,
    /// The `-a` arguments given for it, if any.
    pub devargs: Option<Devargs>,
}

/// Parses the raw `-a`/`-b` strings of [`crate::EalArgs`] into a filter.
pub fn parse_filter(allow: &[String], block: &[String]) -> Result<PciFilter, BusError> {
    let allow = allow.iter().map(|s| s.parse::<Devargs>()).collect::<Result<Vec<_>, _>>().map_err(BusError::Filter)?;
    let block = block.iter().map(|s| s.parse::<PciAddr>()).collect::<Result<Vec<_>, _>>().map_err(BusError::Filter)?;
    PciFilter::from_lists(allow, block).map_err(BusError::Filter)
}

/// Scans `sysfs` and returns the devices to open, by address: those the filter selects that
/// are bound to vfio-pci. A device named on the allow list must exist and be bound to
/// vfio-pci; every selected device's IOMMU group must be viable. A missing
/// `bus/pci/devices` (no PCI bus at all) is an empty bus unless devices were allowed.
pub fn select(sysfs: &Sysfs, filter: &PciFilter) -> Result<Vec<Selected>, BusError> {
    let devices = if sysfs.devices_dir().is_dir() {
        sysfs.scan().map_err(BusError::Sysfs)?
    } else {
        tracing::debug!(dir = %sysfs.devices_dir().display(), "no PCI bus in sysfs");
        Vec::new()
    };
    if let PciFilter::Allow(list) = filter {
        for d in list {
            if !devices.iter().any(|x| x.addr == d.addr()) {
                return Err(BusError::AllowedNotFound { addr: d.addr() });
            }
        }
    }
    let mut out = Vec::new();
    for dev in devices {
        if !filter.selects(dev.addr) {
            continue;
        }
        if !dev.is_vfio_bound() {
            if matches!(filter, PciFilter::Allow(_)) {
                return Err(BusError::AllowedNotBound { addr: dev.addr, what: dev.ids(), bound: binding(&dev) });
            }
            tracing::debug!(addr = %dev.addr, driver = ?dev.driver, "skipping a PCI device not bound to vfio-pci");
            continue;
        }
        let (group, kind) = usable_group(sysfs, &dev)?;
        let devargs = filter.devargs(dev.addr).cloned();
        out.push(Selected { dev, group, kind, devargs });
    }
    Ok(out)
}

/// What `dev` is bound to, as an error message says it ("bound to e1000e", "not bound to
/// any driver").
pub(crate) fn binding(dev: &PciDevice) -> String {
    match &dev.driver {
        Some(d) => format!("bound to {d}"),
        None => "not bound to any driver".to_string(),
    }
}

/// The IOMMU group of vfio-bound `dev` and its kind, once the group is checked viable.
pub(crate) fn usable_group(sysfs: &Sysfs, dev: &PciDevice) -> Result<(u32, GroupKind), BusError> {
    let group = dev.iommu_group.ok_or(BusError::NoIommuGroup { addr: dev.addr })?;
    check_viable(sysfs, group, dev.addr)?;
    let kind = sysfs.iommu_group_kind(group).map_err(BusError::Sysfs)?;
    Ok((group, kind))
}

/// Fails with [`BusError::GroupNotViable`] naming the devices of `group` bound to host drivers.
pub fn check_viable(sysfs: &Sysfs, group: u32, addr: PciAddr) -> Result<(), BusError> {
    let g = sysfs.iommu_group(group).map_err(BusError::Sysfs)?;
    let blockers: Vec<String> =
        g.blockers().iter().map(|m| format!("{} is bound to {}", m.name, m.driver.as_deref().unwrap_or("?"))).collect();
    if blockers.is_empty() {
        Ok(())
    } else {
        Err(BusError::GroupNotViable { group, addr, blockers: blockers.join(", ") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::fake::{FakeDevice, FakeSysfs};

    fn tree() -> FakeSysfs {
        let t = FakeSysfs::new().unwrap();
        t.add_driver("vfio-pci").unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).driver("vfio-pci").iommu_group(3)).unwrap();
        t.add_device(&FakeDevice::new("0000:00:04.0", 0x8086, 0x10d3).driver("e1000e").iommu_group(4)).unwrap();
        t.add_device(&FakeDevice::new("0000:00:05.0", 0x1af4, 0x1041).iommu_group(5)).unwrap();
        t.add_device(&FakeDevice::new("0000:00:06.0", 0x8086, 0x10c9).driver("vfio-pci").iommu_group(6)).unwrap();
        t
    }

    fn addrs(v: &[Selected]) -> Vec<String> {
        v.iter().map(|s| s.dev.addr.to_string()).collect()
    }

    #[test]
    fn no_list_takes_every_vfio_device() {
        let t = tree();
        let v = select(&t.sysfs(), &PciFilter::All).unwrap();
        assert_eq!(addrs(&v), ["0000:00:03.0", "0000:00:06.0"]);
        assert_eq!(v[0].group, 3);
        assert!(v[0].devargs.is_none());
    }

    #[test]
    fn allow_list_takes_listed_devices_with_their_args() {
        let t = tree();
        let f = parse_filter(&["00:06.0,rxq=2".into()], &[]).unwrap();
        let v = select(&t.sysfs(), &f).unwrap();
        assert_eq!(addrs(&v), ["0000:00:06.0"]);
        assert_eq!(v[0].devargs.as_ref().unwrap().get("rxq"), Some("2"));
    }

    #[test]
    fn block_list_skips_blocked_devices() {
        let t = tree();
        let f = parse_filter(&[], &["0000:00:03.0".into()]).unwrap();
        assert_eq!(addrs(&select(&t.sysfs(), &f).unwrap()), ["0000:00:06.0"]);
    }

    #[test]
    fn allowed_device_on_a_host_driver_names_devbind() {
        let t = tree();
        let f = parse_filter(&["0000:00:04.0".into()], &[]).unwrap();
        let e = select(&t.sysfs(), &f).unwrap_err().to_string();
        assert!(e.contains("bound to e1000e"), "{e}");
        assert!(e.contains("tools/devbind --bind vfio-pci 0000:00:04.0"), "{e}");
        let f = parse_filter(&["0000:00:05.0".into()], &[]).unwrap();
        let e = select(&t.sysfs(), &f).unwrap_err().to_string();
        assert!(e.contains("not bound to any driver"), "{e}");
    }

    #[test]
    fn allowed_device_that_does_not_exist() {
        let t = tree();
        let f = parse_filter(&["0000:00:09.0".into()], &[]).unwrap();
        let e = select(&t.sysfs(), &f).unwrap_err();
        assert!(matches!(e, BusError::AllowedNotFound { .. }), "{e}");
        assert!(e.to_string().contains("devbind --status"), "{e}");
    }

    #[test]
    fn both_lists_or_bad_addresses_are_refused() {
        assert!(matches!(parse_filter(&["00:03.0".into()], &["00:04.0".into()]), Err(BusError::Filter(_))));
        assert!(matches!(parse_filter(&["eth0".into()], &[]), Err(BusError::Filter(_))));
        assert!(matches!(parse_filter(&[], &["00:03".into()]), Err(BusError::Filter(_))));
    }

    #[test]
    fn group_with_a_host_driver_is_not_viable_and_named() {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:02:00.0", 0x8086, 0x10c9).driver("vfio-pci").iommu_group(9)).unwrap();
        t.add_device(&FakeDevice::new("0000:02:00.1", 0x8086, 0x10c9).driver("igb").iommu_group(9)).unwrap();
        let e = select(&t.sysfs(), &PciFilter::All).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, BusError::GroupNotViable { group: 9, .. }), "{msg}");
        assert!(msg.contains("0000:02:00.1 is bound to igb"), "{msg}");
        assert!(msg.contains("tools/devbind --bind vfio-pci"), "{msg}");
        // Once the other function is unbound the group is viable.
        t.set_driver("0000:02:00.1".parse().unwrap(), None).unwrap();
        assert_eq!(addrs(&select(&t.sysfs(), &PciFilter::All).unwrap()), ["0000:02:00.0"]);
    }

    #[test]
    fn vfio_device_without_group_names_the_iommu() {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).driver("vfio-pci")).unwrap();
        let e = select(&t.sysfs(), &PciFilter::All).unwrap_err().to_string();
        assert!(e.contains("intel_iommu=on"), "{e}");
    }

    #[test]
    fn missing_bus_is_empty_unless_devices_are_allowed() {
        let s = Sysfs::new("/nonexistent-sysfs");
        assert!(select(&s, &PciFilter::All).unwrap().is_empty());
        let f = parse_filter(&["00:03.0".into()], &[]).unwrap();
        assert!(matches!(select(&s, &f), Err(BusError::AllowedNotFound { .. })));
    }
}
