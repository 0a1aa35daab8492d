//! procinfo: attaches to a running primary as a secondary and shows what it sees, as DPDK's
//! `dpdk-proc-info`:
//!
//! ```text
//! procinfo --file-prefix app1 -- --stats --xstats -p 0x3
//! ```
//!
//! Options after `--`: `--stats`, `--xstats`, `--stats-reset`, `--xstats-reset`,
//! `--show-port`, `--show-mempool`, `--show-ring`, `--show-memzone`, `--show-mp-peers`,
//! `--watch SECONDS` (per-port rates every second), `-p PORTMASK` (hexadecimal, default every
//! port). Without one, `--stats` is shown. The process always attaches as a secondary (`--proc-type` is
//! added) on an lcore id no other process of the group uses, unless `-l`/`-c`/`--lcores` is
//! given.

use eal::{Eal, Mempool};
use ethdev::port_table::PortTable;
use ethdev::Ethdev;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const APP: &str = "procinfo";
const USAGE: &str = concat!(
    "Usage: procinfo [EAL options] -- [--stats] [--xstats] [--stats-reset] [--xstats-reset]\n",
    "                [--show-port] [--show-mempool] [--show-ring] [--show-memzone]\n",
    "                [--show-mp-peers] [--watch SECONDS] [-p PORTMASK]\n",
    "  --stats          port statistics (the default)\n",
    "  --xstats         extended port statistics (DPDK's generic names)\n",
    "  --stats-reset    zero the ports' software counters\n",
    "  --xstats-reset   zero the ports' extended counters (the same counters)\n",
    "  --show-memzone   memzones: name, address, length, IOVA\n",
    "  --show-mp-peers  the group's processes: pid, role, alive, lcores, IPC socket; the capture\n",
    "  --watch SECONDS  per-port packet and bit rates every second, for SECONDS seconds\n",
    "  --show-port      port name, driver, state, link, MAC, queues\n",
    "  --show-mempool   mempools: size, cache, element size, free objects\n",
    "  --show-ring      rings: capacity and count\n",
    "  -p PORTMASK      hexadecimal mask of the ports to show (default: all)\n",
);

#[derive(Default, Debug)]
struct Opts {
    stats: bool,
    xstats: bool,
    reset: bool,
    port: bool,
    mempool: bool,
    ring: bool,
    xreset: bool,
    memzone: bool,
    peers: bool,
    watch: Option<u32>,
    mask: Option<u64>,
}

fn parse(app: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = app.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--stats" => o.stats = true,
            "--xstats" => o.xstats = true,
            "--stats-reset" => o.reset = true,
            "--show-port" => o.port = true,
            "--show-mempool" => o.mempool = true,
            "--show-ring" => o.ring = true,
            "--xstats-reset" => o.xreset = true,
            "--show-memzone" => o.memzone = true,
            "--show-mp-peers" => o.peers = true,
            "--watch" => {
                let v = it.next().ok_or("--watch needs a value: a number of seconds such as 5")?;
                o.watch = Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|&n| (1..=86_400).contains(&n))
                        .ok_or_else(|| format!("invalid --watch '{v}': a whole number of seconds, 1 to 86400"))?,
                );
            }
            "-p" | "--portmask" => {
                let v = it.next().ok_or("-p needs a value: a hexadecimal port mask such as 0x3")?;
                let m = u64::from_str_radix(v.trim_start_matches("0x").trim_start_matches("0X"), 16)
                    .ok()
                    .filter(|&m| m != 0)
                    .ok_or_else(|| format!("invalid port mask '{v}': a non-zero hexadecimal mask such as 0x3"))?;
                o.mask = Some(m);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if !(o.stats || o.xstats || o.reset || o.port || o.mempool || o.ring || o.xreset || o.memzone || o.peers)
        && o.watch.is_none()
    {
        o.stats = true;
    }
    Ok(o)
}

/// The environment variable that carries the next lcore id to try across a re-exec.
const NEXT_LCORE_ENV: &str = "BYPASS_PROCINFO_LCORE";

fn main() {
    eal::tool::run_tool(APP, USAGE, NEXT_LCORE_ENV, true, run)
}

