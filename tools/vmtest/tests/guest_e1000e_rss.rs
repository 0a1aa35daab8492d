//! The 82574L's two queues with RSS (`net_e1000_em` against QEMU's `e1000e`): 64 flows
//! (one IPv4 source address each: the 82574 hashes addresses, not UDP ports) of 16 frames
//! from the host, spread by RSS over two RX queues, each frame once and intact, each flow
//! on the queue ethdev's Toeplitz hash and the device's redirection table predict with the
//! hash in the mbuf, the per-queue counters exact; every frame echoed on the TX queue of
//! its RX queue and received once by the host. Builds nothing itself; build the guest
//! binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p tests --bin guest_e1000
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

#[allow(dead_code)] // the guest program uses the rest
#[path = "../../../tests/src/bin/guest_e1000/rss_flows.rs"]
mod rss_flows;

/// At the crate root for `rss_flows`.
use common::flow_frames;
use common::{assert_ok, base_config, mac, receive_flow_echoes, send_flows, wait_console};
use std::time::Duration;
use vmtest::{Guest, Nic, NicModel};

const MAC1: &str = "52:54:00:12:34:76";
const PROGRAM: &str = "guest_e1000";
const FLOWS: u16 = 64;
const PER_FLOW: u32 = 16;

#[test]
fn e1000e_spreads_flows_over_two_queues_by_rss_and_sends_on_both() {
    let name = "e1000e_spreads_flows_over_two_queues_by_rss_and_sends_on_both";
    if !common::qemu_available_or_skip(name) {
        return;
    }
    let cfg = base_config(PROGRAM, Duration::from_secs(400))
        .nic(Nic::new(NicModel::E1000e, "n1").mac(MAC1).stream())
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1")
        .command(format!("guest_e1000 -l 0 -m 64 --file-prefix rs -a $VMTEST_NIC_n1 -- rss {FLOWS} {PER_FLOW}"));
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut peer = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let port_mac = mac(MAC1);
    wait_console(&guest, "READY=rss");
    send_flows(&mut peer, &rss_flows::FLOWS, FLOWS, 0..PER_FLOW, port_mac);
    receive_flow_echoes(&mut peer, &rss_flows::FLOWS, FLOWS, 0..PER_FLOW, port_mac, "echoes");
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0, PROGRAM);
    let rss = assert_ok(&o, 1, PROGRAM);
    assert!(rss.contains("guest_e1000: RSS_OK="), "{rss}");
    let queues = rss.lines().find(|l| l.contains("guest_e1000: rss_queues=")).unwrap_or_default();
    eprintln!("{queues}");
}
