//! The two PCI transports of virtio 1.x: *modern* (the common, notify, ISR and device
//! configuration structures in memory BARs, found through vendor capabilities of config
//! space) and *legacy* (one I/O-port BAR0 holding the features, one queue's registers, the
//! status, the ISR, the MSI-X vectors and then the device configuration). I/O-port BARs
//! cannot be mapped: they are read and written through the VFIO device fd.
//!
//! Facts from the virtio 1.x specification (4.1 "Virtio Over PCI Bus"): capability layout,
//! register offsets and bits.

use super::error::VirtioError;
use super::net::Features;
use eal::bus::BusDevice;
use eal::vfio::{self, MmioRegion, RegionInfo, PCI_CAPABILITY_LIST, PCI_STATUS, PCI_STATUS_CAP_LIST};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// PCI capability id of a vendor-specific capability (each virtio structure is one).
pub const PCI_CAP_ID_VNDR: u8 = 0x09;
/// `cfg_type` of the common configuration.
pub const CAP_COMMON: u8 = 1;
/// `cfg_type` of the notification structure.
pub const CAP_NOTIFY: u8 = 2;
/// `cfg_type` of the ISR status byte.
pub const CAP_ISR: u8 = 3;
/// `cfg_type` of the device-specific configuration.
pub const CAP_DEVICE: u8 = 4;

/// Common configuration registers (modern).
pub mod common {
    /// `device_feature_select` (u32).
    pub const DFSELECT: u64 = 0x00;
    /// `device_feature` (u32).
    pub const DF: u64 = 0x04;
    /// `driver_feature_select` (u32).
    pub const GFSELECT: u64 = 0x08;
    /// `driver_feature` (u32).
    pub const GF: u64 = 0x0c;
    /// `msix_config` (u16).
    pub const MSIX: u64 = 0x10;
    /// `num_queues` (u16).
    pub const NUMQ: u64 = 0x12;
    /// `device_status` (u8).
    pub const STATUS: u64 = 0x14;
    /// `queue_select` (u16).
    pub const Q_SELECT: u64 = 0x16;
    /// `queue_size` (u16).
    pub const Q_SIZE: u64 = 0x18;
    /// `queue_msix_vector` (u16).
    pub const Q_MSIX: u64 = 0x1a;
    /// `queue_enable` (u16).
    pub const Q_ENABLE: u64 = 0x1c;
    /// `queue_notify_off` (u16).
    pub const Q_NOFF: u64 = 0x1e;
    /// `queue_desc` (u64 as two u32).
    pub const Q_DESC: u64 = 0x20;
    /// `queue_driver`: the available ring.
    pub const Q_AVAIL: u64 = 0x28;
    /// `queue_device`: the used ring.
    pub const Q_USED: u64 = 0x30;
}

/// Legacy I/O-port registers (BAR0).
pub mod legacy {
    /// Device features, bits 0-31 (u32).
    pub const HOST_FEATURES: u64 = 0;
    /// Driver features, bits 0-31 (u32).
    pub const GUEST_FEATURES: u64 = 4;
    /// Page frame number of the selected queue, in 4 KiB units (u32).
    pub const QUEUE_PFN: u64 = 8;
    /// Size of the selected queue (u16, read-only).
    pub const QUEUE_NUM: u64 = 12;
    /// Queue select (u16).
    pub const QUEUE_SEL: u64 = 14;
    /// Queue notify (u16).
    pub const QUEUE_NOTIFY: u64 = 16;
    /// Device status (u8).
    pub const STATUS: u64 = 18;
    /// ISR status (u8, read clears).
    pub const ISR: u64 = 19;
    /// MSI-X vector of configuration changes (u16; present while MSI-X is enabled).
    pub const CONFIG_VECTOR: u64 = 20;
    /// MSI-X vector of the selected queue (u16; present while MSI-X is enabled).
    pub const QUEUE_VECTOR: u64 = 22;
    /// Device configuration offset without MSI-X.
    pub const CONFIG_NO_MSIX: u64 = 20;
    /// Device configuration offset with MSI-X enabled.
    pub const CONFIG_MSIX: u64 = 24;
    /// Ring alignment of the legacy layout (the used ring starts on such a boundary).
    pub const VRING_ALIGN: u64 = 4096;
    /// Shift of the queue address written to QUEUE_PFN.
    pub const PFN_SHIFT: u32 = 12;
}

