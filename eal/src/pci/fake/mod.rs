//! Fake sysfs trees for tests: plain files and symlinks laid out as the kernel lays out
//! `/sys/bus/pci`, and a [`FakeKernel`] thread that acts on writes to `drivers_probe`,
//! `bind` and `unbind` the way the kernel does, so bind/unbind can be tested end to end
//! without root or hardware. Used by this module's tests and by devbind's.

mod kernel;
mod tree;

pub use kernel::FakeKernel;
pub use tempfile::TempDir;

/// A fresh empty directory under the system temp dir whose name starts with `prefix`,
/// removed with its contents when the returned [`TempDir`] drops.
pub fn temp_dir(prefix: &str) -> std::io::Result<TempDir> {
    tempfile::Builder::new().prefix(&format!("{prefix}-")).tempdir()
}
pub use tree::{FakeDevice, FakeSysfs};
