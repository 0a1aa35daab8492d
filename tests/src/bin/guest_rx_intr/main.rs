//! `guest_rx_intr`: RX interrupts in the vmtest guest, for any NIC model whose PMD has them
//! (igb, e1000e, virtio): the process that polls a queue sleeps while nothing comes and wakes
//! for every frame.
//!
//! Usage: `guest_rx_intr <EAL args> -- <scenario> [args]`, scenarios:
//! - `primary QSEC N`: starts port 0 (two queue pairs with RSS when QSEC is 1, the
//!   redirection table all on queue 1; else one pair), writes `/tmp/ri_primary_ready`, waits
//!   for `/tmp/ri_secondary_done`, then (all flows back on queue 0) runs the sleep/wake loop
//!   itself on queue 0.
//! - `secondary Q N`: the sleep/wake loop on queue Q, then writes `/tmp/ri_secondary_done`.
//!
//! The sleep/wake loop ([`sleep_wake`]): RX interrupts armed after [`EMPTY_POLLS`] empty
//! polls; first [`IDLE`] with no traffic, the process's own CPU time measured from
//! `/proc/self/stat` (`<who>_idle_cpu_pct=`, failure at 5% or more); then `READY_TRAFFIC=<who>`
//! and N UDP frames of one flow from the host (UDP, so that RSS hashes them to the queue the
//! redirection table names; other frames go to queue 0), one at a time: each must be the
//! next of the flow (none lost),
//! is echoed back on the same queue pair, and the loop sleeps between frames
//! (`<who>_cycles=frames=N sleeps=S wakes=W`; failure when it woke for fewer than 90% of
//! the frames). The guest kernel's own trace of the device's interrupt handler entries
//! stamps each interrupt's arrival in the guest, and the loop prints the delay from it to
//! the frame in hand (`<who>_irq_to_rx=samples=K p50= p99= max=`, see
//! `tests::guest::irq_trace`).

#[path = "../guest_igb/flows.rs"]
mod flows;

use eal::{Mbuf, PktMbufPool};
use ethdev::{Port, RxIdleSleeper, RxIntrSource};
use std::time::{Duration, Instant};
use tests::cpu_time::{cpu_ticks, TICKS_PER_SEC};
/// At the crate root for `flows`.
use tests::guest::flow_frames;
use tests::guest::frames::{HOST_MAC, TAG_G2H, TAG_H2G};
use tests::guest::irq_trace::{self, IrqTrace};
use tests::guest::port::{self, Layout, BURST};
use tests::guest::{self, say, touch, wait_file};

/// Empty polls before sleeping.
const EMPTY_POLLS: u32 = 32;
/// The idle window whose CPU time is measured.
const IDLE: Duration = Duration::from_secs(10);
/// Longest single sleep.
const SLEEP_SLICE: Duration = Duration::from_millis(100);
const LAYOUT: Layout = Layout::single(256, 256);

fn main() {
    guest::main("guest_rx_intr", |eal, eth, args| {
        let n = args.num(3, 1000);
        match args.scenario() {
            "primary" => {
                let qsec = args.num(2, 1) as u16;
                let pool = port::pool(eal)?;
                let layout = if qsec == 1 { LAYOUT.queues(2, 2) } else { LAYOUT };
                port::start(eth, 0, pool, layout)?;
                let pc = eth.control(0).map_err(|e| e.to_string())?;
                let capa = pc.info().capabilities & ethdev::capa::RX_INTR != 0;
                say("rx_intr_capa", capa);
                if qsec == 1 {
                    let reta = pc.reta_query().map_err(|e| e.to_string())?;
                    pc.reta_update(&vec![1u16; reta.len()]).map_err(|e| e.to_string())?;
                }
                touch("/tmp/ri_primary_ready", "");
                wait_file("/tmp/ri_secondary_done", Duration::from_secs(400))?;
                if std::fs::read_to_string("/tmp/ri_secondary_done").unwrap_or_default() != "ok" {
                    return Err("the secondary failed".into());
                }
                if qsec == 1 {
                    let reta = pc.reta_query().map_err(|e| e.to_string())?;
                    pc.reta_update(&vec![0u16; reta.len()]).map_err(|e| e.to_string())?;
                }
                let p = eth.port(0).map_err(|e| e.to_string())?;
                sleep_wake(&p, &pool, 0, n, "primary")
            }
            "secondary" => {
                let q = args.num(2, 1) as u16;
                let pool = port::pool(eal)?;
                let p = eth.port(0).map_err(|e| e.to_string())?;
                let r = sleep_wake(&p, &pool, q, n, "secondary");
                touch("/tmp/ri_secondary_done", if r.is_ok() { "ok" } else { "failed" });
                r
            }
            other => guest::unknown(other),
        }
    })
}

