//! testpmd: forwards packets between ports with a choice of engines and prints port
//! statistics, as DPDK's testpmd. Runs on any port the drivers provide, e.g. two `net_null`
//! ports with no NIC:
//!
//! ```text
//! testpmd -l 0-1 --no-huge --vdev net_null0 --vdev net_null1 -- --stats-period 1 --duration 5
//! ```

mod config;
mod csum;
mod fwd;
mod mac_cmds;
mod port_cmds;
mod stats;
mod tx_prep;

use config::{Config, FwdMode, USAGE};
use eal::{Eal, PktMbufPool};
use ethdev::Ethdev;
use fwd::{FwdJob, Stream, StreamCounters};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const APP: &str = "testpmd";
const MBUF_CACHE: u32 = 250;

/// Forwarding in progress.
struct Running {
    stop: Arc<AtomicBool>,
    lcores: Vec<u32>,
    streams: Vec<(Stream, Arc<StreamCounters>)>,
}

struct App<'a> {
    eal: &'a Eal,
    eth: &'a Ethdev,
    cfg: Config,
    ports: Vec<u16>,
    pool: PktMbufPool,
    fwd_lcores: Vec<u32>,
    running: Option<Running>,
    /// The csum engine's settings per TX port.
    csum: Vec<(u16, csum::CsumConf)>,
}