bitflags::bitflags! {
    /// `device_status` bits (virtio 1.x, 2.1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct DeviceStatus: u8 {
        /// The guest noticed the device.
        const ACKNOWLEDGE = 1;
        /// The guest knows how to drive it.
        const DRIVER = 2;
        /// The driver is ready.
        const DRIVER_OK = 4;
        /// Feature negotiation is complete (modern).
        const FEATURES_OK = 8;
        /// The device hit an error and needs a reset.
        const NEEDS_RESET = 0x40;
        /// The driver gave up.
        const FAILED = 0x80;
    }
}
/// "No vector" for the MSI-X vector registers.
pub const NO_VECTOR: u16 = 0xffff;

/// Where a virtio structure lives: the BAR, the offset in it, its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapLoc {
    /// `cfg_type`.
    pub cfg_type: u8,
    /// BAR index.
    pub bar: u8,
    /// Offset of the structure in the BAR.
    pub offset: u32,
    /// Length of the structure.
    pub length: u32,
    /// Position of the capability in config space.
    pub pos: u8,
}

/// Every virtio vendor capability of `dev`, in list order (the EAL's `find_capability`
/// gives only the first capability of an id; a virtio device has several). Stops after 48
/// entries so that a looped list cannot hang.
pub fn virtio_caps(dev: &vfio::Device) -> Result<Vec<CapLoc>, VirtioError> {
    let e = VirtioError::vfio("reading the capability list in config space");
    let mut caps = Vec::new();
    if dev.config_read_u16(PCI_STATUS).map_err(e)? & PCI_STATUS_CAP_LIST == 0 {
        return Ok(caps);
    }
    let mut pos = dev.config_read_u8(PCI_CAPABILITY_LIST).map_err(e)? & !3;
    for _ in 0..48 {
        if pos < 0x40 {
            break;
        }
        let p = u64::from(pos);
        if dev.config_read_u8(p).map_err(e)? == PCI_CAP_ID_VNDR {
            caps.push(CapLoc {
                cfg_type: dev.config_read_u8(p + 3).map_err(e)?,
                bar: dev.config_read_u8(p + 4).map_err(e)?,
                offset: dev.config_read_u32(p + 8).map_err(e)?,
                length: dev.config_read_u32(p + 12).map_err(e)?,
                pos,
            });
        }
        pos = dev.config_read_u8(p + 1).map_err(e)? & !3;
    }
    Ok(caps)
}

/// The first capability of `cfg_type` whose BAR is a valid one (the spec lets a device
/// offer several; the first usable one is the preferred).
pub fn find_cap(caps: &[CapLoc], cfg_type: u8) -> Option<CapLoc> {
    caps.iter().copied().find(|c| c.cfg_type == cfg_type && c.bar < 6)
}

/// Register access to a window of one BAR: through this process's mapping of it, or
/// through the VFIO device fd when it is not mapped (I/O-port BARs).
#[derive(Clone)]
pub struct Window {
    map: Option<Arc<MmioRegion>>,
    dev: Arc<vfio::Device>,
    info: Option<RegionInfo>,
    bar: u8,
    base: u64,
    len: u64,
}

