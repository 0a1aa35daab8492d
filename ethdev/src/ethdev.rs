//! The port layer of one process: probes ports in the primary (the EAL's PCI devices
//! first, then `--vdev`), attaches to them in secondaries, hands out port handles, and
//! attaches or detaches ports at run time in every process of the group ([`crate::hotplug`]).

use crate::error::EthError;
use crate::events::{self, EventHub, LinkCallback, LSC_ACTION};
use crate::hotplug::port_set::PortSet;
use crate::hotplug::secondary::{self, SECONDARY_ACTIONS};
use crate::hotplug::wire::Request;
use crate::hotplug::{self as hp, PortEvent};
use crate::link::Link;
use crate::port::{Port, PortControl};
use crate::port_table::PortTable;
use crate::stats_refresh::{self, StatsRefresh};
use crate::Pmd;
use eal::mp::Mp;
use eal::Eal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The ports of this process.
pub struct Ethdev {
    primary: bool,
    set: Arc<PortSet>,
    /// Reads the primary's device counters for secondaries and telemetry.
    refresh: Arc<StatsRefresh>,
    mp: Mp,
}

impl Ethdev {
    /// Probes (primary) or attaches to (secondary) every port of the group, using `pmds` to
    /// find each port's driver. A secondary's `--vdev` devices that the group does not have
    /// yet are attached through the primary, as DPDK's secondaries do.
    pub fn init(eal: &Eal, pmds: &[&'static dyn Pmd]) -> Result<Ethdev, EthError> {
        let mem = eal.memory();
        let primary = eal.is_primary();
        let table = if primary { PortTable::create(&mem)? } else { PortTable::lookup(&mem)? };
        let hub = Arc::new(EventHub::new(primary.then(|| eal.mp().clone())));
        let set = Arc::new(PortSet::new(
            table,
            hub.clone(),
            pmds,
            mem,
            eal.mp().clone(),
            eal.pci_bus().clone(),
            eal.runtime_dir().to_path_buf(),
        ));
        let refresh = StatsRefresh::new(&set);
        let eth = Ethdev { primary, set: set.clone(), refresh: refresh.clone(), mp: eal.mp().clone() };
        crate::telemetry::register_commands(table, primary.then(|| refresh.clone()));
        if primary {
            refresh.serve(eal.mp())?;
            // A capture whose owner was killed is disarmed at the next sweep of dead peers.
            let m = mem;
            eal.mp().on_peer_sweep(move || {
                crate::capture::sweep_dead_owner(&m);
            });
            for dev in eal.pci_devices() {
                set.probe_pci(&dev)?;
            }
            for raw in &eal.args().vdevs {
                set.probe_vdev(raw)?;
            }
            secondary::register_primary(&set)?;
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
            // Take the ports under the same lock the notices of new ports are applied with,
            // so that a port attached meanwhile is neither missed nor taken twice.
            secondary::register_secondary(&set)?;
            let _guard = set.op.lock().unwrap_or_else(|e| e.into_inner());
            for id in table.ports() {
                if set.local.ids().contains(&id) {
                    continue;
                }
                set.attach_local(id)?;
            }
            drop(_guard);
            for raw in &eal.args().vdevs {
                match set.find(raw) {
                    Some(id) => tracing::info!(port = id, "--vdev {raw}: the group has it already"),
                    None => {
                        let id = secondary::request(&set, &Request::Attach(raw.clone()))?;
                        tracing::info!(port = id, "--vdev {raw}: attached through the primary");
                    }
                }
            }
        }
        Ok(eth)
    }

    /// True in the primary.
    pub fn is_primary(&self) -> bool {
        self.primary
    }

    /// Ids of every port of the group attached in this process, in order.
    pub fn port_ids(&self) -> Vec<u16> {
        self.set.local.ids()
    }

    /// Number of ports.
    pub fn count(&self) -> usize {
        self.set.local.ids().len()
    }

    /// A handle of port `id` (data path and read-only calls), in any process. While the
    /// application keeps a handle (or a clone of it), a detach of the port waits for it.
    pub fn port(&self, id: u16) -> Result<Port, EthError> {
        self.set.local.port(id).ok_or(EthError::NoSuchPort(id))
    }

    /// Control of port `id`: primary only.
    pub fn control(&self, id: u16) -> Result<PortControl<'_>, EthError> {
        self.port(id)?;
        if !self.primary {
            return Err(EthError::PrimaryOnly("port control"));
        }
        let (port, ctl) = self.set.local.control(id).ok_or(EthError::NoSuchPort(id))?;
        Ok(PortControl { port, ctl, _ethdev: std::marker::PhantomData })
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
        Ok(self.control(id)?.device_xstats())
    }