impl App<'_> {
    fn start(&mut self, tx_first: bool) {
        if self.running.is_some() {
            println!("Packet forwarding already started");
            return;
        }
        let streams = fwd::make_streams(&self.ports, self.cfg.rxq, self.cfg.txq);
        let counters: Vec<(Stream, Arc<StreamCounters>)> =
            streams.iter().map(|&s| (s, Arc::new(StreamCounters::default()))).collect();
        if tx_first {
            self.send_first_burst();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let n = self.fwd_lcores.len().min(counters.len()).max(1);
        let retry = self.cfg.tx_retry;
        println!(
            "{} packet forwarding{} - ports={} - cores={n} - streams={} - burst={}",
            self.cfg.mode.name(),
            if retry.enabled { " with retry" } else { "" },
            self.ports.len(),
            counters.len(),
            self.cfg.burst
        );
        if retry.enabled {
            println!("TX retry num: {}, delay between TX retries: {}us", retry.retries, retry.delay_us);
        }
        let mut used = Vec::new();
        for (k, &lcore) in self.fwd_lcores.iter().take(n).enumerate() {
            let mine: Vec<_> = counters
                .iter()
                .enumerate()
                .filter(|(i, _)| i % n == k)
                .filter_map(|(_, (s, c))| {
                    Some((
                        *s,
                        self.eth.port(s.rx_port).ok()?.clone(),
                        self.eth.port(s.tx_port).ok()?.clone(),
                        c.clone(),
                    ))
                })
                .collect();
            let job = FwdJob {
                mode: self.cfg.mode,
                burst: self.cfg.burst,
                streams: mine,
                stop: stop.clone(),
                pool: self.pool,
                txpkts: self.cfg.txpkts,
                tx_segs: self.cfg.tx_segs.clone(),
                tx_retry: self.cfg.tx_retry,
                csum: self.csum.clone(),
            };
            if let Err(e) = self.eal.lcores().remote_launch(lcore, move || fwd::run(job)) {
                println!("cannot start lcore {lcore}: {e}");
                continue;
            }
            used.push(lcore);
        }
        self.running = Some(Running { stop, lcores: used, streams: counters });
    }

    fn send_first_burst(&self) {
        for &p in &self.ports {
            let Ok(port) = self.eth.port(p) else { continue };
            let mut bufs = Vec::new();
            if !self.pool.alloc_bulk(&mut bufs, self.cfg.burst) {
                continue;
            }
            for m in &mut bufs {
                if let Some(d) = m.append(64) {
                    d.fill(0);
                    d[0..6].copy_from_slice(&fwd::peer_mac(p));
                    d[6..12].copy_from_slice(&port.mac());
                }
            }
            for q in 0..self.cfg.txq {
                let _ = port.tx_burst(q, &mut bufs);
            }
            eal::mbuf::free_bulk(&mut bufs);
        }
    }

    fn stop(&mut self) {
        let Some(r) = self.running.take() else {
            println!("Packet forwarding not started");
            return;
        };
        println!("Telling cores to stop...\nWaiting for lcores to finish...");
        r.stop.store(true, Ordering::SeqCst);
        for l in r.lcores {
            self.eal.lcores().wait(l);
        }
        stats::show_fwd_stats(&r.streams, self.cfg.mode == FwdMode::Csum);
        println!("\nDone.");
    }

    fn command(&mut self, line: &str, rates: &mut stats::RateTracker) -> bool {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            [] => {}
            ["quit"] | ["exit"] => return false,
            ["start"] => self.start(false),
            ["start", "tx_first"] => self.start(true),
            ["stop"] => self.stop(),
            ["show", "port", "stats", which] => match self.which_ports(which) {
                Some(ps) => stats::show_port_stats(self.eth, &ps, rates),
                None => println!("Invalid port {which}"),
            },
            ["port", "config", "mtu", port, mtu] => self.config_mtu(port, mtu),
            ["show", "port", "info", which] => match self.which_ports(which) {
                Some(ps) => ps.iter().for_each(|&p| stats::show_port_info(self.eth, p)),
                None => println!("Invalid port {which}"),
            },
            ["show", "port", "xstats", which] => match self.which_ports(which) {
                Some(ps) => ps.iter().for_each(|&p| stats::show_port_xstats(self.eth, p)),
                None => println!("Invalid port {which}"),
            },
            ["clear", "port", "stats", which] => match self.which_ports(which) {
                Some(ps) => {
                    for p in ps {
                        match self.eth.control(p) {
                            Ok(c) => {
                                c.stats_reset();
                                println!("\n  NIC statistics for port {p} cleared");
                            }
                            Err(e) => println!("clear port stats {p}: {e}"),
                        }
                    }
                }
                None => println!("Invalid port {which}"),
            },
            ["set", "promisc", which, onoff @ ("on" | "off")] => match self.which_ports(which) {
                Some(ps) => {
                    for p in ps {
                        match self.eth.control(p).and_then(|c| c.set_promiscuous(*onoff == "on")) {
                            Ok(()) => {}
                            Err(e) => println!("set promisc: {e}"),
                        }
                    }
                }
                None => println!("Invalid port {which}"),
            },
            ["set", "fwd", mode, rest @ ..] if rest.is_empty() || rest == ["retry"] => {
                let retry = !rest.is_empty();
                match (FwdMode::parse(mode), self.running.is_some()) {
                    (Some(_), true) => println!("Please stop forwarding first"),
                    (Some(FwdMode::RxOnly | FwdMode::TxOnly), false) if retry => {
                        println!("{mode} mode does not forward: retry applies to io, mac and macswap")
                    }
                    (Some(m), false) => {
                        self.cfg.mode = m;
                        self.cfg.tx_retry.enabled = retry;
                        let with = if retry { " with retry" } else { "" };
                        println!("Set {mode} packet forwarding mode{with}");
                    }
                    (None, _) => println!("Invalid mode '{mode}': io, mac, macswap, rxonly, txonly, csum"),
                }
            }
            ["set", "burst", "tx", "delay", delay, "retry", num] => match (delay.parse(), num.parse()) {
                (Ok(d), Ok(n)) if self.running.is_none() => {
                    self.cfg.tx_retry.delay_us = d;
                    self.cfg.tx_retry.retries = n;
                    println!("TX retry num: {n}, delay between TX retries: {d}us");
                }
                (Ok(_), Ok(_)) => println!("Please stop forwarding first"),
                _ => println!("Bad numbers in '{line}': set burst tx delay MICROSECONDS retry COUNT"),
            },
            ["csum", "set", what @ ("ip" | "tcp" | "udp"), hw @ ("hw" | "sw"), port] => {
                self.csum_set(what, *hw == "hw", port)
            }
            ["csum", "show", port] => self.csum_show(port),
            ["set", "allmulti", which, onoff @ ("on" | "off")] => match self.which_ports(which) {
                Some(ps) => {
                    for p in ps {
                        if let Err(e) = self.eth.control(p).and_then(|c| c.set_allmulticast(*onoff == "on")) {
                            println!("set allmulti: {e}");
                        }
                    }
                }
                None => println!("Invalid port {which}"),
            },
            ["rx_vlan", op @ ("add" | "rm"), vid, port] => match (vid.parse::<u16>(), self.which_ports(port)) {
                (Ok(v), Some(ps)) => {
                    for p in ps {
                        if let Err(e) = self.eth.control(p).and_then(|c| c.vlan_filter(v, *op == "add")) {
                            println!("rx_vlan {op}: {e}");
                        }
                    }
                }
                (Err(_), _) => println!("Bad VLAN id '{vid}': a number 0-4095"),
                (_, None) => println!("Invalid port {port}"),
            },
            ["vlan", "set", "strip", onoff @ ("on" | "off"), port] => match self.which_ports(port) {
                Some(ps) => {
                    for p in ps {
                        if let Err(e) = self.eth.control(p).and_then(|c| c.set_vlan_strip(*onoff == "on")) {
                            println!("vlan set strip: {e}");
                        }
                    }
                }
                None => println!("Invalid port {port}"),
            },
            ["port", op @ ("stop" | "start"), which] => match (self.which_ports(which), self.running.is_some()) {
                (_, true) => println!("Please stop forwarding first"),
                (Some(ps), false) => port_cmds::port_stop_start(self.eth, &ps, *op == "start"),
                (None, false) => println!("Invalid port {which}"),
            },
            ["mac_addr", op @ ("add" | "remove"), port, mac] => mac_cmds::mac_addr(self.eth, *op == "add", port, mac),
            ["mcast_addr", op @ ("add" | "remove"), port, mac] => {
                mac_cmds::mcast_addr(self.eth, *op == "add", port, mac)
            }
            ["show", "port", port, what @ ("macs" | "mcast_macs")] => {
                mac_cmds::show_macs(self.eth, port, *what == "mcast_macs")
            }
            ["tx_vlan", "set", port, vid] => self.tx_vlan_set(port, Some(vid)),
            ["tx_vlan", "reset", port] => self.tx_vlan_set(port, None),
            ["tso", "set", segsz, port] => self.tso_set(segsz, port),
            ["tso", "show", port] => self.csum_show(port),
            ["help"] => println!(
                "commands: start [tx_first] | stop | show port stats all|N | show port xstats all|N |\n\
                 show port info all|N | port config mtu N MTU |\n\
                 clear port stats all|N | set promisc all|N on|off | set fwd MODE [retry] |\n\
                 set burst tx delay US retry N | csum set ip|tcp|udp hw|sw N | csum show N |\n\
                 tso set SEGSZ N | tso show N | set allmulti all|N on|off |\n\
                 rx_vlan add|rm VID all|N | vlan set strip on|off all|N |\n\
                 tx_vlan set N VID | tx_vlan reset N | mac_addr add|remove N MAC |\n\
                 mcast_addr add|remove N MAC | show port N macs|mcast_macs |\n\
                 port stop|start all|N | quit"
            ),
            _ => println!("Bad command '{line}': try help"),
        }
        true
    }

    /// The csum engine's settings of port `p` (listed at start).
    fn csum_conf(&mut self, p: u16) -> &mut csum::CsumConf {
        let i = self.csum.iter().position(|(q, _)| *q == p).expect("every port has csum settings");
        &mut self.csum[i].1
    }

    /// A port of `w` that may change its csum settings now, or why not.
    fn csum_port(&self, w: &str) -> Option<u16> {
        let Some(p) = w.parse().ok().filter(|p| self.ports.contains(p)) else {
            println!("Invalid port {w}");
            return None;
        };
        if self.running.is_some() {
            println!("Please stop forwarding first");
            return None;
        }
        Some(p)
    }

    /// `csum set ip|tcp|udp hw|sw P`: hw needs the TX offload configured on the port.
    fn csum_set(&mut self, what: &str, hw: bool, w: &str) {
        use ethdev::TxOffloads as T;
        let Some(p) = self.csum_port(w) else { return };
        let (bit, name) = match what {
            "ip" => (T::IPV4_CKSUM, "IPV4_CKSUM"),
            "tcp" => (T::TCP_CKSUM, "TCP_CKSUM"),
            _ => (T::UDP_CKSUM, "UDP_CKSUM"),
        };
        if hw && !self.tx_offloads(p).contains(bit) {
            let capa = self.eth.control(p).map(|c| c.info().tx_offload_capa).unwrap_or_default();
            if capa.contains(bit) {
                println!(
                    "Port {p}: TX offload {name} is not configured: start testpmd with --tx-offloads={:#x}",
                    (self.cfg.tx_offloads | bit).bits()
                );
            } else {
                println!("Port {p}: the device has no TX offload {name} (it has: {}); use sw", capa.names());
            }
            return;
        }
        let w = if hw { csum::CsumWhere::Hw } else { csum::CsumWhere::Sw };
        let c = self.csum_conf(p);
        match what {
            "ip" => c.ip = w,
            "tcp" => c.tcp = w,
            _ => c.udp = w,
        }
        self.csum_show(&p.to_string());
    }

    /// `tso set SEGSZ P` (0 turns TSO off): needs TCP_TSO configured on the port.
    fn tso_set(&mut self, segsz: &str, w: &str) {
        let Some(p) = self.csum_port(w) else { return };
        let Ok(n) = segsz.parse::<u16>() else {
            println!("Bad segment size '{segsz}': a number of bytes (0 turns TSO off)");
            return;
        };
        if n > 0 && !self.tx_offloads(p).contains(ethdev::TxOffloads::TCP_TSO) {
            println!(
                "Port {p}: TX offload TCP_TSO is not configured: start testpmd with --tx-offloads={:#x}",
                (self.cfg.tx_offloads | ethdev::TxOffloads::TCP_TSO).bits()
            );
            return;
        }
        let ip_hw = self.tx_offloads(p).contains(ethdev::TxOffloads::IPV4_CKSUM);
        let c = self.csum_conf(p);
        c.tso_segsz = n;
        c.tso_ip_hw = ip_hw;
        if n == 0 {
            println!("TSO for non-tunneled packets is disabled");
        } else {
            println!("TSO segment size for non-tunneled packets is {n}");
        }
    }

    /// `tx_vlan set P VID` / `tx_vlan reset P`: the csum engine asks port P to insert VLAN
    /// tag VID into every packet it sends (needs VLAN_INSERT configured on the port).
    fn tx_vlan_set(&mut self, w: &str, vid: Option<&str>) {
        let Some(p) = self.csum_port(w) else { return };
        let tag = match vid.map(str::parse::<u16>) {
            None => None,
            Some(Ok(v)) if v <= 4095 => Some(v),
            Some(_) => {
                println!("Bad VLAN id '{}': a number 0-4095", vid.unwrap_or_default());
                return;
            }
        };
        if tag.is_some() && !self.tx_offloads(p).contains(ethdev::TxOffloads::VLAN_INSERT) {
            let capa = self.eth.control(p).map(|c| c.info().tx_offload_capa).unwrap_or_default();
            if capa.contains(ethdev::TxOffloads::VLAN_INSERT) {
                println!(
                    "Port {p}: TX offload VLAN_INSERT is not configured: start testpmd with --tx-offloads={:#x}",
                    (self.cfg.tx_offloads | ethdev::TxOffloads::VLAN_INSERT).bits()
                );
            } else {
                println!("Port {p}: the device has no TX offload VLAN_INSERT (it has: {})", capa.names());
            }
            return;
        }
        self.csum_conf(p).tx_vlan = tag;
        match tag {
            Some(v) => println!("Port {p}: csum engine inserts VLAN {v} on TX"),
            None => println!("Port {p}: no VLAN inserted on TX"),
        }
    }

    /// `csum show P`.
    fn csum_show(&mut self, w: &str) {
        let Some(p) = w.parse().ok().filter(|p| self.ports.contains(p)) else {
            println!("Invalid port {w}");
            return;
        };
        let c = *self.csum_conf(p);
        let s = |x: csum::CsumWhere| if x == csum::CsumWhere::Hw { "hw" } else { "sw" };
        println!("Parse tunnel is off");
        println!("IP checksum offload is {}", s(c.ip));
        println!("UDP checksum offload is {}", s(c.udp));
        println!("TCP checksum offload is {}", s(c.tcp));
        println!("TSO segment size for non-tunneled packets is {}", c.tso_segsz);
    }

    /// The TX offloads port `p` was configured with.
    fn tx_offloads(&self, p: u16) -> ethdev::TxOffloads {
        self.eth.port(p).map(|port| port.tx_limits().offloads).unwrap_or_default()
    }

    /// `port config mtu <port> <mtu>` (DPDK's spelling): sets the MTU, or says why not.
    fn config_mtu(&self, port: &str, mtu: &str) {
        let (Some(p), Ok(mtu)) = (port.parse::<u16>().ok().filter(|p| self.ports.contains(p)), mtu.parse::<u16>())
        else {
            println!("Bad arguments: port config mtu PORT MTU (a port id and a number 68..=65535)");
            return;
        };
        match self.eth.control(p).and_then(|c| c.set_mtu(mtu)) {
            Ok(()) => println!("Port {p}: MTU set to {mtu}"),
            Err(e) => println!("Set MTU failed. diag={e}"),
        }
    }

    fn which_ports(&self, w: &str) -> Option<Vec<u16>> {
        if w == "all" {
            return Some(self.ports.clone());
        }
        let p: u16 = w.parse().ok()?;
        self.ports.contains(&p).then(|| vec![p])
    }
}

