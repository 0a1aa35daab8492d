//! Boots one guest with an e1000, an e1000e and a legacy virtio-net and runs
//! the static `vfio_probe` on each, checking what it found through the EAL's
//! VFIO layer. Builds nothing itself: build the probe first with
//! `RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p vmtest --bin vfio_probe`.

mod common;

use std::time::Duration;
use vmtest::{find_static_bin, CommandResult, Guest, GuestConfig, Nic, NicModel};

const MAC: &str = "52:54:00:12:34:56";
const MAC_E1000E: &str = "52:54:00:12:34:57";
const MAC_VIRTIO: &str = "52:54:00:12:34:58";
const PROBE_ETHERTYPE: [u8; 2] = [0x88, 0xb5];
const PROBE_PAYLOAD: &[u8] = b"bypass vfio_probe frame";

fn value<'a>(output: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("vfio_probe: {key}=");
    output.lines().find_map(|l| l.strip_prefix(prefix.as_str()))
}

/// Checks what every mode of the probe prints about the common setup.
fn common_setup(r: &CommandResult, ids: &str) -> String {
    let out = r.output.clone();
    assert_eq!(r.exit_code, Some(0), "`{}` failed:\n{out}", r.command);
    assert!(out.trim_end().ends_with("vfio_probe: OK"), "{out}");
    assert_eq!(value(&out, "driver_after"), Some("vfio-pci"), "bound to vfio-pci:\n{out}");
    assert_eq!(value(&out, "api_version"), Some("0"), "VFIO API version:\n{out}");
    assert_eq!(value(&out, "type1v2"), Some("true"), "{out}");
    assert_eq!(value(&out, "group_viable"), Some("true"), "{out}");
    assert_eq!(value(&out, "iova_pgsizes"), Some("0x40201000"), "intel-iommu page sizes:\n{out}");
    assert_eq!(value(&out, "pci_ids"), Some(ids), "{out}");
    assert!(value(&out, "command").is_some_and(|v| v.ends_with("bus_master=true")), "{out}");
    assert_eq!(value(&out, "dma_unmap"), Some("0x200000"), "{out}");
    out
}

#[test]
fn vfio_probe_drives_e1000_e1000e_and_legacy_virtio_in_the_guest() {
    if !common::qemu_available_or_skip("vfio_probe_drives_e1000_e1000e_and_legacy_virtio_in_the_guest") {
        return;
    }
    let probe = find_static_bin("vfio_probe").unwrap_or_else(|e| panic!("{e}"));
    let cfg = GuestConfig::default()
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC).stream())
        .nic(Nic::new(NicModel::E1000e, "n2").mac(MAC_E1000E))
        .nic(Nic::new(NicModel::VirtioLegacy, "n3").mac(MAC_VIRTIO))
        .binary(probe)
        .command("vfio_probe e1000 $VMTEST_NIC_n1")
        .command("vfio_probe e1000e $VMTEST_NIC_n2")
        .command("vfio_probe virtio-legacy $VMTEST_NIC_n3")
        .timeout(Duration::from_secs(240));
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    // Connect before the guest boots so the frame the probe sends reaches us.
    let mut peer = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let outcome = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.setup_failures.is_empty(), "guest setup failed: {:?}", outcome.setup_failures);
    eprintln!("guest ready after {:?}, powered off after {:?}", outcome.boot_time, outcome.total_time);

    // e1000: mapped BAR0, MAC, link, DMA through the IOMMU, INTx.
    let out = common_setup(&outcome.results[0], "8086:100e");
    assert!(value(&out, "bar0").is_some_and(|v| v.contains("size=0x20000") && v.ends_with("mmap=true")), "{out}");
    assert!(value(&out, "bar1_map").is_some_and(|v| v.contains("I/O-port BAR")), "{out}");
    assert!(value(&out, "status").is_some_and(|v| v.ends_with("link_up=1")), "STATUS link-up bit:\n{out}");
    assert_eq!(value(&out, "mac"), Some(MAC), "MAC from RAL0/RAH0:\n{out}");
    assert_eq!(value(&out, "mac_valid"), Some("1"), "{out}");
    assert!(value(&out, "tx_dd").is_some_and(|v| v.starts_with('1')), "TX DMA write-back:\n{out}");
    assert!(value(&out, "intx_fired").is_some_and(|v| v.starts_with("count=")), "INTx:\n{out}");

    // The frame the e1000 sent by DMA from the hugepage reached the host peer.
    let frame = peer
        .recv_matching(Duration::from_secs(5), |f| f.len() >= 14 && f[12..14] == PROBE_ETHERTYPE)
        .unwrap_or_else(|e| panic!("peer: {e}"))
        .unwrap_or_else(|| panic!("no probe frame reached the host peer"));
    let src: Vec<String> = frame[6..12].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(src.join(":"), MAC, "source MAC of the probe frame");
    assert_eq!(&frame[14..14 + PROBE_PAYLOAD.len()], PROBE_PAYLOAD);

    // e1000e: MSI-X (5 vectors) and MSI eventfds fire; reset works.
    let out = common_setup(&outcome.results[1], "8086:10d3");
    assert!(value(&out, "msix_info").is_some_and(|v| v.starts_with("count=5 ")), "{out}");
    assert!(value(&out, "msix_vector0").is_some_and(|v| v.starts_with("fired")), "MSI-X:\n{out}");
    assert!(value(&out, "msi").is_some_and(|v| v.starts_with("fired")), "MSI:\n{out}");
    assert_eq!(value(&out, "reset"), Some("ok"), "{out}");

    // Legacy virtio: I/O-port BAR0 through pread/pwrite.
    let out = common_setup(&outcome.results[2], "1af4:1000");
    assert_eq!(value(&out, "driver_before"), Some("virtio-pci"), "unbound from virtio-pci:\n{out}");
    assert!(value(&out, "bar0_map").is_some_and(|v| v.contains("I/O-port BAR")), "{out}");
    assert!(value(&out, "host_features").is_some_and(|v| v.ends_with("f_mac=1")), "{out}");
    assert_eq!(value(&out, "mac"), Some(MAC_VIRTIO), "MAC from the I/O BAR:\n{out}");
    assert_eq!(value(&out, "status_rw"), Some("wrote=1 read=1 after_reset=0"), "{out}");
}
