//! The QEMU command line for a guest: q35 under TCG, an Intel IOMMU with
//! interrupt remapping, the serial console on stdio, an HMP monitor socket,
//! and the NICs.

use crate::nic::Nic;
use std::path::{Path, PathBuf};

/// The QEMU binary: `$VMTEST_QEMU`, else `qemu-system-x86_64`.
pub fn qemu_binary() -> PathBuf {
    std::env::var_os("VMTEST_QEMU")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("qemu-system-x86_64"))
}

/// The QEMU machine type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Machine {
    /// `q35`: PCI Express.
    #[default]
    Q35,
    /// `pc` (i440FX): conventional PCI, the default of many hypervisors' older guests.
    Pc,
}

impl Machine {
    /// The `-M` value.
    pub fn name(self) -> &'static str {
        match self {
            Machine::Q35 => "q35",
            Machine::Pc => "pc",
        }
    }
}

/// Whether the guest has an IOMMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuestIommu {
    /// A virtual Intel IOMMU with interrupt remapping (`intel_iommu=on`): VFIO type1.
    #[default]
    Intel,
    /// None, as in most VMs: VFIO runs in its unsafe no-IOMMU mode (rebuilt `vfio.ko`
    /// loaded with `enable_unsafe_noiommu_mode=1`).
    None,
}

/// Everything the command line depends on.
#[derive(Debug, Clone)]
pub struct QemuSpec<'a> {
    /// Machine type.
    pub machine: Machine,
    /// IOMMU or none.
    pub iommu: GuestIommu,
    /// Kernel image.
    pub kernel: &'a Path,
    /// Initramfs.
    pub initrd: &'a Path,
    /// NICs (slots assigned).
    pub nics: &'a [Nic],
    /// Directory for the monitor and peer sockets.
    pub socket_dir: &'a Path,
    /// Guest memory in MiB.
    pub memory_mb: u32,
    /// vCPUs.
    pub smp: u32,
    /// 2 MiB hugepages reserved at boot.
    pub hugepages: u32,
    /// Extra kernel command-line text.
    pub extra_append: &'a str,
}

/// The HMP monitor socket in `dir`.
pub fn monitor_socket(dir: &Path) -> PathBuf {
    dir.join("monitor.sock")
}

/// The peer socket of NIC `netdev` in `dir`.
pub fn peer_socket(dir: &Path, netdev: &str) -> PathBuf {
    dir.join(format!("{netdev}.sock"))
}

/// The kernel command line.
pub fn kernel_append(spec: &QemuSpec<'_>) -> String {
    // no_timer_check: under TCG on a loaded host the kernel may otherwise decide the timer
    // does not work through the interrupt-remapped IO-APIC and panic at boot.
    let iommu = match spec.iommu {
        GuestIommu::Intel => " intel_iommu=on",
        GuestIommu::None => "",
    };
    let mut a = format!("console=ttyS0 quiet panic=-1{iommu} no_timer_check hugepages={}", spec.hugepages);
    if !spec.extra_append.is_empty() {
        a.push(' ');
        a.push_str(spec.extra_append);
    }
    a
}

/// The arguments after the QEMU binary name.
pub fn qemu_args(spec: &QemuSpec<'_>) -> Vec<String> {
    let mut a: Vec<String> = [
        "-M",
        spec.machine.name(),
        "-accel",
        // One TCG thread for all vCPUs: QEMU 10.0's multi-threaded TCG crashed once
        // (`iotlb_to_section` assertion) and once lost a vCPU's timer interrupts in the
        // guest tests; the tests wait on I/O, not on guest CPU, so this costs nothing.
        "tcg,thread=single",
        "-display",
        "none",
        "-nodefaults",
        "-no-user-config",
        "-no-reboot",
        "-serial",
        "stdio",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(["-m".into(), spec.memory_mb.to_string(), "-smp".into(), spec.smp.to_string()]);
    a.extend(["-monitor".into(), format!("unix:{},server=on,wait=off", monitor_socket(spec.socket_dir).display())]);
    a.extend(["-kernel".into(), spec.kernel.display().to_string()]);
    a.extend(["-initrd".into(), spec.initrd.display().to_string()]);
    a.extend(["-append".into(), kernel_append(spec)]);
    if spec.iommu == GuestIommu::Intel {
        a.extend(["-device".into(), "intel-iommu,intremap=on,caching-mode=on".into()]);
    }
    for nic in spec.nics {
        let sock = peer_socket(spec.socket_dir, &nic.netdev);
        // NICs on the default hub get one hub each, numbered after their slot.
        a.extend(nic.qemu_args(&sock.display().to_string(), 100 + u32::from(nic.slot)));
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::{assign_slots, NicModel};

    #[test]
    fn command_line_has_iommu_monitor_and_nics() {
        let mut nics = vec![Nic::new(NicModel::E1000, "n1"), Nic::new(NicModel::Igb, "n2").hub(7)];
        assign_slots(&mut nics).unwrap();
        let spec = QemuSpec {
            machine: Machine::Q35,
            iommu: GuestIommu::Intel,
            kernel: Path::new("/k"),
            initrd: Path::new("/i"),
            nics: &nics,
            socket_dir: Path::new("/run/x"),
            memory_mb: 1024,
            smp: 2,
            hugepages: 64,
            extra_append: "foo=1",
        };
        let a = qemu_args(&spec);
        let joined = a.join(" ");
        assert!(joined.contains("-M q35 -accel tcg"));
        assert!(joined.contains("-device intel-iommu,intremap=on,caching-mode=on"));
        assert!(joined.contains("-monitor unix:/run/x/monitor.sock,server=on,wait=off"));
        assert!(joined.contains("hubport,id=n1,hubid=103"));
        assert!(joined.contains("hubport,id=n2,hubid=7"));
        let append = &a[a.iter().position(|x| x == "-append").unwrap() + 1];
        assert_eq!(append, "console=ttyS0 quiet panic=-1 intel_iommu=on no_timer_check hugepages=64 foo=1");
        // The IOMMU must come before the NICs it translates for.
        let iommu = a.iter().position(|x| x.starts_with("intel-iommu")).unwrap();
        let nic = a.iter().position(|x| x.starts_with("e1000,")).unwrap();
        assert!(iommu < nic);

        let bare = QemuSpec { machine: Machine::Pc, iommu: GuestIommu::None, ..spec };
        let a = qemu_args(&bare);
        let joined = a.join(" ");
        assert!(joined.contains("-M pc -accel tcg"), "{joined}");
        assert!(!joined.contains("intel-iommu") && !joined.contains("intel_iommu"), "{joined}");
    }
}
