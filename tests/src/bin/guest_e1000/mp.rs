//! `mp-primary NS NP` and `mp-secondary NS`: a secondary polls the queue the primary set
//! up and started, while the primary waits; the guest script kills the secondary with
//! SIGKILL and the primary then uses the port itself. Files in /tmp pace the three
//! parties: `mp_primary_ready`, `mp_secondary_done`, `mp_secondary_killed`.

use eal::Eal;
use ethdev::Ethdev;
use std::time::Duration;
use tests::guest::frames::{HOST_MAC, TAG_G2H, TAG_H2G};
use tests::guest::port::{self, report};
use tests::guest::{say, secondary_done, touch, wait_file};

/// The primary: starts port 0, waits for the secondary to be killed, then moves NP frames
/// each way itself and checks that the shared counters hold both processes' traffic.
pub fn primary(eal: &Eal, eth: &Ethdev, ns: u32, np: u32) -> Result<(), String> {
    let pool = port::pool(eal)?;
    port::start(eth, 0, pool, crate::LAYOUT)?;
    let p = &eth.port(0).map_err(|e| e.to_string())?;
    touch("/tmp/mp_primary_ready", "");
    say("PRIMARY_WAITING", p.name());
    wait_file("/tmp/mp_secondary_killed", Duration::from_secs(300))?;
    let s = p.stats();
    say("after_secondary", format!("ipackets={} opackets={}", s.ipackets, s.opackets));
    say("PRIMARY_RESUMED", p.name());
    let rx = port::receive(p, np, ns, TAG_H2G, HOST_MAC, Duration::from_secs(60), &|| {});
    report("primary_rx", &rx)?;
    let tx = port::send(p, &pool, np, ns, TAG_G2H, HOST_MAC, Duration::from_secs(60));
    report("primary_tx", &tx)?;
    let s = eth.control(0).map_err(|e| e.to_string())?.stats_get();
    say("stats", format!("{s:?}"));
    let want = u64::from(ns + np);
    if s.ipackets != want || s.opackets != want || s.ierrors != 0 || s.imissed != 0 {
        return Err(format!("shared counters {s:?}: expected {want} frames each way from both processes"));
    }
    Ok(())
}

/// The secondary: receives and sends NS frames on queue 0 of port 0, then waits to be
/// killed.
pub fn secondary(eal: &Eal, eth: &Ethdev, ns: u32) -> Result<(), String> {
    secondary_done((|| {
        let pool = port::pool(eal)?;
        let p = &eth.port(0).map_err(|e| e.to_string())?;
        if !p.is_started() {
            return Err("port 0 is not started".to_string());
        }
        let (link, seq) = p.link();
        say("SECONDARY_READY", format!("{} {link} seq={seq}", p.name()));
        let rx = port::receive(p, ns, 0, TAG_H2G, HOST_MAC, Duration::from_secs(120), &|| {});
        report("secondary_rx", &rx)?;
        let tx = port::send(p, &pool, ns, 0, TAG_G2H, HOST_MAC, Duration::from_secs(120));
        report("secondary_tx", &tx)?;
        let s = p.stats();
        say("secondary_stats", format!("ipackets={} opackets={}", s.ipackets, s.opackets));
        Ok(())
    })())
}
