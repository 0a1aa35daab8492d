//! `rss FLOWS PER_FLOW`: four RX queues with RSS on; the host peer sends PER_FLOW frames of
//! each of FLOWS UDP flows. Every frame must arrive exactly once and intact, every queue
//! must get some, each flow must always land on the same queue, and that queue and the
//! mbuf's RSS hash must be what ethdev's software Toeplitz hash and the redirection table
//! the device holds predict.

use crate::flows;
use eal::Eal;
use ethdev::rss::{ipv4_l4_input, toeplitz, RssConf};
use ethdev::Ethdev;
use tests::guest::rss::{self as rss_check, RssRun};
use tests::guest::{port, say};

/// RX queues used.
pub const QUEUES: u16 = 4;

/// The RSS hash the device should compute for flow `flow` under `conf` (UDP over IPv4).
pub fn flow_hash(conf: &RssConf, flow: u16) -> u32 {
    let (sp, dp) = flows::flow_ports(flow);
    toeplitz(&conf.key, &ipv4_l4_input(flows::SRC_IP, flows::DST_IP, sp, dp))
}

/// The queue the redirection table `reta` sends flow `flow` to.
pub fn flow_queue(conf: &RssConf, reta: &[u16], flow: u16) -> u16 {
    reta[flow_hash(conf, flow) as usize % reta.len()]
}

/// Runs the scenario on port 0 (checks in [`tests::guest::rss`]).
pub fn run(eal: &Eal, eth: &Ethdev, flows: u16, per_flow: u32) -> Result<(), String> {
    let pool = port::pool(eal)?;
    port::start(eth, 0, pool, crate::LAYOUT.queues(QUEUES, 1))?;
    let pc = eth.control(0).map_err(|e| e.to_string())?;
    let p = &eth.port(0).map_err(|e| e.to_string())?;
    let reta = rss_check::ready(&pc, p, QUEUES)?;
    let conf = RssConf::default();
    let run = RssRun {
        flows,
        per_flow,
        queues: QUEUES,
        frames: &flows::FLOWS,
        reta,
        flow_hash: &|flow| flow_hash(&conf, flow),
    };
    let mut got = run.receive(p, |_, _, _| Ok(()))?;
    let s = pc.stats_get();
    say("stats", format!("{s:?}"));
    got.check_rx_counters(&s);
    got.result()?;
    say("RSS_OK", format!("{flows} flows x {per_flow} frames over {QUEUES} queues"));
    Ok(())
}
