//! procinfo: attaches to a running primary as a secondary and shows what it sees, as DPDK's
//! `dpdk-proc-info`:
//!
//! ```text
//! procinfo --file-prefix app1 -- --stats --xstats -p 0x3
//! ```
//!
//! Options after `--`: `--stats`, `--xstats`, `--stats-reset`, `--show-port`,
//! `--show-mempool`, `--show-ring`, `-p PORTMASK` (hexadecimal, default every port). Without
//! one, `--stats` is shown. The process always attaches as a secondary (`--proc-type` is
//! added) on an lcore id no other process of the group uses, unless `-l`/`-c`/`--lcores` is
//! given.

use eal::{Eal, EalError, Mempool};
use ethdev::port_table::PortTable;
use ethdev::Ethdev;

const APP: &str = "procinfo";
const USAGE: &str = concat!(
    "Usage: procinfo [EAL options] -- [--stats] [--xstats] [--stats-reset] [--show-port]\n",
    "                [--show-mempool] [--show-ring] [-p PORTMASK]\n",
    "  --stats          port statistics (the default)\n",
    "  --xstats         extended port statistics (DPDK's generic names)\n",
    "  --stats-reset    zero the ports' software counters\n",
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
    if !(o.stats || o.xstats || o.reset || o.port || o.mempool || o.ring) {
        o.stats = true;
    }
    Ok(o)
}

/// The environment variable that carries the next lcore id to try across a re-exec.
const NEXT_LCORE_ENV: &str = "BYPASS_PROCINFO_LCORE";

fn attach(argv: &[String]) -> Result<Eal, EalError> {
    eal::tool::attach_secondary(argv, NEXT_LCORE_ENV)
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let eal = match attach(&argv) {
        Ok(e) => e,
        Err(EalError::HelpRequested) => {
            print!("{}{USAGE}", eal::args::usage(&argv[0]));
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("{APP}: {e}");
            std::process::exit(1);
        }
    };
    let code = match run(&eal) {
        Ok(()) => 0,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            0
        }
        Err(e) => {
            eprintln!("{APP}: {e}\n{USAGE}");
            1
        }
    };
    drop(eal);
    std::process::exit(code);
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
    if o.mempool {
        show_mempools(eal);
    }
    if o.ring {
        show_rings(eal);
    }
    Ok(())
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
    }
}