    /// Calls `cb(port, link, seq)` on every link change of `port` (or of any port with
    /// `None`), in this process. In secondaries the callbacks run on the IPC thread when the
    /// primary's event arrives, in the order of the events.
    pub fn on_link_change(&self, port: Option<u16>, cb: impl Fn(u16, Link, u32) + Send + Sync + 'static) {
        let cb: Arc<LinkCallback> = Arc::new(cb);
        self.set.hub.add(port, cb);
    }

    /// Attaches the virtual device of `devargs` (`net_ring2`, `net_tap1,iface=x`) to the
    /// group, as `rte_dev_probe`: in the primary it probes the device; in a secondary it
    /// asks the primary to. Returns the new port's id once every process of the group has
    /// the port (same id everywhere) and its [`PortEvent::New`] callbacks ran. Fails with
    /// the reason for an unknown driver, a name already attached, malformed devargs, a
    /// secondary that could not attach it (named by pid; the port is then removed again), or
    /// no running primary. A PCI device is given by address (`0000:00:04.0[,key=value]`):
    /// the primary opens it through VFIO as at start (it must be bound to vfio-pci, not on
    /// the block list and not in use; the error names the fix otherwise) and every
    /// secondary maps the same BARs.
    pub fn attach(&self, devargs: &str) -> Result<u16, EthError> {
        if self.primary {
            hp::primary::attach(&self.set, devargs)
        } else {
            secondary::request(&self.set, &Request::Attach(devargs.to_string()))
        }
    }

    /// Detaches port `port` from the group, as `rte_dev_remove`: each process first
    /// releases it (waits up to [`Ethdev::set_detach_timeout`] until the application there
    /// holds no handle of it), then every process drops it, the primary closes the device
    /// and frees the slot. Returns once the port is gone from every process and its
    /// [`PortEvent::Removed`] callbacks ran. If a process still holds the port at the
    /// timeout, or does not answer, the detach fails naming its pid, and the port stays
    /// attached and working everywhere. In a secondary it asks the primary to do it. A PCI
    /// port's device is closed in every process (BAR mappings, device and group fds), so
    /// the NIC can be bound to its kernel driver again.
    pub fn detach(&self, port: u16) -> Result<(), EthError> {
        if self.primary {
            hp::primary::detach(&self.set, port)
        } else {
            if !self.set.local.ids().contains(&port) {
                return Err(EthError::NoSuchPort(port));
            }
            secondary::request(&self.set, &Request::Detach(port)).map(|_| ())
        }
    }

    /// The port whose name (`net_ring0`, a PCI address) or devargs are `name`, if any.
    pub fn find_port(&self, name: &str) -> Option<u16> {
        self.set.find(name)
    }

    /// How long a detach waits for every process to release the port (default
    /// [`hp::DEFAULT_DETACH_TIMEOUT`]); set it in the primary, which runs the detach.
    pub fn set_detach_timeout(&self, timeout: Duration) {
        self.set.detach_timeout_ms.store(timeout.as_millis() as u64, Ordering::Relaxed);
    }

    /// Calls `cb(port, event)` when a port is attached or detached, in this process; in
    /// secondaries on the IPC thread, before the primary's attach or detach returns.
    pub fn on_port_event(&self, cb: impl Fn(u16, PortEvent) + Send + Sync + 'static) {
        self.set.on_event(Arc::new(cb));
    }
}

impl Drop for Ethdev {
    fn drop(&mut self) {
        crate::telemetry::unregister_commands();
        if self.primary {
            let _ = self.mp.unregister(hp::REQUEST);
            let _ = self.mp.unregister(stats_refresh::ACTION);
            for id in self.set.local.ids() {
                if let Some((port, ctl)) = self.set.local.control(id) {
                    PortControl { port, ctl, _ethdev: std::marker::PhantomData }.close();
                }
            }
        } else {
            // A secondary never touches the devices; it only stops listening.
            let _ = self.mp.unregister(LSC_ACTION);
            for name in SECONDARY_ACTIONS {
                let _ = self.mp.unregister(name);
            }
        }
    }
}
