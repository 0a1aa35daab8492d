//! VFIO no-IOMMU mode in guests without a virtual IOMMU (as most VMs are): no
//! `intel-iommu` device, vfio loaded with `enable_unsafe_noiommu_mode=1` (modules rebuilt
//! with `CONFIG_VFIO_NOIOMMU`, see `vmtest::noiommu_modules`), the NICs bound with devbind
//! into `/dev/vfio/noiommu-N` groups, and the EAL choosing IOVA = physical address itself.
//!
//! - q35: e1000, e1000e, igb, a default `virtio-net-pci` (transitional, driven through its
//!   modern interface without `VIRTIO_F_ACCESS_PLATFORM`) and a legacy virtio-net each move
//!   10,000 frames of 60-1514 bytes each way, byte-checked; `--iova-mode va` and a non-root
//!   start are refused with the fix; with `--no-huge`, e1000 moves frames with one-page
//!   rings, a secondary polls its queue and link events reach two secondaries, and what
//!   needs more than a page (igb's 1024-descriptor ring, virtio's rings) is refused with an
//!   error naming hugepages.
//! - pc (i440FX): `devbind --noiommu-mode` turns the mode on and binds e1000, e1000e, igb, a
//!   default and a legacy virtio-net, `--status` shows their groups' mode; each but the
//!   e1000 moves 10,000 frames each way; a secondary attaches and polls the e1000's queue
//!   (5,000 frames between them); link events reach the primary and the secondaries of the
//!   e1000 and the virtio-net.
//!
//! Builds nothing itself; build the guest binaries first (see `guest_e1000.rs`).

mod common;

use common::{
    assert_ok, base_config, exchange, exchange_paced, exchange_range, exchange_range_paced, lsc_script, lsc_script_mem,
    mac, mp_script, mp_script_mem, output, rates, toggle_link,
};
use std::time::Duration;
use vmtest::{Guest, GuestConfig, Machine, Nic, NicModel};

const MAC1: &str = "52:54:00:12:36:01";
const MAC2: &str = "52:54:00:12:36:02";
const MAC3: &str = "52:54:00:12:36:03";
const MAC_T: &str = "52:54:00:12:36:04";
const MAC_L: &str = "52:54:00:12:36:05";
/// The primary's memory flags of the runs on 4 KiB pages (one mbuf per page: more memory).
const NO_HUGE: &str = "-m 128 --no-huge";

fn config(programs: &[&str], timeout: Duration, machine: Machine) -> GuestConfig {
    let mut cfg = base_config(programs[0], timeout).without_iommu(machine);
    for p in &programs[1..] {
        cfg = cfg.binary(common::guest_bin(p));
    }
    cfg
}

/// Whether every group is a no-IOMMU one and the EAL said so.
fn assert_noiommu(out: &str) {
    assert!(out.contains("iova_pa=true"), "no-IOMMU mode must choose IOVA = PA:\n{out}");
    assert!(out.contains("VFIO no-IOMMU mode"), "the warning must be logged:\n{out}");
    assert_eq!(out.matches("VFIO no-IOMMU mode").count(), 1, "one warning:\n{out}");
}

