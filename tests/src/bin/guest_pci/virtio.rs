//! The modern virtio-net PCI device through the EAL's PCI bus: its vendor capabilities in
//! config space, the common configuration (features, queues, status, MSI-X config vector)
//! and the device configuration (link status), read through the BAR mapping the bus made.
//! Facts from the virtio 1.x specification: capability layout, register offsets and bits.

use eal::bus::BusDevice;
use eal::vfio::{EventFd, IrqIndex};
use std::os::fd::AsFd;
use std::time::Duration;

/// `cfg_type` of the common configuration structure.
pub const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
/// `cfg_type` of the device-specific configuration structure.
pub const VIRTIO_PCI_CAP_DEVICE_CFG: u8 = 4;

/// Common config: `device_feature_select` (u32).
pub const COMMON_DFSELECT: u64 = 0x00;
/// Common config: `device_feature` (u32).
pub const COMMON_DF: u64 = 0x04;
/// Common config: `driver_feature_select` (u32).
pub const COMMON_GFSELECT: u64 = 0x08;
/// Common config: `driver_feature` (u32).
pub const COMMON_GF: u64 = 0x0c;
/// Common config: `msix_config` (u16).
pub const COMMON_MSIX: u64 = 0x10;
/// Common config: `num_queues` (u16).
pub const COMMON_NUMQ: u64 = 0x12;
/// Common config: `device_status` (u8).
pub const COMMON_STATUS: u64 = 0x14;

/// Status bit: the guest noticed the device.
pub const STATUS_ACKNOWLEDGE: u8 = 1;
/// Status bit: the guest knows how to drive it.
pub const STATUS_DRIVER: u8 = 2;
/// Status bit: the driver is ready.
pub const STATUS_DRIVER_OK: u8 = 4;
/// Status bit: feature negotiation is complete.
pub const STATUS_FEATURES_OK: u8 = 8;

/// Feature: the device reports the link state in the `status` field.
pub const VIRTIO_NET_F_STATUS: u64 = 1 << 16;
/// Feature: virtio 1.x (modern) device.
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;
/// Feature: the device accesses memory through the platform's IOMMU.
pub const VIRTIO_F_ACCESS_PLATFORM: u64 = 1 << 33;
/// Net config: offset of the `status` field (u16); bit 0 is LINK_UP.
pub const NET_CFG_STATUS: u64 = 6;
/// `msix_config` value meaning "no vector".
pub const VIRTIO_MSI_NO_VECTOR: u16 = 0xffff;

/// Where a virtio structure lives: BAR, offset inside it, length.
#[derive(Debug, Clone, Copy)]
pub struct CapLoc {
    /// The BAR index.
    pub bar: u8,
    /// Offset of the structure inside the BAR.
    pub offset: u32,
    /// Length of the structure.
    pub length: u32,
}

/// Finds the vendor capability with `cfg_type` with the PMD's walk of the capability list
/// (config space through the VFIO device fd; a virtio device has several vendor
/// capabilities, the EAL's `find_capability` gives only the first).
pub fn find_virtio_cap(dev: &BusDevice, cfg_type: u8) -> Result<Option<CapLoc>, String> {
    let caps = drivers::net::virtio::pci::virtio_caps(dev.vfio())?;
    Ok(drivers::net::virtio::pci::find_cap(&caps, cfg_type).map(|c| CapLoc {
        bar: c.bar,
        offset: c.offset,
        length: c.length,
    }))
}

/// Register access to one virtio structure: through the bus's BAR mapping, or through the
/// VFIO device fd when the BAR is not mapped.
pub struct Regs<'a> {
    dev: &'a BusDevice,
    loc: CapLoc,
}

impl<'a> Regs<'a> {
    /// The structure at `loc` of `dev`.
    pub fn new(dev: &'a BusDevice, loc: CapLoc) -> Self {
        Regs { dev, loc }
    }

    /// The BAR index of the structure.
    pub fn bar_index(&self) -> u8 {
        self.loc.bar
    }

    /// True when the BAR of the structure is mapped (MMIO), false when accessed by pread.
    pub fn mapped(&self) -> bool {
        self.dev.bar(usize::from(self.loc.bar)).is_some()
    }

    fn at(&self, off: u64, width: u64) -> Result<u64, String> {
        if off + width > u64::from(self.loc.length) {
            return Err(format!("offset {off:#x} outside the structure ({} bytes)", self.loc.length));
        }
        Ok(u64::from(self.loc.offset) + off)
    }

