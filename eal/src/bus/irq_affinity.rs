//! Steering one interrupt vector of a VFIO device to a CPU: the kernel names the vector's
//! IRQ `vfio-msix[N](BDF)` (or `vfio-msi[N](BDF)`) in `/proc/interrupts`, and its CPUs are
//! set in `/proc/irq/<irq>/smp_affinity_list` (root only). A thread that sleeps on the
//! vector's eventfd wakes sooner when the interrupt is taken on its own CPU: the handler
//! wakes it there, with no cross-CPU wake-up (an IPI; in a VM, another vCPU to schedule).

use super::error::BusError;
use crate::pci::PciAddr;
use std::path::Path;

/// The IRQ number of vector `vector` of device `addr` in `/proc/interrupts` text.
pub(crate) fn find_irq(interrupts: &str, addr: &PciAddr, vector: u32) -> Option<u32> {
    let names = [format!("vfio-msix[{vector}]({addr})"), format!("vfio-msi[{vector}]({addr})")];
    interrupts.lines().find_map(|l| {
        let (irq, rest) = l.trim_start().split_once(':')?;
        let name = rest.split_whitespace().last()?;
        if names.iter().any(|n| n == name) {
            irq.trim().parse().ok()
        } else {
            None
        }
    })
}

/// Points the IRQ of vector `vector` of device `addr` at CPU `cpu`; returns the IRQ number.
/// Errors: the vector has no IRQ of its own (not armed, or a relayed INTx cause), or the
/// kernel refused (not root, an IRQ whose affinity is managed by the kernel).
pub(crate) fn steer(addr: &PciAddr, vector: u32, cpu: usize) -> Result<u32, BusError> {
    let text = std::fs::read_to_string("/proc/interrupts")
        .map_err(|source| BusError::Interrupt { what: "reading /proc/interrupts".into(), source })?;
    let irq = find_irq(&text, addr, vector).ok_or_else(|| BusError::Interrupt {
        what: format!("vector {vector} of {addr} has no IRQ of its own in /proc/interrupts"),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    })?;
    let p = Path::new("/proc/irq").join(irq.to_string()).join("smp_affinity_list");
    std::fs::write(&p, cpu.to_string()).map_err(|source| BusError::Interrupt {
        what: format!("writing CPU {cpu} to {} (steering needs root)", p.display()),
        source,
    })?;
    Ok(irq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_vectors_irq_by_its_vfio_name() {
        let text = "           CPU0       CPU1\n\
             24:          0          0  IR-PCI-MSIX-0000:00:03.0    0-edge      vfio-msix[0](0000:00:03.0)\n\
             25:       1694          0  IR-PCI-MSIX-0000:00:03.0    1-edge      vfio-msix[1](0000:00:03.0)\n\
             26:          3          0  IR-PCI-MSI-0000:00:04.0    0-edge      vfio-msi[1](0000:00:04.0)\n\
            NMI:          0          0   Non-maskable interrupts\n";
        let a = |s: &str| s.parse::<PciAddr>().unwrap();
        assert_eq!(find_irq(text, &a("0000:00:03.0"), 1), Some(25));
        assert_eq!(find_irq(text, &a("0000:00:03.0"), 0), Some(24));
        assert_eq!(find_irq(text, &a("0000:00:04.0"), 1), Some(26));
        assert_eq!(find_irq(text, &a("0000:00:03.0"), 2), None);
        assert_eq!(find_irq(text, &a("0000:00:05.0"), 1), None);
        assert_eq!(find_irq("", &a("0000:00:03.0"), 1), None);
    }
}
