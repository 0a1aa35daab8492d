//! PCI addresses as VFIO names devices (`0000:00:03.0`) and the sysfs lookup
//! of a device's IOMMU group.

use super::error::{Result, VfioError};
use std::path::Path;

/// Checks that `s` is a full PCI address `dddd:bb:ss.f` (hex, slot < 0x20,
/// function < 8) and returns it in lower case.
pub fn normalize_pci_address(s: &str) -> Result<String> {
    let bad = || VfioError::InvalidPciAddress(s.to_string());
    let (domain, rest) = s.split_once(':').ok_or_else(bad)?;
    let (bus, rest) = rest.split_once(':').ok_or_else(bad)?;
    let (slot, func) = rest.split_once('.').ok_or_else(bad)?;
    let hex = |t: &str, len: usize| {
        if t.len() == len && t.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(t, 16).ok()
        } else {
            None
        }
    };
    let (Some(_), Some(_), Some(sl), Some(fu)) = (hex(domain, 4), hex(bus, 2), hex(slot, 2), hex(func, 1)) else {
        return Err(bad());
    };
    if sl >= 0x20 || fu >= 8 {
        return Err(bad());
    }
    Ok(s.to_ascii_lowercase())
}

/// The IOMMU group number of a PCI device, from
/// `/sys/bus/pci/devices/<addr>/iommu_group`.
pub fn iommu_group_of(pci_addr: &str) -> Result<u32> {
    iommu_group_in(Path::new("/sys/bus/pci/devices"), pci_addr)
}

/// [`iommu_group_of`] under another sysfs root (tests).
pub fn iommu_group_in(devices_dir: &Path, pci_addr: &str) -> Result<u32> {
    let addr = normalize_pci_address(pci_addr)?;
    let link = devices_dir.join(&addr).join("iommu_group");
    let lookup_err =
        |source| VfioError::IommuGroupLookup { device: addr.clone(), path: link.display().to_string(), source };
    let target = std::fs::read_link(&link).map_err(lookup_err)?;
    target.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse().ok()).ok_or_else(|| {
        lookup_err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("link target {} does not end in a group number", target.display()),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_full_addresses() {
        assert_eq!(normalize_pci_address("0000:00:03.0").unwrap(), "0000:00:03.0");
        assert_eq!(normalize_pci_address("0000:AF:1f.7").unwrap(), "0000:af:1f.7");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in ["", "00:03.0", "0000:00:03", "0000:00:20.0", "0000:00:03.8", "000g:00:03.0", "0000:00:03.0x"] {
            let err = normalize_pci_address(bad).unwrap_err();
            assert!(matches!(err, VfioError::InvalidPciAddress(_)), "{bad}");
        }
    }

    #[test]
    fn group_from_sysfs_link() {
        let dir = std::env::temp_dir().join(format!("vfio-sysfs-test-{}", std::process::id()));
        let dev = dir.join("0000:00:03.0");
        std::fs::create_dir_all(&dev).unwrap();
        let _ = std::fs::remove_file(dev.join("iommu_group"));
        std::os::unix::fs::symlink("../../../kernel/iommu_groups/7", dev.join("iommu_group")).unwrap();
        assert_eq!(iommu_group_in(&dir, "0000:00:03.0").unwrap(), 7);
        let err = iommu_group_in(&dir, "0000:00:04.0").unwrap_err();
        assert!(err.to_string().contains("intel_iommu=on"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