fn run(eal: &Eal) -> Result<(), String> {
    let o = parse(&eal.app_args()[1..])?;
    let eth = Ethdev::init(eal, &drivers::all()).map_err(|e| e.to_string())?;
    let ports: Vec<u16> =
        eth.port_ids().into_iter().filter(|&p| o.mask.is_none_or(|m| p < 64 && m & (1 << p) != 0)).collect();
    if o.port {
        for &p in &ports {
            show_port(&eth, p);
        }
    }
    if o.stats || o.xstats {
        refresh(&eth, &ports);
    }
    if o.stats {
        for &p in &ports {
            show_stats(&eth, p);
        }
    }
    if o.xstats {
        for &p in &ports {
            let port = eth.port(p).map_err(|e| e.to_string())?;
            println!("###### NIC extended statistics for port {p:<2} #########");
            for (k, v) in port.xstats() {
                println!("{k}: {v}");
            }
        }
    }
    if o.reset {
        let table = PortTable::lookup(&eal.memory()).map_err(|e| e.to_string())?;
        for &p in &ports {
            if let Some(s) = table.slot(p) {
                s.counters.reset();
                println!("  NIC statistics for port {p} reset");
            }
        }
    }
    if o.xreset {
        let table = PortTable::lookup(&eal.memory()).map_err(|e| e.to_string())?;
        for &p in &ports {
            if let Some(s) = table.slot(p) {
                s.counters.reset();
                println!("  NIC extended statistics for port {p} reset");
            }
        }
    }
    if o.mempool {
        show_mempools(eal);
    }
    if o.ring {
        show_rings(eal);
    }
    if o.memzone {
        show_memzones(eal);
    }
    if o.peers {
        show_peers(eal);
    }
    if let Some(secs) = o.watch {
        watch(&eth, &ports, secs);
    }
    Ok(())
}

/// Has the primary read the ports' device counters now (they are clear-on-read registers
/// that only it reads), so that what follows is fresh; says so when it could not.
fn refresh(eth: &Ethdev, ports: &[u16]) {
    for &p in ports {
        if let Err(e) = eth.refresh_stats(p) {
            eprintln!("{APP}: {e}");
        }
    }
}

fn show_memzones(eal: &Eal) {
    let mut zones = eal.memory().memzones();
    zones.sort_by_key(|m| m.addr());
    for m in zones {
        println!("  - memzone {}: address {:#x}, {} bytes, IOVA {:#x}", m.name(), m.addr(), m.len(), m.iova());
    }
}

fn show_peers(eal: &Eal) {
    let mem = eal.memory();
    let cfg = mem.config();
    let lcores = |pid: u32| -> Vec<usize> {
        cfg.lcore_owner.iter().enumerate().filter(|(_, o)| o.load(Ordering::Acquire) == pid).map(|(i, _)| i).collect()
    };
    let alive = |pid: u32| if eal::process::pid_alive(pid) { "alive" } else { "dead" };
    let primary = cfg.primary_pid.load(Ordering::Acquire);
    println!("  - pid {primary}: primary, {}, lcores {:?}, socket mp_socket", alive(primary), lcores(primary));
    let mut found: Vec<(u32, String)> = std::fs::read_dir(eal.runtime_dir())
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter_map(|n| Some((n.strip_prefix("mp_socket_")?.split('_').next()?.parse::<u32>().ok()?, n)))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    let me = std::process::id();
    for (pid, socket) in found {
        let this = if pid == me { " (this procinfo)" } else { "" };
        println!("  - pid {pid}: secondary{this}, {}, lcores {:?}, socket {socket}", alive(pid), lcores(pid));
    }
    match ethdev::capture::session(&mem) {
        Some((pid, armed)) => {
            println!("  capture: owned by pid {pid}, {}", if armed { "armed" } else { "not armed" })
        }
        None => println!("  capture: none"),
    }
}

