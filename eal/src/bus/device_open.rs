//! Opening one device of an open IOMMU group into a [`BusDevice`], the one way each kind of
//! process does it: the primary (at start and at run time) enables bus mastering, maps the
//! BARs and fills the device's shared table entry; a secondary (at start and on the
//! primary's notice) maps the BARs the primary recorded.

use super::device::BusDevice;
use super::error::BusError;
use super::interrupts::Interrupts;
use super::vfio_setup::{map_bars, record};
use crate::config::DeviceSlot;
use crate::mp::Mp;
use crate::pci::{Devargs, PciAddr};
use crate::vfio::Group;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Where a device sits: its address, the sysfs ids, its device table entry and its group.
pub(crate) struct Placement {
    pub(crate) addr: PciAddr,
    pub(crate) index: u32,
    pub(crate) group: u32,
    pub(crate) slot: &'static DeviceSlot,
}

impl BusDevice {
    /// Primary: opens the device in `group`, enables bus mastering, maps its BARs and
    /// records it in table entry `at.slot` (marked in use last). `ids` are sysfs's; a
    /// config space that disagrees is logged.
    pub(crate) fn open_primary(
        group: &Group,
        at: Placement,
        ids: (u16, u16),
        devargs: Option<Devargs>,
        intr: Arc<Interrupts>,
    ) -> Result<BusDevice, BusError> {
        let name = at.addr.to_string();
        let dev = group.device(&name).map_err(|e| BusError::vfio(format!("opening {name}"), e))?;
        let real = dev.pci_ids().map_err(|e| BusError::vfio(format!("reading the ids of {name}"), e))?;
        if real != ids {
            tracing::warn!(addr = %name, "config space ids {:04x}:{:04x} differ from sysfs", real.0, real.1);
        }
        dev.enable_bus_master().map_err(|e| BusError::vfio(format!("enabling bus mastering on {name}"), e))?;
        let (bars, bar_len) = map_bars(&dev)?;
        record(at.slot, at.addr, at.group, &bar_len);
        Ok(BusDevice {
            addr: at.addr,
            ids,
            index: at.index,
            group: at.group,
            vfio: Arc::new(dev),
            bars,
            bar_len,
            devargs,
            intr: Some(intr),
            slot: at.slot,
            mp: None,
        })
    }

    /// Secondary: opens the device of table entry `at.slot` in `group` (this process's copy
    /// of the primary's group fd) and maps its BARs; a BAR whose size differs from the one
    /// the primary recorded is logged. `mp` is used later to ask for interrupt eventfds.
    pub(crate) fn open_secondary(group: &Group, at: Placement, mp: Mp) -> Result<BusDevice, BusError> {
        let name = at.addr.to_string();
        let dev = group.device(&name).map_err(|e| BusError::vfio(format!("opening {name} in a secondary"), e))?;
        let ids = dev.pci_ids().map_err(|e| BusError::vfio(format!("reading the ids of {name}"), e))?;
        let (bars, bar_len) = map_bars(&dev)?;
        for (b, (ours, theirs)) in bar_len.iter().zip(at.slot.bar_len.iter()).enumerate() {
            let theirs = theirs.load(Ordering::Relaxed);
            if *ours != theirs {
                tracing::warn!(addr = %name, bar = b, ours, theirs, "BAR size differs from the primary's");
            }
        }
        Ok(BusDevice {
            addr: at.addr,
            ids,
            index: at.index,
            group: at.group,
            vfio: Arc::new(dev),
            bars,
            bar_len,
            devargs: None,
            intr: None,
            slot: at.slot,
            mp: Some(mp),
        })
    }
}