#[test]
fn without_an_iommu_on_q35_every_nic_moves_10000_checked_frames_each_way() {
    let name = "without_an_iommu_on_q35_every_nic_moves_10000_checked_frames_each_way";
    if !common::qemu_available_or_skip(name) {
        return;
    }
    let user = "echo 'nobody:x:65534:65534::/tmp:/bin/sh' >> /etc/passwd; echo 'nogroup:x:65534:' >> /etc/group";
    let cfg = config(&["guest_e1000", "guest_igb", "guest_virtio"], Duration::from_secs(1200), Machine::Q35)
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC1).stream())
        .nic(Nic::new(NicModel::E1000e, "n2").mac(MAC2).stream())
        .nic(Nic::new(NicModel::Igb, "n3").mac(MAC3).stream())
        .nic(Nic::new(NicModel::VirtioTransitional, "t").mac(MAC_T).stream())
        .nic(Nic::new(NicModel::VirtioLegacy, "l").mac(MAC_L).stream())
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2 $VMTEST_NIC_n3 $VMTEST_NIC_t $VMTEST_NIC_l && ls /dev/vfio && cat /sys/kernel/iommu_groups/*/name")
        .command("guest_e1000 -l 0 -m 64 --file-prefix e1 -a $VMTEST_NIC_n1 -- rxtx 10000 e1000")
        .command("guest_e1000 -l 0 -m 64 --file-prefix e2 -a $VMTEST_NIC_n2 -- rxtx 10000 e1000e")
        .command("guest_igb -l 0 -m 64 --file-prefix ig -a $VMTEST_NIC_n3 -- rxtx 10000 igb")
        .command("guest_virtio -l 0 -m 64 --file-prefix vt -a $VMTEST_NIC_t -- rxtx 10000 transitional")
        .command("guest_virtio -l 0 -m 64 --file-prefix vl -a $VMTEST_NIC_l -- rxtx 10000 legacy")
        // 5: IOVA = VA cannot work without an IOMMU.
        .command("guest_e1000 -l 0 -m 64 --file-prefix va --iova-mode va -a $VMTEST_NIC_n1 -- noop")
        // 6: nor can a user without CAP_SYS_RAWIO and pagemap's frame numbers.
        .command(format!(
            "{user}; su nobody -s /bin/sh -c 'guest_e1000 -l 0 -m 64 --no-huge --file-prefix nr -a {} -- noop'",
            "$VMTEST_NIC_n1"
        ))
        // 7: --no-huge (4 KiB pages): one-page rings move frames; 8, 9: larger rings refused.
        .command("GUEST_RING=256 guest_e1000 -l 0 -m 128 --no-huge --file-prefix nh -a $VMTEST_NIC_n1 -- rxtx 2000 nohuge")
        .command("guest_igb -l 0 -m 128 --no-huge --file-prefix nhi -a $VMTEST_NIC_n3 -- rxtx 10 nohuge")
        .command("guest_virtio -l 0 -m 128 --no-huge --file-prefix nhv -a $VMTEST_NIC_t -- rxtx 10 nohuge")
        // 11, 12: a secondary and link events with --no-huge.
        .command(format!("export GUEST_RING=256; {}", mp_script_mem("guest_e1000", NO_HUGE, "600 400", "600")))
        .command(format!("export GUEST_RING=256; {}", lsc_script_mem("guest_e1000", NO_HUGE, "n1", 2)));
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut p1 = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let mut p2 = guest.peer("n2").unwrap_or_else(|e| panic!("{e}"));
    let mut p3 = guest.peer("n3").unwrap_or_else(|e| panic!("{e}"));
    let mut pt = guest.peer("t").unwrap_or_else(|e| panic!("{e}"));
    let mut pl = guest.peer("l").unwrap_or_else(|e| panic!("{e}"));
    exchange(&guest, &mut p1, "READY=rxtx-e1000 ", 10_000, mac(MAC1));
    exchange(&guest, &mut p2, "READY=rxtx-e1000e ", 10_000, mac(MAC2));
    exchange(&guest, &mut p3, "READY=rxtx-igb ", 10_000, mac(MAC3));
    exchange(&guest, &mut pt, "READY=rxtx-transitional ", 10_000, mac(MAC_T));
    exchange(&guest, &mut pl, "READY=rxtx-legacy ", 10_000, mac(MAC_L));
    exchange_paced(&guest, &mut p1, "READY=rxtx-nohuge ", 2000, mac(MAC1), 32);
    exchange_paced(&guest, &mut p1, "SECONDARY_READY=", 600, mac(MAC1), 32);
    common::wait_console(&guest, "SECONDARY_DONE=ok");
    common::wait_console(&guest, "PRIMARY_RESUMED=");
    exchange_range_paced(&mut p1, 600..1000, mac(MAC1), "primary after the secondary, --no-huge", 32);
    toggle_link(&guest, "n1", 2);
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);

    let bind = assert_ok(&o, 0, "no guest program");
    assert_eq!(bind.matches("noiommu-").count(), 5, "five no-IOMMU groups:\n{bind}");
    assert_eq!(bind.matches("vfio-noiommu").count(), 5, "{bind}");
    for (i, label, program) in [
        (1, "e1000", "guest_e1000"),
        (2, "e1000e", "guest_e1000"),
        (3, "igb", "guest_igb"),
        (4, "transitional", "guest_virtio"),
        (5, "legacy", "guest_virtio"),
    ] {
        let out = assert_ok(&o, i, program);
        assert!(out.contains(&format!("{program}: STATS_OK=")), "{out}");
        assert_noiommu(&out);
        eprintln!("RATES no-IOMMU {label}: {:?}", rates(&out));
    }
    assert!(o.results[4].output.contains("transport=transitional modern=1 iova_pa=true"), "{}", o.results[4].output);
    assert!(o.results[5].output.contains("transport=legacy modern=0 iova_pa=true"), "{}", o.results[5].output);

    let va = output(&o, 6);
    assert_eq!(va.exit_code, Some(2), "--iova-mode va must fail EAL init:\n{}", va.output);
    assert!(va.output.contains("--iova-mode va cannot work"), "{}", va.output);
    assert!(va.output.contains("no-IOMMU group") && va.output.contains("drop --iova-mode va"), "{}", va.output);

    let nr = output(&o, 7);
    assert_eq!(nr.exit_code, Some(2), "a non-root start must fail EAL init:\n{}", nr.output);
    assert!(nr.output.contains("needs root") && nr.output.contains("run as root"), "{}", nr.output);

    let nh = assert_ok(&o, 8, "guest_e1000");
    assert!(nh.contains("guest_e1000: STATS_OK="), "{nh}");
    assert_noiommu(&nh);
    eprintln!("RATES no-IOMMU e1000 --no-huge: {:?}", rates(&nh));
    for i in [9, 10] {
        let r = output(&o, i);
        assert_eq!(r.exit_code, Some(1), "a ring longer than a page must be refused:\n{}", r.output);
        assert!(r.output.contains("more than one 4096-byte page"), "{}", r.output);
        assert!(r.output.contains("use hugepages (drop --no-huge"), "{}", r.output);
    }
    assert!(o.results[9].output.contains("at most 256 descriptors"), "{}", o.results[9].output);
    let mp = output(&o, 11);
    assert_eq!(mp.exit_code, Some(0), "{}", mp.output);
    assert!(mp.output.contains("killed: ok"), "{}", mp.output);
    let lsc = output(&o, 12);
    assert_eq!(lsc.exit_code, Some(0), "{}", lsc.output);
    assert_eq!(lsc.output.matches("guest_e1000: LSC_OK=").count(), 3, "{}", lsc.output);
}

#[test]
fn without_an_iommu_on_pc_a_secondary_polls_and_link_events_reach_every_process() {
    let name = "without_an_iommu_on_pc_a_secondary_polls_and_link_events_reach_every_process";
    if !common::qemu_available_or_skip(name) {
        return;
    }
    let cfg = config(&["guest_e1000", "guest_virtio", "guest_igb"], Duration::from_secs(900), Machine::Pc)
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC1).stream())
        .nic(Nic::new(NicModel::VirtioTransitional, "t").mac(MAC_T).stream())
        .nic(Nic::new(NicModel::E1000e, "n2").mac(MAC2).stream())
        .nic(Nic::new(NicModel::Igb, "n3").mac(MAC3).stream())
        .nic(Nic::new(NicModel::VirtioLegacy, "l").mac(MAC_L).stream())
        // devbind turns the mode on itself (it is off until then here).
        .command(
            "echo N > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode && \
             devbind --noiommu-mode --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_t $VMTEST_NIC_n2 $VMTEST_NIC_n3 \
             $VMTEST_NIC_l && devbind --status && ls /dev/vfio",
        )
        .command("guest_virtio -l 0 -m 64 --file-prefix vt -a $VMTEST_NIC_t -- rxtx 10000 transitional")
        .command(mp_script("guest_e1000", "3000 2000", "3000"))
        .command(lsc_script("guest_e1000", "n1", 2))
        .command(lsc_script("guest_virtio", "t", 1))
        .command("guest_e1000 -l 0 -m 64 --file-prefix e2 -a $VMTEST_NIC_n2 -- rxtx 10000 e1000e")
        .command("guest_igb -l 0 -m 64 --file-prefix ig -a $VMTEST_NIC_n3 -- rxtx 10000 igb")
        .command("guest_virtio -l 0 -m 64 --file-prefix vl -a $VMTEST_NIC_l -- rxtx 10000 legacy");
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut p1 = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let mut pt = guest.peer("t").unwrap_or_else(|e| panic!("{e}"));
    let mut p2 = guest.peer("n2").unwrap_or_else(|e| panic!("{e}"));
    let mut p3 = guest.peer("n3").unwrap_or_else(|e| panic!("{e}"));
    let mut pl = guest.peer("l").unwrap_or_else(|e| panic!("{e}"));
    exchange(&guest, &mut pt, "READY=rxtx-transitional ", 10_000, mac(MAC_T));
    exchange(&guest, &mut p1, "SECONDARY_READY=", 3000, mac(MAC1));
    common::wait_console(&guest, "SECONDARY_DONE=ok");
    common::wait_console(&guest, "PRIMARY_RESUMED=");
    exchange_range(&mut p1, 3000..5000, mac(MAC1), "primary after the secondary");
    toggle_link(&guest, "n1", 2);
    toggle_link(&guest, "t", 1);
    exchange(&guest, &mut p2, "READY=rxtx-e1000e ", 10_000, mac(MAC2));
    exchange(&guest, &mut p3, "READY=rxtx-igb ", 10_000, mac(MAC3));
    exchange(&guest, &mut pl, "READY=rxtx-legacy ", 10_000, mac(MAC_L));
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    let bind = assert_ok(&o, 0, "no guest program");
    assert!(bind.contains("enabling VFIO's unsafe no-IOMMU mode"), "{bind}");
    assert_eq!(bind.matches("mode=noiommu").count(), 5, "--status shows each group's mode:\n{bind}");
    assert_eq!(bind.matches("noiommu-").count(), 5, "{bind}");
    for (i, label, program) in [
        (1, "transitional", "guest_virtio"),
        (5, "e1000e", "guest_e1000"),
        (6, "igb", "guest_igb"),
        (7, "legacy", "guest_virtio"),
    ] {
        let out = assert_ok(&o, i, program);
        assert!(out.contains(&format!("{program}: STATS_OK=")), "{out}");
        assert_noiommu(&out);
        eprintln!("RATES no-IOMMU pc {label}: {:?}", rates(&out));
    }
    let mp = output(&o, 2);
    assert_eq!(mp.exit_code, Some(0), "{}", mp.output);
    assert!(mp.output.contains("killed: ok"), "{}", mp.output);
    let lsc_e = output(&o, 3);
    assert_eq!(lsc_e.exit_code, Some(0), "{}", lsc_e.output);
    assert_eq!(lsc_e.output.matches("guest_e1000: LSC_OK=").count(), 3, "{}", lsc_e.output);
    let lsc_v = output(&o, 4);
    assert_eq!(lsc_v.exit_code, Some(0), "{}", lsc_v.output);
    assert_eq!(lsc_v.output.matches("guest_virtio: LSC_OK=").count(), 2, "{}", lsc_v.output);
}
