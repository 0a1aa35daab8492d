//! `guest_virtio`: runs inside the vmtest guest against QEMU's virtio-net-pci (modern,
//! legacy and transitional) through the EAL's PCI bus and the `net_virtio` PMD.
//!
//! Usage: `guest_virtio <EAL args> -- <scenario> [args]`, scenarios:
//! - `noop`: initialise and exit (for EAL and probe errors).
//! - `rxtx N LABEL`: receive N test frames from the host peer and check them, send N, check
//!   the port's counters.
//! - `mq NAME Q`: multiqueue. The primary configures two queue pairs and starts port 0;
//!   primary and secondary then each poll their queue Q, reflect every test frame back to
//!   the host on the same queue and report what they got once the traffic stops.
//! - `jumbo N MTU [LABEL]`: N jumbo frames (up to MTU + 14 bytes, mergeable RX buffers
//!   chained with scatter) each way, checked (`tests::guest::jumbo`).
//! - `lsc NAME`: (primary: starts port 0) prints every link event of port 0 and exits once
//!   it saw the link go down and come back up.
//!
//! Findings are printed as `guest_virtio: key=value`; failures as `guest_virtio: FAILED: ...`
//! with exit code 1 (2 for EAL or ethdev initialisation errors). The parts every guest
//! program shares are in `tests::guest`.

mod mq;
#[allow(dead_code)] // shared with the host-side test, which uses other parts
mod mqframes;

use std::time::Duration;
/// At the crate root for `mqframes`, which the host-side test includes next to its own copy.
use tests::guest::frames;
use tests::guest::port::{xstat, Layout};
use tests::guest::{self, jumbo, lsc, rxtx, say};

/// One queue pair; QEMU's virtio-net queues hold 256 descriptors by default.
pub const LAYOUT: Layout = Layout::single(256, 256);

fn main() {
    guest::main("guest_virtio", |eal, eth, args| match args.scenario() {
        "rxtx" => {
            let label = args.str(3, "x");
            rxtx::run(eal, eth, args.num(2, 10_000), label, LAYOUT, Duration::from_secs(180), &|m| {
                let modern = xstat(eth, 0, "modern")?;
                say("transport", format!("{label} modern={modern} iova_pa={}", eal.pci_bus().iova_pa()));
                Ok(vec![
                    ("q_ipackets[0]", m.stats.q_ipackets.first().copied().unwrap_or(0), m.n),
                    ("q_opackets[0]", m.stats.q_opackets.first().copied().unwrap_or(0), m.n),
                ])
            })
        }
        "mq" => mq::run(eal, eth, args.str(2, "x"), args.num(3, 0) as u16),
        "lsc" => lsc::run(eal, eth, args.str(2, "x"), LAYOUT),
        "jumbo" => jumbo::run(eal, eth, args.num(2, 600), args.num(3, 9000) as u16, args.str(4, "x"), LAYOUT),
        other => guest::unknown(other),
    })
}