    fn bad(&self, what: &str, off: u64) -> String {
        format!("{what} at BAR{} offset {off:#x} failed", self.loc.bar)
    }

    /// Reads a byte.
    pub fn r8(&self, off: u64) -> Result<u8, String> {
        let a = self.at(off, 1)?;
        match self.dev.bar(usize::from(self.loc.bar)) {
            Some(m) => m.read8(a as usize).ok_or_else(|| self.bad("read8", a)),
            None => self.dev.vfio().read_region_u8(u32::from(self.loc.bar), a).map_err(|e| e.to_string()),
        }
    }

    /// Reads a 16-bit register.
    pub fn r16(&self, off: u64) -> Result<u16, String> {
        let a = self.at(off, 2)?;
        match self.dev.bar(usize::from(self.loc.bar)) {
            Some(m) => m.read16(a as usize).ok_or_else(|| self.bad("read16", a)),
            None => self.dev.vfio().read_region_u16(u32::from(self.loc.bar), a).map_err(|e| e.to_string()),
        }
    }

    /// Reads a 32-bit register.
    pub fn r32(&self, off: u64) -> Result<u32, String> {
        let a = self.at(off, 4)?;
        match self.dev.bar(usize::from(self.loc.bar)) {
            Some(m) => m.read32(a as usize).ok_or_else(|| self.bad("read32", a)),
            None => self.dev.vfio().read_region_u32(u32::from(self.loc.bar), a).map_err(|e| e.to_string()),
        }
    }

    /// Writes a byte.
    pub fn w8(&self, off: u64, v: u8) -> Result<(), String> {
        let a = self.at(off, 1)?;
        match self.dev.bar(usize::from(self.loc.bar)) {
            Some(m) => m.write8(a as usize, v).ok_or_else(|| self.bad("write8", a)),
            None => self.dev.vfio().write_region_u8(u32::from(self.loc.bar), a, v).map_err(|e| e.to_string()),
        }
    }

    /// Writes a 16-bit register.
    pub fn w16(&self, off: u64, v: u16) -> Result<(), String> {
        let a = self.at(off, 2)?;
        match self.dev.bar(usize::from(self.loc.bar)) {
            Some(m) => m.write16(a as usize, v).ok_or_else(|| self.bad("write16", a)),
            None => self.dev.vfio().write_region_u16(u32::from(self.loc.bar), a, v).map_err(|e| e.to_string()),
        }
    }

    /// Writes a 32-bit register.
    pub fn w32(&self, off: u64, v: u32) -> Result<(), String> {
        let a = self.at(off, 4)?;
        match self.dev.bar(usize::from(self.loc.bar)) {
            Some(m) => m.write32(a as usize, v).ok_or_else(|| self.bad("write32", a)),
            None => self.dev.vfio().write_region_u32(u32::from(self.loc.bar), a, v).map_err(|e| e.to_string()),
        }
    }
}

/// The common and device configuration of a modern virtio-net device.
pub struct Virtio<'a> {
    /// The common configuration.
    pub common: Regs<'a>,
    /// The device (net) configuration.
    pub net: Regs<'a>,
}

impl<'a> Virtio<'a> {
    /// Finds both structures of `dev`.
    pub fn find(dev: &'a BusDevice) -> Result<Self, String> {
        let common = find_virtio_cap(dev, VIRTIO_PCI_CAP_COMMON_CFG)?
            .ok_or("no VIRTIO_PCI_CAP_COMMON_CFG capability in config space")?;
        let net = find_virtio_cap(dev, VIRTIO_PCI_CAP_DEVICE_CFG)?
            .ok_or("no VIRTIO_PCI_CAP_DEVICE_CFG capability in config space")?;
        Ok(Virtio { common: Regs::new(dev, common), net: Regs::new(dev, net) })
    }

    /// The 64 device feature bits.
    pub fn device_features(&self) -> Result<u64, String> {
        self.common.w32(COMMON_DFSELECT, 0)?;
        let lo = self.common.r32(COMMON_DF)?;
        self.common.w32(COMMON_DFSELECT, 1)?;
        let hi = self.common.r32(COMMON_DF)?;
        Ok(u64::from(lo) | (u64::from(hi) << 32))
    }

    /// Writes the 64 driver feature bits.
    pub fn set_driver_features(&self, f: u64) -> Result<(), String> {
        self.common.w32(COMMON_GFSELECT, 0)?;
        self.common.w32(COMMON_GF, f as u32)?;
        self.common.w32(COMMON_GFSELECT, 1)?;
        self.common.w32(COMMON_GF, (f >> 32) as u32)
    }

