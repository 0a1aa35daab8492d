//! `rss FLOWS PER_FLOW`: the 82574L's two RX and two TX queues with RSS on IPv4 addresses
//! (testpmd's default hash types); the host peer sends PER_FLOW frames of each of FLOWS
//! flows (one source address per flow, see [`crate::rss_flows`]). Every frame
//! must arrive exactly once and intact, both queues must get some, each flow must always
//! land on the same queue, that queue and the mbuf's RSS hash (with `RX_RSS_HASH` set) must
//! be what ethdev's software Toeplitz hash and the redirection table the device holds
//! predict, and the counters must add up. Each frame is echoed (tag G2H) on the TX queue of
//! the RX queue it came on, so the host sees TX queue 1 work too.

use crate::rss_flows;
use eal::{Eal, PktMbufPool};
use ethdev::rss::{hash, toeplitz, RssConf};
use ethdev::{Ethdev, PortConf};
use std::time::Duration;
use tests::guest::frames::{HOST_MAC, TAG_G2H};
use tests::guest::rss::{self as rss_check, RssRun};
use tests::guest::{port, say};

/// Queues each way.
pub const QUEUES: u16 = 2;

/// The RSS configuration: IPv4 and IPv6 addresses (DPDK testpmd's default), the default key.
pub fn conf() -> RssConf {
    RssConf { hash_types: hash::IPV4 | hash::IPV6, ..RssConf::default() }
}

/// The RSS hash the device should compute for flow `flow` (IPv4 addresses only).
pub fn flow_hash(conf: &RssConf, flow: u16) -> u32 {
    let mut input = [0u8; 8];
    input[..4].copy_from_slice(&rss_flows::src_ip(flow));
    input[4..].copy_from_slice(&rss_flows::DST_IP);
    toeplitz(&conf.key, &input)
}

/// Configures and starts port 0 with [`QUEUES`] queues each way and RSS.
fn start(eth: &Ethdev, pool: PktMbufPool) -> Result<(), String> {
    let pc = eth.control(0).map_err(|e| e.to_string())?;
    let conf = PortConf { nb_rxq: QUEUES, nb_txq: QUEUES, rss: true, rss_conf: conf(), ..PortConf::default() };
    pc.configure(&conf).map_err(|e| e.to_string())?;
    for q in 0..QUEUES {
        pc.rx_queue_setup(q, crate::LAYOUT.rx_ring, pool).map_err(|e| e.to_string())?;
        pc.tx_queue_setup(q, crate::LAYOUT.tx_ring).map_err(|e| e.to_string())?;
    }
    pc.start().map_err(|e| e.to_string())?;
    let link = pc.link_wait_up(Duration::from_secs(10));
    if !link.up {
        return Err("port 0: link still down 10 s after start".into());
    }
    Ok(())
}

/// Runs the scenario on port 0 (checks in [`tests::guest::rss`]).
pub fn run(eal: &Eal, eth: &Ethdev, flows: u16, per_flow: u32) -> Result<(), String> {
    let pool = port::pool(eal)?;
    start(eth, pool)?;
    let pc = eth.control(0).map_err(|e| e.to_string())?;
    let info = pc.info();
    if info.max_rx_queues != QUEUES || info.max_tx_queues != QUEUES || info.reta_size != 128 {
        return Err(format!("device info {info:?}: expected 2 queues each way and a 128-entry RETA"));
    }
    let p = &eth.port(0).map_err(|e| e.to_string())?;
    let reta = rss_check::ready(&pc, p, QUEUES)?;
    let conf = conf();
    let me = p.mac();
    let run = RssRun {
        flows,
        per_flow,
        queues: QUEUES,
        frames: &rss_flows::FLOWS,
        reta,
        flow_hash: &|flow| flow_hash(&conf, flow),
    };
    // Each frame is echoed on the TX queue of the RX queue it came on.
    let mut got = run.receive(p, |q, flow, seq| {
        port::send_one(p, &pool, q, &rss_flows::FLOWS.frame(flow, seq, TAG_G2H, HOST_MAC, me))
    })?;
    // Let the last echoes leave before reading the counters.
    std::thread::sleep(Duration::from_millis(300));
    let s = pc.stats_get();
    say("stats", format!("{s:?}"));
    got.check_rx_counters(&s);
    if s.q_opackets != got.per_q || s.opackets != got.total {
        let (total, per_q) = (got.total, &got.per_q);
        got.errors.push(format!("TX counters {s:?} disagree with the {total} echoes sent ({per_q:?} per queue)"));
    }
    got.result()?;
    say("RSS_OK", format!("{flows} flows x {per_flow} frames over {QUEUES} queues, echoed per queue"));
    Ok(())
}