impl Window {
    /// The window `[base, base+len)` of BAR `bar` of `dev`.
    pub fn new(dev: &BusDevice, bar: u8, base: u64, len: u64) -> Result<Window, VirtioError> {
        let map = dev.bar(usize::from(bar)).cloned();
        let info = match map {
            Some(_) => None,
            None => Some(dev.vfio().region_info(u32::from(bar)).map_err(VirtioError::vfio("region info of a BAR"))?),
        };
        if let Some(m) = &map {
            if base + len > m.len() as u64 {
                return Err(VirtioError::BarTooSmall { bar, len: m.len() as u64, end: base + len });
            }
        }
        Ok(Window { map, dev: dev.vfio().clone(), info, bar, base, len })
    }

    fn at(&self, off: u64, width: u64) -> Result<u64, VirtioError> {
        if off + width > self.len {
            debug_assert!(false, "offset {off:#x} outside the {}-byte structure in BAR{}", self.len, self.bar);
            return Err(VirtioError::OutsideStructure { off, len: self.len, bar: self.bar });
        }
        Ok(self.base + off)
    }

    fn bad(&self, access: &'static str, addr: u64) -> VirtioError {
        VirtioError::Mmio { access, bar: self.bar, addr }
    }

    fn region(&self) -> &RegionInfo {
        // Set whenever `map` is None (see `new`).
        self.info.as_ref().expect("region info of an unmapped window")
    }

    /// Reads a byte.
    pub fn r8(&self, off: u64) -> Result<u8, VirtioError> {
        let a = self.at(off, 1)?;
        match &self.map {
            Some(m) => m.read8(a as usize).ok_or_else(|| self.bad("read8", a)),
            None => {
                let mut b = [0u8; 1];
                self.dev.read_region_at(self.region(), a, &mut b).map_err(VirtioError::vfio("reading an I/O BAR"))?;
                Ok(b[0])
            }
        }
    }

    /// Reads a 16-bit register.
    pub fn r16(&self, off: u64) -> Result<u16, VirtioError> {
        let a = self.at(off, 2)?;
        match &self.map {
            Some(m) => m.read16(a as usize).ok_or_else(|| self.bad("read16", a)),
            None => {
                let mut b = [0u8; 2];
                self.dev.read_region_at(self.region(), a, &mut b).map_err(VirtioError::vfio("reading an I/O BAR"))?;
                Ok(u16::from_le_bytes(b))
            }
        }
    }

    /// Reads a 32-bit register.
    pub fn r32(&self, off: u64) -> Result<u32, VirtioError> {
        let a = self.at(off, 4)?;
        match &self.map {
            Some(m) => m.read32(a as usize).ok_or_else(|| self.bad("read32", a)),
            None => {
                let mut b = [0u8; 4];
                self.dev.read_region_at(self.region(), a, &mut b).map_err(VirtioError::vfio("reading an I/O BAR"))?;
                Ok(u32::from_le_bytes(b))
            }
        }
    }

    /// Writes a byte.
    pub fn w8(&self, off: u64, v: u8) -> Result<(), VirtioError> {
        let a = self.at(off, 1)?;
        match &self.map {
            Some(m) => m.write8(a as usize, v).ok_or_else(|| self.bad("write8", a)),
            None => self.dev.write_region_at(self.region(), a, &[v]).map_err(VirtioError::vfio("writing an I/O BAR")),
        }
    }

    /// Writes a 16-bit register.
    pub fn w16(&self, off: u64, v: u16) -> Result<(), VirtioError> {
        let a = self.at(off, 2)?;
        match &self.map {
            Some(m) => m.write16(a as usize, v).ok_or_else(|| self.bad("write16", a)),
            None => self
                .dev
                .write_region_at(self.region(), a, &v.to_le_bytes())
                .map_err(VirtioError::vfio("writing an I/O BAR")),
        }
    }

    /// Writes a 32-bit register.
    pub fn w32(&self, off: u64, v: u32) -> Result<(), VirtioError> {
        let a = self.at(off, 4)?;
        match &self.map {
            Some(m) => m.write32(a as usize, v).ok_or_else(|| self.bad("write32", a)),
            None => self
                .dev
                .write_region_at(self.region(), a, &v.to_le_bytes())
                .map_err(VirtioError::vfio("writing an I/O BAR")),
        }
    }
}

