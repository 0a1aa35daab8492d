//! Reading the PCI devices of a sysfs tree (`/sys` or a fake one in tests).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use tracing::debug;

use super::address::PciAddr;
use super::attr;
use super::bar::parse_resource;
use super::class::PciClass;
use super::device::PciDevice;
use super::error::PciError;

/// The default sysfs root.
pub const DEFAULT_SYSFS_ROOT: &str = "/sys";

/// A sysfs tree to read PCI devices from and bind them in. Holds only the root path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sysfs {
    root: PathBuf,
}

impl Default for Sysfs {
    fn default() -> Self {
        Sysfs::new(DEFAULT_SYSFS_ROOT)
    }
}

impl Sysfs {
    /// The tree rooted at `root` (`/sys` on a live system).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Sysfs { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `bus/pci/devices`.
    pub fn devices_dir(&self) -> PathBuf {
        self.root.join("bus/pci/devices")
    }

    /// `bus/pci/devices/<addr>`.
    pub fn device_dir(&self, addr: PciAddr) -> PathBuf {
        self.devices_dir().join(addr.to_string())
    }

    /// `bus/pci/drivers`.
    pub fn drivers_dir(&self) -> PathBuf {
        self.root.join("bus/pci/drivers")
    }

    /// `bus/pci/drivers/<driver>`.
    pub fn driver_dir(&self, driver: &str) -> PathBuf {
        self.drivers_dir().join(driver)
    }

    /// `bus/pci/drivers_probe`.
    pub fn drivers_probe_path(&self) -> PathBuf {
        self.root.join("bus/pci/drivers_probe")
    }

    /// `kernel/iommu_groups/<group>/devices`.
    pub fn iommu_group_devices_dir(&self, group: u32) -> PathBuf {
        self.root.join("kernel/iommu_groups").join(group.to_string()).join("devices")
    }

    /// Whether `driver` is registered with the PCI bus (its module is loaded).
    pub fn driver_loaded(&self, driver: &str) -> bool {
        !driver.is_empty() && !driver.contains('/') && self.driver_dir(driver).is_dir()
    }

    /// The names of the loaded PCI drivers, sorted.
    pub fn loaded_drivers(&self) -> Result<Vec<String>, PciError> {
        attr::list_dir(&self.drivers_dir())
    }

    /// The name of the driver `addr` is bound to now, if any.
    pub fn current_driver(&self, addr: PciAddr) -> Result<Option<String>, PciError> {
        attr::link_name(&self.device_dir(addr).join("driver"))
    }

    /// Every PCI device, sorted by address. Entries that are not PCI addresses are
    /// skipped, and so is a device that disappears while it is being read.
    pub fn scan(&self) -> Result<Vec<PciDevice>, PciError> {
        let dir = self.devices_dir();
        if !dir.is_dir() {
            return Err(PciError::io(
                "list",
                &dir,
                std::io::Error::new(ErrorKind::NotFound, "no such directory: is sysfs mounted?"),
            ));
        }
        let mut devices = Vec::new();
        for name in attr::list_dir(&dir)? {
            let Ok(addr) = name.parse::<PciAddr>() else {
                debug!(entry = %name, "skipping a non-PCI entry in {}", dir.display());
                continue;
            };
            match self.device(addr) {
                Ok(d) => devices.push(d),
                Err(PciError::NotFound { .. }) => debug!(%addr, "device vanished during scan"),
                Err(e) => return Err(e),
            }
        }
        devices.sort_by_key(|d| d.addr);
        Ok(devices)
    }

    /// The device at `addr`; [`PciError::NotFound`] if there is none.
    pub fn device(&self, addr: PciAddr) -> Result<PciDevice, PciError> {
        let dir = self.device_dir(addr);
        if !dir.is_dir() {
            return Err(PciError::NotFound { addr, path: dir });
        }
        let vendor = attr::read_id(&dir.join("vendor"), "a vendor id")?;
        let device = attr::read_id(&dir.join("device"), "a device id")?;
        let class_path = dir.join("class");
        let class = PciClass(attr::parse_hex(&class_path, "a class code", &attr::read(&class_path)?)?);
        let resource_path = dir.join("resource");
        let bars = match attr::read_opt(&resource_path)? {
            Some(text) => parse_resource(&resource_path, &text)?,
            None => Vec::new(),
        };
        Ok(PciDevice {
            addr,
            vendor,
            device,
            subsystem_vendor: attr::read_id_opt(&dir.join("subsystem_vendor"), "a vendor id")?,
            subsystem_device: attr::read_id_opt(&dir.join("subsystem_device"), "a device id")?,
            class,
            header_type: read_header_type(&dir.join("config")),
            driver: attr::link_name(&dir.join("driver"))?,
            driver_override: read_driver_override(&dir)?,
            iommu_group: read_iommu_group(&dir)?,
            numa_node: read_numa_node(&dir)?,
            bars,
            interfaces: read_interfaces(&dir)?,
            sysfs_path: dir,
        })
    }

    /// The device that owns network interface `ifname`, if any.
    pub fn find_by_interface(&self, ifname: &str) -> Result<Option<PciDevice>, PciError> {
        Ok(self.scan()?.into_iter().find(|d| d.interfaces.iter().any(|i| i == ifname)))
    }
}

/// `driver_override`: `None` when absent, empty or the kernel's "(null)".
pub(crate) fn read_driver_override(dir: &Path) -> Result<Option<String>, PciError> {
    Ok(attr::read_opt(&dir.join("driver_override"))?.filter(|s| !s.is_empty() && s != "(null)"))
}

/// The group number from the `iommu_group` link (`.../kernel/iommu_groups/<n>`).
pub(crate) fn read_iommu_group(dir: &Path) -> Result<Option<u32>, PciError> {
    let path = dir.join("iommu_group");
    match attr::link_name(&path)? {
        None => Ok(None),
        Some(name) => {
            name.parse().map(Some).map_err(|_| PciError::Parse { path, what: "an IOMMU group number", content: name })
        }
    }
}

/// Network interface names: `net/*`, and `<child>/net/*` for child devices such as
/// `virtio0` (virtio-net's interface belongs to the virtio device under the PCI one).
/// Only real subdirectories are searched, never links such as `driver` or `subsystem`.
fn read_interfaces(dir: &Path) -> Result<Vec<String>, PciError> {
    let mut names = attr::list_dir(&dir.join("net"))?;
    for child in attr::list_dir(dir)? {
        let path = dir.join(&child);
        let is_real_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if is_real_dir && child != "net" {
            names.extend(attr::list_dir(&path.join("net"))?);
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// `numa_node`: `None` when absent or negative (no NUMA information).
fn read_numa_node(dir: &Path) -> Result<Option<u32>, PciError> {
    let path = dir.join("numa_node");
    match attr::read_opt(&path)? {
        None => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n < 0 => Ok(None),
            Ok(n) => Ok(u32::try_from(n).ok()),
            Err(_) => Err(PciError::Parse { path, what: "a NUMA node number", content: text }),
        },
    }
}

/// Byte 0x0e of config space without the multi-function bit; `None` if unreadable.
/// The first 64 bytes of `config` are readable by anyone.
pub(crate) fn read_header_type(path: &Path) -> Option<u8> {
    let mut buf = [0u8; 0x0f];
    let mut file = File::open(path).ok()?;
    file.read_exact(&mut buf).ok()?;
    Some(buf[0x0e] & 0x7f)
}
