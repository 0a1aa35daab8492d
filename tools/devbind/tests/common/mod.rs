//! Fake sysfs/proc trees and a runner for the real devbind binary.
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use eal::pci::fake::{FakeDevice, FakeSysfs};

/// Route table with a default route and a subnet route through eth0.
pub const ROUTE_ETH0: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0202000A\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0002000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
";

/// IPv6 routes: only link-local and multicast on eth1, which do not make it active.
pub const ROUTE6_ETH1_LINK_LOCAL: &str = "\
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
";

/// A fake /sys and /proc side by side.
pub struct Fixture {
    pub sys: FakeSysfs,
    pub proc_root: PathBuf,
}

impl Fixture {
    /// Empty trees with the given route tables.
    pub fn new(route: &str, route6: &str) -> Fixture {
        let sys = FakeSysfs::new().unwrap();
        let proc_root = sys.base().join("proc");
        fs::create_dir_all(proc_root.join("net")).unwrap();
        fs::write(proc_root.join("net/route"), route).unwrap();
        fs::write(proc_root.join("net/ipv6_route"), route6).unwrap();
        Fixture { sys, proc_root }
    }

    /// The machine most tests use, with vfio-pci loaded:
    /// - 00:03.0 82540EM on e1000, eth0 (active: default route), group 5
    /// - 00:04.0 82574L unbound, group 6
    /// - 00:05.0 virtio-net modern on vfio-pci, group 7
    /// - 00:06.0 82576 on igb, eth1 (only link-local IPv6), group 8
    /// - 00:1f.2 SATA controller on ahci (not a network device)
    pub fn qemu() -> Fixture {
        let fx = Fixture::new(ROUTE_ETH0, ROUTE6_ETH1_LINK_LOCAL);
        let s = &fx.sys;
        s.add_driver("vfio-pci").unwrap();
        s.add_device(&FakeDevice::new("0000:00:03.0", 0x8086, 0x100e).driver("e1000").iommu_group(5).interface("eth0"))
            .unwrap();
        s.add_device(&FakeDevice::new("0000:00:04.0", 0x8086, 0x10d3).iommu_group(6)).unwrap();
        s.add_device(&FakeDevice::new("0000:00:05.0", 0x1af4, 0x1041).driver("vfio-pci").iommu_group(7)).unwrap();
        s.add_device(&FakeDevice::new("0000:00:06.0", 0x8086, 0x10c9).driver("igb").iommu_group(8).interface("eth1"))
            .unwrap();
        s.add_device(&FakeDevice::new("0000:00:1f.2", 0x8086, 0x2922).class(0x010601).driver("ahci")).unwrap();
        fx
    }

    /// Runs devbind with `args`, pointing it at the fake trees by flags.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_devbind"));
        cmd.arg("--sysfs-root")
            .arg(self.sys.root())
            .arg("--proc-root")
            .arg(&self.proc_root)
            .args(args)
            .env_remove("BYPASS_SYSFS_ROOT")
            .env_remove("BYPASS_PROC_ROOT")
            .env_remove("RUST_LOG");
        Run::from(cmd.output().unwrap())
    }

    /// Runs devbind with `args`, pointing it at the fake trees by environment variables.
    pub fn run_env(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_devbind"))
            .args(args)
            .env("BYPASS_SYSFS_ROOT", self.sys.root())
            .env("BYPASS_PROC_ROOT", &self.proc_root)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        Run::from(out)
    }

    /// The driver `addr` is bound to now.
    pub fn driver_of(&self, addr: &str) -> Option<String> {
        self.sys.sysfs().current_driver(addr.parse().unwrap()).unwrap()
    }
}

/// Runs devbind with no roots set at all.
pub fn run_bare(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_devbind"))
        .args(args)
        .env_remove("BYPASS_SYSFS_ROOT")
        .env_remove("BYPASS_PROC_ROOT")
        .output()
        .unwrap();
    Run::from(out)
}

/// A finished run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}
