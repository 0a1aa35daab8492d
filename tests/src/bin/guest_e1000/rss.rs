//! `rss FLOWS PER_FLOW`: the 82574L's two RX and two TX queues with RSS on IPv4 addresses
//! (testpmd's default hash types); the host peer sends PER_FLOW frames of each of FLOWS
//! flows (one source address per flow, see [`crate::rss_flows`]). Every frame
//! must arrive exactly once and intact, both queues must get some, each flow must always
//! land on the same queue, that queue and the mbuf's RSS hash (with `RX_RSS_HASH` set) must
//! be what ethdev's software Toeplitz hash and the redirection table the device holds
//! predict, and the counters must add up. Each frame is echoed (tag G2H) on the TX queue of
//! the RX queue it came on, so the host sees TX queue 1 work too.

use crate::rss_flows;
use eal::mbuf::OlFlags;
use eal::{Eal, Mbuf, PktMbufPool};
use ethdev::rss::{default_reta, hash, toeplitz, RssConf};
use ethdev::{Ethdev, PortConf};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tests::guest::frames::{HOST_MAC, TAG_G2H, TAG_H2G};
use tests::guest::port;
use tests::guest::say;

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

/// Runs the scenario on port 0.
pub fn run(eal: &Eal, eth: &Ethdev, flows: u16, per_flow: u32) -> Result<(), String> {
    let pool = port::pool(eal)?;
    start(eth, pool)?;
    let pc = eth.control(0).map_err(|e| e.to_string())?;
    let info = pc.info();
    if info.max_rx_queues != QUEUES || info.max_tx_queues != QUEUES || info.reta_size != 128 {
        return Err(format!("device info {info:?}: expected 2 queues each way and a 128-entry RETA"));
    }
    let reta = pc.reta_query().map_err(|e| e.to_string())?;
    if reta != default_reta(usize::from(info.reta_size), QUEUES) {
        return Err(format!("the device holds redirection table {reta:?}, not the default round robin"));
    }
    let conf = conf();
    let p = &eth.port(0).map_err(|e| e.to_string())?;
    let me = p.mac();
    say("READY", format!("rss {} reta_size={} hash_types={:#x}", p.name(), info.reta_size, info.rss_hash_types));
    let total = u64::from(flows) * u64::from(per_flow);
    let mut seen: HashMap<(u16, u32), u32> = HashMap::new();
    let mut flow_q: HashMap<u16, u16> = HashMap::new();
    let mut per_q = [0u64; QUEUES as usize];
    let mut errors: Vec<String> = Vec::new();
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(port::BURST);
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut got = 0u64;
    let mut drain_until: Option<Instant> = None;
    loop {
        let mut any = false;
        for q in 0..QUEUES {
            bufs.clear();
            let n = p.rx_burst(q, &mut bufs, port::BURST).map_err(|e| e.to_string())?;
            any |= n > 0;
            for m in bufs.drain(..) {
                got += 1;
                per_q[usize::from(q)] += 1;
                let (flow, seq, tag) = match rss_flows::parse(m.data(), me, HOST_MAC) {
                    Ok(v) => v,
                    Err(e) => {
                        errors.push(format!("queue {q}: {e}"));
                        continue;
                    }
                };
                if tag != TAG_H2G || flow >= flows || seq >= per_flow {
                    errors.push(format!("queue {q}: unexpected frame flow {flow} seq {seq} tag {tag:#x}"));
                }
                *seen.entry((flow, seq)).or_default() += 1;
                let first = *flow_q.entry(flow).or_insert(q);
                if first != q {
                    errors.push(format!("flow {flow} arrived on queue {first} and on queue {q}"));
                }
                let want_hash = flow_hash(&conf, flow);
                if m.rss_hash() != want_hash || !m.ol_flags().contains(OlFlags::RX_RSS_HASH) {
                    errors.push(format!(
                        "flow {flow}: mbuf RSS hash {:#010x} (flags {:?}), Toeplitz gives {want_hash:#010x}",
                        m.rss_hash(),
                        m.ol_flags()
                    ));
                }
                let want_q = reta[want_hash as usize % reta.len()];
                if want_q != q {
                    errors.push(format!("flow {flow} landed on queue {q}; hash and RETA predict queue {want_q}"));
                }
                drop(m);
                port::send_one(p, &pool, q, &rss_flows::frame(flow, seq, TAG_G2H, HOST_MAC, me))?;
            }
        }
        if got >= total && drain_until.is_none() {
            // Keep polling a little: a duplicate would show up now.
            drain_until = Some(Instant::now() + Duration::from_millis(300));
        }
        if drain_until.is_some_and(|t| Instant::now() > t) {
            break;
        }
        if !any && Instant::now() > deadline {
            errors.push(format!("timeout: {got} of {total} frames received; {:?}", p.stats()));
            break;
        }
    }
    let missing = (0..flows).flat_map(|f| (0..per_flow).map(move |s| (f, s))).filter(|k| !seen.contains_key(k)).count();
    let dups = seen.values().filter(|&&c| c > 1).count();
    let mut flows_per_q = [0u32; QUEUES as usize];
    flow_q.values().for_each(|&q| flows_per_q[usize::from(q)] += 1);
    say("rss_queues", format!("per_queue={per_q:?} flows_per_queue={flows_per_q:?}"));
    if missing > 0 || dups > 0 {
        errors.push(format!("{missing} frames missing, {dups} received more than once"));
    }
    if let Some(q) = per_q.iter().position(|&n| n == 0) {
        errors.push(format!("queue {q} received nothing: RSS did not spread the flows"));
    }
    // Let the last echoes leave before reading the counters.
    std::thread::sleep(Duration::from_millis(300));
    let s = pc.stats_get();
    say("stats", format!("{s:?}"));
    if s.q_ipackets != per_q.to_vec() || s.ipackets != total || s.imissed != 0 {
        errors.push(format!("counters {s:?} disagree with the {total} frames received ({per_q:?} per queue)"));
    }
    if s.q_opackets != per_q.to_vec() || s.opackets != total {
        errors.push(format!("TX counters {s:?} disagree with the {total} echoes sent ({per_q:?} per queue)"));
    }
    if let Some(e) = errors.first() {
        return Err(format!("{} problems, first: {e}", errors.len()));
    }
    say("RSS_OK", format!("{flows} flows x {per_flow} frames over {QUEUES} queues, echoed per queue"));
    Ok(())
}