/// How a process rings a queue's doorbell. Built from the port's shared state, so that a
/// secondary rings exactly as the primary does.
#[derive(Clone)]
pub enum Notifier {
    /// Modern: a 16-bit write of the queue index at `base + notify_off * mult` in a mapped BAR.
    Mmio {
        /// The notify BAR's mapping.
        bar: Arc<MmioRegion>,
        /// Offset of the notification structure in the BAR.
        base: u64,
        /// `notify_off_multiplier`.
        mult: u64,
    },
    /// Legacy: a 16-bit write of the queue index to QUEUE_NOTIFY through the device fd.
    Io {
        /// The device.
        dev: Arc<vfio::Device>,
        /// BAR0's region.
        info: RegionInfo,
    },
}

impl Notifier {
    /// Notifies queue `index` whose `queue_notify_off` is `off`.
    #[inline]
    pub fn notify(&self, index: u16, off: u16) {
        match self {
            Notifier::Mmio { bar, base, mult } => {
                let _ = bar.write16((base + u64::from(off) * mult) as usize, index);
            }
            Notifier::Io { dev, info } => {
                if let Err(e) = dev.write_region_at(info, legacy::QUEUE_NOTIFY, &index.to_le_bytes()) {
                    tracing::warn!("virtio queue notify failed: {e}");
                }
            }
        }
    }
}

/// A transport of one device (primary: every register; a secondary only builds a
/// [`Notifier`]).
pub enum Transport {
    /// virtio 1.x structures in memory BARs.
    Modern {
        /// Common configuration.
        common: Window,
        /// Device configuration.
        device: Window,
        /// ISR status.
        isr: Window,
        /// BAR of the notification structure.
        notify_bar: u8,
        /// Offset of the notification structure in its BAR.
        notify_base: u64,
        /// `notify_off_multiplier`.
        notify_mult: u32,
    },
    /// The legacy I/O-port interface.
    Legacy {
        /// BAR0.
        io: Window,
        /// True once MSI-X is enabled (the device configuration moves from 20 to 24).
        msix: AtomicBool,
    },
}

/// How long a reset may take to read back 0.
pub const RESET_TIMEOUT: Duration = Duration::from_secs(2);

