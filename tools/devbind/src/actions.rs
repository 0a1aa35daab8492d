//! Binding and unbinding the devices named on the command line, with the safety checks.

use std::collections::BTreeSet;
use std::path::Path;

use eal::pci::{BindOutcome, Binder, PciDevice, PciError, Sysfs, UnbindOutcome, VFIO_PCI};

use crate::exit::Exit;
use crate::routes::{route_of, Route};
use crate::status::device_line;
use crate::users::vfio_group_users;

/// What a run needs to act on devices.
pub struct Ctx<'a> {
    /// The sysfs tree.
    pub sysfs: &'a Sysfs,
    /// Routes, to tell active interfaces.
    pub routes: &'a [Route],
    /// The procfs root, to find processes using a VFIO group.
    pub proc_root: &'a Path,
    /// Act on active interfaces too.
    pub force: bool,
    /// Print every sysfs write.
    pub verbose: bool,
}

impl Ctx<'_> {
    /// Binds each device to `driver`; then, for vfio-pci, warns about IOMMU groups that
    /// other devices keep unviable. Returns the worst outcome.
    pub fn bind_all(&self, driver: &str, devices: &[PciDevice]) -> Exit {
        let mut worst = Exit::Success;
        let mut bound = Vec::new();
        let mut binder = Binder::new(self.sysfs);
        for dev in devices {
            if dev.driver.as_deref() == Some(driver) {
                println!("{}: already bound to {driver}", dev.addr);
                bound.push(dev.addr);
                continue;
            }
            if !self.may_touch(dev, &format!("bind {} to {driver}", dev.addr)) {
                worst = worst.max(Exit::Refused);
                continue;
            }
            let result = binder.bind(dev.addr, driver);
            self.print_writes(&mut binder);
            match result {
                Ok(BindOutcome::AlreadyBound) => {
                    println!("{}: already bound to {driver}", dev.addr);
                    bound.push(dev.addr);
                }
                Ok(BindOutcome::Bound { previous }) => {
                    let was = previous.as_deref().unwrap_or("no driver");
                    println!("{}: bound to {driver} (was {was})", dev.addr);
                    bound.push(dev.addr);
                }
                Err(e) => {
                    report_error(&e);
                    worst = worst.max(Exit::Failed);
                    if matches!(e, PciError::DriverNotLoaded { .. }) {
                        break;
                    }
                }
            }
        }
        if driver == VFIO_PCI {
            self.warn_unviable_groups(&bound);
        }
        worst
    }

    /// Unbinds each device from its driver. Returns the worst outcome.
    pub fn unbind_all(&self, devices: &[PciDevice]) -> Exit {
        let mut worst = Exit::Success;
        let mut binder = Binder::new(self.sysfs);
        for dev in devices {
            let Some(driver) = &dev.driver else {
                println!("{}: not bound to any driver; nothing to do", dev.addr);
                continue;
            };
            if !self.may_touch(dev, &format!("unbind {} from {driver}", dev.addr)) {
                worst = worst.max(Exit::Refused);
                continue;
            }
            let result = binder.unbind(dev.addr);
            self.print_writes(&mut binder);
            match result {
                Ok(UnbindOutcome::Unbound { previous }) => {
                    println!("{}: unbound from {previous}", dev.addr)
                }
                Ok(UnbindOutcome::NotBound) => {
                    println!("{}: not bound to any driver; nothing to do", dev.addr)
                }
                Err(e) => {
                    report_error(&e);
                    worst = worst.max(Exit::Failed);
                }
            }
        }
        worst
    }

    /// False (with a message) if taking the device from its driver would hurt: one of its
    /// interfaces has a route, or a process has its VFIO group open (the kernel would block
    /// the unbind until that process exits). With `--force`, warns and returns true.
    fn may_touch(&self, dev: &PciDevice, what: &str) -> bool {
        self.interface_is_free(dev, what) && self.vfio_group_is_free(dev, what)
    }

    fn interface_is_free(&self, dev: &PciDevice, what: &str) -> bool {
        let active = dev.interfaces.iter().find_map(|i| route_of(self.routes, i).map(|r| (i, r)));
        let Some((iface, route)) = active else {
            return true;
        };
        if self.force {
            eprintln!(
                "warning: {}: interface {iface} is active (route {} dev {iface}); going on because of --force",
                dev.addr, route.desc
            );
            return true;
        }
        eprintln!(
            "devbind: refusing to {what}: its interface {iface} is active (route {} dev {iface}), \
             and this host would lose that network. Take {iface} down first (ip link set {iface} down \
             and remove its routes), or give --force.",
            route.desc
        );
        false
    }

    fn vfio_group_is_free(&self, dev: &PciDevice, what: &str) -> bool {
        let (Some(VFIO_PCI), Some(group)) = (dev.driver.as_deref(), dev.iommu_group) else {
            return true;
        };
        let users = vfio_group_users(self.proc_root, group);
        if users.is_empty() {
            return true;
        }
        let list = users.iter().map(|u| format!("pid {} ({})", u.pid, u.comm)).collect::<Vec<_>>().join(", ");
        if self.force {
            eprintln!(
                "warning: {}: IOMMU group {group} is open in {list}; the kernel will hold the unbind \
                 until it is closed; going on because of --force",
                dev.addr
            );
            return true;
        }
        eprintln!(
            "devbind: refusing to {what}: IOMMU group {group} is open in {list}, and the kernel would \
             block the unbind until that process exits. Stop it first, or give --force."
        );
        false
    }

    fn print_writes(&self, binder: &mut Binder) {
        let writes = binder.take_writes();
        if self.verbose {
            for w in writes {
                println!("  {w}");
            }
        }
    }

    /// For each IOMMU group holding one of `bound`, warns if other devices keep it
    /// unviable, naming them and the command that fixes it; warns about devices with no
    /// group at all.
    fn warn_unviable_groups(&self, bound: &[eal::pci::PciAddr]) {
        let mut seen = BTreeSet::new();
        for &addr in bound {
            let group = match self.sysfs.iommu_group_of(addr) {
                Ok(Some(g)) => g,
                Ok(None) => {
                    eprintln!(
                        "warning: {addr} has no IOMMU group, so VFIO cannot use it: enable the IOMMU \
                         (intel_iommu=on or amd_iommu=on on the kernel command line) or VFIO no-IOMMU mode"
                    );
                    continue;
                }
                Err(e) => {
                    eprintln!("warning: cannot check the IOMMU group of {addr}: {e}");
                    continue;
                }
            };
            if !seen.insert(group.number) {
                continue;
            }
            let blockers = group.blockers();
            if blockers.is_empty() {
                continue;
            }
            let mut msg = format!(
                "warning: IOMMU group {} is not viable, so VFIO cannot use {addr} yet: every device of a \
                 group must be bound to vfio-pci or pci-stub, or to no driver (bridges excepted). \
                 Still bound elsewhere:\n",
                group.number
            );
            let mut names = Vec::new();
            for m in &blockers {
                let line = m
                    .addr
                    .and_then(|a| self.sysfs.device(a).ok())
                    .map(|d| device_line(&d, self.routes))
                    .unwrap_or_else(|| format!("{} drv={}", m.name, m.driver.as_deref().unwrap_or("none")));
                msg.push_str(&format!("    {line}\n"));
                names.push(m.name.as_str());
            }
            let names = names.join(" ");
            msg.push_str(&format!("  fix: devbind -b vfio-pci {names}   (or leave them unbound: devbind -u {names})"));
            eprintln!("{msg}");
        }
    }
}

/// Prints a failure with the fix where one is known.
fn report_error(e: &PciError) {
    let msg = e.to_string();
    if msg.contains("Permission denied") {
        eprintln!("devbind: {msg} (sysfs needs root: run devbind as root)");
    } else {
        eprintln!("devbind: {msg}");
    }
}
