//! The igb PMD (`net_igb`) in the QEMU guest against the `igb` model (82576, MSI-X, several
//! queues, RSS), in one guest boot: 10,000 pattern frames each way on one queue with every
//! byte and the counters checked; frames to another unicast address dropped with promiscuous
//! mode off and all received with it on; 64 UDP flows spread by RSS over four RX queues, each
//! frame once, each flow on the queue ethdev's Toeplitz hash and the redirection table
//! predict; a primary and a secondary each serving their own RX/TX queue pair at the same
//! time, the secondary killed and the primary serving every flow afterwards (after a RETA
//! update); and link events (`set_link` off/on) in a primary and a secondary. Builds
//! nothing itself; build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p tests --bin guest_igb
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

#[allow(dead_code)] // the guest program uses the rest
#[path = "../../../tests/src/bin/guest_igb/flows.rs"]
mod flows;

/// At the crate root for `flows`.
use common::flow_frames;
use common::frames;
use common::{assert_ok, base_config, exchange, lsc_script, mac, mp_script, rates, toggle_link, wait_console};
use common::{receive_flow_echoes, send_flows};
use frames::{HOST_MAC, TAG_H2G};
use std::time::Duration;
use vmtest::{Guest, Nic, NicModel};

const MAC1: &str = "52:54:00:12:34:66";
/// A unicast address that is not the port's, for the promiscuous-mode run.
const OTHER_MAC: &str = "52:54:00:12:34:99";
/// Frames to [`OTHER_MAC`] in each half of the promiscuous-mode run.
const PROMISC_N: u32 = 200;
const PROGRAM: &str = "guest_igb";
/// Flows of the RSS and multi-process runs.
const FLOWS: u16 = 64;
/// Frames per flow of the RSS run.
const RSS_PER_FLOW: u32 = 16;
/// Frames per flow of each multi-process batch.
const MP_PER_FLOW: u32 = 8;

#[test]
fn igb_moves_frames_spreads_flows_by_rss_shares_queues_between_processes_and_reports_link() {
    let name = "igb_moves_frames_spreads_flows_by_rss_shares_queues_between_processes_and_reports_link";
    if !common::qemu_available_or_skip(name) {
        return;
    }
    let cfg = base_config(PROGRAM, Duration::from_secs(600))
        .nic(Nic::new(NicModel::Igb, "n1").mac(MAC1).stream())
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1")
        .command("guest_igb -l 0 -m 64 --file-prefix g1 -a $VMTEST_NIC_n1 -- rxtx 10000")
        .command(format!("guest_igb -l 0 -m 64 --file-prefix gp -a $VMTEST_NIC_n1 -- promisc {PROMISC_N} {OTHER_MAC}"))
        .command(format!("guest_igb -l 0 -m 64 --file-prefix g2 -a $VMTEST_NIC_n1 -- rss {FLOWS} {RSS_PER_FLOW}"))
        .command(mp_script(PROGRAM, &format!("{FLOWS} {MP_PER_FLOW}"), &format!("{FLOWS} {MP_PER_FLOW}")))
        .command(lsc_script(PROGRAM, "n1", 1));
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut peer = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let port_mac = mac(MAC1);

    // (1) one queue, 10,000 frames each way.
    exchange(&guest, &mut peer, "READY=rxtx", 10_000, port_mac);

    // (2) frames to another unicast address, then an end marker to the port, with
    // promiscuous mode off and then on (the guest counts what got through).
    for half in ["off", "on"] {
        wait_console(&guest, &format!("READY=promisc-{half}"));
        for seq in 0..PROMISC_N {
            peer.send(&frames::build(seq, TAG_H2G, mac(OTHER_MAC), HOST_MAC)).unwrap_or_else(|e| panic!("{e}"));
        }
        peer.send(&frames::build(PROMISC_N, TAG_H2G, port_mac, HOST_MAC)).unwrap_or_else(|e| panic!("{e}"));
    }

    // (3) RSS over four queues.
    wait_console(&guest, "READY=rss");
    send_flows(&mut peer, &flows::FLOWS, FLOWS, 0..RSS_PER_FLOW, port_mac);
    wait_console(&guest, "RSS_OK=");

    // (4) primary on queue 0, secondary on queue 1; then the primary alone.
    wait_console(&guest, "SECONDARY_READY=");
    send_flows(&mut peer, &flows::FLOWS, FLOWS, 0..MP_PER_FLOW, port_mac);
    receive_flow_echoes(&mut peer, &flows::FLOWS, FLOWS, 0..MP_PER_FLOW, port_mac, "primary+secondary");
    wait_console(&guest, "PRIMARY_RESUMED=");
    send_flows(&mut peer, &flows::FLOWS, FLOWS, MP_PER_FLOW..2 * MP_PER_FLOW, port_mac);
    receive_flow_echoes(&mut peer, &flows::FLOWS, FLOWS, MP_PER_FLOW..2 * MP_PER_FLOW, port_mac, "primary alone");

    // (5) link down and up, seen by the primary and the secondary.
    toggle_link(&guest, "n1", 1);

    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0, PROGRAM);
    let rxtx = assert_ok(&o, 1, PROGRAM);
    assert!(rxtx.contains("guest_igb: STATS_OK="), "{rxtx}");
    assert!(
        rxtx.contains("guest_igb: tx_chained=") && !rxtx.contains("guest_igb: tx_chained=0\n"),
        "every third frame must have gone out as a chain of mbufs: {rxtx}"
    );
    eprintln!("RATES igb one queue: {:?}", rates(&rxtx));
    let promisc = assert_ok(&o, 2, PROGRAM);
    assert!(promisc.contains(&format!("guest_igb: promisc_off=received=0 of {PROMISC_N}")), "{promisc}");
    assert!(promisc.contains(&format!("guest_igb: promisc_on=received={PROMISC_N} of {PROMISC_N}")), "{promisc}");
    let rss = assert_ok(&o, 3, PROGRAM);
    assert!(rss.contains("guest_igb: RSS_OK="), "{rss}");
    eprintln!("RATES igb rss: {:?}", rates(&rss));
    let mp = assert_ok(&o, 4, PROGRAM);
    assert!(mp.contains("killed: ok"), "{mp}");
    assert!(mp.contains("guest_igb: secondary_rx=queue=1"), "{mp}");
    assert_eq!(mp.matches("guest_igb: result=OK").count(), 1, "the primary finished OK:\n{mp}");
    eprintln!("RATES igb multi-process: {:?}", rates(&mp));
    let lsc = assert_ok(&o, 5, PROGRAM);
    assert_eq!(lsc.matches("guest_igb: LSC_OK=").count(), 2, "{lsc}");
}
