//! Binding devices to drivers and unbinding them through sysfs.
//!
//! Bind: unbind the current driver, write the new driver's name to `driver_override`,
//! write the address to `bus/pci/drivers_probe`, and if that did not attach it, write the
//! address to `bus/pci/drivers/<drv>/bind` (which reports the driver's error). The override
//! is cleared afterwards whatever happened, and a failed bind puts the previous driver back.
//! Each step is checked by reading the `driver` link back: a probe that no driver accepts
//! succeeds as a write without binding anything. Nothing is loaded: a driver that is not
//! registered is reported as such before anything is changed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::address::PciAddr;
use super::attr;
use super::device::VFIO_PCI;
use super::error::{PciError, Restore};
use super::sysfs::{read_iommu_group, Sysfs};

/// How long a bind or unbind may take to show in the `driver` link by default. The kernel
/// probes synchronously unless a driver asks for asynchronous probing.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(1);

const POLL: Duration = Duration::from_millis(5);

/// One write to a sysfs file, as done by a [`Binder`], with its error if it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysfsWrite {
    /// The file written.
    pub path: PathBuf,
    /// The bytes written.
    pub value: String,
    /// The error the write returned, if any.
    pub error: Option<String>,
}

impl fmt::Display for SysfsWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "write {:?} to {}", self.value, self.path.display())?;
        if let Some(e) = &self.error {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

/// What [`Binder::bind`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindOutcome {
    /// The device was bound to that driver already; nothing was written.
    AlreadyBound,
    /// The device is now bound to the driver; `previous` is the driver it had before.
    Bound {
        /// The driver unbound first, if any.
        previous: Option<String>,
    },
}

/// What [`Binder::unbind`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnbindOutcome {
    /// The device had no driver; nothing was written.
    NotBound,
    /// The device was unbound from `previous`.
    Unbound {
        /// The driver it was bound to.
        previous: String,
    },
}

/// Binds and unbinds devices of one sysfs tree, keeping a log of every write in order.
#[derive(Debug)]
pub struct Binder<'a> {
    sysfs: &'a Sysfs,
    settle: Duration,
    writes: Vec<SysfsWrite>,
}

impl<'a> Binder<'a> {
    /// A binder on `sysfs` that waits up to [`DEFAULT_SETTLE`] for each step to show.
    pub fn new(sysfs: &'a Sysfs) -> Self {
        Binder { sysfs, settle: DEFAULT_SETTLE, writes: Vec::new() }
    }

    /// The same binder waiting up to `settle` for each step to show in the `driver` link.
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Every write done so far, in order, failed ones included.
    pub fn writes(&self) -> &[SysfsWrite] {
        &self.writes
    }

    /// Takes the write log, leaving it empty.
    pub fn take_writes(&mut self) -> Vec<SysfsWrite> {
        std::mem::take(&mut self.writes)
    }

    /// Unbinds `addr` from its driver, if it has one, and checks that it is gone.
    pub fn unbind(&mut self, addr: PciAddr) -> Result<UnbindOutcome, PciError> {
        let dir = self.existing_device_dir(addr)?;
        let Some(driver) = self.sysfs.current_driver(addr)? else {
            debug!(%addr, "not bound to any driver: nothing to unbind");
            return Ok(UnbindOutcome::NotBound);
        };
        let path = dir.join("driver").join("unbind");
        let failed = |reason: String| PciError::UnbindFailed { addr, driver: driver.clone(), reason };
        self.write(&path, &addr.to_string()).map_err(|e| failed(format!("write {addr} to {}: {e}", path.display())))?;
        if !self.wait_for_driver(addr, None) {
            return Err(failed(format!(
                "it is still bound {} ms after writing to {}",
                self.settle.as_millis(),
                path.display()
            )));
        }
        info!(%addr, %driver, "unbound");
        Ok(UnbindOutcome::Unbound { previous: driver })
    }

