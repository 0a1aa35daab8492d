//! `lsc NAME`: every process of the group (the primary, which starts port 0, and the
//! secondaries) prints the link events of port 0 as it gets them and exits once it has
//! seen the link go down and then come up again, in that order. The primary waits for the
//! secondaries (`/tmp/lsc_<name>_ok` files listed in `LSC_WAIT`) before it exits.

use super::port::{self, Layout};
use super::{say, wait_file};
use eal::Eal;
use ethdev::{Ethdev, Link};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs the scenario under `name`; the primary starts port 0 with `layout`.
pub fn run(eal: &Eal, eth: &Ethdev, name: &str, layout: Layout) -> Result<(), String> {
    if eal.is_primary() {
        let pool = port::pool(eal)?;
        port::start(eth, 0, pool, layout)?;
    }
    let events: Arc<Mutex<Vec<(bool, u32)>>> = Arc::default();
    let ev = events.clone();
    let who = name.to_string();
    eth.on_link_change(Some(0), move |port, link: Link, seq| {
        say("lsc_event", format!("{who} port={port} up={} seq={seq} {link}", link.up));
        ev.lock().unwrap_or_else(|p| p.into_inner()).push((link.up, seq));
    });
    let p = &eth.port(0).map_err(|e| e.to_string())?;
    let (link, seq) = p.link();
    say("LSC_READY", format!("{name} {link} seq={seq}"));
    let _ = std::fs::write(format!("/tmp/lsc_{name}_ready"), "");
    let t0 = Instant::now();
    let seen = loop {
        let e = events.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(d) = e.iter().position(|(up, _)| !up) {
            if let Some(u) = e[d..].iter().position(|(up, _)| *up) {
                break e[..=d + u].to_vec();
            }
        }
        if t0.elapsed() > Duration::from_secs(90) {
            return Err(format!("{name}: did not see the link go down then up within 90 s (events {e:?})"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if seen.windows(2).any(|w| w[1].1 <= w[0].1) {
        return Err(format!("{name}: events out of order: {seen:?}"));
    }
    say("LSC_OK", format!("{name} events={seen:?}"));
    let _ = std::fs::write(format!("/tmp/lsc_{name}_ok"), "");
    if eal.is_primary() {
        for other in std::env::var("LSC_WAIT").unwrap_or_default().split_whitespace() {
            // Best effort: a secondary that failed has said so itself.
            let _ = wait_file(&format!("/tmp/lsc_{other}_ok"), Duration::from_secs(30));
        }
    }
    Ok(())
}
