//! hotplug_mp: DPDK's multi-process hotplug sample. Run it as the primary and as any
//! number of secondaries (EAL options as the other samples); each reads commands from
//! stdin: `attach <devargs>`, `detach <port or devargs>`, `list`, `quit` (see [`command`]).
//! An attach or detach typed in any process changes the ports of every process of the
//! group: a secondary asks the primary, which waits for every process to follow.
//!
//! The primary configures and starts each port attached (one queue pair) and sends it a
//! few frames, so a detach has a running port with mbufs in it to release. Application
//! options (after `--`): `--traffic PORT` keeps frames flowing on PORT (primary),
//! `--detach-timeout MS` (primary) how long a detach waits for processes to release a port.
//! A PCI device is attached by address (`attach 0000:00:04.0`; bound to vfio-pci first)
//! and `fwd <port> <frames> <ms>` echoes frames on it in the process that types it.
//!
//! ```text
//! hotplug_mp -l 0-1 --no-huge --vdev net_ring0 -- --traffic 0      # terminal 1
//! hotplug_mp -l 2 --no-huge --proc-type secondary                  # terminal 2
//! > attach net_null1
//! > list
//! > detach 1
//! ```

mod command;
mod forward;
mod traffic;

use command::{Command, Target, HELP};
use eal::Eal;
use ethdev::{Ethdev, Port, PortEvent};
use examples_common::args::{app_cli, unknown, Arg};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;
use traffic::Traffic;

const APP: &str = "hotplug_mp";
const USAGE: &str = "Usage: hotplug_mp [EAL options] -- [--traffic PORT] [--detach-timeout MS] [-h]\n";
const POOL: &str = "hotplug_pool";
/// Frames the primary sends into each port it starts.
const WELCOME_FRAMES: usize = 8;

/// Application options.
#[derive(Debug, Default, PartialEq, Eq)]
struct Opts {
    help: bool,
    traffic: Option<u16>,
    detach_timeout_ms: Option<u64>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut cli = app_cli(args);
    let mut o = Opts::default();
    while let Some(arg) = cli.next_arg()? {
        match arg {
            Arg::Short('h') | Arg::Long("help") => o.help = true,
            Arg::Long("traffic") => {
                let v = cli.value("--traffic")?;
                o.traffic = Some(v.parse().map_err(|_| format!("invalid value '{v}' for --traffic: a port id"))?);
            }
            Arg::Long("detach-timeout") => {
                let v = cli.value("--detach-timeout")?;
                o.detach_timeout_ms =
                    Some(v.parse().map_err(|_| format!("invalid value '{v}' for --detach-timeout: milliseconds"))?);
            }
            other => return Err(unknown(other)),
        }
    }
    Ok(o)
}

fn main() {
    let eal = examples_common::eal_init_or_exit(APP);
    let opts = match parse(&eal.app_args()) {
        Ok(o) if o.help => {
            print!("{USAGE}");
            std::process::exit(0);
        }
        Ok(o) => o,
        Err(e) => {
            eprintln!("{APP}: {e}\n{USAGE}");
            std::process::exit(1);
        }
    };
    examples_common::exit_after(APP, eal, |eal| run(eal, &opts));
}

/// Configures and starts port `id` with one queue pair and sends it a few frames (primary).
fn start_port(eth: &Ethdev, id: u16, pool: eal::PktMbufPool) {
    if let Err(e) = examples_common::setup_port(eth, id, 1, 1, 256, 0, pool) {
        println!("port {id}: cannot start: {e}");
        return;
    }
    let Ok(port) = eth.port(id) else { return };
    println!("port {id} started");
    let _ = std::io::stdout().flush();
    let mut bufs = Vec::new();
    if pool.alloc_bulk(&mut bufs, WELCOME_FRAMES) {
        for m in &mut bufs {
            if let Some(d) = m.append(60) {
                d.fill(0x5a);
            }
        }
        let _ = port.tx_burst(0, &mut bufs);
        eal::mbuf::free_bulk(&mut bufs);
    }
}

fn run(eal: &Eal, opts: &Opts) -> Result<(), String> {
    let eth = examples_common::ports(eal)?;
    let pool = examples_common::shared_pool(eal, POOL, 4095)?;
    if let Some(ms) = opts.detach_timeout_ms {
        eth.set_detach_timeout(Duration::from_millis(ms));
    }
    let (new_tx, new_rx) = mpsc::channel::<u16>();
    let primary = eal.is_primary();
    eth.on_port_event(move |port, ev| {
        println!("event: port {port} {}", ev.name());
        let _ = std::io::stdout().flush();
        if primary && ev == PortEvent::New {
            let _ = new_tx.send(port);
        }
    });
    if primary {
        for id in eth.port_ids() {
            if opts.traffic == Some(id) || !eth.port(id).is_ok_and(|p| p.is_started()) {
                start_port(&eth, id, pool);
            }
        }
    }
    let t = Traffic::default();
    let traffic_port = match opts.traffic {
        Some(id) if primary => Some(eth.port(id).map_err(|e| format!("--traffic {id}: {e}"))?),
        Some(_) => return Err("--traffic is a primary option (the primary starts the port)".into()),
        None => None,
    };
    t.on.store(traffic_port.is_some(), Ordering::Relaxed);
    println!("{} ready (pid {})", if primary { "primary" } else { "secondary" }, std::process::id());
    let _ = std::io::stdout().flush();
    std::thread::scope(|s| {
        if let Some(port) = traffic_port {
            let t = &t;
            s.spawn(move || traffic::run(port, pool, t));
        }
        if primary {
            // Start the ports attached at any process's request (the event callback runs
            // inside attach; the start happens here, outside it).
            let (eth, t) = (&eth, &t);
            s.spawn(move || {
                while !t.stop.load(Ordering::Relaxed) {
                    if let Ok(id) = new_rx.recv_timeout(Duration::from_millis(100)) {
                        start_port(eth, id, pool);
                    }
                }
            });
        }
        commands(eal, &eth, pool, &t);
        t.stop.store(true, Ordering::Relaxed);
    });
    let ids = eth.port_ids();
    if primary {
        examples_common::close_ports_and_report(eth, &ids, &pool);
    } else {
        drop(eth);
        pool.mempool().flush_cache();
    }
    Ok(())
}

