//! The EAL's PCI bus on the host (no VFIO here): a device on the allow list that does not
//! exist fails `Eal::init` with a message naming the fix, leaves nothing behind for the
//! next primary, and a group without PCI devices needs no VFIO at all.

use std::time::Duration;
use tests::{prefix, runtime_dir, Proc};

const W: &str = env!("CARGO_BIN_EXE_eal_worker");
const T: Duration = Duration::from_secs(30);

fn worker(p: &str, extra: &[&str], app: &[&str]) -> Proc {
    let mut a = vec!["--file-prefix", p, "--lcores", "0@0", "-m", "16", "--no-huge"];
    a.extend_from_slice(extra);
    a.push("--");
    a.extend_from_slice(app);
    Proc::spawn(W, &a)
}

#[test]
fn allowed_device_that_does_not_exist_fails_init_cleanly() {
    let p = prefix("pci_allow_missing");
    let (code, out) = worker(&p, &["-a", "0000:1f:1f.7"], &["hold"]).finish(T);
    assert_eq!(code, Some(2), "{out:?}");
    let err = out.iter().find(|l| l.starts_with("ERROR:")).unwrap_or_else(|| panic!("no error line: {out:?}"));
    assert!(err.contains("PCI device 0000:1f:1f.7 is on the allow list (-a) but does not exist"), "{err}");
    assert!(err.contains("devbind --status"), "{err}");
    // The next primary of the prefix starts without finding a crashed predecessor.
    let mut pri = worker(&p, &[], &["hold"]);
    pri.expect("READY", T);
    pri.close_stdin();
    let (code, out) = pri.finish(T);
    assert_eq!(code, Some(0), "{out:?}");
    assert!(!out.iter().any(|l| l.contains("did not exit cleanly")), "{out:?}");
    assert!(!runtime_dir(&p).exists());
}

#[test]
fn bad_allow_and_block_arguments_are_refused() {
    let p = prefix("pci_bad_args");
    let (code, out) = worker(&p, &["-b", "00:03"], &["hold"]).finish(T);
    assert_eq!(code, Some(2), "{out:?}");
    assert!(out.iter().any(|l| l.contains("invalid PCI address")), "{out:?}");
}

#[test]
fn without_pci_devices_secondaries_attach_without_vfio() {
    let p = prefix("pci_none");
    let mut pri = worker(&p, &["--no-pci"], &["hold"]);
    pri.expect("READY", T);
    let a = ["--file-prefix", p.as_str(), "--lcores", "1@0", "--proc-type", "secondary", "--", "attach"];
    let (code, out) = Proc::spawn(W, &a).finish(T);
    assert_eq!(code, Some(0), "{out:?}");
    assert!(out.iter().any(|l| l.starts_with("ATTACHED")), "{out:?}");
    pri.close_stdin();
    assert_eq!(pri.finish(T).0, Some(0));
}
