//! `fwd N`: ports 0 and 1 share a QEMU hub. In each direction one port sends N numbered
//! frames to the other, which reflects each back (MAC addresses swapped) through this
//! program; the sender checks every frame that returns, in order.

use eal::{Eal, Mbuf, PktMbufPool};
use ethdev::{Ethdev, Port};
use std::time::{Duration, Instant};
use tests::guest::frames;
use tests::guest::port::{self, push, BURST};
use tests::guest::say;

const WINDOW: u32 = 128;

fn swap_macs(m: &mut Mbuf) {
    let d = m.data_mut();
    for i in 0..6 {
        d.swap(i, 6 + i);
    }
}

/// One direction: `a` originates, `b` reflects.
fn direction(a: &Port, b: &Port, pool: &PktMbufPool, n: u32, tag: u8) -> Result<(u64, Duration), String> {
    let (amac, bmac) = (a.mac(), b.mac());
    let (mut sent, mut back) = (0u32, 0u32);
    let (mut out, mut refl, mut rx): (Vec<Mbuf>, Vec<Mbuf>, Vec<Mbuf>) = (Vec::new(), Vec::new(), Vec::new());
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(120);
    while back < n {
        let room = (WINDOW - (sent - back)).min(n - sent).min(BURST as u32);
        for _ in 0..room {
            let mut m = pool.alloc().ok_or("mempool empty")?;
            let len = frames::len_of(sent);
            frames::fill(m.append(len as u16).ok_or("mbuf too small")?, sent, tag, bmac, amac);
            out.push(m);
            sent += 1;
        }
        push(a, 0, &mut out, deadline)?;
        b.rx_burst(0, &mut refl, BURST).map_err(|e| e.to_string())?;
        for m in refl.iter_mut() {
            swap_macs(m);
        }
        push(b, 0, &mut refl, deadline)?;
        rx.clear();
        a.rx_burst(0, &mut rx, BURST).map_err(|e| e.to_string())?;
        for m in rx.drain(..) {
            frames::check(m.data(), back, tag, amac, bmac)?;
            back += 1;
        }
        if Instant::now() > deadline {
            return Err(format!("timeout: {back} of {n} frames came back ({sent} sent)"));
        }
    }
    Ok((u64::from(n), t0.elapsed()))
}

/// Runs the scenario on ports 0 and 1.
pub fn run(eal: &Eal, eth: &Ethdev, n: u32) -> Result<(), String> {
    if eth.count() < 2 {
        return Err(format!("fwd needs two ports, found {}", eth.count()));
    }
    let pool = port::pool(eal)?;
    port::start(eth, 0, pool, crate::LAYOUT)?;
    port::start(eth, 1, pool, crate::LAYOUT)?;
    let (p0, p1) = (&eth.port(0).map_err(|e| e.to_string())?, &eth.port(1).map_err(|e| e.to_string())?);
    let dump = || {
        for id in [0u16, 1] {
            port::dump_xstats(eth, id, &format!("xstats{id}"));
            if let Ok(p) = eth.port(id) {
                say(&format!("stats{id}"), format!("{:?}", p.stats()));
            }
        }
    };
    for (name, a, b, tag) in [("fwd_0to1", p0, p1, 0xa1u8), ("fwd_1to0", p1, p0, 0xb1u8)] {
        let (frames, t) = direction(a, b, &pool, n, tag).inspect_err(|_| dump())?;
        let rate = frames as f64 / t.as_secs_f64();
        say(
            name,
            format!(
                "round_trips={frames} elapsed_ms={} round_trips_per_s={rate:.0} frames_per_s={:.0}",
                t.as_millis(),
                2.0 * rate
            ),
        );
    }
    for id in [0u16, 1] {
        let s = eth.control(id).map_err(|e| e.to_string())?.stats_get();
        say(
            &format!("stats{id}"),
            format!("ipackets={} opackets={} imissed={} ierrors={}", s.ipackets, s.opackets, s.imissed, s.ierrors),
        );
        let want = 2 * u64::from(n);
        if s.ipackets != want || s.opackets != want || s.imissed != 0 || s.ierrors != 0 {
            return Err(format!("port {id}: counters {s:?}, expected {want} each way and no errors"));
        }
    }
    Ok(())
}
