//! `mp-primary FLOWS PER_FLOW` / `mp-secondary FLOWS PER_FLOW`: two RX and two TX queues
//! with RSS. The primary polls RX queue 0 and the secondary RX queue 1 at the same time;
//! each checks that every frame it gets belongs to a flow the hash and the redirection
//! table send to its queue, and echoes it back (tag G2H) on its own TX queue. After the
//! secondary is done the guest script kills it (SIGKILL); the primary then points the whole
//! redirection table at queue 0 and receives and echoes a second batch of every flow
//! (sequence numbers from PER_FLOW) alone. Files in /tmp pace the parties:
//! `mp_primary_ready`, `mp_secondary_done`, `mp_secondary_killed`.

use crate::flows;
use crate::rss::flow_queue;
use eal::{Eal, Mbuf, PktMbufPool};
use ethdev::rss::RssConf;
use ethdev::{Ethdev, Port};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tests::guest::frames::{HOST_MAC, TAG_G2H, TAG_H2G};
use tests::guest::port;
use tests::guest::{say, secondary_done, touch, wait_file};

/// Receives on RX queue `q` until every frame of `want` (flow, seq) arrived once, echoing
/// each on TX queue `q`. Frames of flows the table does not send to `q` are errors.
fn serve(p: &Port, pool: &PktMbufPool, q: u16, want: &HashSet<(u16, u32)>, who: &str) -> Result<(), String> {
    let me = p.mac();
    let mut got: HashSet<(u16, u32)> = HashSet::new();
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(port::BURST);
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut t0 = None;
    while got.len() < want.len() {
        bufs.clear();
        if p.rx_burst(q, &mut bufs, port::BURST).map_err(|e| e.to_string())? == 0 {
            if Instant::now() > deadline {
                return Err(format!("{who}: timeout with {} of {} frames on queue {q}", got.len(), want.len()));
            }
            std::hint::spin_loop();
            continue;
        }
        t0.get_or_insert_with(Instant::now);
        for m in bufs.drain(..) {
            let (flow, seq, tag) = flows::FLOWS.parse(m.data(), me, HOST_MAC).map_err(|e| format!("{who}: {e}"))?;
            if tag != TAG_H2G || !want.contains(&(flow, seq)) {
                return Err(format!("{who}: queue {q} got flow {flow} frame {seq}, which is not one of its flows"));
            }
            if !got.insert((flow, seq)) {
                return Err(format!("{who}: flow {flow} frame {seq} arrived twice"));
            }
            drop(m);
            port::send_one(p, pool, q, &flows::FLOWS.frame(flow, seq, TAG_G2H, HOST_MAC, me))?;
        }
    }
    let el = t0.map(|t| t.elapsed()).unwrap_or_default();
    say(
        &format!("{who}_rx"),
        format!("queue={q} frames={} echoed elapsed_ms={} pps={}", got.len(), el.as_millis(), {
            (got.len() as f64 / el.as_secs_f64().max(1e-9)) as u64
        }),
    );
    Ok(())
}

/// The (flow, seq) pairs of a batch whose flows the table sends to queue `q` (all queues
/// when `q` is None).
fn batch(p: &Port, reta: &[u16], flows: u16, seqs: std::ops::Range<u32>, q: Option<u16>) -> HashSet<(u16, u32)> {
    let _ = p;
    let conf = RssConf::default();
    (0..flows)
        .filter(|&f| q.is_none_or(|q| flow_queue(&conf, reta, f) == q))
        .flat_map(|f| seqs.clone().map(move |s| (f, s)))
        .collect()
}

