//! devbind's command line: help, usage errors and their exit codes.

mod common;

use common::{run_bare, Fixture};

#[test]
fn help_documents_exit_codes() {
    let r = run_bare(&["--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        "--status",
        "--bind DRIVER",
        "--unbind",
        "--force",
        "--sysfs-root",
        "--proc-root",
        "BYPASS_SYSFS_ROOT",
        "0  success",
        "1  usage error",
        "2  a device was not found",
        "3  a device was left alone",
        "4  a bind or unbind failed",
    ] {
        assert!(r.stdout.contains(line), "help lacks {line:?}\n{r:?}");
    }
}

#[test]
fn bad_usage_exits_1_with_a_hint() {
    for args in [&[][..], &["--frobnicate"], &["-b", "vfio-pci"], &["-b"], &["-u", "-b", "vfio-pci", "eth0"], &["eth0"]]
    {
        let r = run_bare(args);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(r.stderr.contains("devbind --help"), "{r:?}");
        assert!(r.stdout.is_empty(), "{r:?}");
    }
}

#[test]
fn missing_sysfs_exits_4_and_says_so() {
    let fx = Fixture::qemu();
    let r = fx.run(&["-s", "--sysfs-root", "/nonexistent-bypass-sysfs"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("/nonexistent-bypass-sysfs/bus/pci/devices"), "{r:?}");
}

#[test]
fn unreadable_routes_refuse_changes_without_force() {
    let fx = Fixture::qemu();
    std::fs::remove_file(fx.proc_root.join("net/route")).unwrap();
    let r = fx.run(&["-u", "00:05.0"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("net/route"), "{r:?}");
    assert_eq!(fx.driver_of("00:05.0").as_deref(), Some("vfio-pci"));
}
