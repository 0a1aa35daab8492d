//! Building fake sysfs PCI trees.
//!
//! Layout (all under `<base>/sys`): the device directory is `devices/pci<dom>:<bus>/<addr>`
//! with `vendor`, `device`, `subsystem_*`, `class`, `numa_node`, `resource`,
//! `driver_override` (`(null)`), optional `config` and `net/<ifname>/`; relative symlinks
//! `bus/pci/devices/<addr>`, `<dev>/driver` -> `bus/pci/drivers/<drv>`,
//! `<dev>/iommu_group` -> `kernel/iommu_groups/<n>` and the reverse links the kernel keeps.
//! Driver directories hold plain `bind`, `unbind`, `new_id`, `remove_id` files, and
//! `bus/pci/drivers_probe` is a plain file.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::{temp_dir, TempDir};
use crate::pci::address::PciAddr;
use crate::pci::sysfs::Sysfs;

/// A device to put in a fake tree. Defaults: class 0x020000 (Ethernet), no driver, no
/// IOMMU group, NUMA node -1, no BARs, no interfaces, a `driver_override` file, no `config`.
#[derive(Clone, Debug)]
pub struct FakeDevice {
    addr: PciAddr,
    vendor: u16,
    device: u16,
    subsystem: (u16, u16),
    class: u32,
    driver: Option<String>,
    iommu_group: Option<u32>,
    noiommu: bool,
    numa_node: i32,
    interfaces: Vec<String>,
    child_interfaces: Vec<(String, String)>,
    resources: Vec<(u64, u64, u64)>,
    header_type: Option<u8>,
    driver_override_file: bool,
}

impl FakeDevice {
    /// A device at `addr` (full or short form) with these ids.
    ///
    /// # Panics
    /// If `addr` is not a PCI address: this is a test fixture.
    pub fn new(addr: &str, vendor: u16, device: u16) -> Self {
        FakeDevice {
            addr: addr.parse().unwrap_or_else(|e| panic!("FakeDevice::new: {e}")),
            vendor,
            device,
            subsystem: (vendor, 0),
            class: 0x020000,
            driver: None,
            iommu_group: None,
            noiommu: false,
            numa_node: -1,
            interfaces: Vec::new(),
            child_interfaces: Vec::new(),
            resources: Vec::new(),
            header_type: None,
            driver_override_file: true,
        }
    }

    /// Its address.
    pub fn addr(&self) -> PciAddr {
        self.addr
    }

    /// Sets the class code.
    pub fn class(mut self, class: u32) -> Self {
        self.class = class;
        self
    }

    /// Binds it to `driver` (the driver directory is created if needed).
    pub fn driver(mut self, driver: &str) -> Self {
        self.driver = Some(driver.to_string());
        self
    }

    /// Puts it in IOMMU group `group`.
    pub fn iommu_group(mut self, group: u32) -> Self {
        self.iommu_group = Some(group);
        self
    }

    /// Puts it in group `group` made by VFIO's no-IOMMU mode (named `vfio-noiommu`).
    pub fn noiommu_group(mut self, group: u32) -> Self {
        self.iommu_group = Some(group);
        self.noiommu = true;
        self
    }

    /// Sets `numa_node`.
    pub fn numa_node(mut self, node: i32) -> Self {
        self.numa_node = node;
        self
    }

    /// Adds a network interface `net/<name>`.
    pub fn interface(mut self, name: &str) -> Self {
        self.interfaces.push(name.to_string());
        self
    }

    /// Adds a network interface of a child device, `<child>/net/<name>`, as virtio-net
    /// has (`virtio0/net/eth0`).
    pub fn child_interface(mut self, child: &str, name: &str) -> Self {
        self.child_interfaces.push((child.to_string(), name.to_string()));
        self
    }

    /// Appends a `resource` line (BAR 0 first).
    pub fn resource(mut self, start: u64, end: u64, flags: u64) -> Self {
        self.resources.push((start, end, flags));
        self
    }

    /// Writes a `config` file whose header type byte is `header_type`.
    pub fn header_type(mut self, header_type: u8) -> Self {
        self.header_type = Some(header_type);
        self
    }

    /// Leaves out `driver_override`, as on kernels before 3.16.
    pub fn without_driver_override(mut self) -> Self {
        self.driver_override_file = false;
        self
    }
}

/// A fake sysfs tree in its own temporary directory, removed on drop.
#[derive(Debug)]
pub struct FakeSysfs {
    dir: TempDir,
    root: PathBuf,
}

impl FakeSysfs {
    /// An empty tree: `bus/pci/devices`, `bus/pci/drivers`, `bus/pci/drivers_probe`,
    /// `kernel/iommu_groups`, under `<base>/sys`.
    pub fn new() -> io::Result<Self> {
        let dir = temp_dir("bypass-fake-sysfs")?;
        let root = dir.path().join("sys");
        fs::create_dir_all(root.join("bus/pci/devices"))?;
        fs::create_dir_all(root.join("bus/pci/drivers"))?;
        fs::create_dir_all(root.join("kernel/iommu_groups"))?;
        fs::write(root.join("bus/pci/drivers_probe"), "")?;
        Ok(FakeSysfs { dir, root })
    }

    /// The sysfs root (`<base>/sys`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The temporary directory holding the tree, for sibling fixtures (a fake `/proc`).
    pub fn base(&self) -> &Path {
        self.dir.path()
    }

    /// A [`Sysfs`] reading this tree.
    pub fn sysfs(&self) -> Sysfs {
        Sysfs::new(&self.root)
    }

