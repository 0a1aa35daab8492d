//! `--noiommu-mode`, as dpdk-devbind.py: in a machine without an IOMMU (most VMs),
//! vfio-pci binds devices only once VFIO's unsafe no-IOMMU mode is on; this turns it on,
//! with a warning, when the kernel has no IOMMU.

use eal::pci::{GroupKind, Sysfs};
use std::path::PathBuf;

/// What `--noiommu-mode` found or did.
#[derive(Debug, PartialEq, Eq)]
pub enum NoIommuOutcome {
    /// The kernel has IOMMU groups: the mode is not needed and was left off.
    HasIommu,
    /// The mode was already on.
    AlreadyOn,
    /// The mode was turned on.
    Enabled,
}

/// The vfio module parameter that holds the mode.
pub fn param_path(sysfs: &Sysfs) -> PathBuf {
    sysfs.root().join("module/vfio/parameters/enable_unsafe_noiommu_mode")
}

/// Whether the kernel has a real IOMMU: any IOMMU group that VFIO's no-IOMMU mode did not make.
fn kernel_has_iommu(sysfs: &Sysfs) -> bool {
    let Ok(entries) = std::fs::read_dir(sysfs.root().join("kernel/iommu_groups")) else {
        return false;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .any(|n| sysfs.iommu_group_kind(n).is_ok_and(|k| k == GroupKind::Iommu))
}

/// Turns VFIO's no-IOMMU mode on if the kernel has no IOMMU. The error names the fix.
pub fn enable(sysfs: &Sysfs) -> Result<NoIommuOutcome, String> {
    if kernel_has_iommu(sysfs) {
        return Ok(NoIommuOutcome::HasIommu);
    }
    let path = param_path(sysfs);
    let current = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e}; vfio is not loaded or was built without CONFIG_VFIO_NOIOMMU: \
             load it with `modprobe vfio enable_unsafe_noiommu_mode=1` (a kernel built with \
             CONFIG_VFIO_NOIOMMU=y is needed)",
            path.display()
        )
    })?;
    if current.trim() == "Y" || current.trim() == "1" {
        return Ok(NoIommuOutcome::AlreadyOn);
    }
    std::fs::write(&path, "1").map_err(|e| format!("cannot write {}: {e}; run as root", path.display()))?;
    Ok(NoIommuOutcome::Enabled)
}

/// The warning printed when the mode is turned on.
pub const WARNING: &str = "warning: no IOMMU in this machine: enabling VFIO's unsafe no-IOMMU mode. Devices bound to \
vfio-pci can then read and write any memory of the machine (the kernel taints itself); use it only in a VM you trust \
the software of, and run Bypass as root (IOVA = physical address).";

#[cfg(test)]
mod tests {
    use super::*;
    use eal::pci::fake::{FakeDevice, FakeSysfs};

    fn with_param(t: &FakeSysfs, v: &str) -> PathBuf {
        let p = param_path(&t.sysfs());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, v).unwrap();
        p
    }

    #[test]
    fn enables_the_mode_without_an_iommu_only() {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e)).unwrap();
        let e = enable(&t.sysfs()).unwrap_err();
        assert!(e.contains("modprobe vfio enable_unsafe_noiommu_mode=1"), "{e}");
        let p = with_param(&t, "N\n");
        assert_eq!(enable(&t.sysfs()).unwrap(), NoIommuOutcome::Enabled);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "1");
        std::fs::write(&p, "Y\n").unwrap();
        assert_eq!(enable(&t.sysfs()).unwrap(), NoIommuOutcome::AlreadyOn);
        // A no-IOMMU group is not an IOMMU.
        t.add_device(&FakeDevice::new("0000:00:04.0", 0x8086, 0x100e).noiommu_group(0)).unwrap();
        assert_eq!(enable(&t.sysfs()).unwrap(), NoIommuOutcome::AlreadyOn);
    }

    #[test]
    fn leaves_the_mode_off_with_an_iommu() {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).iommu_group(3)).unwrap();
        let p = with_param(&t, "N\n");
        assert_eq!(enable(&t.sysfs()).unwrap(), NoIommuOutcome::HasIommu);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "N\n");
    }
}
