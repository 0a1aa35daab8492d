//! A thread that plays the kernel's part on a fake sysfs tree.
//!
//! Every few milliseconds it takes what was written to `bus/pci/drivers_probe` and to each
//! driver's `bind` and `unbind` file (emptying the file, so the next write is seen), and
//! moves the `driver` links as the kernel would:
//! - probe: an unbound device goes to its `driver_override`, or with none to the kernel
//!   driver the id table names, if that driver is registered and does not refuse;
//! - bind: an unbound device goes to the driver if its override names it, or if it has no
//!   override and the driver is its kernel driver;
//! - unbind: the device leaves the driver if bound to it.
//!
//! Each action is logged as a line in [`FakeKernel::events`].

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::tree::{device_dir, set_driver};
use crate::pci::address::PciAddr;

const TICK: Duration = Duration::from_millis(2);

/// The running fake kernel; stops when dropped.
#[derive(Debug)]
pub struct FakeKernel {
    stop: Arc<AtomicBool>,
    events: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeKernel {
    /// Starts acting on the tree at `root`; every registered driver accepts devices.
    pub fn start(root: &Path) -> Self {
        Self::start_refusing(root, &[])
    }

    /// Starts acting on the tree at `root`; the drivers in `refuse` decline every device
    /// (their probe fails), as a driver does when the hardware does not answer.
    pub fn start_refusing(root: &Path, refuse: &[&str]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(Mutex::new(Vec::new()));
        let sim = Sim {
            root: root.to_path_buf(),
            refuse: refuse.iter().map(|s| s.to_string()).collect(),
            events: Arc::clone(&events),
        };
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                sim.tick();
                thread::sleep(TICK);
            }
        });
        FakeKernel { stop, events, thread: Some(thread) }
    }

    /// What the fake kernel did so far, one line per action, in order: `probe <addr>
    /// override=<drv|none> -> <drv|no driver>`, `bind <addr> to <drv> -> ok|no match|refused`,
    /// `unbind <addr> from <drv> -> ok|not bound to it`.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Drop for FakeKernel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Sim {
    root: PathBuf,
    refuse: Vec<String>,
    events: Arc<Mutex<Vec<String>>>,
}

impl Sim {
    fn tick(&self) {
        let probe = self.root.join("bus/pci/drivers_probe");
        for addr in take(&probe) {
            self.probe(addr);
        }
        let Ok(entries) = fs::read_dir(self.root.join("bus/pci/drivers")) else {
            return;
        };
        for entry in entries.flatten() {
            let drv = entry.file_name().to_string_lossy().into_owned();
            for addr in take(&entry.path().join("unbind")) {
                self.unbind(&drv, addr);
            }
            for addr in take(&entry.path().join("bind")) {
                self.bind(&drv, addr);
            }
        }
    }

    fn log(&self, line: String) {
        if let Ok(mut e) = self.events.lock() {
            e.push(line);
        }
    }

    fn probe(&self, addr: PciAddr) {
        let dir = device_dir(&self.root, addr);
        if current(&dir).is_some() {
            self.log(format!("probe {addr} -> already bound"));
            return;
        }
        let over = override_of(&dir);
        let choice = over.clone().or_else(|| native_driver(&dir));
        let bound = match &choice {
            Some(d) if self.accepts(d) => set_driver(&self.root, addr, Some(d)).is_ok(),
            _ => false,
        };
        let result = match (bound, choice) {
            (true, Some(d)) => d,
            _ => "no driver".to_string(),
        };
        self.log(format!("probe {addr} override={} -> {result}", over.as_deref().unwrap_or("none")));
    }

    fn bind(&self, drv: &str, addr: PciAddr) {
        let dir = device_dir(&self.root, addr);
        let matches = match override_of(&dir) {
            Some(o) => o == drv,
            None => native_driver(&dir).as_deref() == Some(drv),
        };
        let result = if current(&dir).is_some() || !matches {
            "no match"
        } else if !self.accepts(drv) {
            "refused"
        } else if set_driver(&self.root, addr, Some(drv)).is_ok() {
            "ok"
        } else {
            "link failed"
        };
        self.log(format!("bind {addr} to {drv} -> {result}"));
    }

    fn unbind(&self, drv: &str, addr: PciAddr) {
        let dir = device_dir(&self.root, addr);
        let result = if current(&dir).as_deref() == Some(drv) && set_driver(&self.root, addr, None).is_ok() {
            "ok"
        } else {
            "not bound to it"
        };
        self.log(format!("unbind {addr} from {drv} -> {result}"));
    }

    fn accepts(&self, drv: &str) -> bool {
        self.root.join("bus/pci/drivers").join(drv).is_dir() && !self.refuse.iter().any(|r| r == drv)
    }
}

/// The addresses written to the plain file `path` since the last call; empties the file.
/// Anything that is not a plain file (a link to `/dev/full`) is left alone.
fn take(path: &Path) -> Vec<PciAddr> {
    let is_file = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if !is_file {
        return Vec::new();
    }
    let text = fs::read_to_string(path).unwrap_or_default();
    if text.trim().is_empty() {
        return Vec::new();
    }
    let _ = fs::write(path, "");
    text.split_whitespace().filter_map(|s| s.parse().ok()).collect()
}

fn current(dir: &Path) -> Option<String> {
    fs::read_link(dir.join("driver")).ok().and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
}

fn override_of(dir: &Path) -> Option<String> {
    let text = fs::read_to_string(dir.join("driver_override")).ok()?;
    let text = text.trim();
    (!text.is_empty() && text != "(null)").then(|| text.to_string())
}

fn native_driver(dir: &Path) -> Option<String> {
    let id = |f: &str| {
        let t = fs::read_to_string(dir.join(f)).ok()?;
        u16::from_str_radix(t.trim().trim_start_matches("0x"), 16).ok()
    };
    let (vendor, device) = (id("vendor")?, id("device")?);
    MODALIAS.iter().find(|(v, d, _)| (*v, *d) == (vendor, device)).map(|(_, _, drv)| drv.to_string())
}

/// The fake kernel's module table: the driver `drivers_probe` binds for an id (the devices
/// the tests model; any other stays unbound).
const MODALIAS: &[(u16, u16, &str)] = &[
    (0x8086, 0x100e, "e1000"),
    (0x8086, 0x10d3, "e1000e"),
    (0x8086, 0x10c9, "igb"),
    (0x8086, 0x10fb, "ixgbe"),
    (0x8086, 0x1528, "ixgbe"),
    (0x8086, 0x10ed, "ixgbevf"),
    (0x1af4, 0x1000, "virtio-pci"),
    (0x1af4, 0x1041, "virtio-pci"),
];
