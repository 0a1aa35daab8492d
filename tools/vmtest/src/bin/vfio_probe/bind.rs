//! Binding a PCI device to vfio-pci through sysfs (driver_override, then
//! drivers_probe), unbinding it from its current driver first.

use super::{say, Res};
use std::fs;
use std::path::Path;

fn read_attr(dev: &Path, name: &str) -> String {
    fs::read_to_string(dev.join(name)).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The first PCI device with `vendor`/`device` IDs (as sysfs prints them,
/// e.g. "0x8086", "0x100e").
pub fn find_device(vendor: &str, device: &str) -> Res<String> {
    let mut found: Vec<String> = fs::read_dir("/sys/bus/pci/devices")
        .map_err(|e| format!("cannot list PCI devices: {e}"))?
        .filter_map(|e| e.ok())
        .filter(|e| read_attr(&e.path(), "vendor") == vendor && read_attr(&e.path(), "device") == device)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found.into_iter().next().ok_or_else(|| format!("no {vendor}:{device} device in the guest"))
}

fn current_driver(dev: &Path) -> Option<String> {
    fs::read_link(dev.join("driver")).ok()?.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// Binds `bdf` to vfio-pci.
pub fn bind_vfio(bdf: &str) -> Res<()> {
    let dev = Path::new("/sys/bus/pci/devices").join(bdf);
    let before = current_driver(&dev);
    say("driver_before", before.as_deref().unwrap_or("none"));
    if before.as_deref() == Some("vfio-pci") {
        return Ok(());
    }
    let w = |p: &Path, v: &str| fs::write(p, v).map_err(|e| format!("writing '{v}' to {}: {e}", p.display()));
    w(&dev.join("driver_override"), "vfio-pci")?;
    if before.is_some() {
        w(&dev.join("driver/unbind"), bdf)?;
    }
    w(Path::new("/sys/bus/pci/drivers_probe"), bdf)?;
    let after = current_driver(&dev);
    say("driver_after", after.as_deref().unwrap_or("none"));
    if after.as_deref() != Some("vfio-pci") {
        return Err(format!("{bdf} did not bind to vfio-pci (is the module loaded?)"));
    }
    Ok(())
}
