//! The port set of one process: the shared port table, this process's objects of each port
//! ([`LocalPorts`]), the drivers, and the event callbacks. Shared by the application's
//! [`Ethdev`](crate::Ethdev) and the IPC handlers that apply hotplug steps.

use super::local::{Entry, LocalPorts};
use super::{PortEvent, PortEventCallback};
use crate::devargs::VdevArgs;
use crate::driver::{Pmd, PortCtx};
use crate::error::EthError;
use crate::events::EventHub;
use crate::port::Port;
use crate::port_table::{PortState, PortTable, MAX_PORTS};
use eal::bus::{BusDevice, PciBus};
use eal::mp::Mp;
use eal::Memory;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything a process needs to add or drop ports at run time.
pub(crate) struct PortSet {
    pub table: PortTable,
    pub hub: Arc<EventHub>,
    pub local: LocalPorts,
    pub pmds: Vec<&'static dyn Pmd>,
    pub mem: Memory,
    pub mp: Mp,
    /// The PCI bus of this process (devices opened or taken at run time too).
    pub bus: PciBus,
    pub run_dir: PathBuf,
    /// Serialises attach and detach (primary).
    pub op: Mutex<()>,
    /// How long a detach waits for the processes to release the port, in ms.
    pub detach_timeout_ms: AtomicU64,
    events: Mutex<Vec<Arc<PortEventCallback>>>,
}

impl PortSet {
    pub fn new(
        table: PortTable,
        hub: Arc<EventHub>,
        pmds: &[&'static dyn Pmd],
        mem: Memory,
        mp: Mp,
        bus: PciBus,
        run_dir: PathBuf,
    ) -> PortSet {
        PortSet {
            table,
            hub,
            local: LocalPorts::new(),
            pmds: pmds.to_vec(),
            mem,
            mp,
            bus,
            run_dir,
            op: Mutex::new(()),
            detach_timeout_ms: AtomicU64::new(super::DEFAULT_DETACH_TIMEOUT.as_millis() as u64),
            events: Mutex::new(Vec::new()),
        }
    }

    pub fn detach_timeout(&self) -> Duration {
        Duration::from_millis(self.detach_timeout_ms.load(Ordering::Relaxed))
    }

    fn known(&self) -> String {
        self.pmds.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
    }

    /// Adds a port event callback.
    pub fn on_event(&self, cb: Arc<PortEventCallback>) {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).push(cb);
    }

    /// Runs the event callbacks of this process.
    pub fn fire(&self, port: u16, ev: PortEvent) {
        tracing::info!(port, event = ev.name(), "port event");
        let cbs: Vec<_> = self.events.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for cb in cbs {
            cb(port, ev);
        }
    }

    /// The port whose name is `name` or whose devargs are `name`, if any.
    pub fn find(&self, name: &str) -> Option<u16> {
        let by_name = VdevArgs::parse(name).map(|a| a.name).unwrap_or_else(|_| name.to_string());
        self.local
            .ids()
            .into_iter()
            .find(|&id| self.table.slot(id).is_some_and(|s| s.name.get() == by_name || s.devargs.get() == name))
    }

    /// Probes virtual device `raw` into a free slot (primary) and records it here.
    pub fn probe_vdev(&self, raw: &str) -> Result<u16, EthError> {
        let args = VdevArgs::parse(raw)?;
        // The longest matching driver name wins (net_ring vs a hypothetical net_r).
        let pmd = self
            .pmds
            .iter()
            .filter(|p| args.name.starts_with(p.name()))
            .max_by_key(|p| p.name().len())
            .ok_or_else(|| EthError::UnknownDriver { name: args.name.clone(), known: self.known() })?;
        if let Some(id) = self.find(&args.name) {
            return Err(EthError::BadDevargs {
                args: raw.into(),
                why: format!("a device of that name exists already (port {id}); detach it first or pick another name"),
            });
        }
        let id = self.table.allocate().ok_or(EthError::TooManyPorts(MAX_PORTS))?;
        let slot = self.table.slot(id).expect("allocated id");
        slot.name.set(&args.name);
        slot.driver.set(pmd.name());
        slot.devargs.set(&raw[..raw.len().min(127)]);
        slot.mtu.store(1500, Ordering::Relaxed);
        slot.device_slot.store(u32::MAX, Ordering::Relaxed);
        slot.state.store(PortState::Probed as u32, Ordering::Release);
        let ctx = PortCtx { port: id, slot, mem: self.mem, hub: self.hub.clone() };
        let probed = match pmd.probe_vdev(&ctx, &args) {
            Ok(p) => p,
            Err(e) => {
                self.table.free(id);
                return Err(e);
            }
        };
        let link = probed.control.link_update();
        self.hub.report(id, slot, link);
        let generation = slot.generation.load(Ordering::Relaxed);
        let port = Port::new(id, slot, probed.data);
        self.local.insert(id, Entry::new(port, Some(Arc::from(probed.control)), generation));
        tracing::info!(port = id, name = %args.name, driver = pmd.name(), "port probed");
        Ok(id)
    }