    /// `device_status`.
    pub fn status(&self) -> Result<u8, String> {
        self.common.r8(COMMON_STATUS)
    }

    /// Writes `device_status`.
    pub fn set_status(&self, s: u8) -> Result<(), String> {
        self.common.w8(COMMON_STATUS, s)
    }

    /// Resets the device (status 0) and waits until it reads back 0.
    pub fn reset(&self) -> Result<(), String> {
        drivers::net::virtio::pci::reset_device(|| self.status(), |s| self.set_status(s))
    }

    /// The net config `status` field (bit 0: link up).
    pub fn link_status(&self) -> Result<u16, String> {
        self.net.r16(NET_CFG_STATUS)
    }
}

/// What [`check_common_cfg`] read.
#[derive(Debug)]
pub struct CommonInfo {
    /// The device's feature bits.
    pub features: u64,
    /// `num_queues`.
    pub num_queues: u16,
    /// `device_status` as found.
    pub status: u8,
}

/// Reads the features and queue count and checks them: VERSION_1, ACCESS_PLATFORM and
/// NET_F_STATUS offered, at least an RX and a TX queue.
pub fn check_common_cfg(v: &Virtio<'_>) -> Result<CommonInfo, String> {
    let status = v.status()?;
    let features = v.device_features()?;
    let num_queues = v.common.r16(COMMON_NUMQ)?;
    let info = CommonInfo { features, num_queues, status };
    for (bit, name) in [
        (VIRTIO_F_VERSION_1, "VIRTIO_F_VERSION_1"),
        (VIRTIO_F_ACCESS_PLATFORM, "VIRTIO_F_ACCESS_PLATFORM"),
        (VIRTIO_NET_F_STATUS, "VIRTIO_NET_F_STATUS"),
    ] {
        if features & bit == 0 {
            return Err(format!("{name} not offered ({info:x?})"));
        }
    }
    if num_queues < 2 {
        return Err(format!("num_queues {num_queues} < 2 for virtio-net ({info:x?})"));
    }
    Ok(info)
}

/// The config-change interrupt, armed: the MSI-X vector 0 eventfd.
pub struct ConfigIrq<'a> {
    dev: &'a BusDevice,
    /// Signalled by VFIO when the device sends its config vector.
    pub efd: EventFd,
}

impl Drop for ConfigIrq<'_> {
    fn drop(&mut self) {
        let _ = self.dev.vfio().disable_irqs(IrqIndex::Msix);
    }
}

/// Drives the device to DRIVER_OK with VERSION_1 | ACCESS_PLATFORM | NET_F_STATUS and the
/// config-change interrupt on MSI-X vector 0 (an eventfd through eal::vfio).
pub fn arm_config_irq<'a>(dev: &'a BusDevice, v: &Virtio<'_>) -> Result<ConfigIrq<'a>, String> {
    v.reset()?;
    v.set_status(STATUS_ACKNOWLEDGE)?;
    v.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER)?;
    v.set_driver_features(VIRTIO_F_VERSION_1 | VIRTIO_F_ACCESS_PLATFORM | VIRTIO_NET_F_STATUS)?;
    v.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK)?;
    let s = v.status()?;
    if s & STATUS_FEATURES_OK == 0 {
        return Err(format!("the device refused the features: device_status {s:#x} after FEATURES_OK"));
    }
    let info = dev.vfio().irq_info(IrqIndex::Msix).map_err(|e| e.to_string())?;
    if info.count == 0 {
        return Err("the device has no MSI-X vectors".into());
    }
    let efd = EventFd::new().map_err(|e| e.to_string())?;
    dev.vfio().enable_irq_eventfds(IrqIndex::Msix, 0, &[efd.as_fd()]).map_err(|e| e.to_string())?;
    let irq = ConfigIrq { dev, efd };
    v.common.w16(COMMON_MSIX, 0)?;
    let back = v.common.r16(COMMON_MSIX)?;
    if back != 0 {
        return Err(format!(
            "msix_config reads {back:#x} after writing vector 0 (NO_VECTOR = {VIRTIO_MSI_NO_VECTOR:#x})"
        ));
    }
    v.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK)?;
    std::thread::sleep(Duration::from_millis(50));
    let _ = irq.efd.try_read();
    Ok(irq)
}
