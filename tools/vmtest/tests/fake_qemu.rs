//! The guest lifecycle against a stand-in for QEMU (a shell script), so the
//! result parsing, the time limit and early death are tested on any host.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vmtest::{Assets, Error, Guest, GuestConfig, Nic, NicModel};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vmtest-fake-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fake_assets(dir: &Path) -> Assets {
    let f = |n: &str| {
        let p = dir.join(n);
        std::fs::write(&p, n).unwrap();
        p
    };
    Assets {
        kernel_package: "fake".into(),
        kernel: f("vmlinuz"),
        busybox: f("busybox"),
        vfio_modules: vec![f("vfio.ko")],
        net_modules: vec![],
    }
}

fn fake_qemu(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("qemu.sh");
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    p
}

fn config(dir: &Path, body: &str) -> GuestConfig {
    let mut cfg = GuestConfig::default()
        .nic(Nic::new(NicModel::E1000, "n1"))
        .command("first")
        .command("second")
        .timeout(Duration::from_secs(20));
    cfg.assets = Some(fake_assets(dir));
    cfg.qemu = fake_qemu(dir, body);
    cfg
}

#[test]
fn results_come_from_the_console_markers() {
    let dir = scratch("ok");
    let body = r#"printf 'noise\r\n@@VMTEST:READY@@\r\n@@VMTEST:BEGIN:0@@\r\none\r\n@@VMTEST:END:0:0@@\r\n'
printf '@@VMTEST:BEGIN:1@@\r\ntwo\r\n@@VMTEST:END:1:5@@\r\n@@VMTEST:DONE@@\r\n'"#;
    let out = vmtest::run(&config(&dir, body)).unwrap();
    assert_eq!(out.results.len(), 2);
    assert_eq!((out.results[0].output.as_str(), out.results[0].exit_code), ("one\n", Some(0)));
    assert_eq!((out.results[1].output.as_str(), out.results[1].exit_code), ("two\n", Some(5)));
    assert!(out.boot_time.is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn qemu_gets_the_initrd_and_nic_arguments() {
    let dir = scratch("args");
    // The stand-in prints its arguments and checks the initrd is gzip.
    let body = r#"for a in "$@"; do echo "ARG $a"; done
prev=; for a in "$@"; do [ "$prev" = -initrd ] && od -An -tx1 -N2 "$a" | sed 's/^/MAGIC/'; prev=$a; done
echo '@@VMTEST:DONE@@'"#;
    let out = vmtest::run(&config(&dir, body)).unwrap();
    assert!(out.log.contains("ARG e1000,netdev=n1,addr=0x3,romfile="), "{}", out.log);
    assert!(out.log.contains("ARG intel-iommu,intremap=on,caching-mode=on"), "{}", out.log);
    assert!(out.log.contains("MAGIC 1f 8b"), "initrd is gzip: {}", out.log);
    assert_eq!(out.results[0].exit_code, None, "no markers, no exit code");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_hung_guest_is_killed_at_the_time_limit() {
    let dir = scratch("hang");
    let cfg = config(&dir, "echo booting-forever; exec sleep 1000").timeout(Duration::from_secs(2));
    let t = Instant::now();
    let err = vmtest::run(&cfg).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(15), "killed promptly");
    match err {
        Error::Timeout { secs, tail } => {
            assert_eq!(secs, 2);
            assert!(tail.contains("booting-forever"), "{tail}");
        }
        other => panic!("expected a timeout, got {other}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_guest_that_dies_early_reports_its_last_lines() {
    let dir = scratch("died");
    let err = vmtest::run(&config(&dir, "echo 'Kernel panic - not syncing'; echo bad-option >&2; exit 1")).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::GuestDied { .. }), "{msg}");
    assert!(msg.contains("Kernel panic") && msg.contains("bad-option"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn console_waits_see_output_and_time_out() {
    let dir = scratch("wait");
    let guest = Guest::start(&config(&dir, "echo STEP-ONE; sleep 30")).unwrap();
    guest.wait_for_console("STEP-ONE", Duration::from_secs(10)).unwrap();
    let err = guest.wait_for_console("NEVER", Duration::from_millis(300)).unwrap_err();
    assert!(err.to_string().contains("STEP-ONE"), "{err}");
    let work = guest.work_dir().to_path_buf();
    assert!(work.join("initrd.gz").exists());
    drop(guest);
    assert!(!work.exists(), "work directory removed when the guest is dropped");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_qemu_says_how_to_install_it() {
    let dir = scratch("noqemu");
    let mut cfg = config(&dir, "true");
    cfg.qemu = PathBuf::from("/nonexistent/qemu-system-x86_64");
    let err = vmtest::run(&cfg).unwrap_err();
    assert!(err.to_string().contains("setup-host.sh"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
