//! `rss FLOWS PER_FLOW`: four RX queues with RSS on; the host peer sends PER_FLOW frames of
//! each of FLOWS UDP flows. Every frame must arrive exactly once and intact, every queue
//! must get some, each flow must always land on the same queue, and that queue and the
//! mbuf's RSS hash must be what ethdev's software Toeplitz hash and the redirection table
//! the device holds predict.

use crate::flows;
use eal::{Eal, Mbuf};
use ethdev::rss::{default_reta, ipv4_l4_input, toeplitz, RssConf};
use ethdev::Ethdev;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tests::guest::frames::{HOST_MAC, TAG_H2G};
use tests::guest::port;
use tests::guest::say;

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

/// Runs the scenario on port 0.
pub fn run(eal: &Eal, eth: &Ethdev, flows: u16, per_flow: u32) -> Result<(), String> {
    let pool = port::pool(eal)?;
    port::start(eth, 0, pool, crate::LAYOUT.queues(QUEUES, 1))?;
    let pc = eth.control(0).map_err(|e| e.to_string())?;
    let reta = pc.reta_query().map_err(|e| e.to_string())?;
    let info = pc.info();
    if reta != default_reta(usize::from(info.reta_size), QUEUES) {
        return Err(format!("the device holds redirection table {reta:?}, not the default round robin"));
    }
    let conf = RssConf::default();
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
    let mut t0 = None;
    let mut got = 0u64;
    let mut drain_until: Option<Instant> = None;
    loop {
        let mut any = false;
        for q in 0..QUEUES {
            bufs.clear();
            let n = p.rx_burst(q, &mut bufs, port::BURST).map_err(|e| e.to_string())?;
            any |= n > 0;
            for m in bufs.drain(..) {
                t0.get_or_insert_with(Instant::now);
                got += 1;
                per_q[usize::from(q)] += 1;
                let (flow, seq, tag) = match flows::parse_udp(m.data(), me, HOST_MAC) {
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
                if m.rss_hash() != want_hash {
                    errors.push(format!(
                        "flow {flow}: mbuf RSS hash {:#010x}, Toeplitz gives {want_hash:#010x}",
                        m.rss_hash()
                    ));
                }
                let want_q = flow_queue(&conf, &reta, flow);
                if want_q != q {
                    errors.push(format!("flow {flow} landed on queue {q}; hash and RETA predict queue {want_q}"));
                }
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
    let elapsed = t0.map(|t| t.elapsed()).unwrap_or_default();
    let missing = (0..flows).flat_map(|f| (0..per_flow).map(move |s| (f, s))).filter(|k| !seen.contains_key(k)).count();
    let dups = seen.values().filter(|&&c| c > 1).count();
    say(
        "rss_queues",
        format!("per_queue={per_q:?} flows_per_queue={:?}", {
            let mut c = [0u32; QUEUES as usize];
            flow_q.values().for_each(|&q| c[usize::from(q)] += 1);
            c
        }),
    );
    say(
        "rss_rx",
        format!(
            "frames={got} elapsed_ms={} pps={}",
            elapsed.as_millis(),
            (got as f64 / elapsed.as_secs_f64().max(1e-9)) as u64
        ),
    );
    if missing > 0 || dups > 0 {
        errors.push(format!("{missing} frames missing, {dups} received more than once"));
    }
    if let Some(q) = per_q.iter().position(|&n| n == 0) {
        errors.push(format!("queue {q} received nothing: RSS did not spread the flows"));
    }
    let s = pc.stats_get();
    say("stats", format!("{s:?}"));
    if s.q_ipackets != per_q.to_vec() || s.ipackets != total || s.imissed != 0 {
        errors.push(format!("counters {s:?} disagree with the {total} frames received ({per_q:?} per queue)"));
    }
    if let Some(e) = errors.first() {
        return Err(format!("{} problems, first: {e}", errors.len()));
    }
    say("RSS_OK", format!("{flows} flows x {per_flow} frames over {QUEUES} queues"));
    Ok(())
}
