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

#[allow(dead_code)] // the guest program uses the rest
#[path = "../../../tests/src/bin/guest_e1000/frames.rs"]
mod frames;

use std::path::PathBuf;
use std::time::{Duration, Instant};
use vmtest::{find_static_bin, CommandResult, Guest, GuestConfig, GuestOutcome, Nic, NicModel, Peer};

const MAC1: &str = "52:54:00:12:34:56";
const MAC2: &str = "52:54:00:12:34:57";
const TAG_H2G: u8 = 0x11;
const TAG_G2H: u8 = 0x22;
const CONSOLE_WAIT: Duration = Duration::from_secs(120);

/// A static guest binary: the release build if there is one, else the debug build.
fn guest_bin(name: &str) -> PathBuf {
    for d in vmtest::elf::candidate_dirs() {
        if let Some(r) = d.parent().map(|p| p.join("release").join(name)).filter(|p| p.is_file()) {
            return r;
        }
    }
    find_static_bin(name).unwrap_or_else(|e| panic!("{e}"))
}

fn base_config() -> GuestConfig {
    // vmtest boots with no_timer_check: on a loaded host TCG can miss the kernel's IO-APIC
    // timer check, which panics the boot.
    GuestConfig::default()
        .binary(guest_bin("guest_e1000"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(400))
}

fn mac(s: &str) -> [u8; 6] {
    frames::parse_mac(s).expect("valid MAC")
}

/// Waits for the guest to be ready for run `label`, then sends `n` frames to the port
/// and receives and checks the `n` frames it sends back.
fn exchange(guest: &Guest, peer: &mut Peer, ready: &str, n: u32, port_mac: [u8; 6]) {
    guest.wait_for_console(ready, CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    let t0 = Instant::now();
    for seq in 0..n {
        peer.send(&frames::build(seq, TAG_H2G, port_mac, frames::HOST_MAC)).unwrap_or_else(|e| panic!("{e}"));
    }
    let sent = t0.elapsed();
    let t1 = Instant::now();
    for seq in 0..n {
        let f = peer
            .recv_matching(Duration::from_secs(60), |f| frames::seq_of(f).is_some() && f[18] == TAG_G2H)
            .unwrap_or_else(|e| panic!("peer: {e}"))
            .unwrap_or_else(|| panic!("{ready}: frame {seq} of {n} from the guest never arrived"));
        if let Err(e) = frames::check(&f, seq, TAG_G2H, frames::HOST_MAC, port_mac) {
            panic!("{ready}: {e}");
        }
    }
    eprintln!("{ready}: host sent {n} frames in {sent:?}, received and checked {n} in {:?}", t1.elapsed());
}

fn output(o: &GuestOutcome, i: usize) -> &CommandResult {
    let r = &o.results[i];
    eprintln!("--- [{i}] {} (exit {:?})\n{}", r.command, r.exit_code, r.output);
    r
}

fn assert_ok(o: &GuestOutcome, i: usize) -> String {
    let r = output(o, i);
    assert_eq!(r.exit_code, Some(0), "`{}` failed:\n{}", r.command, r.output);
    assert!(r.output.contains("guest_e1000: result=OK") || !r.command.contains("guest_e1000"), "{}", r.output);
    r.output.clone()
}

fn rates(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.contains("pps=") || l.contains("frames_per_s=")).collect()
}

#[test]
fn e1000_and_e1000e_move_10000_checked_frames_each_way_and_count_them() {
    if !common::qemu_available_or_skip("e1000_and_e1000e_move_10000_checked_frames_each_way_and_count_them") {
        return;
    }
    let cfg = base_config()
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

    assert_ok(&o, 0);
    let nb = output(&o, 1);
    assert_eq!(nb.exit_code, Some(2), "an unbound NIC on the allow list must fail EAL init:\n{}", nb.output);
    assert!(nb.output.contains("bind it with `tools/devbind --bind vfio-pci 0000:00:05.0`"), "{}", nb.output);
    for (i, model) in [(2, "e1000"), (3, "e1000e"), (4, "e1000 iova=pa")] {
        let out = assert_ok(&o, i);
        assert!(out.contains("guest_e1000: STATS_OK="), "{out}");
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
    let cfg = base_config()
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC1).hub(1))
        .nic(Nic::new(NicModel::E1000, "n2").mac(MAC2).hub(1))
        .nic(Nic::new(NicModel::E1000e, "n3").mac("52:54:00:12:34:58").hub(2))
        .nic(Nic::new(NicModel::E1000e, "n4").mac("52:54:00:12:34:59").hub(2))
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2 $VMTEST_NIC_n3 $VMTEST_NIC_n4")
        .command("guest_e1000 -l 0 -m 64 --file-prefix fw -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- fwd 10000")
        .command("guest_e1000 -l 0 -m 64 --file-prefix fw2 -a $VMTEST_NIC_n3 -a $VMTEST_NIC_n4 -- fwd 10000");
    let o = vmtest::run(&cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_ok(&o, 0);
    for (i, model) in [(1, "e1000"), (2, "e1000e")] {
        let out = assert_ok(&o, i);
        assert!(out.contains("guest_e1000: fwd_0to1=round_trips=10000"), "{out}");
        assert!(out.contains("guest_e1000: fwd_1to0=round_trips=10000"), "{out}");
        eprintln!("RATES hub forwarding {model}: {:?}", rates(&out));
    }
}

/// The guest script of the multi-process test: primary, then a secondary that is killed.
const MP_SCRIPT: &str = "rm -f /tmp/mp_*; \
guest_e1000 -l 0 -m 64 --file-prefix mp -a $VMTEST_NIC_n1 -- mp-primary 3000 2000 & P=$!; \
i=0; while [ ! -e /tmp/mp_primary_ready ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
guest_e1000 -l 1 --proc-type=secondary --file-prefix mp -- mp-secondary 3000 & S=$!; \
i=0; while [ ! -e /tmp/mp_secondary_done ] && [ $i -lt 1800 ]; do sleep 0.1; i=$((i+1)); done; \
kill -9 $S; wait $S; echo \"secondary $S killed: $(cat /tmp/mp_secondary_done)\"; \
touch /tmp/mp_secondary_killed; wait $P";

/// The guest script of a link-event run on NIC `nic`: a primary and two secondaries.
fn lsc_script(nic: &str) -> String {
    format!(
        "rm -f /tmp/lsc_*; export LSC_WAIT='{nic}-s1 {nic}-s2'; \
guest_e1000 -l 0 -m 64 --file-prefix l{nic} -a $VMTEST_NIC_{nic} -- lsc {nic}-primary & P=$!; \
i=0; while [ ! -e /tmp/lsc_{nic}-primary_ready ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
guest_e1000 --lcores 1@1 --proc-type=secondary --file-prefix l{nic} -- lsc {nic}-s1 & A=$!; \
guest_e1000 --lcores 2@0 --proc-type=secondary --file-prefix l{nic} -- lsc {nic}-s2 & B=$!; \
wait $A; ra=$?; wait $B; rb=$?; wait $P; rp=$?; echo \"lsc exit codes: primary $rp s1 $ra s2 $rb\"; \
[ $rp -eq 0 ] && [ $ra -eq 0 ] && [ $rb -eq 0 ]"
    )
}

/// Waits for the three processes of a link run, then toggles the link off and on.
fn toggle_link(guest: &Guest, nic: &str) {
    for who in ["primary", "s1", "s2"] {
        guest.wait_for_console(&format!("LSC_READY={nic}-{who}"), CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut mon = guest.monitor().unwrap_or_else(|e| panic!("{e}"));
    mon.set_link(nic, false).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1500));
    mon.set_link(nic, true).unwrap_or_else(|e| panic!("{e}"));
    for who in ["primary", "s1", "s2"] {
        guest.wait_for_console(&format!("LSC_OK={nic}-{who}"), CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn a_secondary_polls_the_primarys_queue_and_every_process_sees_link_events() {
    if !common::qemu_available_or_skip("a_secondary_polls_the_primarys_queue_and_every_process_sees_link_events") {
        return;
    }
    let cfg = base_config()
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC1).stream())
        .nic(Nic::new(NicModel::E1000e, "n2").mac(MAC2))
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(MP_SCRIPT)
        .command(lsc_script("n1"))
        .command(lsc_script("n2"));
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut p1 = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    exchange(&guest, &mut p1, "SECONDARY_READY=0000:00:03.0", 3000, mac(MAC1));
    guest.wait_for_console("SECONDARY_DONE=ok", CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    // After the secondary is killed, the primary moves frames 3000.. itself.
    guest.wait_for_console("PRIMARY_RESUMED=", CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    for seq in 3000..5000u32 {
        p1.send(&frames::build(seq, TAG_H2G, mac(MAC1), frames::HOST_MAC)).unwrap_or_else(|e| panic!("{e}"));
    }
    for seq in 3000..5000u32 {
        let f = p1
            .recv_matching(Duration::from_secs(60), |f| frames::seq_of(f).is_some() && f[18] == TAG_G2H)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("frame {seq} from the primary never arrived"));
        frames::check(&f, seq, TAG_G2H, frames::HOST_MAC, mac(MAC1)).unwrap_or_else(|e| panic!("{e}"));
    }
    toggle_link(&guest, "n1");
    toggle_link(&guest, "n2");
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_ok(&o, 0);
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