    /// Makes a port of PCI device `dev` if a driver takes its ids (primary, at start).
    pub fn probe_pci(&self, dev: &Arc<BusDevice>) -> Result<Option<u16>, EthError> {
        let ids = dev.ids();
        let Some(pmd) = self.pmds.iter().find(|p| p.pci_ids().contains(&ids)) else {
            tracing::debug!(addr = %dev.addr(), "no driver for PCI device {:04x}:{:04x}", ids.0, ids.1);
            return Ok(None);
        };
        let id = self.table.allocate().ok_or(EthError::TooManyPorts(MAX_PORTS))?;
        let slot = self.table.slot(id).expect("allocated id");
        let name = dev.addr().to_string();
        slot.name.set(&name);
        slot.driver.set(pmd.name());
        let devargs = dev.devargs().map(|d| d.to_string()).unwrap_or_else(|| name.clone());
        slot.devargs.set(&devargs[..devargs.len().min(127)]);
        slot.mtu.store(1500, Ordering::Relaxed);
        slot.device_slot.store(dev.table_index(), Ordering::Relaxed);
        slot.state.store(PortState::Probed as u32, Ordering::Release);
        let ctx = PortCtx { port: id, slot, mem: self.mem, hub: self.hub.clone() };
        let probed = match pmd.probe_pci(&ctx, dev) {
            Ok(p) => p,
            Err(e) => {
                self.table.free(id);
                return Err(e);
            }
        };
        dev.record_driver(pmd.name(), u32::from(id));
        let link = probed.control.link_update();
        self.hub.report(id, slot, link);
        let generation = slot.generation.load(Ordering::Relaxed);
        let port = Port::new(id, slot, probed.data);
        let entry = Entry::new(port, Some(Arc::from(probed.control)), generation).with_device(dev.table_index());
        self.local.insert(id, entry);
        tracing::info!(port = id, %name, driver = pmd.name(), "PCI port probed");
        Ok(Some(id))
    }

    /// Binds this secondary to port `id` the primary probed; Ok(false) when the port's PCI
    /// device is not open in this process (it is then left out, with a warning).
    pub fn attach_local(&self, id: u16) -> Result<bool, EthError> {
        let slot = self.table.slot(id).ok_or(EthError::NoSuchPort(id))?;
        let driver = slot.driver.get();
        let pmd = self.pmds.iter().find(|p| p.name() == driver).ok_or_else(|| EthError::UnknownDriver {
            name: format!("{} (port {id})", slot.name.get()),
            known: self.known(),
        })?;
        let ctx = PortCtx { port: id, slot, mem: self.mem, hub: self.hub.clone() };
        let device_slot = slot.device_slot.load(Ordering::Acquire);
        let generation = slot.generation.load(Ordering::Acquire);
        if device_slot == u32::MAX {
            let data = pmd.attach(&ctx)?;
            self.local.insert(id, Entry::new(Port::new(id, slot, data), None, generation));
            return Ok(true);
        }
        let bus_err = |e: eal::bus::BusError| EthError::Device { port: id, msg: e.to_string() };
        let Some(dev) = self.bus.attach_device(device_slot).map_err(bus_err)? else {
            tracing::warn!(port = id, name = %slot.name.get(), "PCI port not attached: its device is not open in this process (-a/-b/--no-pci)");
            return Ok(false);
        };
        let data = match pmd.attach_pci(&ctx, &dev) {
            Ok(d) => d,
            Err(e) => {
                drop(dev);
                self.bus.close_device(device_slot);
                return Err(e);
            }
        };
        self.local.insert(id, Entry::new(Port::new(id, slot, data), None, generation).with_device(device_slot));
        Ok(true)
    }

    /// Drops port `id` of `generation` (any with None) from this process, and closes its PCI
    /// device here once the port's objects are gone; true when the port was here.
    pub fn drop_local(&self, id: u16, generation: Option<u32>) -> bool {
        let Some(e) = self.local.remove(id, generation) else {
            return false;
        };
        let device = e.device;
        drop(e);
        if let Some(d) = device {
            self.bus.close_device(d);
        }
        true
    }

    /// Closes port `id` in the primary (stop, release the device) and frees its slot.
    pub fn close_and_free(&self, id: u16) {
        if let Some(e) = self.local.remove(id, None) {
            let Entry { port, control, device, .. } = e;
            if let Some(ctl) = control {
                crate::port::PortControl { port, ctl, _ethdev: std::marker::PhantomData }.close();
            } else {
                drop(port);
            }
            // The port's objects are gone: its device fd, BAR mappings and group go now.
            if let Some(d) = device {
                self.bus.close_device(d);
            }
        }
        self.table.free(id);
    }

    /// Opens the PCI device of `devargs` (a BDF with optional `,key=value` arguments) at run
    /// time and probes it into a free slot (primary).
    pub fn probe_pci_at_run_time(&self, devargs: &eal::pci::Devargs) -> Result<u16, EthError> {
        let addr = devargs.addr();
        let fail = |why: String| EthError::Hotplug { op: "attach", target: addr.to_string(), why };
        let dev = self.bus.open_device(devargs).map_err(|e| fail(e.to_string()))?;
        let index = dev.table_index();
        let (v, d) = dev.ids();
        let out = match self.probe_pci(&dev) {
            Ok(Some(id)) => Ok(id),
            Ok(None) => Err(fail(format!(
                "no driver takes its ids {v:04x}:{d:04x} (drivers: {}); bind it back to its kernel driver with `tools/devbind --bind <driver> {addr}`",
                self.known()
            ))),
            Err(e) => Err(fail(format!("the driver could not probe it: {e}"))),
        };
        drop(dev);
        if out.is_err() {
            self.bus.close_device(index);
        }
        out
    }
}