/// A device reset as the virtio spec asks (4.1.4.3.2): write 0 to `device_status`, then
/// wait until it reads back 0 ([`RESET_TIMEOUT`] at most), through the given accessors of
/// any transport (whose error type takes a [`VirtioError`]).
pub fn reset_device<E: From<VirtioError>>(
    status: impl Fn() -> Result<u8, E>,
    set_status: impl Fn(u8) -> Result<(), E>,
) -> Result<(), E> {
    set_status(0)?;
    let t0 = Instant::now();
    while status()? != 0 {
        if t0.elapsed() > RESET_TIMEOUT {
            return Err(VirtioError::ResetTimeout(RESET_TIMEOUT).into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Transport codes kept in the port's shared state.
pub const KIND_MODERN: u64 = 1;
/// See [`KIND_MODERN`].
pub const KIND_LEGACY: u64 = 2;

impl Transport {
    /// Finds the transport of `dev`: modern when its modern capabilities are present
    /// (modern and transitional devices), else legacy through I/O-port BAR0.
    pub fn probe(dev: &BusDevice) -> Result<Transport, VirtioError> {
        let caps = virtio_caps(dev.vfio())?;
        let (c, n, i, d) = (
            find_cap(&caps, CAP_COMMON),
            find_cap(&caps, CAP_NOTIFY),
            find_cap(&caps, CAP_ISR),
            find_cap(&caps, CAP_DEVICE),
        );
        if let (Some(c), Some(n), Some(i), Some(d)) = (c, n, i, d) {
            let win = |l: CapLoc| Window::new(dev, l.bar, u64::from(l.offset), u64::from(l.length));
            let mult = dev
                .vfio()
                .config_read_u32(u64::from(n.pos) + 16)
                .map_err(VirtioError::vfio("reading notify_off_multiplier"))?;
            if dev.bar(usize::from(n.bar)).is_none() {
                return Err(VirtioError::NotifyBarUnmapped { bar: u64::from(n.bar) });
            }
            return Ok(Transport::Modern {
                common: win(c)?,
                device: win(d)?,
                isr: win(i)?,
                notify_bar: n.bar,
                notify_base: u64::from(n.offset),
                notify_mult: mult,
            });
        }
        if dev.ids().1 >= 0x1040 {
            return Err(VirtioError::MissingCapabilities {
                found: format!("common {c:?}, notify {n:?}, isr {i:?}, device {d:?}"),
            });
        }
        let len = dev.bar_len(0);
        if len < legacy::CONFIG_MSIX + 8 {
            return Err(VirtioError::NotLegacyBar { len });
        }
        Ok(Transport::Legacy { io: Window::new(dev, 0, 0, len)?, msix: AtomicBool::new(false) })
    }

    /// [`KIND_MODERN`] or [`KIND_LEGACY`].
    pub fn kind(&self) -> u64 {
        match self {
            Transport::Modern { .. } => KIND_MODERN,
            Transport::Legacy { .. } => KIND_LEGACY,
        }
    }

    /// True for the modern interface.
    pub fn is_modern(&self) -> bool {
        matches!(self, Transport::Modern { .. })
    }

    /// The notification BAR, its offset and multiplier (modern), for the shared state.
    pub fn notify_params(&self) -> (u64, u64, u64) {
        match self {
            Transport::Modern { notify_bar, notify_base, notify_mult, .. } => {
                (u64::from(*notify_bar), *notify_base, u64::from(*notify_mult))
            }
            Transport::Legacy { .. } => (0, 0, 0),
        }
    }

    /// The raw `device_status` register.
    fn status_raw(&self) -> Result<u8, VirtioError> {
        match self {
            Transport::Modern { common, .. } => common.r8(common::STATUS),
            Transport::Legacy { io, .. } => io.r8(legacy::STATUS),
        }
    }

    /// Writes the raw `device_status` register.
    fn set_status_raw(&self, s: u8) -> Result<(), VirtioError> {
        match self {
            Transport::Modern { common, .. } => common.w8(common::STATUS, s),
            Transport::Legacy { io, .. } => io.w8(legacy::STATUS, s),
        }
    }

    /// `device_status` (bits this driver does not know are kept).
    pub fn status(&self) -> Result<DeviceStatus, VirtioError> {
        self.status_raw().map(DeviceStatus::from_bits_retain)
    }

    /// Writes `device_status`.
    pub fn set_status(&self, s: DeviceStatus) -> Result<(), VirtioError> {
        self.set_status_raw(s.bits())
    }

    /// Adds `bits` to `device_status`.
    pub fn add_status(&self, bits: DeviceStatus) -> Result<(), VirtioError> {
        let s = self.status()?;
        self.set_status(s | bits)
    }

    /// Resets the device (status 0) and waits until it reads back 0.
    pub fn reset(&self) -> Result<(), VirtioError> {
        reset_device(|| self.status_raw(), |s| self.set_status_raw(s))
    }

    /// The device's feature bits (legacy: 32), unknown ones included.
    pub fn device_features(&self) -> Result<Features, VirtioError> {
        let bits = match self {
            Transport::Modern { common, .. } => {
                common.w32(common::DFSELECT, 0)?;
                let lo = common.r32(common::DF)?;
                common.w32(common::DFSELECT, 1)?;
                let hi = common.r32(common::DF)?;
                u64::from(lo) | (u64::from(hi) << 32)
            }
            Transport::Legacy { io, .. } => u64::from(io.r32(legacy::HOST_FEATURES)?),
        };
        Ok(Features::from_bits_retain(bits))
    }

    /// Writes the driver's feature bits.
    pub fn set_driver_features(&self, features: Features) -> Result<(), VirtioError> {
        let f = features.bits();
        match self {
            Transport::Modern { common, .. } => {
                common.w32(common::GFSELECT, 0)?;
                common.w32(common::GF, f as u32)?;
                common.w32(common::GFSELECT, 1)?;
                common.w32(common::GF, (f >> 32) as u32)
            }
            Transport::Legacy { io, .. } => io.w32(legacy::GUEST_FEATURES, f as u32),
        }
    }

    /// Largest size of queue `q` (legacy: its only size); 0 when the queue does not exist.
    pub fn queue_max(&self, q: u16) -> Result<u16, VirtioError> {
        match self {
            Transport::Modern { common, .. } => {
                common.w16(common::Q_SELECT, q)?;
                common.r16(common::Q_SIZE)
            }
            Transport::Legacy { io, .. } => {
                io.w16(legacy::QUEUE_SEL, q)?;
                io.r16(legacy::QUEUE_NUM)
            }
        }
    }

    /// `num_queues` (modern); None for legacy, which does not say.
    pub fn num_queues(&self) -> Result<Option<u16>, VirtioError> {
        match self {
            Transport::Modern { common, .. } => Ok(Some(common.r16(common::NUMQ)?)),
            Transport::Legacy { .. } => Ok(None),
        }
    }

    /// Gives queue `q` its rings (`size` entries; descriptor table, available and used ring
    /// device addresses), its MSI-X vector (`vector`, or [`NO_VECTOR`]), and enables it.
    /// Returns its `queue_notify_off` (0 for legacy).
    pub fn setup_queue(
        &self,
        q: u16,
        size: u16,
        desc: u64,
        avail: u64,
        used: u64,
        vector: u16,
    ) -> Result<u16, VirtioError> {
        match self {
            Transport::Modern { common, .. } => {
                common.w16(common::Q_SELECT, q)?;
                common.w16(common::Q_SIZE, size)?;
                for (reg, v) in [(common::Q_DESC, desc), (common::Q_AVAIL, avail), (common::Q_USED, used)] {
                    common.w32(reg, v as u32)?;
                    common.w32(reg + 4, (v >> 32) as u32)?;
                }
                common.w16(common::Q_MSIX, vector)?;
                let off = common.r16(common::Q_NOFF)?;
                common.w16(common::Q_ENABLE, 1)?;
                Ok(off)
            }
            Transport::Legacy { io, msix } => {
                io.w16(legacy::QUEUE_SEL, q)?;
                let num = io.r16(legacy::QUEUE_NUM)?;
                if num != size {
                    return Err(VirtioError::LegacyQueueSize { q, num, size });
                }
                if !desc.is_multiple_of(legacy::VRING_ALIGN)
                    || used != legacy_used_offset(size) + desc
                    || avail != desc + 16 * u64::from(size)
                {
                    return Err(VirtioError::LegacyLayout { q });
                }
                let pfn = desc >> legacy::PFN_SHIFT;
                let pfn = u32::try_from(pfn).map_err(|_| VirtioError::RingTooHigh { q, addr: desc })?;
                if msix.load(Ordering::Relaxed) {
                    io.w16(legacy::QUEUE_VECTOR, vector)?;
                }
                io.w32(legacy::QUEUE_PFN, pfn)?;
                Ok(0)
            }
        }
    }

    /// Sets the configuration-change MSI-X vector; returns what the device reads back
    /// ([`NO_VECTOR`] when it refused). For legacy, tells the transport that MSI-X is on
    /// (the device configuration moves).
    pub fn set_config_vector(&self, v: u16) -> Result<u16, VirtioError> {
        match self {
            Transport::Modern { common, .. } => {
                common.w16(common::MSIX, v)?;
                common.r16(common::MSIX)
            }
            Transport::Legacy { io, msix } => {
                msix.store(true, Ordering::Relaxed);
                io.w16(legacy::CONFIG_VECTOR, v)?;
                io.r16(legacy::CONFIG_VECTOR)
            }
        }
    }

    fn cfg_off(&self, off: u64) -> u64 {
        match self {
            Transport::Modern { .. } => off,
            Transport::Legacy { msix, .. } => {
                off + if msix.load(Ordering::Relaxed) { legacy::CONFIG_MSIX } else { legacy::CONFIG_NO_MSIX }
            }
        }
    }

    /// A byte of the device configuration.
    pub fn cfg_r8(&self, off: u64) -> Result<u8, VirtioError> {
        match self {
            Transport::Modern { device, .. } => device.r8(off),
            Transport::Legacy { io, .. } => io.r8(self.cfg_off(off)),
        }
    }

    /// A 16-bit field of the device configuration.
    pub fn cfg_r16(&self, off: u64) -> Result<u16, VirtioError> {
        match self {
            Transport::Modern { device, .. } => device.r16(off),
            Transport::Legacy { io, .. } => io.r16(self.cfg_off(off)),
        }
    }

    /// Reads (and so clears) the ISR status.
    pub fn read_isr(&self) -> Result<u8, VirtioError> {
        match self {
            Transport::Modern { isr, .. } => isr.r8(0),
            Transport::Legacy { io, .. } => io.r8(legacy::ISR),
        }
    }

    /// The doorbell of this transport in this process.
    pub fn notifier(&self, dev: &BusDevice) -> Result<Notifier, VirtioError> {
        let (bar, base, mult) = self.notify_params();
        notifier(dev, self.kind(), bar, base, mult)
    }
}

/// Builds the doorbell of `dev` from the transport `kind` and the notify parameters the
/// primary recorded.
pub fn notifier(dev: &BusDevice, kind: u64, bar: u64, base: u64, mult: u64) -> Result<Notifier, VirtioError> {
    match kind {
        KIND_MODERN => {
            let m = dev.bar(bar as usize).cloned().ok_or(VirtioError::NotifyBarUnmapped { bar })?;
            Ok(Notifier::Mmio { bar: m, base, mult })
        }
        KIND_LEGACY => {
            let info = dev.vfio().region_info(0).map_err(VirtioError::vfio("region info of the legacy BAR0"))?;
            Ok(Notifier::Io { dev: dev.vfio().clone(), info })
        }
        k => Err(VirtioError::UnknownTransport(k)),
    }
}

/// Offset of the used ring from the descriptor table in the legacy layout of a queue of
/// `size` entries: after the descriptors and the available ring, on a 4 KiB boundary.
pub fn legacy_used_offset(size: u16) -> u64 {
    let n = u64::from(size);
    (16 * n + 6 + 2 * n).next_multiple_of(legacy::VRING_ALIGN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_layout_matches_the_spec() {
        // 256 entries: 4096 bytes of descriptors, 518 of available ring, used at 8192.
        assert_eq!(legacy_used_offset(256), 8192);
        assert_eq!(legacy_used_offset(64), 4096);
        assert_eq!(legacy_used_offset(1024), 20480);
    }

    #[test]
    fn find_cap_takes_the_first_usable_one() {
        let c = |t, bar, pos| CapLoc { cfg_type: t, bar, offset: 0, length: 16, pos };
        let caps = [c(CAP_COMMON, 9, 0x40), c(CAP_COMMON, 4, 0x50), c(CAP_NOTIFY, 4, 0x60), c(CAP_COMMON, 2, 0x70)];
        assert_eq!(find_cap(&caps, CAP_COMMON).map(|l| l.pos), Some(0x50));
        assert_eq!(find_cap(&caps, CAP_NOTIFY).map(|l| l.pos), Some(0x60));
        assert_eq!(find_cap(&caps, CAP_DEVICE), None);
    }
}
