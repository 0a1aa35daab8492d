//! `rxtx N LABEL`: N frames from the host peer checked on receipt, N frames sent to it, and
//! the port's software counters checked against what moved.

use crate::frames::HOST_MAC;
use crate::port::{self, report, say};
use crate::{TAG_G2H, TAG_H2G};
use eal::Eal;
use ethdev::Ethdev;
use std::time::Duration;

/// Runs the scenario on port 0; `label` tells runs apart on the console.
pub fn run(eal: &Eal, eth: &Ethdev, n: u32, label: &str) -> Result<(), String> {
    let pool = port::pool(eal)?;
    port::start(eth, 0, pool)?;
    let p = eth.port(0).map_err(|e| e.to_string())?;
    let modern = port::xstat(eth, 0, "modern")?;
    say("transport", format!("{label} modern={modern} iova_pa={}", eal.pci_bus().iova_pa()));
    say("READY", format!("rxtx-{label} {}", p.name()));
    let rx = port::receive(p, n, TAG_H2G, HOST_MAC, Duration::from_secs(180), &|| port::dump_xstats(eth, 0));
    report("rx", &rx)?;
    say("RX_DONE", p.name());
    let tx = port::send(p, &pool, n, TAG_G2H, HOST_MAC, Duration::from_secs(180));
    report("tx", &tx)?;
    let s = eth.control(0).map_err(|e| e.to_string())?.stats_get();
    say("stats", format!("{s:?}"));
    port::dump_xstats(eth, 0);
    let n = u64::from(n);
    let checks = [
        ("ipackets", s.ipackets, n),
        ("ibytes", s.ibytes, rx.bytes),
        ("opackets", s.opackets, n),
        ("obytes", s.obytes, tx.bytes),
        ("q_ipackets[0]", s.q_ipackets.first().copied().unwrap_or(0), n),
        ("q_opackets[0]", s.q_opackets.first().copied().unwrap_or(0), n),
        ("imissed", s.imissed, 0),
        ("ierrors", s.ierrors, 0),
        ("oerrors", s.oerrors, 0),
        ("rx_nombuf", s.rx_nombuf, 0),
    ];
    for (what, got, want) in checks {
        if got != want {
            return Err(format!("counter {what} is {got}, expected {want}"));
        }
    }
    say("STATS_OK", p.name());
    Ok(())
}
