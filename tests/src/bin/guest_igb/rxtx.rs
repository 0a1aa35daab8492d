//! `rxtx N`: one queue each way; N pattern frames from the host peer checked on receipt, N
//! sent back, and the port's software and device counters checked against what moved.

use crate::frames::HOST_MAC;
use crate::port::{self, report, say};
use crate::{TAG_G2H, TAG_H2G};
use eal::Eal;
use ethdev::Ethdev;
use std::time::{Duration, Instant};

fn xstat(eth: &Ethdev, name: &str) -> Result<u64, String> {
    let x = eth.xstats(0).map_err(|e| e.to_string())?;
    x.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).ok_or_else(|| format!("no xstat {name}"))
}

/// Runs the scenario on port 0.
pub fn run(eal: &Eal, eth: &Ethdev, n: u32) -> Result<(), String> {
    let pool = port::pool(eal)?;
    port::start(eth, 0, pool, 1, 1)?;
    let p = eth.port(0).map_err(|e| e.to_string())?;
    say("READY", format!("rxtx {}", p.name()));
    let rx = port::receive(p, n, 0, TAG_H2G, HOST_MAC, Duration::from_secs(180));
    report("rx", &rx)?;
    let tx = port::send(p, &pool, n, 0, TAG_G2H, HOST_MAC, Duration::from_secs(180));
    report("tx", &tx)?;
    let pc = eth.control(0).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    while pc.stats_get().opackets < u64::from(n) || xstat(eth, "tx_good_packets")? < u64::from(n) {
        if t0.elapsed() > Duration::from_secs(5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = pc.stats_get();
    say("stats", format!("{s:?}"));
    let x = eth.xstats(0).map_err(|e| e.to_string())?;
    say("xstats", x.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "));
    let n = u64::from(n);
    let checks = [
        ("ipackets", s.ipackets, n),
        ("ibytes", s.ibytes, rx.bytes),
        ("opackets", s.opackets, n),
        ("obytes", s.obytes, tx.bytes),
        ("q_ipackets[0]", s.q_ipackets.first().copied().unwrap_or(0), n),
        ("imissed", s.imissed, 0),
        ("ierrors", s.ierrors, 0),
        ("oerrors", s.oerrors, 0),
        ("rx_nombuf", s.rx_nombuf, 0),
        ("device rx_good_packets", xstat(eth, "rx_good_packets")?, n),
        ("device tx_good_packets", xstat(eth, "tx_good_packets")?, n),
        // The device counts the 4-byte FCS of every frame.
        ("device rx_good_bytes", xstat(eth, "rx_good_bytes")?, rx.bytes + 4 * n),
        ("device tx_good_bytes", xstat(eth, "tx_good_bytes")?, tx.bytes + 4 * n),
    ];
    for (what, got, want) in checks {
        if got != want {
            return Err(format!("counter {what} is {got}, expected {want}"));
        }
    }
    say("STATS_OK", p.name());
    Ok(())
}
