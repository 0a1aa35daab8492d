//! What the QEMU guest programs (`guest_e1000`, `guest_igb`, `guest_virtio`, `guest_pci`)
//! share: their findings on the console (`<program>: key=value`), EAL and ethdev start-up
//! with the error exits the host-side tests look for, the scenario arguments, the files in
//! /tmp that pace the processes of a guest script, port bring-up and the packet loops
//! ([`port`]), the test frames ([`frames`], and the RSS flow frames [`flow_frames`], also
//! included by path by the host-side tests),
//! and the scenarios that are the same for every driver ([`lsc`], [`rxtx`], the checks of
//! [`rss`]).
//!
//! Each guest program keeps only what is specific to its driver.

pub mod flow_frames;
pub mod frames;
pub mod irq_trace;
pub mod jumbo;
pub mod lsc;
pub mod port;
pub mod rss;
pub mod rxtx;

use eal::Eal;
use ethdev::Ethdev;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The program name that prefixes every finding.
static NAME: OnceLock<&'static str> = OnceLock::new();

/// Sets the program name that prefixes the findings (once, first thing in `main`).
pub fn set_name(name: &'static str) {
    let _ = NAME.set(name);
}

/// The program name that prefixes the findings.
pub fn name() -> &'static str {
    NAME.get().copied().unwrap_or("guest")
}

/// Prints one `<program>: key=value` finding.
pub fn say(key: &str, value: impl std::fmt::Display) {
    println!("{}: {key}={value}", name());
}

/// Initialises the EAL from the command line, or prints `<program>: EAL_ERROR: <why>` and
/// exits with 2.
pub fn init_eal() -> Eal {
    let args: Vec<String> = std::env::args().collect();
    drivers::declare_to_eal();
    match Eal::init(&args) {
        Ok(e) => e,
        Err(e) => {
            println!("{}: EAL_ERROR: {e}", name());
            std::process::exit(2);
        }
    }
}

/// The application arguments after `--`: the scenario and its parameters.
pub struct Args(Vec<String>);

impl Args {
    /// The scenario name (empty when missing).
    pub fn scenario(&self) -> &str {
        self.str(1, "")
    }

    /// Argument `i` as text, or `default`.
    pub fn str<'a>(&'a self, i: usize, default: &'a str) -> &'a str {
        self.0.get(i).map(String::as_str).unwrap_or(default)
    }

    /// Argument `i` as a number, or `default` when missing or not a number.
    pub fn num(&self, i: usize, default: u32) -> u32 {
        self.0.get(i).and_then(|s| s.parse::<u32>().ok()).unwrap_or(default)
    }
}

/// The `main` of a guest program named `name`: initialises the EAL and ethdev with every
/// driver (exit 2 with `EAL_ERROR` or `ETH_ERROR` when that fails), runs `scenario` (the
/// scenario `noop` just initialises), prints `result=OK` (exit 0) or `FAILED: <why>` (exit 1).
pub fn main(name: &'static str, scenario: impl FnOnce(&Eal, &Ethdev, &Args) -> Result<(), String>) -> ! {
    set_name(name);
    let eal = init_eal();
    let args = Args(eal.app_args());
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
    let eth = match Ethdev::init(&eal, &drivers::all()) {
        Ok(e) => e,
        Err(e) => {
            println!("{name}: ETH_ERROR: {e}");
            std::process::exit(2);
        }
    };
    let r = match args.scenario() {
        "noop" => Ok(()),
        _ => scenario(&eal, &eth, &args),
    };
    let code = match r {
        Ok(()) => {
            say("result", "OK");
            0
        }
        Err(e) => {
            println!("{name}: FAILED: {e}");
            1
        }
    };
    drop(eth);
    drop(eal);
    std::process::exit(code);
}

/// The error of an unknown scenario.
pub fn unknown(scenario: &str) -> Result<(), String> {
    Err(format!("unknown scenario '{scenario}'"))
}

/// Waits up to `timeout` for `path` to exist.
pub fn wait_file(path: &str, timeout: Duration) -> Result<(), String> {
    let t0 = Instant::now();
    while !Path::new(path).exists() {
        if t0.elapsed() > timeout {
            return Err(format!("{path} did not appear within {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Writes `content` to `path` (a marker for the guest script or another process); a failure
/// is printed as a warning.
pub fn touch(path: &str, content: &str) {
    // Written aside and renamed into place: a script waiting for the file to appear (and
    // then killing this process) never finds it empty.
    let tmp = format!("{path}.tmp");
    if let Err(e) = std::fs::write(&tmp, content).and_then(|()| std::fs::rename(&tmp, path)) {
        say("warning", format!("cannot write {path}: {e}"));
    }
}

/// The end of a secondary that the guest script kills: prints `SECONDARY_DONE=ok|failed`,
/// writes it to `/tmp/mp_secondary_done`, then (when `r` is Ok) waits to be killed, so that
/// a crash-like end must leave the port usable for the primary.
pub fn secondary_done(r: Result<(), String>) -> Result<(), String> {
    let word = if r.is_ok() { "ok" } else { "failed" };
    say("SECONDARY_DONE", word);
    touch("/tmp/mp_secondary_done", word);
    r?;
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}
