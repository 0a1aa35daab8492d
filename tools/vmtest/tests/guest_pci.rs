//! The PCI/VFIO "done when" checks of the EAL's bus in ONE guest boot with an e1000, an
//! e1000e, an igb and a modern virtio-net (`iommu_platform=on`): `devbind --status` and
//! `--bind vfio-pci` (the virtio NIC starts on virtio-pci), an allow-list and a block-list
//! primary, a secondary re-mapping the BARs with the fds it got over IPC, the "no primary"
//! error, a secondary with another allow list, the virtio common config, and the virtio
//! config-change interrupt (MSI-X) across a link flap driven from the QEMU monitor.
//! Builds nothing itself; build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p tests --bin guest_pci
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

use common::base_config;
use std::time::{Duration, Instant};
use vmtest::{Guest, Nic, NicModel};

const CONSOLE_WAIT: Duration = Duration::from_secs(90);

/// The checks the guest program must print as `CHECK <name> ok`.
const CHECKS: &[&str] = &[
    "devbind_status",
    "devbind_bind_e1000",
    "devbind_bind_e1000e",
    "devbind_bind_igb",
    "devbind_bind_virtio",
    "secondary_no_primary",
    "primary_allow_list",
    "e1000_status_bar0",
    "secondary_bar_status",
    "secondary_other_allow_list",
    "primary_block_list",
    "virtio_common_cfg",
    "virtio_config_irq",
];

/// Flips the virtio link off then on when the guest says it is ready for each step.
fn flap_virtio_link(guest: &Guest) -> Result<(), String> {
    guest.wait_for_console("VIRTIO_LSC_READY", CONSOLE_WAIT).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let mut mon = guest.monitor().map_err(|e| e.to_string())?;
    mon.set_link("n4", false).map_err(|e| e.to_string())?;
    eprintln!("host: set_link n4 off {:?} after VIRTIO_LSC_READY", t0.elapsed());
    guest.wait_for_console("VIRTIO_LINK_DOWN_SEEN", CONSOLE_WAIT).map_err(|e| e.to_string())?;
    let t1 = Instant::now();
    mon.set_link("n4", true).map_err(|e| e.to_string())?;
    eprintln!("host: set_link n4 on {:?} after VIRTIO_LINK_DOWN_SEEN", t1.elapsed());
    Ok(())
}

#[test]
fn pci_bus_devbind_allow_block_secondary_and_virtio_config_irq_in_one_boot() {
    if !common::qemu_available_or_skip("pci_bus_devbind_allow_block_secondary_and_virtio_config_irq_in_one_boot") {
        return;
    }
    let cfg = base_config("guest_pci", Duration::from_secs(150))
        .nic(Nic::new(NicModel::E1000, "n1"))
        .nic(Nic::new(NicModel::E1000e, "n2"))
        .nic(Nic::new(NicModel::Igb, "n3"))
        .nic(Nic::new(NicModel::VirtioModern, "n4"))
        .command("guest_pci run $VMTEST_NIC_n1 $VMTEST_NIC_n2 $VMTEST_NIC_n3 $VMTEST_NIC_n4");
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let flap = flap_virtio_link(&guest);
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    let r = &o.results[0];
    eprintln!("--- {} (exit {:?})\n{}", r.command, r.exit_code, r.output);
    eprintln!("guest ready after {:?}, powered off after {:?}", o.boot_time, o.total_time);
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    if let Err(e) = &flap {
        panic!("link flap from the host: {e}\n{}", r.output);
    }
    let failed: Vec<&str> = r.output.lines().filter(|l| l.starts_with("CHECK ") && l.contains(" FAILED")).collect();
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
    for c in CHECKS {
        let prefix = format!("CHECK {c} ok");
        assert!(r.output.lines().any(|l| l.starts_with(&prefix)), "no `{prefix}` line:\n{}", r.output);
    }
    assert!(r.output.contains("guest_pci: result=OK"), "{}", r.output);
    assert_eq!(r.exit_code, Some(0), "{}", r.output);
    assert!(o.total_time < Duration::from_secs(120), "took {:?}", o.total_time);
}
