//! VFIO's unsafe no-IOMMU mode: the rules a group of no-IOMMU devices imposes.
//!
//! In a machine with no IOMMU (most VMs: no virtual IOMMU), vfio-pci binds devices only
//! with `vfio enable_unsafe_noiommu_mode=1`; each device gets a group of its own named
//! `vfio-noiommu`, node `/dev/vfio/noiommu-<n>`. The container then takes
//! `VFIO_NOIOMMU_IOMMU`, nothing is mapped for DMA, and the device is given physical
//! addresses: IOVA = PA is chosen automatically, `--iova-mode va` is refused (nothing would
//! translate the virtual addresses), and the process must be root (opening the group needs
//! CAP_SYS_RAWIO, and physical addresses come from `/proc/self/pagemap`, which hides them
//! from others). Secondaries receive the fds from the primary as in IOMMU mode and read the
//! mode from the shared config.

use super::error::BusError;
use super::pci_probe::Selected;
use crate::args::IovaMode;
use crate::config::SharedConfig;
use crate::pci::GroupKind;
use std::sync::atomic::Ordering;

/// The one kind of all `selected` groups (IOMMU when none is selected); a mix is refused,
/// since one container has one IOMMU type.
pub(crate) fn kind_of(selected: &[Selected]) -> Result<GroupKind, BusError> {
    let Some(first) = selected.first() else {
        return Ok(GroupKind::Iommu);
    };
    match selected.iter().find(|s| s.kind != first.kind) {
        None => Ok(first.kind),
        Some(other) => {
            let (noiommu, iommu) = if first.kind == GroupKind::NoIommu { (first, other) } else { (other, first) };
            Err(BusError::MixedGroupKinds { noiommu: noiommu.dev.addr, iommu: iommu.dev.addr })
        }
    }
}

/// Primary: checks that a no-IOMMU group can be used as asked. `iova_mode` is the
/// `--iova-mode` given; `is_root` whether this process runs as root.
pub(crate) fn check_primary(selected: &[Selected], iova_mode: Option<IovaMode>, is_root: bool) -> Result<(), BusError> {
    let Some(s) = selected.iter().find(|s| s.kind == GroupKind::NoIommu) else {
        return Ok(());
    };
    if iova_mode == Some(IovaMode::Va) {
        return Err(BusError::NoIommuIovaVa { addr: s.dev.addr, group: s.group });
    }
    if !is_root {
        return Err(BusError::NoIommuNeedsRoot { addr: s.dev.addr, group: s.group });
    }
    Ok(())
}

/// The warning a primary logs once when it opens no-IOMMU groups.
pub(crate) fn warn_unsafe(selected: &[Selected]) {
    let devices: Vec<String> = selected.iter().map(|s| s.dev.addr.to_string()).collect();
    tracing::warn!(
        devices = devices.join(" "),
        "VFIO no-IOMMU mode: nothing isolates these devices, they can DMA to any physical memory of the machine \
         (the kernel is tainted); IOVA = physical address"
    );
}

/// Records the kind of the primary's groups in the shared config for secondaries.
pub(crate) fn record_group_kind(cfg: &SharedConfig, kind: GroupKind) {
    let v = match kind {
        GroupKind::Iommu => 0,
        GroupKind::NoIommu => 1,
    };
    cfg.vfio_group_kind.store(v, Ordering::Release);
}

/// The kind of the group's VFIO groups, as the primary recorded it.
pub fn group_kind(cfg: &SharedConfig) -> GroupKind {
    match cfg.vfio_group_kind.load(Ordering::Acquire) {
        1 => GroupKind::NoIommu,
        _ => GroupKind::Iommu,
    }
}

/// Secondary: a no-IOMMU device fd can be opened by root only (CAP_SYS_RAWIO).
pub(crate) fn check_secondary(kind: GroupKind, is_root: bool) -> Result<(), BusError> {
    if kind == GroupKind::NoIommu && !is_root {
        return Err(BusError::NoIommuSecondaryNeedsRoot);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::fake::{FakeDevice, FakeSysfs};
    use crate::pci::PciFilter;

    fn selected(t: &FakeSysfs) -> Vec<Selected> {
        super::super::select(&t.sysfs(), &PciFilter::All).unwrap()
    }

    #[test]
    fn sysfs_names_noiommu_groups() {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).driver("vfio-pci").noiommu_group(0)).unwrap();
        t.add_device(&FakeDevice::new("0000:00:04.0", 0x8086, 0x10d3).driver("vfio-pci").noiommu_group(1)).unwrap();
        let v = selected(&t);
        assert_eq!(v.iter().map(|s| s.kind).collect::<Vec<_>>(), [GroupKind::NoIommu, GroupKind::NoIommu]);
        assert_eq!(kind_of(&v).unwrap(), GroupKind::NoIommu);
        assert_eq!(t.sysfs().iommu_group(1).unwrap().kind, GroupKind::NoIommu);
    }

    #[test]
    fn a_mix_of_kinds_is_refused() {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).driver("vfio-pci").iommu_group(3)).unwrap();
        t.add_device(&FakeDevice::new("0000:00:04.0", 0x8086, 0x10d3).driver("vfio-pci").noiommu_group(4)).unwrap();
        let e = kind_of(&selected(&t)).unwrap_err().to_string();
        assert!(e.contains("0000:00:04.0") && e.contains("0000:00:03.0"), "{e}");
        assert!(e.contains("-a"), "{e}");
        assert_eq!(kind_of(&[]).unwrap(), GroupKind::Iommu);
    }

    #[test]
    fn va_mode_and_non_root_are_refused_with_the_fix() {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).driver("vfio-pci").noiommu_group(0)).unwrap();
        let v = selected(&t);
        let e = check_primary(&v, Some(IovaMode::Va), true).unwrap_err().to_string();
        assert!(e.contains("--iova-mode va") && e.contains("no-IOMMU") && e.contains("--iova-mode pa"), "{e}");
        assert!(e.contains("intel-iommu") || e.contains("vIOMMU"), "{e}");
        let e = check_primary(&v, None, false).unwrap_err().to_string();
        assert!(e.contains("root") && e.contains("pagemap"), "{e}");
        assert!(check_primary(&v, None, true).is_ok());
        assert!(check_primary(&v, Some(IovaMode::Pa), true).is_ok());
        assert!(check_secondary(GroupKind::NoIommu, false).unwrap_err().to_string().contains("root"));
        assert!(check_secondary(GroupKind::Iommu, false).is_ok());
    }

    #[test]
    fn iommu_groups_are_unaffected() {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).driver("vfio-pci").iommu_group(3)).unwrap();
        let v = selected(&t);
        assert_eq!(kind_of(&v).unwrap(), GroupKind::Iommu);
        assert!(check_primary(&v, Some(IovaMode::Va), false).is_ok());
    }

    #[test]
    fn the_kind_travels_in_the_shared_config() {
        let m = crate::memory::Memory::anonymous(1 << 20).unwrap();
        assert_eq!(group_kind(m.config()), GroupKind::Iommu);
        record_group_kind(m.config(), GroupKind::NoIommu);
        assert_eq!(group_kind(m.config()), GroupKind::NoIommu);
    }
}
