//! `promisc N OTHER_MAC`: the unicast filter and promiscuous mode. Twice (promiscuous off,
//! then on) the host sends N test frames to `OTHER_MAC`, a unicast address that is not the
//! port's, then one end marker to the port's own address; frames on one queue keep their
//! order, so once the marker is in, every frame the filter let through is in too. With
//! promiscuous mode off none of the N may arrive; after `set_promiscuous(true)` all N must,
//! in order and intact.

use crate::LAYOUT;
use eal::{Eal, Mbuf};
use ethdev::Ethdev;
use std::time::{Duration, Instant};
use tests::guest::frames::{self, HOST_MAC, TAG_H2G};
use tests::guest::port::{self, BURST};
use tests::guest::say;

/// How long each phase may wait for its end marker.
const PHASE_WAIT: Duration = Duration::from_secs(120);

/// Receives until the end marker (a test frame to the port's own address): the frames to
/// `other` before it, each checked against the sequence numbers 0, 1, ... in order.
fn count_until_marker(p: &ethdev::Port, other: [u8; 6], what: &str) -> Result<u32, String> {
    let own = p.mac();
    let deadline = Instant::now() + PHASE_WAIT;
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut got = 0u32;
    loop {
        bufs.clear();
        if p.rx_burst(0, &mut bufs, BURST).map_err(|e| e.to_string())? == 0 {
            if Instant::now() > deadline {
                return Err(format!("{what}: no end marker within {PHASE_WAIT:?} ({got} frames to {other:02x?})"));
            }
            std::hint::spin_loop();
            continue;
        }
        for m in bufs.drain(..) {
            let d = m.data();
            if d[..6] == own {
                return Ok(got);
            }
            frames::check(d, got, TAG_H2G, other, HOST_MAC).map_err(|e| format!("{what}: {e}"))?;
            got += 1;
        }
    }
}

/// Runs the scenario on port 0.
pub fn run(eal: &Eal, eth: &Ethdev, n: u32, other: &str) -> Result<(), String> {
    let other = frames::parse_mac(other).ok_or_else(|| format!("promisc: bad MAC address '{other}'"))?;
    port::start(eth, 0, port::pool(eal)?, LAYOUT)?;
    let pc = eth.control(0).map_err(|e| e.to_string())?;
    let p = &eth.port(0).map_err(|e| e.to_string())?;
    if p.promiscuous() {
        return Err("promiscuous mode is on after start; it must default to off".into());
    }
    say("READY", "promisc-off");
    let off = count_until_marker(p, other, "promiscuous off")?;
    say("promisc_off", format!("received={off} of {n} sent to another address"));
    if off != 0 {
        return Err(format!("promiscuous off: {off} of {n} frames to another unicast address were received"));
    }
    pc.set_promiscuous(true).map_err(|e| e.to_string())?;
    say("READY", "promisc-on");
    let on = count_until_marker(p, other, "promiscuous on")?;
    say("promisc_on", format!("received={on} of {n} sent to another address"));
    if on != n {
        return Err(format!("promiscuous on: {on} of {n} frames to another unicast address were received"));
    }
    say("PROMISC_OK", n);
    Ok(())
}
