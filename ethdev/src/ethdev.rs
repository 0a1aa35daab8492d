//! The port layer of one process: probes ports in the primary (the EAL's PCI devices
//! first, then `--vdev`), attaches to them in secondaries, and hands out port handles.

use crate::devargs::VdevArgs;
use crate::driver::{Control, Pmd, PortCtx};
use crate::error::EthError;
use crate::events::{self, EventHub, LinkCallback, LSC_ACTION};
use crate::link::Link;
use crate::port::{Port, PortControl};
use crate::port_table::{PortState, PortTable, MAX_PORTS};
use crate::stats_refresh::{self, StatsRefresh};
use eal::bus::BusDevice;
use eal::mp::Mp;
use eal::Eal;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The ports of this process.
pub struct Ethdev {
    primary: bool,
    table: PortTable,
    hub: Arc<EventHub>,
    ports: Vec<Option<Port>>,
    controls: Vec<Option<Arc<dyn Control>>>,
    /// The primary's ports whose counters secondaries may ask it to refresh.
    refresh: Arc<StatsRefresh>,
    mp: Mp,
}

impl Ethdev {
    /// Probes (primary) or attaches to (secondary) every port of the group, using `pmds` to
    /// find each port's driver.
    pub fn init(eal: &Eal, pmds: &[&'static dyn Pmd]) -> Result<Ethdev, EthError> {
        let mem = eal.memory();
        let primary = eal.is_primary();
        let table = if primary { PortTable::create(&mem)? } else { PortTable::lookup(&mem)? };
        let hub = Arc::new(EventHub::new(primary.then(|| eal.mp().clone())));
        let mut eth = Ethdev {
            primary,
            table,
            hub: hub.clone(),
            ports: vec![None; MAX_PORTS],
            controls: (0..MAX_PORTS).map(|_| None).collect(),
            refresh: StatsRefresh::new(table),
            mp: eal.mp().clone(),
        };
        crate::telemetry::register_commands(table, primary.then(|| eth.refresh.clone()));
        if primary {
            eth.refresh.serve(eal.mp())?;
            // A capture whose owner was killed is disarmed at the next sweep of dead peers.
            let m = mem;
            eal.mp().on_peer_sweep(move || {
                crate::capture::sweep_dead_owner(&m);
            });
            for dev in eal.pci_devices() {
                eth.probe_pci(eal, pmds, dev)?;
            }
            for raw in &eal.args().vdevs {
                eth.probe_vdev(eal, pmds, raw)?;
            }
        } else {
            let h = hub.clone();
            eal.mp()
                .register(LSC_ACTION, move |_mp, msg, _peer| {
                    match events::decode(&msg.param) {
                        Some((port, link, seq)) => h.run(port, link, seq),
                        None => tracing::warn!("malformed {LSC_ACTION} message of {} bytes dropped", msg.param.len()),
                    }
                    Ok(())
                })
                .map_err(|e| eal::EalError::Mp(e.to_string()))?;
            for id in table.ports() {
                let slot = table.slot(id).expect("id from the table");
                let driver = slot.driver.get();
                let pmd = pmds.iter().find(|p| p.name() == driver).ok_or_else(|| EthError::UnknownDriver {
                    name: format!("{} (port {id})", slot.name.get()),
                    known: pmds.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
                })?;
                let ctx = PortCtx { port: id, slot, mem, hub: hub.clone() };
                let device_slot = slot.device_slot.load(Ordering::Acquire);
                let data = if device_slot == u32::MAX {
                    pmd.attach(&ctx)?
                } else {
                    match eal.pci_devices().iter().find(|d| d.table_index() == device_slot) {
                        Some(dev) => pmd.attach_pci(&ctx, dev)?,
                        None => {
                            tracing::warn!(port = id, name = %slot.name.get(), "PCI port not attached: its device is not open in this process (-a/-b/--no-pci)");
                            continue;
                        }
                    }
                };
                eth.ports[id as usize] = Some(Port::new(id, slot, data));
            }
        }
        Ok(eth)
    }

    /// Makes a port of PCI device `dev` if a driver of `pmds` takes its ids (primary).
    fn probe_pci(
        &mut self,
        eal: &Eal,
        pmds: &[&'static dyn Pmd],
        dev: &Arc<BusDevice>,
    ) -> Result<Option<u16>, EthError> {
        let ids = dev.ids();
        let Some(pmd) = pmds.iter().find(|p| p.pci_ids().contains(&ids)) else {
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
        let ctx = PortCtx { port: id, slot, mem: eal.memory(), hub: self.hub.clone() };
        let probed = match pmd.probe_pci(&ctx, dev) {
            Ok(p) => p,
            Err(e) => {
                slot.state.store(PortState::Unused as u32, Ordering::Release);
                slot.in_use.store(0, Ordering::Release);
                return Err(e);
            }
        };
        dev.record_driver(pmd.name(), u32::from(id));
        let link = probed.control.link_update();
        self.hub.report(id, slot, link);
        self.ports[id as usize] = Some(Port::new(id, slot, probed.data));
        let ctl: Arc<dyn Control> = Arc::from(probed.control);
        self.refresh.add(id, ctl.clone());
        self.controls[id as usize] = Some(ctl);
        tracing::info!(port = id, %name, driver = pmd.name(), "PCI port probed");
        Ok(Some(id))
    }

    fn probe_vdev(&mut self, eal: &Eal, pmds: &[&'static dyn Pmd], raw: &str) -> Result<u16, EthError> {
        let args = VdevArgs::parse(raw)?;
        // The longest matching driver name wins (net_ring vs a hypothetical net_r).
        let pmd = pmds.iter().filter(|p| args.name.starts_with(p.name())).max_by_key(|p| p.name().len()).ok_or_else(
            || EthError::UnknownDriver {
                name: args.name.clone(),
                known: pmds.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
            },
        )?;
        if self.port_ids().iter().any(|&id| self.ports[id as usize].as_ref().is_some_and(|p| p.name() == args.name)) {
            return Err(EthError::BadDevargs { args: raw.into(), why: "a device of that name exists already".into() });
        }
        let id = self.table.allocate().ok_or(EthError::TooManyPorts(MAX_PORTS))?;
        let slot = self.table.slot(id).expect("allocated id");
        slot.name.set(&args.name);
        slot.driver.set(pmd.name());
        slot.devargs.set(&raw[..raw.len().min(127)]);
        slot.mtu.store(1500, Ordering::Relaxed);
        slot.device_slot.store(u32::MAX, Ordering::Relaxed);
        slot.state.store(PortState::Probed as u32, Ordering::Release);
        let ctx = PortCtx { port: id, slot, mem: eal.memory(), hub: self.hub.clone() };
        let probed = match pmd.probe_vdev(&ctx, &args) {
            Ok(p) => p,
            Err(e) => {
                slot.state.store(PortState::Unused as u32, Ordering::Release);
                slot.in_use.store(0, Ordering::Release);
                return Err(e);
            }
        };
        let link = probed.control.link_update();
        self.hub.report(id, slot, link);
        self.ports[id as usize] = Some(Port::new(id, slot, probed.data));
        let ctl: Arc<dyn Control> = Arc::from(probed.control);
        self.refresh.add(id, ctl.clone());
        self.controls[id as usize] = Some(ctl);
        tracing::info!(port = id, name = %args.name, driver = pmd.name(), "port probed");
        Ok(id)
    }

    /// True in the primary.
    pub fn is_primary(&self) -> bool {
        self.primary
    }

    /// Ids of every port of the group.
    pub fn port_ids(&self) -> Vec<u16> {
        (0..MAX_PORTS as u16).filter(|&i| self.ports[i as usize].is_some()).collect()
    }

    /// Number of ports.
    pub fn count(&self) -> usize {
        self.ports.iter().filter(|p| p.is_some()).count()
    }

    /// The port `id` (data path and read-only calls), in any process.
    pub fn port(&self, id: u16) -> Result<&Port, EthError> {
        self.ports.get(id as usize).and_then(|p| p.as_ref()).ok_or(EthError::NoSuchPort(id))
    }

    /// Control of port `id`: primary only.
    pub fn control(&self, id: u16) -> Result<PortControl<'_>, EthError> {
        let port = self.port(id)?;
        if !self.primary {
            return Err(EthError::PrimaryOnly("port control"));
        }
        let ctl = self.controls[id as usize].as_deref().ok_or(EthError::NoSuchPort(id))?;
        Ok(PortControl { port, ctl })
    }

    /// Has port `id`'s device counters read now and published for every process: directly in
    /// the primary, over IPC from a secondary (as `procinfo` does before it prints). The
    /// shared counters ([`Port::stats`], [`Port::xstats`]) are fresh when this returns.
    pub fn refresh_stats(&self, id: u16) -> Result<(), EthError> {
        self.port(id)?;
        if self.primary {
            self.refresh.refresh(id)
        } else {
            stats_refresh::request(&self.mp, id)
        }
    }

    /// Driver-specific counters of port `id` (primary: read from the device now).
    pub fn xstats(&self, id: u16) -> Result<Vec<(&'static str, u64)>, EthError> {
        self.port(id)?;
        if !self.primary {
            return Err(EthError::PrimaryOnly("reading device counters"));
        }
        let ctl = self.controls[id as usize].as_deref().ok_or(EthError::NoSuchPort(id))?;
        ctl.stats_update();
        let x = ctl.xstats();
        self.table.slot(id).ok_or(EthError::NoSuchPort(id))?.device_xstats.publish(&x);
        Ok(x)
    }

    /// Calls `cb(port, link, seq)` on every link change of `port` (or of any port with
    /// `None`), in this process. In secondaries the callbacks run on the IPC thread when the
    /// primary's event arrives, in the order of the events.
    pub fn on_link_change(&self, port: Option<u16>, cb: impl Fn(u16, Link, u32) + Send + Sync + 'static) {
        let cb: Arc<LinkCallback> = Arc::new(cb);
        self.hub.add(port, cb);
    }
}

impl Drop for Ethdev {
    fn drop(&mut self) {
        crate::telemetry::unregister_commands();
        if self.primary {
            let _ = self.mp.unregister(stats_refresh::ACTION);
            for (id, c) in self.controls.iter().enumerate() {
                if let (Some(c), Some(p)) = (c, &self.ports[id]) {
                    self.refresh.remove(id as u16);
                    PortControl { port: p, ctl: c.as_ref() }.close();
                }
            }
        } else {
            // A secondary never touches the devices; it only stops listening.
            let _ = self.mp.unregister(LSC_ACTION);
        }
    }
}