/// Reads and runs commands until `quit`, Ctrl-C or SIGTERM. At the end of stdin it keeps
/// running (sleeping, not polling stdin) until a signal.
fn commands(eal: &Eal, eth: &Ethdev, pool: eal::PktMbufPool, t: &Traffic) {
    let mut held: HashMap<u16, Port> = HashMap::new();
    let stdin = std::io::stdin();
    let mut line = String::new();
    while !eal::signal::quit_requested() {
        line.clear();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                println!("stdin closed: running until Ctrl-C or SIGTERM");
                let _ = std::io::stdout().flush();
                while !eal::signal::quit_requested() {
                    std::thread::sleep(Duration::from_millis(100));
                }
                break;
            }
            Ok(_) => {}
        }
        let quit = match command::parse(&line) {
            Ok(Command::Quit) => true,
            Ok(c) => {
                execute(eal, eth, pool, t, &mut held, c);
                false
            }
            Err(e) => {
                println!("{e}");
                false
            }
        };
        let _ = std::io::stdout().flush();
        if quit {
            break;
        }
    }
}

fn execute(eal: &Eal, eth: &Ethdev, pool: eal::PktMbufPool, t: &Traffic, held: &mut HashMap<u16, Port>, c: Command) {
    match c {
        Command::Attach(devargs) => match eth.attach(&devargs) {
            Ok(id) => println!("Attached device {devargs} as port {id}"),
            Err(e) => println!("failed to attach device {devargs}: {e}"),
        },
        Command::Detach(target) => {
            let id = match &target {
                Target::Port(p) => Some(*p),
                Target::Device(name) => eth.find_port(name),
            };
            match id {
                None => println!("failed to detach device {target:?}: no port has that name or devargs"),
                Some(id) => {
                    let name = eth.port(id).map(|p| p.name()).unwrap_or_default();
                    match eth.detach(id) {
                        Ok(()) => println!("Device {name} (port {id}) detached"),
                        Err(e) => println!("failed to detach port {id}: {e}"),
                    }
                }
            }
        }
        Command::List => {
            let ids = eth.port_ids();
            println!("list all etherdev");
            for id in &ids {
                let name = eth.port(*id).map(|p| p.name()).unwrap_or_default();
                println!("{id}\t{name}");
            }
            println!("total {} ports: {ids:?}", ids.len());
        }
        Command::Hold(id) => match eth.port(id) {
            Ok(p) => {
                held.insert(id, p);
                println!("holding port {id}");
            }
            Err(e) => println!("cannot hold port {id}: {e}"),
        },
        Command::Release(id) => match held.remove(&id) {
            Some(_) => println!("released port {id}"),
            None => println!("port {id} is not held here"),
        },
        Command::Info => {
            let mp = pool.mempool();
            mp.flush_cache();
            println!(
                "info: pool free {} of {}, memzones {}, traffic tx {} rx {}, traffic idle {}",
                mp.avail_count(),
                mp.size(),
                eal.memory().memzones().len(),
                t.tx.load(Ordering::Relaxed),
                t.rx.load(Ordering::Relaxed),
                t.idle.load(Ordering::Relaxed)
            );
        }
        Command::Traffic(on) => {
            t.on.store(on, Ordering::Relaxed);
            println!("traffic {}", if on { "on" } else { "off" });
        }
        Command::Forward(id, frames, ms) => match eth.port(id) {
            Ok(p) => {
                let e = forward::echo(&p, frames, Duration::from_millis(ms));
                println!("fwd port {id}: rx {} tx {}", e.rx, e.tx);
            }
            Err(e) => println!("cannot forward on port {id}: {e}"),
        },
        Command::Help => println!("{HELP}"),
        Command::Quit | Command::Nothing => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(a: &[&str]) -> Result<Opts, String> {
        parse(&std::iter::once(APP).chain(a.iter().copied()).map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn options() {
        assert_eq!(opts(&[]), Ok(Opts::default()));
        assert_eq!(opts(&["--traffic", "0"]).unwrap().traffic, Some(0));
        assert_eq!(opts(&["--detach-timeout=500"]).unwrap().detach_timeout_ms, Some(500));
        assert!(opts(&["--traffic", "x"]).unwrap_err().contains("--traffic"));
        assert!(opts(&["-p3"]).is_err());
    }
}
