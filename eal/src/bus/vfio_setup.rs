//! Opening devices through VFIO. The primary opens the container and every group, sets
//! type1v2, maps the heap for DMA, opens each device, maps its BARs and fills the shared
//! device table. A secondary gets the container and group fds from the primary, then opens
//! its own device fds and maps the same BARs from the table.

use super::device::{pack_addr, unpack_addr, BusDevice, BARS};
use super::device_open::Placement;
use super::dma::{self, DmaRange};
use super::error::BusError;
use super::fd_share::{self, FdSource};
use super::interrupts::Interrupts;
use super::pci_probe::Selected;
use crate::config::{DeviceSlot, MAX_DEVICES};
use crate::memory::Memory;
use crate::mp::Mp;
use crate::pci::{GroupKind, PciAddr, PciFilter};
use crate::vfio::{
    abi::{VFIO_NOIOMMU_IOMMU, VFIO_TYPE1V2_IOMMU},
    Container, Device, Group, MmioRegion, VfioError,
};
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// The VFIO objects of this process: the container and what it holds.
#[derive(Debug)]
pub(crate) struct VfioState {
    pub(crate) container: Container,
    pub(crate) inner: Mutex<Groups>,
}

/// The groups this process has open in the container and (primary) what the container holds.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    /// Open groups.
    pub(crate) open: Vec<Arc<Group>>,
    /// DMA mappings the primary made in the container.
    pub(crate) dma: Vec<DmaRange>,
    /// The IOMMU type the container was given (primary); None until a group joined it, and
    /// again once the last group left it (the kernel then drops the type and the mappings).
    pub(crate) iommu: Option<GroupKind>,
}

impl FdSource for VfioState {
    fn container_fd(&self) -> std::io::Result<OwnedFd> {
        self.container.try_clone_fd()
    }
    fn group_fd(&self, n: u32) -> Option<std::io::Result<OwnedFd>> {
        self.groups().open.iter().find(|g| g.number() == n).map(|g| g.try_clone_fd())
    }
}

impl VfioState {
    /// A state with `container` and no group.
    pub(crate) fn new(container: Container) -> VfioState {
        VfioState { container, inner: Mutex::new(Groups::default()) }
    }

    /// The groups, locked.
    pub(crate) fn groups(&self) -> std::sync::MutexGuard<'_, Groups> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Group `n`, if open here.
    pub(crate) fn group(&self, n: u32) -> Option<Arc<Group>> {
        self.groups().open.iter().find(|g| g.number() == n).cloned()
    }

    /// Removes the heap's DMA mappings (primary, at shutdown).
    pub(crate) fn unmap_all(&self) {
        let ranges = std::mem::take(&mut self.groups().dma);
        dma::unmap(&self.container, &ranges);
    }
}

/// A device's BAR mappings and BAR sizes.
pub(crate) type Bars = ([Option<Arc<MmioRegion>>; BARS], [u64; BARS]);
/// What opening or attaching gives: the VFIO objects and the devices.
type Opened<S> = (S, Vec<Arc<BusDevice>>);

/// Maps every memory BAR of `dev` that VFIO lets us map; returns the mappings and sizes.
pub(crate) fn map_bars(dev: &Device) -> Result<Bars, BusError> {
    let mut maps: [Option<Arc<MmioRegion>>; BARS] = Default::default();
    let mut lens = [0u64; BARS];
    for i in 0..BARS {
        let info = dev.region_info(i as u32).map_err(|e| BusError::vfio(format!("BAR{i} of {}", dev.name()), e))?;
        lens[i] = info.size;
        if info.size == 0 || !info.mmappable() {
            continue;
        }
        match dev.map_region(i as u32) {
            Ok(m) => maps[i] = Some(Arc::new(m)),
            Err(e) => tracing::debug!(device = dev.name(), bar = i, "BAR not mapped: {e}"),
        }
    }
    Ok((maps, lens))
}

pub(crate) fn open_group(container: &Container, n: u32, kind: GroupKind) -> Result<Group, VfioError> {
    let g = Group::open(n, kind)?;
    g.set_container(container)?;
    Ok(g)
}