    /// The real directory of the device at `addr`.
    pub fn device_dir(&self, addr: PciAddr) -> PathBuf {
        device_dir(&self.root, addr)
    }

    /// The content of `<root>/<rel>` as it is, or "" if it cannot be read.
    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.root.join(rel)).unwrap_or_default()
    }

    /// Registers driver `name`: `bus/pci/drivers/<name>/{bind,unbind,new_id,remove_id}`.
    pub fn add_driver(&self, name: &str) -> io::Result<()> {
        let dir = self.root.join("bus/pci/drivers").join(name);
        if dir.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(&dir)?;
        for f in ["bind", "unbind", "new_id", "remove_id"] {
            fs::write(dir.join(f), "")?;
        }
        Ok(())
    }

    /// Replaces driver `name`'s `bind` file by a link to `/dev/full`, so writing to it
    /// fails with ENOSPC as a kernel refusal would fail.
    pub fn break_bind_file(&self, name: &str) -> io::Result<()> {
        let path = self.root.join("bus/pci/drivers").join(name).join("bind");
        let _ = fs::remove_file(&path);
        symlink("/dev/full", path)
    }

    /// Adds `dev` with all its files and links.
    pub fn add_device(&self, dev: &FakeDevice) -> io::Result<()> {
        let addr = dev.addr;
        let dir = self.device_dir(addr);
        fs::create_dir_all(&dir)?;
        let hex16 = |v: u16| format!("0x{v:04x}\n");
        fs::write(dir.join("vendor"), hex16(dev.vendor))?;
        fs::write(dir.join("device"), hex16(dev.device))?;
        fs::write(dir.join("subsystem_vendor"), hex16(dev.subsystem.0))?;
        fs::write(dir.join("subsystem_device"), hex16(dev.subsystem.1))?;
        fs::write(dir.join("class"), format!("0x{:06x}\n", dev.class))?;
        fs::write(dir.join("numa_node"), format!("{}\n", dev.numa_node))?;
        let mut resource = String::new();
        for i in 0..13 {
            let (s, e, f) = dev.resources.get(i).copied().unwrap_or((0, 0, 0));
            resource.push_str(&format!("0x{s:016x} 0x{e:016x} 0x{f:016x}\n"));
        }
        fs::write(dir.join("resource"), resource)?;
        if dev.driver_override_file {
            fs::write(dir.join("driver_override"), "(null)\n")?;
        }
        if let Some(h) = dev.header_type {
            let mut config = vec![0u8; 64];
            config[0..2].copy_from_slice(&dev.vendor.to_le_bytes());
            config[2..4].copy_from_slice(&dev.device.to_le_bytes());
            config[0x0e] = h;
            fs::write(dir.join("config"), config)?;
        }
        for ifname in &dev.interfaces {
            fs::create_dir_all(dir.join("net").join(ifname))?;
        }
        for (child, ifname) in &dev.child_interfaces {
            fs::create_dir_all(dir.join(child).join("net").join(ifname))?;
        }
        let bus_link = self.root.join("bus/pci/devices").join(addr.to_string());
        symlink(format!("../../../{}", device_rel(addr)), bus_link)?;
        if let Some(group) = dev.iommu_group {
            let gdir = self.root.join("kernel/iommu_groups").join(group.to_string());
            fs::create_dir_all(gdir.join("devices"))?;
            if dev.noiommu {
                fs::write(gdir.join("name"), format!("{}\n", crate::pci::iommu::NOIOMMU_GROUP_NAME))?;
            }
            symlink(format!("../../../kernel/iommu_groups/{group}"), dir.join("iommu_group"))?;
            symlink(format!("../../../../{}", device_rel(addr)), gdir.join("devices").join(addr.to_string()))?;
        }
        if let Some(drv) = &dev.driver {
            self.add_driver(drv)?;
            set_driver(&self.root, addr, Some(drv))?;
        }
        Ok(())
    }

    /// Binds `addr` to `driver` (or unbinds it for `None`) by changing the links, as the
    /// kernel would.
    pub fn set_driver(&self, addr: PciAddr, driver: Option<&str>) -> io::Result<()> {
        if let Some(d) = driver {
            self.add_driver(d)?;
        }
        set_driver(&self.root, addr, driver)
    }
}

/// `devices/pci<dom>:<bus>/<addr>`, relative to the root.
fn device_rel(addr: PciAddr) -> String {
    format!("devices/pci{:04x}:{:02x}/{addr}", addr.domain(), addr.bus())
}

/// The real directory of `addr` in the tree at `root`.
pub(super) fn device_dir(root: &Path, addr: PciAddr) -> PathBuf {
    root.join(device_rel(addr))
}

/// Moves the `driver` link of `addr` (and the driver's reverse link) to `driver`.
pub(super) fn set_driver(root: &Path, addr: PciAddr, driver: Option<&str>) -> io::Result<()> {
    let dir = device_dir(root, addr);
    let link = dir.join("driver");
    if let Ok(old) = fs::read_link(&link) {
        if let Some(old) = old.file_name() {
            let _ = fs::remove_file(root.join("bus/pci/drivers").join(old).join(addr.to_string()));
        }
        fs::remove_file(&link)?;
    }
    if let Some(drv) = driver {
        symlink(format!("../../../bus/pci/drivers/{drv}"), &link)?;
        symlink(
            format!("../../../../{}", device_rel(addr)),
            root.join("bus/pci/drivers").join(drv).join(addr.to_string()),
        )?;
    }
    Ok(())
}
