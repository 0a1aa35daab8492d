//! The e1000 PMD (`net_e1000_em`) and the EAL's PCI bus in the QEMU guest, against the
//! `e1000` (82540EM, INTx) and `e1000e` (82574L, MSI-X) models: 10,000 frames each way
//! between a host peer and the port with every byte checked, the counters, IOVA-as-PA,
//! the allow-list error for an unbound NIC, forwarding between two ports on one hub, a
//! secondary polling the primary's queue and being killed, and link events in a primary
//! and two secondaries. Builds nothing itself; build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p tests --bin guest_e1000
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

use common::{
    assert_ok, base_config, exchange, exchange_range, lsc_script, mac, mp_script, output, rates, toggle_link,
};
use std::time::Duration;
use vmtest::{Guest, GuestConfig, Nic, NicModel};

const MAC1: &str = "52:54:00:12:34:56";
const MAC2: &str = "52:54:00:12:34:57";
const PROGRAM: &str = "guest_e1000";

fn config() -> GuestConfig {
    base_config(PROGRAM, Duration::from_secs(400))
}

#[test]
fn e1000_and_e1000e_move_10000_checked_frames_each_way_and_count_them() {
    if !common::qemu_available_or_skip("e1000_and_e1000e_move_10000_checked_frames_each_way_and_count_them") {
        return;
    }
    let cfg = config()
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC1).stream())
        .nic(Nic::new(NicModel::E1000e, "n2").mac(MAC2).stream())
        .nic(Nic::new(NicModel::E1000, "n3"))
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command("guest_e1000 -l 0 -m 64 --file-prefix nb -a $VMTEST_NIC_n3 -- noop")
        .command("guest_e1000 -l 0 -m 64 --file-prefix e1 -a $VMTEST_NIC_n1 -- rxtx 10000 e1000")
        .command("guest_e1000 -l 0 -m 64 --file-prefix e2 -a $VMTEST_NIC_n2 -- rxtx 10000 e1000e")
        .command("guest_e1000 -l 0 -m 64 --file-prefix pa --iova-mode pa -a $VMTEST_NIC_n1 -- rxtx 2000 pa");
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut p1 = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let mut p2 = guest.peer("n2").unwrap_or_else(|e| panic!("{e}"));
    exchange(&guest, &mut p1, "READY=rxtx-e1000 0000:00:03.0", 10_000, mac(MAC1));
    exchange(&guest, &mut p2, "READY=rxtx-e1000e 0000:00:04.0", 10_000, mac(MAC2));
    exchange(&guest, &mut p1, "READY=rxtx-pa 0000:00:03.0", 2000, mac(MAC1));
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);

    assert_ok(&o, 0, PROGRAM);
    let nb = output(&o, 1);
    assert_eq!(nb.exit_code, Some(2), "an unbound NIC on the allow list must fail EAL init:\n{}", nb.output);
    assert!(nb.output.contains("bind it with `tools/devbind --bind vfio-pci 0000:00:05.0`"), "{}", nb.output);
    for (i, model) in [(2, "e1000"), (3, "e1000e"), (4, "e1000 iova=pa")] {
        let out = assert_ok(&o, i, PROGRAM);
        assert!(out.contains("guest_e1000: STATS_OK="), "{out}");
        assert!(
            out.contains("guest_e1000: tx_chained=") && !out.contains("guest_e1000: tx_chained=0\n"),
            "every third frame must have gone out as a chain of mbufs: {out}"
        );
        eprintln!("RATES {model}: {:?}", rates(&out));
    }
    let pa = &o.results[4].output;
    assert!(pa.contains("iova_pa=true"), "{pa}");
}

#[test]
fn two_e1000_ports_on_one_hub_forward_through_a_bypass_program() {
    if !common::qemu_available_or_skip("two_e1000_ports_on_one_hub_forward_through_a_bypass_program") {
        return;
    }
    // The same with a pair of e1000e on a second hub, for the model's rate.
    let cfg = config()
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC1).hub(1))
        .nic(Nic::new(NicModel::E1000, "n2").mac(MAC2).hub(1))
        .nic(Nic::new(NicModel::E1000e, "n3").mac("52:54:00:12:34:58").hub(2))
        .nic(Nic::new(NicModel::E1000e, "n4").mac("52:54:00:12:34:59").hub(2))
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2 $VMTEST_NIC_n3 $VMTEST_NIC_n4")
        .command("guest_e1000 -l 0 -m 64 --file-prefix fw -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- fwd 10000")
        .command("guest_e1000 -l 0 -m 64 --file-prefix fw2 -a $VMTEST_NIC_n3 -a $VMTEST_NIC_n4 -- fwd 10000");
    let o = vmtest::run(&cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_ok(&o, 0, PROGRAM);
    for (i, model) in [(1, "e1000"), (2, "e1000e")] {
        let out = assert_ok(&o, i, PROGRAM);
        assert!(out.contains("guest_e1000: fwd_0to1=round_trips=10000"), "{out}");
        assert!(out.contains("guest_e1000: fwd_1to0=round_trips=10000"), "{out}");
        eprintln!("RATES hub forwarding {model}: {:?}", rates(&out));
    }
}

#[test]
fn a_secondary_polls_the_primarys_queue_and_every_process_sees_link_events() {
    if !common::qemu_available_or_skip("a_secondary_polls_the_primarys_queue_and_every_process_sees_link_events") {
        return;
    }
    let cfg = config()
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC1).stream())
        .nic(Nic::new(NicModel::E1000e, "n2").mac(MAC2))
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(mp_script(PROGRAM, "3000 2000", "3000"))
        .command(lsc_script(PROGRAM, "n1", 2))
        .command(lsc_script(PROGRAM, "n2", 2));
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut p1 = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    exchange(&guest, &mut p1, "SECONDARY_READY=0000:00:03.0", 3000, mac(MAC1));
    common::wait_console(&guest, "SECONDARY_DONE=ok");
    // After the secondary is killed, the primary moves frames 3000.. itself.
    common::wait_console(&guest, "PRIMARY_RESUMED=");
    exchange_range(&mut p1, 3000..5000, mac(MAC1), "primary after the secondary");
    toggle_link(&guest, "n1", 2);
    toggle_link(&guest, "n2", 2);
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_ok(&o, 0, PROGRAM);
    let mp = output(&o, 1);
    assert_eq!(mp.exit_code, Some(0), "{}", mp.output);
    assert!(mp.output.contains("killed: ok"), "{}", mp.output);
    eprintln!("RATES multi-process: {:?}", rates(&mp.output));
    for i in [2, 3] {
        let r = output(&o, i);
        assert_eq!(r.exit_code, Some(0), "{}", r.output);
        assert_eq!(r.output.matches("guest_e1000: LSC_OK=").count(), 3, "{}", r.output);
    }
}
