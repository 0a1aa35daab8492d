//! When a device's interrupts reached the guest kernel: the kernel's own `irq_handler_entry`
//! trace events (tracefs, clock `mono`, which is `CLOCK_MONOTONIC`), kept for the VFIO
//! interrupts of one PCI device (`vfio-msix[N](BDF)`, `vfio-msi[..]`, `vfio-intx(BDF)`).
//! Matching those stamps with the `CLOCK_MONOTONIC` times a poller had each frame in hand
//! gives the delay from "the interrupt entered the guest kernel" to "the poller holds the
//! frame": the eventfd signal, the wake-up of the sleeping thread (on whichever vCPU), the
//! disarm and the `rx_burst`. Unlike a witness thread on the eventfd, the stamp does not
//! depend on another thread being scheduled, and no interrupt is missed.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where tracefs is (mounted here if it is not yet).
const TRACEFS: &str = "/sys/kernel/tracing";

/// The current `CLOCK_MONOTONIC` time, as the kernel trace clock `mono` prints it.
pub fn now() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map(Duration::from).unwrap_or_default()
}

/// A running trace of one device's interrupt handler entries.
#[derive(Debug)]
pub struct IrqTrace {
    dir: PathBuf,
    bdf: String,
}

fn write(dir: &Path, file: &str, what: &str) -> Result<(), String> {
    let p = dir.join(file);
    std::fs::write(&p, what).map_err(|e| format!("writing '{what}' to {}: {e}", p.display()))
}

impl IrqTrace {
    /// Clears the trace buffer and starts recording the interrupt handler entries of PCI
    /// device `bdf` (`0000:00:03.0`). Needs root and a kernel with event tracing.
    pub fn start(bdf: &str) -> Result<IrqTrace, String> {
        let dir = PathBuf::from(TRACEFS);
        if !dir.join("trace").exists() {
            let st = std::process::Command::new("mount")
                .args(["-t", "tracefs", "nodev", TRACEFS])
                .status()
                .map_err(|e| format!("mount tracefs: {e}"))?;
            if !st.success() || !dir.join("trace").exists() {
                return Err(format!("tracefs is not at {TRACEFS} and cannot be mounted there"));
            }
        }
        write(&dir, "tracing_on", "0")?;
        write(&dir, "trace", "")?;
        write(&dir, "trace_clock", "mono")?;
        write(&dir, "buffer_size_kb", "4096")?;
        // The filter only keeps the buffer small; `stamps` checks the names again.
        let _ = write(&dir, "events/irq/irq_handler_entry/filter", "name ~ \"vfio*\"");
        write(&dir, "events/irq/irq_handler_entry/enable", "1")?;
        write(&dir, "tracing_on", "1")?;
        Ok(IrqTrace { dir, bdf: bdf.to_string() })
    }

    /// Stops recording; the device's interrupts (time, vCPU that took it), in order.
    pub fn finish(self) -> Result<Vec<(Duration, u32)>, String> {
        write(&self.dir, "tracing_on", "0")?;
        let _ = write(&self.dir, "events/irq/irq_handler_entry/enable", "0");
        let p = self.dir.join("trace");
        let text = std::fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()))?;
        let _ = write(&self.dir, "trace", "");
        let mut s = stamps(&text, &self.bdf);
        s.sort_unstable();
        Ok(s)
    }
}

/// The times and CPUs of `irq_handler_entry` lines of device `bdf`'s VFIO interrupts in
/// `trace` (lines `  task-pid [cpu] flags  SECS.USECS: irq_handler_entry: irq=N name=vfio-msix[1](BDF)`).
pub fn stamps(trace: &str, bdf: &str) -> Vec<(Duration, u32)> {
    let tag = format!("({bdf})");
    trace
        .lines()
        .filter_map(|l| {
            let (head, ev) = l.split_once(": irq_handler_entry: ")?;
            let name = ev.split_once("name=")?.1.trim();
            if !(name.starts_with("vfio-") && name.ends_with(&tag)) {
                return None;
            }
            let cpu = head.split_once('[')?.1.split_once(']')?.0.trim().parse().ok()?;
            Some((parse_secs(head.split_whitespace().last()?)?, cpu))
        })
        .collect()
}

fn parse_secs(t: &str) -> Option<Duration> {
    let (s, frac) = t.split_once('.')?;
    let secs: u64 = s.parse().ok()?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = format!("{frac:0<9}").parse().ok()?;
    Some(Duration::new(secs, nanos))
}

/// For each frame time of `rx` (in order), the delay since the latest interrupt stamp after
/// the previous frame's time and not after its own; frames with no such stamp (received
/// while the poller was polling) give none.
pub fn delays(stamps: &[Duration], rx: &[Duration]) -> Vec<Duration> {
    let mut out = Vec::new();
    let mut prev: Option<Duration> = None;
    for &t in rx {
        let s = stamps.iter().rev().find(|&&s| s <= t && prev.is_none_or(|p| s > p));
        if let Some(&s) = s {
            out.push(t - s);
        }
        prev = Some(t);
    }
    out
}

/// `cpu0=N cpu1=M ..`: how many of `stamps` each vCPU took.
pub fn per_cpu(stamps: &[(Duration, u32)]) -> String {
    let n = stamps.iter().map(|s| s.1 + 1).max().unwrap_or(0);
    (0..n).map(|c| format!("cpu{c}={}", stamps.iter().filter(|s| s.1 == c).count())).collect::<Vec<_>>().join(" ")
}

/// `samples=K p50=..us p99=..us max=..us` of `d` (sorted here).
pub fn summary(d: &mut [Duration]) -> String {
    if d.is_empty() {
        return "samples=0".into();
    }
    d.sort_unstable();
    let us = |x: Duration| x.as_micros();
    format!(
        "samples={} p50={}us p99={}us max={}us",
        d.len(),
        us(d[d.len() / 2]),
        us(d[(d.len() * 99 / 100).min(d.len() - 1)]),
        us(d[d.len() - 1])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_take_the_stamp_just_before_them() {
        let at = Duration::from_micros;
        let stamps = [at(100), at(150), at(1000)];
        let rx = [at(200), at(500), at(1300)];
        // 200 follows 150; 500 had no new stamp (polled); 1300 follows 1000.
        assert_eq!(delays(&stamps, &rx), vec![at(50), at(300)]);
        let mut d = delays(&stamps, &rx);
        assert!(summary(&mut d).starts_with("samples=2 p50=300us"));
        assert_eq!(summary(&mut []), "samples=0");
        assert_eq!(per_cpu(&[(at(1), 1), (at(2), 1)]), "cpu0=0 cpu1=2");
    }

    #[test]
    fn only_the_devices_vfio_interrupts_are_stamped() {
        let t = "# tracer: nop\n\
            #           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n\
            <idle>-0       [001] d.h2.    12.000100: irq_handler_entry: irq=24 name=vfio-msix[1](0000:00:03.0)\n\
            <idle>-0       [000] d.h2.    12.000200: irq_handler_entry: irq=25 name=vfio-msix[1](0000:00:04.0)\n\
            <idle>-0       [000] d.h2.    12.000300: irq_handler_entry: irq=4 name=ttyS0\n\
            sh-90          [000] d.h1.    13.5: irq_handler_entry: irq=11 name=vfio-intx(0000:00:03.0)\n\
            garbage line\n";
        assert_eq!(
            stamps(t, "0000:00:03.0"),
            vec![(Duration::new(12, 100_000), 1), (Duration::new(13, 500_000_000), 0)]
        );
        assert_eq!(parse_secs("1.x"), None);
        assert_eq!(parse_secs("7"), None);
    }
}
