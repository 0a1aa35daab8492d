//! `rxtx N`: N frames from the host peer checked on receipt, N frames sent to it, and the
//! port's software and device counters checked against what moved.

use crate::frames::HOST_MAC;
use crate::port::{self, report, say};
use crate::{TAG_G2H, TAG_H2G};
use eal::Eal;
use ethdev::Ethdev;
use std::time::{Duration, Instant};

fn xstat(eth: &Ethdev, id: u16, name: &str) -> Result<u64, String> {
    let x = eth.xstats(id).map_err(|e| e.to_string())?;
    x.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).ok_or_else(|| format!("no xstat {name}"))
}

/// Runs the scenario on port 0; `label` tells runs apart on the console.
pub fn run(eal: &Eal, eth: &Ethdev, n: u32, label: &str) -> Result<(), String> {
    let pool = port::pool(eal)?;
    port::start(eth, 0, pool)?;
    let p = eth.port(0).map_err(|e| e.to_string())?;
    say("READY", format!("rxtx-{label} {}", p.name()));
    let dump = || {
        if let Ok(x) = eth.xstats(0) {
            say("xstats", x.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "));
        }
    };
    let rx = port::receive_with(p, n, 0, TAG_H2G, HOST_MAC, Duration::from_secs(120), &dump);
    report("rx", &rx)?;
    say("RX_DONE", p.name());
    let tx = port::send(p, &pool, n, 0, TAG_G2H, HOST_MAC, Duration::from_secs(120));
    report("tx", &tx)?;
    // The device counts a frame once it has sent it: wait for all of them.
    let t0 = Instant::now();
    while xstat(eth, 0, "tx_good_packets")? < u64::from(n) && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = eth.control(0).map_err(|e| e.to_string())?.stats_get();
    say("stats", format!("{s:?}"));
    let x = eth.xstats(0).map_err(|e| e.to_string())?;
    say("xstats", x.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "));
    let hw_rx = xstat(eth, 0, "rx_good_packets")?;
    let hw_tx = xstat(eth, 0, "tx_good_packets")?;
    let n = u64::from(n);
    let checks = [
        ("ipackets", s.ipackets, n),
        ("ibytes", s.ibytes, rx.bytes),
        ("opackets", s.opackets, n),
        ("obytes", s.obytes, tx.bytes),
        ("imissed", s.imissed, 0),
        ("ierrors", s.ierrors, 0),
        ("oerrors", s.oerrors, 0),
        ("rx_nombuf", s.rx_nombuf, 0),
        ("device rx_good_packets", hw_rx, n),
        ("device tx_good_packets", hw_tx, n),
    ];
    for (what, got, want) in checks {
        if got != want {
            return Err(format!("counter {what} is {got}, expected {want}"));
        }
    }
    say("STATS_OK", p.name());
    Ok(())
}
