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
//! - `lsc NAME`: (primary: starts port 0) prints every link event of port 0 and exits once
//!   it saw the link go down and come back up.
//!
//! Findings are printed as `guest_virtio: key=value`; failures as `guest_virtio: FAILED: ...`
//! with exit code 1 (2 for EAL or ethdev initialisation errors).

#[allow(dead_code)] // shared with the host-side test, which uses other parts
#[path = "../guest_e1000/frames.rs"]
mod frames;
mod lsc;
mod mq;
#[allow(dead_code)] // shared with the host-side test, which uses other parts
mod mqframes;
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
            println!("guest_virtio: EAL_ERROR: {e}");
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
            println!("guest_virtio: ETH_ERROR: {e}");
            std::process::exit(2);
        }
    };
    let r = match scenario.as_str() {
        "noop" => Ok(()),
        "rxtx" => rxtx::run(&eal, &eth, num(2, 10_000), app.get(3).map(String::as_str).unwrap_or("x")),
        "mq" => mq::run(&eal, &eth, app.get(2).map(String::as_str).unwrap_or("x"), num(3, 0) as u16),
        "lsc" => lsc::run(&eal, &eth, app.get(2).map(String::as_str).unwrap_or("x")),
        other => Err(format!("unknown scenario '{other}'")),
    };
    let code = match r {
        Ok(()) => {
            say("result", "OK");
            0
        }
        Err(e) => {
            println!("guest_virtio: FAILED: {e}");
            1
        }
    };
    drop(eth);
    drop(eal);
    std::process::exit(code);
}