    /// Binds `addr` to `driver`, unbinding its current driver first. On failure the
    /// previous driver is bound again and the error says whether that worked.
    pub fn bind(&mut self, addr: PciAddr, driver: &str) -> Result<BindOutcome, PciError> {
        self.existing_device_dir(addr)?;
        if !self.sysfs.driver_loaded(driver) {
            return Err(PciError::DriverNotLoaded { driver: driver.to_string() });
        }
        let previous = self.sysfs.current_driver(addr)?;
        if previous.as_deref() == Some(driver) {
            debug!(%addr, %driver, "already bound");
            return Ok(BindOutcome::AlreadyBound);
        }
        if previous.is_some() {
            self.unbind(addr)?;
        }
        let attached = self.attach(addr, driver);
        if let Err(reason) = attached {
            let restore = match &previous {
                None => Restore::NothingToRestore,
                Some(p) => match self.attach(addr, p) {
                    Ok(()) => Restore::Restored(p.clone()),
                    Err(r) => Restore::Failed { driver: p.clone(), reason: r },
                },
            };
            self.clear_override(addr);
            warn!(%addr, %driver, %reason, ?restore, "bind failed");
            return Err(PciError::BindFailed { addr, driver: driver.to_string(), reason, restore });
        }
        self.clear_override(addr);
        info!(%addr, %driver, ?previous, "bound");
        Ok(BindOutcome::Bound { previous })
    }

    /// Attaches the unbound device `addr` to `driver`: override + probe, then the driver's
    /// `bind` file. Leaves the override set; the caller clears it.
    fn attach(&mut self, addr: PciAddr, driver: &str) -> Result<(), String> {
        let dir = self.sysfs.device_dir(addr);
        let override_path = dir.join("driver_override");
        let bdf = addr.to_string();
        if override_path.exists() {
            self.write(&override_path, driver)
                .map_err(|e| format!("write {driver:?} to {}: {e}", override_path.display()))?;
            let probe = self.sysfs.drivers_probe_path();
            if let Err(e) = self.write(&probe, &bdf) {
                debug!(%addr, "drivers_probe failed: {e}; trying the driver's bind file");
            } else if self.wait_for_driver(addr, Some(driver)) {
                return Ok(());
            }
        }
        let bind = self.sysfs.driver_dir(driver).join("bind");
        if let Err(e) = self.write(&bind, &bdf) {
            return Err(format!(
                "the kernel refused: write {bdf} to {}: {e}{}",
                bind.display(),
                self.hint(addr, driver)
            ));
        }
        if self.wait_for_driver(addr, Some(driver)) {
            return Ok(());
        }
        Err(format!(
            "{driver} did not claim the device within {} ms (see `dmesg` for the driver's reason){}",
            self.settle.as_millis(),
            self.hint(addr, driver)
        ))
    }

    /// A known cause of a failed bind worth telling, prefixed with "; ", or "".
    fn hint(&self, addr: PciAddr, driver: &str) -> String {
        let dir = self.sysfs.device_dir(addr);
        if driver == VFIO_PCI && matches!(read_iommu_group(&dir), Ok(None)) {
            return "; the device has no IOMMU group: boot with intel_iommu=on (or amd_iommu=on) \
                    and an IOMMU, or use VFIO no-IOMMU mode"
                .to_string();
        }
        if !dir.join("driver_override").exists() {
            return "; this kernel has no driver_override, so the driver must already match \
                    the device's ids (its new_id)"
                .to_string();
        }
        String::new()
    }

    /// Clears `driver_override` so later probes pick drivers by id again. Logged, not fatal.
    fn clear_override(&mut self, addr: PciAddr) {
        let path = self.sysfs.device_dir(addr).join("driver_override");
        if !path.exists() {
            return;
        }
        if let Err(e) = self.write(&path, "\n") {
            warn!(%addr, "cannot clear {}: {e}", path.display());
        }
    }

    /// Writes and logs one sysfs write.
    fn write(&mut self, path: &Path, value: &str) -> Result<(), std::io::Error> {
        let result = attr::write(path, value);
        debug!(path = %path.display(), ?value, ok = result.is_ok(), "sysfs write");
        self.writes.push(SysfsWrite {
            path: path.to_path_buf(),
            value: value.to_string(),
            error: result.as_ref().err().map(|e| e.to_string()),
        });
        result
    }

    /// Polls the `driver` link until it names `want` (or is absent for `None`), up to the
    /// settle time. True if it did.
    fn wait_for_driver(&self, addr: PciAddr, want: Option<&str>) -> bool {
        let deadline = Instant::now() + self.settle;
        loop {
            let now = self.sysfs.current_driver(addr).ok().flatten();
            if now.as_deref() == want {
                return true;
            }
            if Instant::now() >= deadline {
                debug!(%addr, ?want, ?now, "driver link did not settle");
                return false;
            }
            thread::sleep(POLL);
        }
    }

    fn existing_device_dir(&self, addr: PciAddr) -> Result<PathBuf, PciError> {
        let dir = self.sysfs.device_dir(addr);
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(PciError::NotFound { addr, path: dir })
        }
    }
}