/// How long the start waits for links, and how often it looks (DPDK's testpmd: 9 s, 100 ms).
const LINK_CHECK_TIME: Duration = Duration::from_secs(9);
const LINK_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Waits until every port's link is up, at most [`LINK_CHECK_TIME`] (a NIC's link comes up
/// some time after start; forwarding before it would drop the first frames and the first
/// statistics would show the links down). The primary reads each link from its device; a
/// secondary sees what the primary recorded.
fn check_link_status(eth: &Ethdev, ports: &[u16]) {
    println!("Checking link statuses...");
    let end = Instant::now() + LINK_CHECK_TIME;
    loop {
        let up = |&p: &u16| match eth.control(p) {
            Ok(c) => c.link_update().up,
            Err(_) => eth.port(p).is_ok_and(|port| port.link().0.up),
        };
        if ports.iter().all(up) || Instant::now() >= end || eal::signal::quit_requested() {
            break;
        }
        std::thread::sleep(LINK_CHECK_INTERVAL);
    }
    println!("Done");
}

/// The offloads port `p` is configured with, masked by the device's capabilities here and
/// only here: those asked for (`--rx-offloads`, `--tx-offloads`, `--enable-rx-cksum`) that
/// the device has, the others named; and scattered RX and multi-segment TX wherever the
/// device has them.
fn port_offloads(info: &ethdev::DevInfo, p: u16, cfg: &Config) -> (ethdev::RxOffloads, ethdev::TxOffloads) {
    let (rx, tx) = (cfg.rx_offloads & info.rx_offload_capa, cfg.tx_offloads & info.tx_offload_capa);
    if rx != cfg.rx_offloads {
        println!("Port {p}: no RX offload {} on this device: not enabled", (cfg.rx_offloads - rx).names());
    }
    if tx != cfg.tx_offloads {
        println!("Port {p}: no TX offload {} on this device: not enabled", (cfg.tx_offloads - tx).names());
    }
    (
        rx | (ethdev::RxOffloads::SCATTER & info.rx_offload_capa),
        tx | (ethdev::TxOffloads::MULTI_SEGS & info.tx_offload_capa),
    )
}

fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Configures and starts port `p` as `cfg` says: queues, RSS, the offloads of
/// `--rx-offloads`/`--tx-offloads` the device has, the MTU of `--max-pkt-len`,
/// scattered RX and multi-segment TX wherever the device has them (so jumbo frames and
/// `--txpkts` chains work, as DPDK's Intel drivers scatter when a frame needs it).
fn setup_port(eth: &Ethdev, cfg: &Config, p: u16, pool: PktMbufPool) -> Result<(), String> {
    let info = eth.control(p).map_err(|e| e.to_string())?.info();
    let mtu = cfg.mtu_for(info.max_rx_pktlen() - u32::from(info.max_mtu), info.max_mtu)?;
    let (rx_offloads, tx_offloads) = port_offloads(&info, p, cfg);
    let extras = examples_common::PortExtras { rx_offloads, tx_offloads, mtu };
    examples_common::setup_port_with(eth, p, cfg.rxq, cfg.txq, cfg.rxd.max(cfg.txd), cfg.rss_hf, pool, extras)
        .map_err(|e| e.to_string())
}

fn main() {
    let eal = examples_common::eal_init_or_exit(APP);
    let code = run(&eal);
    drop(eal);
    std::process::exit(code);
}

fn run(eal: &Eal) -> i32 {
    let cfg = match Config::parse(&eal.app_args()) {
        Ok(c) => c,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return 0;
        }
        Err(e) => {
            eprintln!("{APP}: {e}\n{USAGE}");
            return 1;
        }
    };
    if let Err(e) = eal::signal::install_quit_handler() {
        eprintln!("{APP}: cannot install the Ctrl-C handler: {e}");
    }
    let eth = match Ethdev::init(eal, &drivers::all()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{APP}: {e}");
            return 1;
        }
    };
    let ports = eth.port_ids();
    if ports.is_empty() {
        eprintln!("{APP}: no ports: add virtual ones (--vdev net_null0 --vdev net_null1) or bind NICs to vfio-pci");
        return 1;
    }
    let mut fwd_lcores = eal.lcores().workers();
    if fwd_lcores.is_empty() {
        eprintln!(
            "{APP}: no forwarding lcore: give at least two lcores (-l 0-1), one for the prompt and one to forward"
        );
        return 1;
    }
    if cfg.nb_cores > 0 {
        fwd_lcores.truncate(cfg.nb_cores);
    }
    let per_port = (cfg.rxd as u32 + cfg.txd as u32) * cfg.rxq.max(cfg.txq) as u32;
    let nb_mbufs = if cfg.total_mbufs > 0 {
        cfg.total_mbufs
    } else {
        (per_port * ports.len() as u32 + (fwd_lcores.len() as u32 + 1) * (MBUF_CACHE + cfg.burst as u32) + 4096)
            .max(8192)
    };
    let pool = if eal.is_primary() {
        PktMbufPool::create(&eal.memory(), "mb_pool_0", nb_mbufs, MBUF_CACHE, cfg.mbuf_size)
    } else {
        PktMbufPool::lookup(&eal.memory(), "mb_pool_0")
    };
    let pool = match pool {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{APP}: mbuf pool: {e}");
            return 1;
        }
    };
    if eal.is_primary() {
        for &p in &ports {
            if let Err(e) = setup_port(&eth, &cfg, p, pool) {
                eprintln!("{APP}: port {p}: {e}");
                return 1;
            }
            // DPDK's testpmd puts every port in promiscuous mode at start: a bridge set up
            // with it forwards frames addressed to any host, not only to the port.
            if let Err(e) = eth.control(p).and_then(|c| c.set_promiscuous(true)) {
                println!("Port {p}: cannot enable promiscuous mode: {e}");
            }
            let port = eth.port(p).expect("listed port");
            println!("Port {p}: {} ({}, {})", examples_common::fmt_mac(port.mac()), port.name(), port.driver_name());
        }
    }
    if !cfg.disable_link_check {
        check_link_status(&eth, &ports);
    }
    for &p in &ports {
        if let Ok(port) = eth.port(p) {
            let (l, _) = port.link();
            println!("Port {p}: {l}");
        }
    }
    let csum = ports.iter().map(|&p| (p, csum::CsumConf::default())).collect();
    let mut app = App { eal, eth: &eth, cfg: cfg.clone(), ports: ports.clone(), pool, fwd_lcores, running: None, csum };
    let lines = stdin_lines();
    let mut rates = stats::RateTracker::default();
    let t0 = Instant::now();
    let mut next_stats = Instant::now() + Duration::from_secs(cfg.stats_period.max(1));
    if !cfg.interactive || cfg.auto_start {
        app.start(cfg.tx_first);
    }
    if !cfg.interactive {
        println!("Press enter to exit");
    } else {
        print!("testpmd> ");
        let _ = std::io::stdout().flush();
    }
    loop {
        if eal::signal::quit_requested() || (cfg.duration > 0 && t0.elapsed() >= Duration::from_secs(cfg.duration)) {
            break;
        }
        if cfg.stats_period > 0 && Instant::now() >= next_stats {
            stats::show_port_stats(&eth, &ports, &mut rates);
            next_stats += Duration::from_secs(cfg.stats_period);
        }
        match lines.recv_timeout(Duration::from_millis(50)) {
            Ok(line) if cfg.interactive => {
                if !app.command(line.trim(), &mut rates) {
                    break;
                }
                print!("testpmd> ");
                let _ = std::io::stdout().flush();
            }
            Ok(_) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Standard input is at its end (`</dev/null`, a closed pipe): run on until the
            // duration or a signal, waking as often as with a terminal instead of spinning.
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    if app.running.is_some() {
        app.stop();
    }
    if eal.is_primary() {
        for &p in &ports {
            println!("Stopping port {p}...");
            if let Ok(c) = eth.control(p) {
                c.close();
            }
        }
    }
    pool.mempool().flush_cache();
    let m = pool.mempool();
    println!("Pool mb_pool_0: {} of {} mbufs free", m.avail_count(), m.size());
    drop(eth);
    println!("Bye...");
    0
}
