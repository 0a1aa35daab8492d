//! `rxtx N [LABEL]`: one queue each way on port 0; N test frames from the host peer checked
//! on receipt, N frames sent to it, and the port's counters checked against what moved: the
//! software counters here, the driver's own (device counters, per-queue counters) by the
//! caller.

use super::frames::{HOST_MAC, TAG_G2H, TAG_H2G};
use super::port::{self, report, Layout, Run};
use super::say;
use eal::Eal;
use ethdev::{Ethdev, Stats};
use std::time::{Duration, Instant};

/// A counter check: what, the value, the value expected.
pub type Check = (&'static str, u64, u64);

/// What the scenario moved, for the driver's own checks.
pub struct Moved<'a> {
    /// Frames each way.
    pub n: u64,
    /// The receive run.
    pub rx: &'a Run,
    /// The send run.
    pub tx: &'a Run,
    /// The port's software counters after the run.
    pub stats: &'a Stats,
}

/// Runs the scenario on port 0 with `layout`, `timeout` for each direction; `label` tells
/// runs apart on the console (`READY=rxtx-<label> <port>`). `driver_checks` gives the
/// driver's own counter checks, which must hold as well.
pub fn run(
    eal: &Eal,
    eth: &Ethdev,
    n: u32,
    label: &str,
    layout: Layout,
    timeout: Duration,
    driver_checks: &dyn Fn(&Moved) -> Result<Vec<Check>, String>,
) -> Result<(), String> {
    let pool = port::pool(eal)?;
    port::start(eth, 0, pool, layout)?;
    let p = &eth.port(0).map_err(|e| e.to_string())?;
    say("READY", format!("rxtx-{label} {}", p.name()));
    let rx = port::receive(p, n, 0, TAG_H2G, HOST_MAC, timeout, &|| port::dump_xstats(eth, 0, "xstats"));
    report("rx", &rx)?;
    say("RX_DONE", p.name());
    let tx = port::send(p, &pool, n, 0, TAG_G2H, HOST_MAC, timeout);
    report("tx", &tx)?;
    let pc = eth.control(0).map_err(|e| e.to_string())?;
    // A device counts a frame once it has sent it: wait for all of them (a device without
    // the counter has nothing to wait for).
    let t0 = Instant::now();
    let sent = || {
        pc.stats_get().opackets >= u64::from(n)
            && port::xstat(eth, 0, "tx_good_packets").unwrap_or(u64::MAX) >= u64::from(n)
    };
    while !sent() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = pc.stats_get();
    say("stats", format!("{s:?}"));
    port::dump_xstats(eth, 0, "xstats");
    let n = u64::from(n);
    let mut checks = vec![
        ("ipackets", s.ipackets, n),
        ("ibytes", s.ibytes, rx.bytes),
        ("opackets", s.opackets, n),
        ("obytes", s.obytes, tx.bytes),
        ("imissed", s.imissed, 0),
        ("ierrors", s.ierrors, 0),
        ("oerrors", s.oerrors, 0),
        ("rx_nombuf", s.rx_nombuf, 0),
    ];
    checks.extend(driver_checks(&Moved { n, rx: &rx, tx: &tx, stats: &s })?);
    for (what, got, want) in checks {
        if got != want {
            return Err(format!("counter {what} is {got}, expected {want}"));
        }
    }
    say("STATS_OK", p.name());
    Ok(())
}
