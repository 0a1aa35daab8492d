//! `guest_igb`: runs inside the vmtest guest against QEMU's igb (82576) through the EAL's
//! PCI bus and the `net_igb` PMD.
//!
//! Usage: `guest_igb <EAL args> -- <scenario> [args]`, scenarios:
//! - `noop`: initialise and exit.
//! - `rxtx N [LABEL]`: one queue each way; N pattern frames from the host peer checked, N
//!   sent back, the counters checked.
//! - `jumbo N MTU [LABEL]`: N jumbo frames (up to MTU + 14 bytes, scattered RX) each way,
//!   checked (`tests::guest::jumbo`).
//! - `promisc N OTHER_MAC`: N frames to another unicast address dropped with promiscuous
//!   mode off, all received with it on (see [`promisc`]).
//! - `rss FLOWS PER_FLOW`: four RX queues with RSS; the host's UDP flows must spread over
//!   all queues, once each, each flow on the queue the Toeplitz hash and RETA predict.
//! - `mp-primary FLOWS PER_FLOW` / `mp-secondary FLOWS PER_FLOW`: the primary polls queue 0
//!   and a secondary queue 1, each echoing on its own TX queue; after the secondary is
//!   killed the primary moves every flow to queue 0 and serves a second batch.
//! - `lsc NAME`: prints the link events of port 0 and exits once it saw down then up.
//!
//! Findings are printed as `guest_igb: key=value`; failures as `guest_igb: FAILED: ...` with
//! exit code 1 (2 for EAL or ethdev initialisation errors). The parts every guest program
//! shares are in `tests::guest`.

mod flows;
mod mp;
mod promisc;
mod rss;

use std::time::Duration;
/// At the crate root for `flows`, which the host-side test includes next to its own copy.
use tests::guest::flow_frames;
use tests::guest::port::{xstat, Layout};
use tests::guest::{self, jumbo, lsc, rxtx};

/// One queue each way; the scenarios with more queues derive theirs from it.
pub const LAYOUT: Layout = Layout::single(1024, 256);

fn main() {
    guest::main("guest_igb", |eal, eth, args| {
        let flows = args.num(2, 64).min(u32::from(u16::MAX)) as u16;
        match args.scenario() {
            "rxtx" => {
                rxtx::run(eal, eth, args.num(2, 10_000), args.str(3, "x"), LAYOUT, Duration::from_secs(180), &|m| {
                    Ok(vec![
                        ("q_ipackets[0]", m.stats.q_ipackets.first().copied().unwrap_or(0), m.n),
                        ("device rx_good_packets", xstat(eth, 0, "rx_good_packets")?, m.n),
                        ("device rx_undersize_errors", xstat(eth, 0, "rx_undersize_errors")?, 0),
                        ("device rx_oversize_errors", xstat(eth, 0, "rx_oversize_errors")?, 0),
                        ("device tx_good_packets", xstat(eth, 0, "tx_good_packets")?, m.n),
                        // The device counts the 4-byte FCS of every frame.
                        ("device rx_good_bytes", xstat(eth, 0, "rx_good_bytes")?, m.rx.bytes + 4 * m.n),
                        ("device tx_good_bytes", xstat(eth, 0, "tx_good_bytes")?, m.tx.bytes + 4 * m.n),
                    ])
                })
            }
            "jumbo" => jumbo::run(eal, eth, args.num(2, 1000), args.num(3, 9000) as u16, args.str(4, "x"), LAYOUT),
            "promisc" => promisc::run(eal, eth, args.num(2, 100), args.str(3, "")),
            "rss" => rss::run(eal, eth, flows, args.num(3, 16)),
            "mp-primary" => mp::primary(eal, eth, flows, args.num(3, 8)),
            "mp-secondary" => mp::secondary(eal, eth, flows, args.num(3, 8)),
            "lsc" => lsc::run(eal, eth, args.str(2, "x"), LAYOUT),
            other => guest::unknown(other),
        }
    })
}
