//! Shared by the guest tests: the QEMU presence rule.

/// True if the guest tests can run. If QEMU is missing they fail, unless
/// `VMTEST_SKIP=1` is set, so CI cannot pass without running them.
pub fn qemu_available_or_skip(test: &str) -> bool {
    let qemu = vmtest::qemu::qemu_binary();
    let found =
        std::process::Command::new(&qemu).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if found {
        return true;
    }
    if std::env::var("VMTEST_SKIP").as_deref() == Ok("1") {
        eprintln!("SKIPPED {test}: {} not found and VMTEST_SKIP=1", qemu.display());
        return false;
    }
    panic!(
        "{test}: {} not found; install it with tools/vmtest/setup-host.sh, or set VMTEST_SKIP=1 to skip the guest tests",
        qemu.display()
    );
}