/// Primary: opens `selected` through VFIO and records them in the shared device table.
/// Devices of a group that another process holds are skipped (with a warning) unless
/// they were named with `-a`.
pub(crate) fn open_primary(
    selected: Vec<Selected>,
    filter: &PciFilter,
    mem: &Memory,
    intr: &Arc<Interrupts>,
) -> Result<Opened<Arc<VfioState>>, BusError> {
    if selected.len() > MAX_DEVICES {
        return Err(BusError::TooManyDevices { found: selected.len(), max: MAX_DEVICES });
    }
    let container = Container::open().map_err(|e| BusError::vfio("opening the VFIO container", e))?;
    let explicit = matches!(filter, PciFilter::Allow(_));
    let mut groups: Vec<Group> = Vec::new();
    let mut usable = Vec::new();
    for s in selected {
        if groups.iter().any(|g| g.number() == s.group) {
            usable.push(s);
            continue;
        }
        match open_group(&container, s.group, s.kind) {
            Ok(g) => {
                groups.push(g);
                usable.push(s);
            }
            Err(VfioError::OpenGroup { source, .. }) if !explicit && source.raw_os_error() == Some(libc::EBUSY) => {
                tracing::warn!(addr = %s.dev.addr, group = s.group, "skipping a device whose VFIO group another process holds (name the devices you want with -a)");
            }
            Err(e) => return Err(BusError::vfio(format!("opening IOMMU group {} of {}", s.group, s.dev.addr), e)),
        }
    }
    if groups.is_empty() {
        return Ok((Arc::new(VfioState::new(container)), Vec::new()));
    }
    // The caller checked that every group is of one kind.
    let kind =
        if groups.iter().any(|g| g.kind() == GroupKind::NoIommu) { GroupKind::NoIommu } else { GroupKind::Iommu };
    let ranges = if kind == GroupKind::NoIommu {
        // No IOMMU: nothing to map, devices get physical addresses (IOVA = PA).
        container
            .set_iommu(VFIO_NOIOMMU_IOMMU)
            .map_err(|e| BusError::vfio("selecting the no-IOMMU type for the VFIO container", e))?;
        Vec::new()
    } else {
        container
            .set_iommu(VFIO_TYPE1V2_IOMMU)
            .map_err(|e| BusError::vfio("selecting the type1v2 IOMMU for the VFIO container", e))?;
        dma::map_heap(&container, mem)?
    };
    let open = groups.into_iter().map(Arc::new).collect();
    let state = Arc::new(VfioState { container, inner: Mutex::new(Groups { open, dma: ranges, iommu: Some(kind) }) });
    let table = &mem.config().devices;
    for slot in table.iter() {
        slot.in_use.store(0, Ordering::Release);
    }
    let mut devices = Vec::new();
    for (i, s) in usable.into_iter().enumerate() {
        let group = state.group(s.group).expect("group opened above");
        let at = Placement { addr: s.dev.addr, index: i as u32, group: s.group, slot: &table[i] };
        let ids = (s.dev.vendor, s.dev.device);
        let d = BusDevice::open_primary(&group, at, ids, s.devargs, intr.clone())?;
        tracing::info!(addr = %s.dev.addr, ids = format_args!("{:04x}:{:04x}", ids.0, ids.1), group = s.group, kind = %s.kind, "PCI device opened");
        devices.push(Arc::new(d));
    }
    Ok((state, devices))
}

pub(crate) fn record(slot: &DeviceSlot, addr: PciAddr, group: u32, bar_len: &[u64; BARS]) {
    slot.pci_addr.store(pack_addr(addr), Ordering::Relaxed);
    slot.iommu_group.store(group, Ordering::Relaxed);
    for (s, l) in slot.bar_len.iter().zip(bar_len) {
        s.store(*l, Ordering::Relaxed);
    }
    slot.driver.set("");
    slot.port_id.store(u32::MAX, Ordering::Relaxed);
    slot.in_use.store(1, Ordering::Release);
}

/// Secondary: attaches to every device of the shared device table that `filter` selects;
/// `kind` is the kind of the primary's groups (from the shared config).
pub(crate) fn attach_secondary(
    mem: &Memory,
    mp: &Mp,
    filter: &PciFilter,
    kind: GroupKind,
) -> Result<Opened<Option<Arc<VfioState>>>, BusError> {
    let table = &mem.config().devices;
    let entries: Vec<(u32, PciAddr, u32)> = table
        .iter()
        .enumerate()
        .filter(|(_, s)| s.in_use.load(Ordering::Acquire) == 1)
        .filter_map(|(i, s)| {
            let a = unpack_addr(s.pci_addr.load(Ordering::Relaxed))?;
            Some((i as u32, a, s.iommu_group.load(Ordering::Relaxed)))
        })
        .filter(|(_, a, _)| filter.selects(*a))
        .collect();
    // A device the secondary asks for by name must be one the primary probed.
    if let PciFilter::Allow(list) = filter {
        if let Some(d) = list.iter().find(|d| !entries.iter().any(|(_, a, _)| *a == d.addr())) {
            return Err(BusError::NotInPrimary { addr: d.addr() });
        }
    }
    if entries.is_empty() {
        return Ok((None, Vec::new()));
    }
    super::noiommu::check_secondary(kind, nix::unistd::geteuid().is_root())?;
    let container = fd_share::request_container(mp)?;
    let mut groups: Vec<Group> = Vec::new();
    for &(_, _, g) in &entries {
        if !groups.iter().any(|x| x.number() == g) {
            groups.push(fd_share::request_group(mp, g, kind)?);
        }
    }
    let open = groups.into_iter().map(Arc::new).collect();
    let state = Arc::new(VfioState { container, inner: Mutex::new(Groups { open, dma: Vec::new(), iommu: None }) });
    let mut devices = Vec::new();
    for (i, addr, g) in entries {
        let group = state.group(g).expect("group received above");
        let at = Placement { addr, index: i, group: g, slot: &table[i as usize] };
        devices.push(Arc::new(BusDevice::open_secondary(&group, at, mp.clone())?));
        tracing::debug!(%addr, group = g, "PCI device attached");
    }
    Ok((Some(state), devices))
}
