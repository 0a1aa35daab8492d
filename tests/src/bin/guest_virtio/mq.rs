//! `mq NAME Q`: two queue pairs on port 0. The primary configures and starts the port;
//! each process (the primary and a secondary) polls its queue Q, turns every test frame
//! it receives around on the same queue, and stops after 8 s without one. The host checks
//! that each frame came back exactly once. The primary then waits until the secondary has
//! exited (`/tmp/mq_<name>_exited` files listed in `MQ_WAIT`, written by the guest script)
//! and checks that the device still runs (the secondary's exit must not reset it) and that
//! the per-queue counters hold each process's traffic (counts in `/tmp/mq_<name>_count`).

use crate::mqframes;
use eal::{Eal, Mbuf};
use ethdev::Ethdev;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tests::guest::frames::{HOST_MAC, TAG_G2H, TAG_H2G};
use tests::guest::port::{self, push, BURST};
use tests::guest::{say, touch, wait_file};

/// Quiet time that ends the run.
const IDLE_END: Duration = Duration::from_secs(8);
/// DRIVER_OK in `device_status`.
const DRIVER_OK: u64 = 4;

/// Runs the scenario as `name` on queue `q`.
pub fn run(eal: &Eal, eth: &Ethdev, name: &str, q: u16) -> Result<(), String> {
    let pool = port::pool(eal)?;
    if eal.is_primary() {
        port::start(eth, 0, pool, crate::LAYOUT.pairs(2))?;
        port::dump_xstats(eth, 0, "xstats");
    }
    let p = &eth.port(0).map_err(|e| e.to_string())?;
    let mac = p.mac();
    say("MQ_READY", format!("{name} q={q}"));
    touch(&format!("/tmp/mq_{name}_ready"), "");
    let mut seen: HashSet<u32> = HashSet::new();
    let mut flows: HashSet<u16> = HashSet::new();
    let (mut rx, mut out): (Vec<Mbuf>, Vec<Mbuf>) = (Vec::with_capacity(BURST), Vec::with_capacity(BURST));
    let (t0, mut last) = (Instant::now(), Instant::now());
    let mut dup = None;
    let mut started = None;
    loop {
        rx.clear();
        let n = p.rx_burst(q, &mut rx, BURST).map_err(|e| e.to_string())?;
        if n == 0 {
            if (!seen.is_empty() && last.elapsed() > IDLE_END) || t0.elapsed() > Duration::from_secs(180) {
                break;
            }
            std::hint::spin_loop();
            continue;
        }
        last = Instant::now();
        started.get_or_insert(last);
        for mut m in rx.drain(..) {
            match mqframes::parse(m.data()) {
                Some((seq, flow, TAG_H2G)) => {
                    if !seen.insert(seq) {
                        dup.get_or_insert(seq);
                        continue;
                    }
                    flows.insert(flow);
                    mqframes::reflect(m.data_mut(), TAG_G2H, HOST_MAC, mac);
                    out.push(m);
                }
                _ => drop(m),
            }
        }
        push(p, q, &mut out, Instant::now() + Duration::from_secs(10))
            .map_err(|e| format!("{name}: reflecting: {e}"))?;
    }
    let active = started.map(|s| last.duration_since(s)).unwrap_or_default();
    let pps = (seen.len() as f64 / active.as_secs_f64().max(1e-3)) as u64;
    say("MQ_RESULT", format!("{name} q={q} frames={} flows={} frames_per_s={pps}", seen.len(), flows.len()));
    if let Some(s) = dup {
        return Err(format!("{name}: frame {s} received twice on queue {q}"));
    }
    if seen.is_empty() {
        return Err(format!("{name}: no test frame arrived on queue {q}"));
    }
    touch(&format!("/tmp/mq_{name}_count"), &seen.len().to_string());
    if eal.is_primary() {
        let mut counts = vec![(q, seen.len() as u64)];
        for other in std::env::var("MQ_WAIT").unwrap_or_default().split_whitespace() {
            let (who, oq) = other.split_once(':').ok_or("MQ_WAIT holds name:queue entries")?;
            wait_file(&format!("/tmp/mq_{who}_exited"), Duration::from_secs(60))?;
            let c = std::fs::read_to_string(format!("/tmp/mq_{who}_count")).unwrap_or_default();
            counts.push((oq.parse().map_err(|_| "bad queue in MQ_WAIT")?, c.trim().parse().unwrap_or(0)));
        }
        let status = port::xstat(eth, 0, "device_status")?;
        say("DEVICE_AFTER_SECONDARY_EXIT", format!("device_status={status:#x} link={}", p.link().0));
        if status & DRIVER_OK == 0 {
            return Err(format!("the device lost DRIVER_OK (status {status:#x}) after the secondary exited"));
        }
        let s = eth.control(0).map_err(|e| e.to_string())?.stats_get();
        say("stats", format!("{s:?}"));
        port::dump_xstats(eth, 0, "xstats");
        for (cq, c) in counts {
            let i = usize::from(cq);
            let (qi, qo) = (s.q_ipackets.get(i).copied().unwrap_or(0), s.q_opackets.get(i).copied().unwrap_or(0));
            // Counters include non-test frames the host stack sent (they are received too).
            if qi < c || qo != c {
                return Err(format!("queue {cq}: counters rx {qi} tx {qo}, the process moved {c} test frames"));
            }
        }
        say("MQ_STATS_OK", "per-queue counters match");
    }
    Ok(())
}