/// Prints each port's packet and bit rates once a second for `secs` seconds (or until
/// Ctrl-C), as the difference of the shared counters.
fn watch(eth: &Ethdev, ports: &[u16], secs: u32) {
    let _ = eal::signal::install_quit_handler();
    let snap = |p: u16| eth.port(p).map(|x| x.stats()).unwrap_or_default();
    refresh(eth, ports);
    let mut last: Vec<_> = ports.iter().map(|&p| snap(p)).collect();
    let mut t = Instant::now();
    for _ in 0..secs {
        let next = t + Duration::from_secs(1);
        while Instant::now() < next {
            if eal::signal::quit_requested() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        refresh(eth, ports);
        let dt = t.elapsed().as_secs_f64();
        t = Instant::now();
        for (i, &p) in ports.iter().enumerate() {
            let now = snap(p);
            let d = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
            println!(
                "port {p}: Rx-pps: {:>12.0} Tx-pps: {:>12.0} Rx-bps: {:>14.0} Tx-bps: {:>14.0} Rx-missed: {} Tx-errors: {}",
                d(now.ipackets, last[i].ipackets),
                d(now.opackets, last[i].opackets),
                8.0 * d(now.ibytes, last[i].ibytes),
                8.0 * d(now.obytes, last[i].obytes),
                now.imissed,
                now.oerrors
            );
            last[i] = now;
        }
    }
}

fn show_port(eth: &Ethdev, p: u16) {
    let Ok(port) = eth.port(p) else { return };
    let m = port.mac();
    let (link, _) = port.link();
    println!("  - port {p}: {} ({})", port.name(), port.driver_name());
    println!(
        "    MAC {:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}, {}, {link}",
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        if port.is_started() { "started" } else { "stopped" }
    );
    println!(
        "    queues: {} RX, {} TX; MTU {}; promiscuous {}",
        port.nb_rx_queues(),
        port.nb_tx_queues(),
        port.mtu(),
        if port.promiscuous() { "on" } else { "off" }
    );
}

fn show_stats(eth: &Ethdev, p: u16) {
    let Ok(port) = eth.port(p) else { return };
    let s = port.stats();
    println!("  ######################## NIC statistics for port {p:<2} ########################");
    for line in s.nic_stats_lines() {
        println!("{line}");
    }
    println!("  ############################################################################");
}

fn names(eal: &Eal, prefix: &str) -> Vec<String> {
    eal.memory().memzones().iter().filter_map(|m| m.name().strip_prefix(prefix).map(str::to_owned)).collect()
}

fn show_mempools(eal: &Eal) {
    for n in names(eal, "MP_") {
        match Mempool::lookup(&eal.memory(), &n) {
            Ok(m) => println!(
                "  - mempool {n}: size {}, cache {}, element {} bytes, {} free, {} in use",
                m.size(),
                m.cache_size(),
                m.elt_size(),
                m.avail_count(),
                m.in_use_count()
            ),
            Err(e) => println!("  - mempool {n}: {e}"),
        }
    }
}

fn show_rings(eal: &Eal) {
    for n in names(eal, "RG_") {
        match eal::Ring::lookup(&eal.memory(), &n) {
            Ok(r) => println!("  - ring {n}: capacity {}, {} used, {} free", r.capacity(), r.count(), r.free_count()),
            // A mempool's ring is looked up through its pool.
            Err(_) => println!("  - ring {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<Opts, String> {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options() {
        assert!(p(&[]).unwrap().stats, "--stats by default");
        let o = p(&["--xstats", "-p", "0x2"]).unwrap();
        assert!(o.xstats && !o.stats && o.mask == Some(2));
        assert!(p(&["-p", "0"]).unwrap_err().contains("non-zero hexadecimal"));
        assert!(p(&["-p"]).unwrap_err().contains("needs a value"));
        assert!(p(&["--bogus"]).unwrap_err().contains("unknown option '--bogus'"));
        let o = p(&["--watch", "3", "--show-memzone", "--show-mp-peers", "--xstats-reset"]).unwrap();
        assert!(o.watch == Some(3) && o.memzone && o.peers && o.xreset && !o.stats);
        assert!(p(&["--watch", "0"]).unwrap_err().contains("invalid --watch '0'"));
        assert!(p(&["--watch"]).unwrap_err().contains("needs a value"));
    }
}
