//! `guest_e1000`: runs inside the vmtest guest against QEMU's e1000 (82540EM) and e1000e
//! (82574L) through the EAL's PCI bus and the `net_e1000_em` PMD.
//!
//! Usage: `guest_e1000 <EAL args> -- <scenario> [args]`, scenarios:
//! - `noop`: initialise and exit (for EAL errors such as an unbound device).
//! - `rxtx N [LABEL]`: receive N test frames from the host peer and check them, send N, check
//!   the port's counters (software and device).
//! - `fwd N`: two ports on one hub; each direction N frames sent by one port, reflected by
//!   the other, checked on return.
//! - `mp-primary NS NP` / `mp-secondary NS`: the primary starts the port and waits while a
//!   secondary receives and sends NS frames on queue 0; after the secondary is killed the
//!   primary receives and sends NP frames itself.
//! - `lsc NAME`: (primary: starts port 0) prints every link event of port 0 and exits once
//!   it saw the link go down and come back up.
//!
//! Findings are printed as `guest_e1000: key=value`; failures as `guest_e1000: FAILED: ...`
//! with exit code 1 (2 for EAL or ethdev initialisation errors).

#[allow(dead_code)] // shared with the host-side test, which uses other parts
mod frames;
mod fwd;
mod lsc;
mod mp;
mod port;
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
            println!("guest_e1000: EAL_ERROR: {e}");
            std::process::exit(2);
        }
    };
    let app = eal.app_args();
    let scenario = app.get(1).cloned().unwrap_or_default();
    let num = |i: usize, d: u32| app.get(i).and_then(|s| s.parse::<u32>().ok()).unwrap_or(d);
    say(
        "init",
        format!(
            "role={:?} pci_devices={} iova_pa={} init={:?}",
            eal.role(),
            eal.pci_devices().len(),
            eal.pci_bus().iova_pa(),
            eal.init_time()
        ),
    );
    let eth = match ethdev::Ethdev::init(&eal, &drivers::all()) {
        Ok(e) => e,
        Err(e) => {
            println!("guest_e1000: ETH_ERROR: {e}");
            std::process::exit(2);
        }
    };
    let r = match scenario.as_str() {
        "noop" => Ok(()),
        "rxtx" => rxtx::run(&eal, &eth, num(2, 10_000), app.get(3).map(String::as_str).unwrap_or("va")),
        "fwd" => fwd::run(&eal, &eth, num(2, 10_000)),
        "mp-primary" => mp::primary(&eal, &eth, num(2, 1000), num(3, 1000)),
        "mp-secondary" => mp::secondary(&eal, &eth, num(2, 1000)),
        "lsc" => lsc::run(&eal, &eth, app.get(2).map(String::as_str).unwrap_or("x")),
        other => Err(format!("unknown scenario '{other}'")),
    };
    let code = match r {
        Ok(()) => {
            say("result", "OK");
            0
        }
        Err(e) => {
            println!("guest_e1000: FAILED: {e}");
            1
        }
    };
    drop(eth);
    drop(eal);
    std::process::exit(code);
}
