//! Fake sysfs trees for tests: plain files and symlinks laid out as the kernel lays out
//! `/sys/bus/pci`, and a [`FakeKernel`] thread that acts on writes to `drivers_probe`,
//! `bind` and `unbind` the way the kernel does, so bind/unbind can be tested end to end
//! without root or hardware. Used by this module's tests and by devbind's.

mod kernel;
mod tempdir;
mod tree;

pub use kernel::FakeKernel;
pub use tempdir::TempDir;
pub use tree::{FakeDevice, FakeSysfs};
