//! `guest_e1000`: runs inside the vmtest guest against QEMU's e1000 (82540EM) and e1000e
//! (82574L) through the EAL's PCI bus and the `net_e1000_em` PMD.
//!
//! Usage: `guest_e1000 <EAL args> -- <scenario> [args]`, scenarios:
//! - `noop`: initialise and exit (for EAL errors such as an unbound device).
//! - `rxtx N [LABEL]`: receive N test frames from the host peer and check them, send N, check
//!   the port's counters (software and device).
//! - `jumbo N MTU [LABEL]`: N jumbo frames (up to MTU + 14 bytes, scattered RX) each way,
//!   checked (`tests::guest::jumbo`).
//! - `fwd N`: two ports on one hub; each direction N frames sent by one port, reflected by
//!   the other, checked on return.
//! - `mp-primary NS NP` / `mp-secondary NS`: the primary starts the port and waits while a
//!   secondary receives and sends NS frames on queue 0; after the secondary is killed the
//!   primary receives and sends NP frames itself.
//! - `rss FLOWS PER_FLOW`: (82574L) two queues each way with RSS; the host's flows must
//!   spread over both queues, once each, each flow on the queue the Toeplitz hash and RETA
//!   predict, each echoed on its queue's TX queue (see [`rss`]).
//! - `lsc NAME`: (primary: starts port 0) prints every link event of port 0 and exits once
//!   it saw the link go down and come back up.
//!
//! Findings are printed as `guest_e1000: key=value`; failures as `guest_e1000: FAILED: ...`
//! with exit code 1 (2 for EAL or ethdev initialisation errors). The parts every guest
//! program shares are in `tests::guest`.

mod fwd;
mod mp;
mod rss;
mod rss_flows;

use std::time::Duration;
/// At the crate root for `rss_flows`, which the host-side test includes next to its own copy.
use tests::guest::flow_frames;
use tests::guest::port::{self, Layout};
use tests::guest::{self, jumbo, lsc, rxtx};

/// One queue each way. QEMU drops what it holds beyond the free RX descriptors at an RDT
/// write: a large RX ring keeps the blocks it frees large.
pub const LAYOUT: Layout = Layout::single(1024, 256);

fn main() {
    guest::main("guest_e1000", |eal, eth, args| match args.scenario() {
        "rxtx" => rxtx::run(eal, eth, args.num(2, 10_000), args.str(3, "va"), LAYOUT, Duration::from_secs(120), &|m| {
            Ok(vec![
                ("device rx_good_packets", port::xstat(eth, 0, "rx_good_packets")?, m.n),
                ("device rx_undersize_errors", port::xstat(eth, 0, "rx_undersize_errors")?, 0),
                ("device rx_oversize_errors", port::xstat(eth, 0, "rx_oversize_errors")?, 0),
                ("device tx_good_packets", port::xstat(eth, 0, "tx_good_packets")?, m.n),
            ])
        }),
        "jumbo" => jumbo::run(eal, eth, args.num(2, 1000), args.num(3, 9000) as u16, args.str(4, "x"), LAYOUT),
        "fwd" => fwd::run(eal, eth, args.num(2, 10_000)),
        "mp-primary" => mp::primary(eal, eth, args.num(2, 1000), args.num(3, 1000)),
        "mp-secondary" => mp::secondary(eal, eth, args.num(2, 1000)),
        "rss" => rss::run(eal, eth, args.num(2, 64).min(u32::from(u16::MAX)) as u16, args.num(3, 16)),
        "lsc" => lsc::run(eal, eth, args.str(2, "x"), LAYOUT),
        other => guest::unknown(other),
    })
}
