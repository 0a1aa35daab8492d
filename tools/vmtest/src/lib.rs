//! vmtest: runs Bypass's NIC tests inside a QEMU (TCG) guest, since the host
//! has no VFIO. A Debian cloud kernel and an initramfs holding busybox, the
//! VFIO modules and static test binaries boot with emulated NICs behind a
//! virtual Intel IOMMU (or with no IOMMU at all and VFIO in its no-IOMMU mode,
//! [`GuestIommu::None`]); `/init` runs the test commands and reports each
//! exit code on the serial console.
//!
//! ```no_run
//! use vmtest::{GuestConfig, Nic, NicModel};
//! let cfg = GuestConfig::default()
//!     .nic(Nic::new(NicModel::E1000, "n1").mac("52:54:00:12:34:56"))
//!     .command("ls /sys/bus/pci/devices");
//! let outcome = vmtest::run(&cfg).unwrap();
//! assert!(outcome.results[0].success());
//! ```

pub mod apt;
pub mod assets;
pub mod cli;
pub mod console;
pub mod cpio;
pub mod elf;
pub mod error;
pub mod guest;
pub mod host_cmd;
pub mod init_script;
pub mod initramfs;
pub mod monitor;
pub mod nic;
pub mod noiommu_modules;
pub mod peer;
pub mod qemu;
pub mod serial;

pub use assets::{default_cache_dir, Assets, KernelFlavour};
pub use console::CommandResult;
pub use elf::find_static_bin;
pub use error::{Error, Result};
pub use guest::{run, Guest, GuestConfig, GuestOutcome};
pub use monitor::Monitor;
pub use nic::{Backend, Nic, NicModel};
pub use peer::Peer;
pub use qemu::{GuestIommu, Machine};
