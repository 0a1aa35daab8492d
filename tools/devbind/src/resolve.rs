//! Turning device arguments (PCI addresses, short or full, and interface names) into devices.

use eal::pci::{PciAddr, PciDevice};

/// The devices named by `args`, in order, without duplicates, looked up in `devices` (a
/// scan). The error names the first argument that matches nothing and says what to do.
pub fn resolve(devices: &[PciDevice], args: &[String]) -> Result<Vec<PciDevice>, String> {
    let mut found: Vec<PciDevice> = Vec::new();
    for arg in args {
        let dev = find(devices, arg)?;
        if !found.iter().any(|d| d.addr == dev.addr) {
            found.push(dev.clone());
        }
    }
    Ok(found)
}

fn find<'a>(devices: &'a [PciDevice], arg: &str) -> Result<&'a PciDevice, String> {
    match arg.parse::<PciAddr>() {
        Ok(addr) => devices
            .iter()
            .find(|d| d.addr == addr)
            .ok_or_else(|| format!("no PCI device {addr}: list the devices with `devbind --status`")),
        Err(e) if arg.contains(':') => Err(e.to_string()),
        Err(_) => devices.iter().find(|d| d.interfaces.iter().any(|i| i == arg)).ok_or_else(|| {
            format!(
                "no PCI device has a network interface named {arg:?} (an interface disappears \
                     when its device leaves the kernel driver: name the device by its PCI address, \
                     see `devbind --status`)"
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eal::pci::fake::{FakeDevice, FakeSysfs};

    fn scan() -> Vec<PciDevice> {
        let t = FakeSysfs::new().unwrap();
        t.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).interface("eth0")).unwrap();
        t.add_device(&FakeDevice::new("0000:02:00.0", 0x8086, 0x10fb)).unwrap();
        t.sysfs().scan().unwrap()
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn resolves_full_short_and_interface_names_without_duplicates() {
        let devs = scan();
        let got = resolve(&devs, &args(&["02:00.0", "eth0", "0000:00:03.0"])).unwrap();
        let addrs: Vec<String> = got.iter().map(|d| d.addr.to_string()).collect();
        assert_eq!(addrs, ["0000:02:00.0", "0000:00:03.0"]);
    }

    #[test]
    fn unknown_arguments_are_named() {
        let devs = scan();
        let e = resolve(&devs, &args(&["eth0", "05:00.0"])).unwrap_err();
        assert!(e.contains("no PCI device 0000:05:00.0"), "{e}");
        let e = resolve(&devs, &args(&["eth7"])).unwrap_err();
        assert!(e.contains("\"eth7\""), "{e}");
        let e = resolve(&devs, &args(&["0000:02:00.9"])).unwrap_err();
        assert!(e.contains("invalid PCI address"), "{e}");
    }
}
