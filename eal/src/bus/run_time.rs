//! Opening and closing one PCI device while the group runs (hotplug, as DPDK's
//! `rte_dev_probe` / `rte_dev_remove` of a PCI device).
//!
//! Primary: the device must exist, be bound to vfio-pci, not be on the block list (`-b`) and
//! not be open already; its IOMMU group joins the one container (opened, and served to
//! secondaries, on the first device), which is given its IOMMU type and the heap's DMA
//! mappings when it holds no group yet; the device gets a free entry of the shared device
//! table. Closing it removes the entry; the group is closed once no device of it is open,
//! and when the last group leaves the container the mappings go with it (the kernel drops
//! the container's IOMMU type then), so the device can be re-bound to its kernel driver.
//!
//! Secondary: on the primary's notice the device is taken from its table entry, with the
//! group fd (and the container fd the first time) asked of the primary; releasing it closes
//! this process's device fd, BAR mappings and, when unused, its copy of the group fd.

use super::device::BusDevice;
use super::device_open::Placement;
use super::error::BusError;
use super::interrupts::Interrupts;
use super::pci_probe::{binding, usable_group};
use super::vfio_setup::{open_group, Groups, VfioState};
use super::{dma, fd_share, iommu_bypassed_by, noiommu, BusState};
use crate::config::MAX_DEVICES;
use crate::memory::Memory;
use crate::pci::{Devargs, GroupKind, PciAddr, PciFilter, Sysfs};
use crate::vfio::{
    abi::{VFIO_NOIOMMU_IOMMU, VFIO_TYPE1V2_IOMMU},
    Container, VfioError,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What a run-time open found in sysfs: the device's ids, group and group kind.
struct Found {
    ids: (u16, u16),
    group: u32,
    kind: GroupKind,
}

/// Checks that the device at `addr` may be opened now (primary), by `filter`, the sysfs
/// tree `sysfs` and the group's IOVA mode in `mem`.
fn check(filter: &PciFilter, sysfs: &Sysfs, mem: &Memory, addr: PciAddr) -> Result<Found, BusError> {
    if let PciFilter::Block(list) = filter {
        if list.contains(&addr) {
            return Err(BusError::Blocked { addr });
        }
    }
    let dev = sysfs.device(addr).map_err(|e| match e {
        crate::pci::PciError::NotFound { .. } => BusError::AttachNotFound { addr },
        e => BusError::Sysfs(e),
    })?;
    if !dev.is_vfio_bound() {
        return Err(BusError::AttachNotBound { addr, what: dev.ids(), bound: binding(&dev) });
    }
    let (group, kind) = usable_group(sysfs, &dev)?;
    let pa = mem.config().iova_pa.load(Ordering::Acquire) == 1;
    if kind == GroupKind::NoIommu {
        if !pa {
            return Err(BusError::AttachNeedsPa {
                addr,
                why: format!("it is in VFIO no-IOMMU group {group}, where devices get physical addresses"),
            });
        }
        if !nix::unistd::geteuid().is_root() {
            return Err(BusError::NoIommuNeedsRoot { addr, group });
        }
    }
    if let (false, Some(driver)) = (pa, iommu_bypassed_by(dev.vendor, dev.device)) {
        return Err(BusError::AttachNeedsPa {
            addr,
            why: format!("it bypasses the IOMMU (driver {driver} says so), so it needs physical addresses"),
        });
    }
    Ok(Found { ids: (dev.vendor, dev.device), group, kind })
}

/// The container of the primary, opened (and served to secondaries) on the first device.
fn primary_vfio(bus: &BusState, inner: &mut super::BusInner) -> Result<(Arc<VfioState>, Arc<Interrupts>), BusError> {
    let intr = match &inner.intr {
        Some(i) => i.clone(),
        None => {
            let i = Arc::new(Interrupts::start()?);
            inner.intr = Some(i.clone());
            i
        }
    };
    let vfio = match &inner.vfio {
        Some(v) => v.clone(),
        None => {
            let c = Container::open().map_err(|e| BusError::vfio("opening the VFIO container", e))?;
            let v = Arc::new(VfioState::new(c));
            inner.vfio = Some(v.clone());
            v
        }
    };
    if !inner.serving {
        fd_share::serve(&bus.mp, vfio.clone())?;
        inner.serving = true;
    }
    Ok((vfio, intr))
}

/// Gives the container its IOMMU type and (type1) the heap's mappings, when `g` is the first
/// group in it; checks that `kind` matches the groups already there otherwise.
fn prepare_container(
    bus: &BusState,
    vfio: &VfioState,
    groups: &mut Groups,
    kind: GroupKind,
    addr: PciAddr,
) -> Result<(), BusError> {
    match groups.iommu {
        Some(k) if k == kind => return Ok(()),
        Some(_) => {
            let other = groups.open.first().map(|g| g.number()).unwrap_or(0);
            return Err(BusError::AttachMixedKinds { addr, kind, other });
        }
        None => {}
    }
    let (t, what) = match kind {
        GroupKind::NoIommu => (VFIO_NOIOMMU_IOMMU, "selecting the no-IOMMU type for the VFIO container"),
        GroupKind::Iommu => (VFIO_TYPE1V2_IOMMU, "selecting the type1v2 IOMMU for the VFIO container"),
    };
    vfio.container.set_iommu(t).map_err(|e| BusError::vfio(what, e))?;
    noiommu::record_group_kind(bus.mem.config(), kind);
    groups.dma = match kind {
        GroupKind::NoIommu => Vec::new(),
        GroupKind::Iommu => dma::map_heap(&vfio.container, &bus.mem)?,
    };
    groups.iommu = Some(kind);
    Ok(())
}

/// Closes group `n` in this process if no device of `devices` is in it; in the primary,
/// when it was the container's last group, removes the container's mappings first.
fn release_group(vfio: &VfioState, devices: &[Arc<BusDevice>], n: u32, primary: bool) {
    if devices.iter().any(|d| d.group == n) {
        return;
    }
    let mut g = vfio.groups();
    let Some(i) = g.open.iter().position(|x| x.number() == n) else {
        return;
    };
    if primary && g.open.len() == 1 {
        let ranges = std::mem::take(&mut g.dma);
        dma::unmap(&vfio.container, &ranges);
        g.iommu = None;
    }
    let group = g.open.remove(i);
    if primary {
        // Leaves the container now even if a secondary still holds a copy of the fd; fails
        // (harmlessly) while some process still has a device of the group open.
        if let Err(e) = group.unset_container() {
            tracing::debug!(group = n, "group stays in the container until every process closed it: {e}");
        }
    }
    drop(group);
    tracing::debug!(group = n, "VFIO group closed");
}

/// Primary: opens the device `devargs` names and records it in the shared device table.
pub(crate) fn open(bus: &BusState, devargs: &Devargs) -> Result<Arc<BusDevice>, BusError> {
    let addr = devargs.addr();
    let mut inner = bus.lock();
    if inner.shut {
        return Err(BusError::ShutDown);
    }
    if inner.devices.iter().any(|d| d.addr == addr) {
        return Err(BusError::AlreadyOpen { addr });
    }
    let found = check(&bus.filter, &bus.sysfs, &bus.mem, addr)?;
    let table = &bus.mem.config().devices;
    let index = table
        .iter()
        .position(|s| s.in_use.load(Ordering::Acquire) == 0)
        .ok_or(BusError::DeviceTableFull { addr, max: MAX_DEVICES })?;
    let (vfio, intr) = primary_vfio(bus, &mut inner)?;
    let (group, fresh) = match vfio.group(found.group) {
        Some(g) => (g, false),
        None => {
            let g = open_group(&vfio.container, found.group, found.kind).map_err(|e| match e {
                VfioError::OpenGroup { source, .. } if source.raw_os_error() == Some(libc::EBUSY) => {
                    BusError::GroupInUse { addr, group: found.group }
                }
                e => BusError::vfio(format!("opening IOMMU group {} of {addr}", found.group), e),
            })?;
            let g = Arc::new(g);
            let mut groups = vfio.groups();
            groups.open.push(g.clone());
            if let Err(e) = prepare_container(bus, &vfio, &mut groups, found.kind, addr) {
                drop(groups);
                release_group(&vfio, &inner.devices, found.group, true);
                return Err(e);
            }
            (g, true)
        }
    };
    let at = Placement { addr, index: index as u32, group: found.group, slot: &table[index] };
    let d = match BusDevice::open_primary(&group, at, found.ids, Some(devargs.clone()), intr) {
        Ok(d) => Arc::new(d),
        Err(e) => {
            if fresh {
                release_group(&vfio, &inner.devices, found.group, true);
            }
            return Err(e);
        }
    };
    tracing::info!(%addr, ids = format_args!("{:04x}:{:04x}", found.ids.0, found.ids.1), group = found.group, index, "PCI device opened at run time");
    inner.devices.push(d.clone());
    Ok(d)
}

/// Secondary: takes device table entry `index` (a device the primary opened at run time);
/// None when this process's `-a`/`-b` lists leave it out.
pub(crate) fn attach(bus: &BusState, index: u32) -> Result<Option<Arc<BusDevice>>, BusError> {
    let mut inner = bus.lock();
    if let Some(d) = inner.devices.iter().find(|d| d.index == index) {
        return Ok(Some(d.clone()));
    }
    let slot = bus.mem.config().devices.get(index as usize).ok_or(BusError::NoSuchDevice { index })?;
    if slot.in_use.load(Ordering::Acquire) != 1 {
        return Err(BusError::NoSuchDevice { index });
    }
    let addr = super::unpack_addr(slot.pci_addr.load(Ordering::Relaxed)).ok_or(BusError::NoSuchDevice { index })?;
    if !bus.filter.selects(addr) {
        return Ok(None);
    }
    let group_n = slot.iommu_group.load(Ordering::Relaxed);
    let kind = noiommu::group_kind(bus.mem.config());
    noiommu::check_secondary(kind, nix::unistd::geteuid().is_root())?;
    let vfio = match &inner.vfio {
        Some(v) => v.clone(),
        None => {
            let v = Arc::new(VfioState::new(fd_share::request_container(&bus.mp)?));
            inner.vfio = Some(v.clone());
            v
        }
    };
    let group = match vfio.group(group_n) {
        Some(g) => g,
        None => {
            let g = Arc::new(fd_share::request_group(&bus.mp, group_n, kind)?);
            vfio.groups().open.push(g.clone());
            g
        }
    };
    let at = Placement { addr, index, group: group_n, slot };
    let d = match BusDevice::open_secondary(&group, at, bus.mp.clone()) {
        Ok(d) => Arc::new(d),
        Err(e) => {
            release_group(&vfio, &inner.devices, group_n, false);
            return Err(e);
        }
    };
    tracing::debug!(%addr, group = group_n, index, "PCI device attached at run time");
    inner.devices.push(d.clone());
    Ok(Some(d))
}

/// Closes device table entry `index` in this process: drops the bus's hold of the device
/// (its fd and BAR mappings close when the driver dropped its own), closes its group when
/// no other device uses it and, in the primary, frees the table entry. Returns false when
/// the device is not open here.
pub(crate) fn close(bus: &BusState, index: u32) -> bool {
    let mut inner = bus.lock();
    let Some(i) = inner.devices.iter().position(|d| d.index == index) else {
        return false;
    };
    let dev = inner.devices.remove(i);
    let users = Arc::strong_count(&dev) - 1;
    if users > 0 {
        tracing::warn!(addr = %dev.addr, users, "the device is still used in this process: its fd closes when they let it go");
    }
    if bus.primary {
        dev.slot.driver.set("");
        dev.slot.port_id.store(u32::MAX, Ordering::Relaxed);
        dev.slot.in_use.store(0, Ordering::Release);
    }
    let (group, addr) = (dev.group, dev.addr);
    drop(dev);
    if let Some(vfio) = inner.vfio.clone() {
        release_group(&vfio, &inner.devices, group, bus.primary);
    }
    tracing::info!(%addr, index, "PCI device closed");
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::fake::{FakeDevice, FakeSysfs};

    fn tree() -> FakeSysfs {
        let t = FakeSysfs::new().unwrap();
        t.add_driver("vfio-pci").unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).driver("vfio-pci").iommu_group(3)).unwrap();
        t.add_device(&FakeDevice::new("0000:00:04.0", 0x8086, 0x100e).driver("e1000").iommu_group(4)).unwrap();
        t.add_device(&FakeDevice::new("0000:00:05.0", 0x8086, 0x100e).iommu_group(5)).unwrap();
        t.add_device(&FakeDevice::new("0000:00:06.0", 0x8086, 0x100e).driver("vfio-pci").noiommu_group(6)).unwrap();
        t.add_device(&FakeDevice::new("0000:00:07.0", 0x8086, 0x100e).driver("vfio-pci")).unwrap();
        t
    }

    fn err(filter: &PciFilter, t: &FakeSysfs, addr: &str) -> String {
        let mem = Memory::anonymous(1 << 20).unwrap();
        match check(filter, &t.sysfs(), &mem, addr.parse().unwrap()) {
            Ok(_) => panic!("{addr} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_bound_device_is_accepted_with_its_group() {
        let t = tree();
        let mem = Memory::anonymous(1 << 20).unwrap();
        let f = check(&PciFilter::All, &t.sysfs(), &mem, "0000:00:03.0".parse().unwrap()).unwrap();
        assert_eq!((f.ids, f.group, f.kind), ((0x8086, 0x100e), 3, GroupKind::Iommu));
        // An allow list given at start does not stop an explicit attach of another device.
        let allow = super::super::parse_filter(&["0000:00:06.0".into()], &[]).unwrap();
        assert!(check(&allow, &t.sysfs(), &mem, "0000:00:03.0".parse().unwrap()).is_ok());
    }

    #[test]
    fn bad_devices_are_refused_naming_the_fix() {
        let t = tree();
        let block = super::super::parse_filter(&[], &["0000:00:03.0".into()]).unwrap();
        let e = err(&block, &t, "0000:00:03.0");
        assert!(e.contains("block list (-b)") && e.contains("-b 0000:00:03.0"), "{e}");
        let e = err(&PciFilter::All, &t, "0000:00:09.0");
        assert!(e.contains("no PCI device 0000:00:09.0") && e.contains("devbind --status"), "{e}");
        let e = err(&PciFilter::All, &t, "0000:00:04.0");
        assert!(e.contains("bound to e1000") && e.contains("tools/devbind --bind vfio-pci 0000:00:04.0"), "{e}");
        let e = err(&PciFilter::All, &t, "0000:00:05.0");
        assert!(e.contains("not bound to any driver") && e.contains("--bind vfio-pci 0000:00:05.0"), "{e}");
        let e = err(&PciFilter::All, &t, "0000:00:07.0");
        assert!(e.contains("no IOMMU group"), "{e}");
        // A no-IOMMU device needs IOVA = PA, which a group started with VA cannot switch to.
        let e = err(&PciFilter::All, &t, "0000:00:06.0");
        assert!(e.contains("no-IOMMU group 6") && e.contains("--iova-mode pa"), "{e}");
    }
}
