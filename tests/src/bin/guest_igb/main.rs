//! `guest_igb`: runs inside the vmtest guest against QEMU's igb (82576) through the EAL's
//! PCI bus and the `net_igb` PMD.
//!
//! Usage: `guest_igb <EAL args> -- <scenario> [args]`, scenarios:
//! - `rxtx N`: one queue each way; N pattern frames from the host peer checked, N sent back,
//!   the counters checked.
//! - `rss FLOWS PER_FLOW`: four RX queues with RSS; the host's UDP flows must spread over
//!   all queues, once each, each flow on the queue the Toeplitz hash and RETA predict.
//! - `mp-primary FLOWS PER_FLOW` / `mp-secondary FLOWS PER_FLOW`: the primary polls queue 0
//!   and a secondary queue 1, each echoing on its own TX queue; after the secondary is
//!   killed the primary moves every flow to queue 0 and serves a second batch.
//! - `lsc NAME`: prints the link events of port 0 and exits once it saw down then up.
//!
//! Findings are printed as `guest_igb: key=value`; failures as `guest_igb: FAILED: ...` with
//! exit code 1 (2 for EAL or ethdev initialisation errors).

#[allow(dead_code)] // shared with the host-side test, which uses other parts
mod frames;
mod lsc;
mod mp;
mod port;
mod rss;
mod rxtx;

use port::say;

/// Tag of frames from the host to the guest.
pub const TAG_H2G: u8 = 0x11;
/// Tag of frames from the guest to the host.
pub const TAG_G2H: u8 = 0x22;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let eal = match eal::Eal::init(&args) {
        Ok(e) => e,
        Err(e) => {
            println!("guest_igb: EAL_ERROR: {e}");
            std::process::exit(2);
        }
    };
    let app = eal.app_args();
    let scenario = app.get(1).cloned().unwrap_or_default();
    let num = |i: usize, d: u32| app.get(i).and_then(|s| s.parse::<u32>().ok()).unwrap_or(d);
    say(
        "init",
        format!("role={:?} pci_devices={} iova_pa={}", eal.role(), eal.pci_devices().len(), eal.pci_bus().iova_pa()),
    );
    let eth = match ethdev::Ethdev::init(&eal, &drivers::all()) {
        Ok(e) => e,
        Err(e) => {
            println!("guest_igb: ETH_ERROR: {e}");
            std::process::exit(2);
        }
    };
    let flows = num(2, 64).min(u32::from(u16::MAX)) as u16;
    let r = match scenario.as_str() {
        "rxtx" => rxtx::run(&eal, &eth, num(2, 10_000)),
        "rss" => rss::run(&eal, &eth, flows, num(3, 16)),
        "mp-primary" => mp::primary(&eal, &eth, flows, num(3, 8)),
        "mp-secondary" => mp::secondary(&eal, &eth, flows, num(3, 8)),
        "lsc" => lsc::run(&eal, &eth, app.get(2).map(String::as_str).unwrap_or("x")),
        other => Err(format!("unknown scenario '{other}'")),
    };
    let code = match r {
        Ok(()) => {
            say("result", "OK");
            0
        }
        Err(e) => {
            println!("guest_igb: FAILED: {e}");
            1
        }
    };
    drop(eth);
    drop(eal);
    std::process::exit(code);
}