/// The sleep/wake loop on queue `q` (see the module).
fn sleep_wake(p: &Port, pool: &PktMbufPool, q: u16, n: u32, who: &str) -> Result<(), String> {
    let mut s = RxIdleSleeper::new(EMPTY_POLLS).map_err(|e| e.to_string())?;
    s.add(p, q).map_err(|e| e.to_string())?;
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut poll = |bufs: &mut Vec<Mbuf>| p.rx_burst(q, bufs, BURST).unwrap_or(0);

    // Idle: nothing may come, and the process must sleep.
    let me = std::process::id();
    let (t0, c0) = (Instant::now(), cpu_ticks(me).ok_or("cannot read /proc/self/stat")?);
    while t0.elapsed() < IDLE {
        let got = poll(&mut bufs);
        if got > 0 {
            return Err(format!("{who}: {got} frames on queue {q} while the host sends nothing"));
        }
        if s.idle_after(got) {
            idle_sleep(&mut s, &mut bufs, &mut poll, IDLE.saturating_sub(t0.elapsed()).min(SLEEP_SLICE))?;
            if !bufs.is_empty() {
                return Err(format!("{who}: a frame on queue {q} while the host sends nothing"));
            }
        }
    }
    let c1 = cpu_ticks(me).ok_or("cannot read /proc/self/stat")?;
    let pct = (c1 - c0) as f64 * 100.0 / TICKS_PER_SEC as f64 / t0.elapsed().as_secs_f64();
    say(&format!("{who}_idle_cpu_pct"), format!("{pct:.2} sleeps={}", s.sleeps()));
    if pct >= 5.0 {
        return Err(format!("{who}: {pct:.1}% of a core over {IDLE:?} idle on queue {q}: it did not sleep"));
    }

    // Traffic: one frame at a time from the host, each echoed. The kernel stamps each
    // interrupt of the device, for the in-guest delay from interrupt to frame in hand.
    let trace = match p.rx_intr_source(q) {
        Ok(RxIntrSource::Counter(_)) => {
            Some(IrqTrace::start(&p.name()).map_err(|e| format!("{who}: interrupt trace: {e}"))?)
        }
        _ => None,
    };
    let mut rx_times: Vec<Duration> = Vec::with_capacity(n as usize);
    let (sleeps0, wakes0) = (s.sleeps(), s.wakes());
    say("READY_TRAFFIC", who);
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut next = 0u32;
    while next < n {
        if Instant::now() > deadline {
            return Err(format!("{who}: only {next} of {n} frames on queue {q} in time"));
        }
        let mut got = poll(&mut bufs);
        if got == 0 && s.idle_after(0) {
            idle_sleep(&mut s, &mut bufs, &mut poll, SLEEP_SLICE)?;
            got = bufs.len();
        }
        if got > 0 {
            rx_times.push(irq_trace::now());
            s.idle_after(got);
        }
        for m in bufs.drain(..) {
            let got = flows::FLOWS.parse(m.data(), p.mac(), HOST_MAC).map_err(|e| format!("{who}: {e}"))?;
            if got != (0, next, TAG_H2G) {
                return Err(format!("{who}: expected frame {next} of flow 0, got (flow, seq, tag) {got:?}: lost"));
            }
            drop(m);
            port::send_one(p, pool, q, &flows::FLOWS.frame(0, next, TAG_G2H, HOST_MAC, p.mac()))?;
            next += 1;
        }
    }
    let (sleeps, wakes) = (s.sleeps() - sleeps0, s.wakes() - wakes0);
    say(&format!("{who}_cycles"), format!("frames={n} sleeps={sleeps} wakes={wakes}"));
    if let Some(t) = trace {
        let stamps = t.finish().map_err(|e| format!("{who}: interrupt trace: {e}"))?;
        let times: Vec<Duration> = stamps.iter().map(|s| s.0).collect();
        let mut d = irq_trace::delays(&times, &rx_times);
        let on = irq_trace::per_cpu(&stamps);
        say(&format!("{who}_irq_to_rx"), format!("{} interrupts={} {on}", irq_trace::summary(&mut d), stamps.len()));
    }
    if u64::from(n) * 9 / 10 > wakes {
        return Err(format!("{who}: woke {wakes} times for {n} frames sent one at a time: it did not sleep"));
    }
    Ok(())
}

/// Arms, polls once more (into `bufs`) and sleeps up to `timeout` if that found nothing;
/// disarmed on return.
fn idle_sleep(
    s: &mut RxIdleSleeper,
    bufs: &mut Vec<Mbuf>,
    poll: &mut impl FnMut(&mut Vec<Mbuf>) -> usize,
    timeout: Duration,
) -> Result<(), String> {
    s.arm().map_err(|e| e.to_string())?;
    if poll(bufs) > 0 {
        return s.disarm().map_err(|e| e.to_string());
    }
    s.sleep(timeout).map(drop).map_err(|e| e.to_string())
}