/// Stops RX and TX queue 1 (disabled in the device, its mbufs back in the pool, bursts on
/// it refused) and starts them again before the secondary polls them: the secondary's
/// traffic then runs through the restarted queues.
fn queue_stop_start(pc: &ethdev::PortControl<'_>, p: &Port, pool: &PktMbufPool) -> Result<(), String> {
    let pool = pool.mempool();
    let before = pool.in_use_count();
    pc.rx_queue_stop(1).map_err(|e| e.to_string())?;
    pc.tx_queue_stop(1).map_err(|e| e.to_string())?;
    let mut bufs = Vec::new();
    let refused = p.rx_burst(1, &mut bufs, 8);
    if refused != Err(ethdev::BurstError::QueueStopped { port: p.id(), queue: 1 }) {
        return Err(format!("a burst on stopped RX queue 1 gave {refused:?}"));
    }
    let freed = before - pool.in_use_count();
    pc.rx_queue_start(1).map_err(|e| e.to_string())?;
    pc.tx_queue_start(1).map_err(|e| e.to_string())?;
    if pool.in_use_count() != before || freed == 0 {
        return Err(format!(
            "queue 1 stop freed {freed} mbufs, restart left {} in use (was {before})",
            pool.in_use_count()
        ));
    }
    say("queue_stop_start", format!("queue=1 freed={freed} ok"));
    Ok(())
}

/// The primary.
pub fn primary(eal: &Eal, eth: &Ethdev, flows: u16, per_flow: u32) -> Result<(), String> {
    let pool = port::pool(eal)?;
    port::start(eth, 0, pool, crate::LAYOUT.queues(2, 2))?;
    let pc = eth.control(0).map_err(|e| e.to_string())?;
    let p = &eth.port(0).map_err(|e| e.to_string())?;
    let reta = pc.reta_query().map_err(|e| e.to_string())?;
    let mine = batch(p, &reta, flows, 0..per_flow, Some(0));
    queue_stop_start(&pc, p, &pool)?;
    say("primary_share", format!("{} of {} frames", mine.len(), u32::from(flows) * per_flow));
    touch("/tmp/mp_primary_ready", "");
    serve(p, &pool, 0, &mine, "primary")?;
    wait_file("/tmp/mp_secondary_killed", Duration::from_secs(300))?;
    let s = p.stats();
    say("after_secondary", format!("ipackets={} opackets={} q_ipackets={:?}", s.ipackets, s.opackets, s.q_ipackets));
    // Queue 1 has nobody to poll it any more: send every flow to queue 0.
    pc.reta_update(&vec![0u16; reta.len()]).map_err(|e| e.to_string())?;
    if pc.reta_query().map_err(|e| e.to_string())?.iter().any(|&q| q != 0) {
        return Err("the redirection table did not take the update".into());
    }
    say("PRIMARY_RESUMED", p.name());
    let all = batch(p, &reta, flows, per_flow..2 * per_flow, None);
    serve(p, &pool, 0, &all, "primary_alone")?;
    let s = pc.stats_get();
    say("stats", format!("{s:?}"));
    let total = 2 * u64::from(flows) * u64::from(per_flow);
    if s.ipackets != total || s.opackets != total || s.imissed != 0 || s.ierrors != 0 {
        return Err(format!("shared counters {s:?}: expected {total} frames each way from both processes"));
    }
    Ok(())
}

/// The secondary: serves queue 1 and waits to be killed.
pub fn secondary(eal: &Eal, eth: &Ethdev, flows: u16, per_flow: u32) -> Result<(), String> {
    secondary_done((|| {
        let pool = port::pool(eal)?;
        let p = &eth.port(0).map_err(|e| e.to_string())?;
        if !p.is_started() || p.nb_rx_queues() != 2 {
            return Err(format!("port 0 is not started with 2 RX queues ({})", p.nb_rx_queues()));
        }
        // The secondary has no control: it uses the table the primary configured (the
        // default round robin over 2 queues, which `configure` programs).
        let reta = ethdev::rss::default_reta(128, 2);
        let mine = batch(p, &reta, flows, 0..per_flow, Some(1));
        let (link, seq) = p.link();
        say("SECONDARY_READY", format!("{} {link} seq={seq} share={}", p.name(), mine.len()));
        serve(p, &pool, 1, &mine, "secondary")
    })())
}
