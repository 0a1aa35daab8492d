//! l3fwd: IPv4 and IPv6 forwarding by longest-prefix match (`--lookup lpm`, the default) or
//! by exact match on the 5-tuple (`--lookup em`), with the tables in shared memory (crate
//! `table`). Each lcore of `--config` polls its (port, queue) pairs, checks the IP header
//! (IPv4: version, length, checksum; IPv6: version, payload length), drops at TTL or hop
//! limit expiry or without a route, decrements the TTL (checksum updated) or hop limit,
//! rewrites the Ethernet addresses (destination from `--eth-dest`, default
//! `02:00:00:00:00:<port>`; source the output port's) and sends on its own TX queue of the
//! output port. Ctrl-C prints per-port and drop counters and exits with every mbuf back.
//!
//! ```text
//! l3fwd -l 0-1 --vdev net_ring0 --vdev net_ring1 -- -p 0x3 --config "(0,0,1),(1,0,1)"
//! ```
//!
//! Multi-process mode (`--num-procs N --proc-id K`, as symmetric_mp): the primary (`K` = 0)
//! configures every port with N RX and N TX queues and creates the tables
//! (`l3fwd_lpm_v4` and `l3fwd_lpm_v6`, or `l3fwd_em_v4` and `l3fwd_em_v6`); each process then forwards RX queue K of every port
//! on its first lcore and sends on TX queue K, and the secondaries route with the primary's
//! tables, found by name. The primary's telemetry command `/l3fwd/route_add,<rule>` adds a
//! route while running, which every process uses at once.

mod pkt;
mod routes;
mod tables;

use eal::{Eal, Mbuf};
use ethdev::Port;
use examples_common::args::{app_cli, portmask, positive, unknown, Arg};
use examples_common::{exit_after, ports, setup_port, shared_pool};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tables::{Lookup, RuleFiles, Tables};

const APP: &str = "l3fwd";
const USAGE: &str =
    "Usage: l3fwd [EAL options] -- -p PORTMASK [-P] [--config (port,queue,lcore)[,(port,queue,lcore)]]\n\
  [--lookup lpm|em] [--eth-dest=X,MM:MM:MM:MM:MM:MM] [--rule_ipv4 FILE] [--rule_ipv6 FILE] [--parse-ptype]\n\
  -p PORTMASK   hexadecimal bitmask of the ports to use\n\
  -P            promiscuous mode on every port\n\
  --config      (port,queue,lcore) triples: which lcore polls which RX queue\n\
                (default: queue 0 of every port on the first worker lcore)\n\
  --lookup      lpm (longest prefix match, default) or em (exact match on the 5-tuple)\n\
  -L / -E       short for --lookup lpm / --lookup em\n\
  --eth-dest    destination MAC address of port X (default 02:00:00:00:00:X)\n\
  --rule_ipv4   route file: 'R<ip>/<depth> <port>' lines (lpm) or\n\
                'R<dst ip> <src ip> <dst port> <src port> <proto> <port>' lines (em)\n\
  --rule_ipv6   the same for IPv6 (R2001:200::/48 0)\n\
  --parse-ptype accepted: packet types are always parsed in software\n\
  --num-procs N --proc-id K  multi-process: process K forwards queue K of every port\n";
const BURST: usize = 32;

#[derive(Debug)]
struct Opts {
    mask: u64,
    promisc: bool,
    config: Vec<(u16, u16, u32)>,
    lookup: Lookup,
    eth_dest: Vec<(u16, [u8; 6])>,
    rule_ipv4: Option<String>,
    rule_ipv6: Option<String>,
    /// `(num_procs, proc_id)` in multi-process mode.
    mp: Option<(u16, u16)>,
}

fn parse_config(s: &str) -> Result<Vec<(u16, u16, u32)>, String> {
    let bad = || {
        format!("invalid --config '{s}': expected (port,queue,lcore)[,(port,queue,lcore)...] such as (0,0,1),(1,0,1)")
    };
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    let mut rest = t.as_str();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('(').ok_or_else(bad)?;
        let (triple, after) = inner.split_once(')').ok_or_else(bad)?;
        let f: Vec<&str> = triple.split(',').collect();
        if f.len() != 3 {
            return Err(bad());
        }
        let port = f[0].parse::<u16>().map_err(|_| bad())?;
        let queue = f[1].parse::<u16>().map_err(|_| bad())?;
        let lcore = f[2].parse::<u32>().map_err(|_| bad())?;
        if out.iter().any(|&(p, q, _)| p == port && q == queue) {
            return Err(format!("--config gives port {port} queue {queue} twice: each queue has one lcore"));
        }
        out.push((port, queue, lcore));
        rest = after.strip_prefix(',').unwrap_or(after);
        if after.starts_with(',') && rest.is_empty() {
            return Err(bad());
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let b: Vec<u8> = s.split(':').map(|x| u8::from_str_radix(x, 16).ok()).collect::<Option<_>>()?;
    b.try_into().ok()
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        mask: 0,
        promisc: false,
        config: Vec::new(),
        lookup: Lookup::Lpm,
        eth_dest: Vec::new(),
        rule_ipv4: None,
        rule_ipv6: None,
        mp: None,
    };
    let (mut num_procs, mut proc_id) = (None, None);
    let mut cli = app_cli(args);
    while let Some(arg) = cli.next_arg()? {
        match arg {
            Arg::Short('p') | Arg::Long("portmask") => o.mask = portmask(&mut cli, "-p")?,
            Arg::Short('P') => o.promisc = true,
            Arg::Short('L') => o.lookup = Lookup::Lpm,
            Arg::Short('E') => o.lookup = Lookup::Em,
            Arg::Long("config") => o.config = parse_config(&cli.value("--config")?)?,
            Arg::Long("lookup") => {
                o.lookup = match cli.value("--lookup")?.as_str() {
                    "lpm" => Lookup::Lpm,
                    "em" => Lookup::Em,
                    v => return Err(format!("invalid value '{v}' for --lookup: lpm or em")),
                }
            }
            Arg::Long("eth-dest") => {
                let v = cli.value("--eth-dest")?;
                let bad = || format!("invalid --eth-dest '{v}': expected PORT,MAC such as 0,02:00:00:00:00:01");
                let (p, m) = v.split_once(',').ok_or_else(bad)?;
                o.eth_dest.push((p.trim().parse().map_err(|_| bad())?, parse_mac(m.trim()).ok_or_else(bad)?));
            }
            Arg::Long("rule_ipv4") => o.rule_ipv4 = Some(cli.value("--rule_ipv4")?),
            Arg::Long("num-procs") => num_procs = Some(positive::<u16>(&mut cli, "--num-procs")?),
            Arg::Long("proc-id") => proc_id = Some(cli.number::<u16>("--proc-id")?),
            Arg::Long("rule_ipv6") => o.rule_ipv6 = Some(cli.value("--rule_ipv6")?),
            Arg::Long("parse-ptype") => {}
            other => return Err(unknown(other)),
        }
    }
    if o.mask == 0 {
        return Err("-p PORTMASK is required".into());
    }
    o.mp = match (num_procs, proc_id) {
        (None, None) => None,
        (Some(n), Some(k)) if k < n => Some((n, k)),
        (Some(n), Some(k)) => return Err(format!("--proc-id {k} must be below --num-procs {n}")),
        _ => return Err("--num-procs and --proc-id go together".into()),
    };
    if o.mp.is_some() && !o.config.is_empty() {
        return Err("--config and --num-procs exclude each other: with --num-procs, process K forwards \
                    queue K of every port"
            .into());
    }
    Ok(o)
}

#[derive(Default)]
struct Counters {
    rx: AtomicU64,
    tx: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Default)]
struct DropCounters {
    not_ip: AtomicU64,
    bad_header: AtomicU64,
    ttl: AtomicU64,
    no_route: AtomicU64,
}

impl DropCounters {
    fn count(&self, d: pkt::Drop) {
        let c = match d {
            pkt::Drop::NotIp => &self.not_ip,
            pkt::Drop::BadHeader => &self.bad_header,
            pkt::Drop::TtlExpired => &self.ttl,
            pkt::Drop::NoRoute => &self.no_route,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// An output port as an lcore sees it.
#[derive(Clone)]
struct Out {
    port: Port,
    dmac: [u8; 6],
    smac: [u8; 6],
    counters: Arc<Counters>,
}

struct Job {
    lcore: u32,
    rx: Vec<(Port, u16, Arc<Counters>)>,
    txq: u16,
    outs: Vec<Option<Out>>,
    table: Tables,
    drops: Arc<DropCounters>,
    stop: Arc<AtomicBool>,
}

fn forward(job: Job) -> i32 {
    println!("L3FWD: entering main loop on lcore {}", job.lcore);
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut tx: Vec<Vec<Mbuf>> = job.outs.iter().map(|_| Vec::with_capacity(BURST)).collect();
    while !job.stop.load(Ordering::Relaxed) {
        let mut idle = true;
        for (port, q, rc) in &job.rx {
            let n = port.rx_burst(*q, &mut bufs, BURST).unwrap_or(0);
            if n == 0 {
                continue;
            }
            idle = false;
            rc.rx.fetch_add(n as u64, Ordering::Relaxed);
            for mut m in bufs.drain(..) {
                let verdict = (|| {
                    let ip = pkt::check(m.data())?;
                    let out = job.table.route(m.data(), ip).ok_or(pkt::Drop::NoRoute)?;
                    let o = job.outs.get(usize::from(out)).and_then(|o| o.as_ref()).ok_or(pkt::Drop::NoRoute)?;
                    match ip {
                        pkt::Ip::V4(_) => pkt::rewrite(m.data_mut(), o.dmac, o.smac)?,
                        pkt::Ip::V6 => pkt::rewrite6(m.data_mut(), o.dmac, o.smac)?,
                    }
                    Ok(out)
                })();
                match verdict {
                    Ok(out) => tx[usize::from(out)].push(m),
                    Err(d) => {
                        job.drops.count(d);
                        rc.dropped.fetch_add(1, Ordering::Relaxed);
                        drop(m);
                    }
                }
            }
            for (i, t) in tx.iter_mut().enumerate() {
                if t.is_empty() {
                    continue;
                }
                let Some(o) = &job.outs[i] else { continue };
                let sent = o.port.tx_burst(job.txq, t).unwrap_or(0);
                o.counters.tx.fetch_add(sent as u64, Ordering::Relaxed);
                o.counters.dropped.fetch_add(t.len() as u64, Ordering::Relaxed);
                eal::mbuf::free_bulk(t);
            }
        }
        if idle {
            std::thread::sleep(Duration::from_micros(20));
        }
    }
    0
}

/// Registers the telemetry command that adds a route while running.
fn register_route_add(t: &Tables, enabled: &[u16]) -> Result<(), String> {
    let (t, ports) = (t.clone(), enabled.to_vec());
    eal::telemetry::register_or_replace(
        "/l3fwd/route_add",
        "Adds a route. Parameters: prefix/depth,port (lpm) or dst,src,dport,sport,proto,port (em)",
        move |_, params| {
            let rule = params.ok_or("give the rule as parameters: /l3fwd/route_add,198.18.5.0/24,1")?;
            t.add_rule(rule, &ports).map(eal::telemetry::serde_json::Value::String)
        },
    )
    .map_err(|e| e.to_string())
}

fn main() {
    let eal = examples_common::eal_init_or_exit(APP);
    exit_after(APP, eal, run)
}

fn run(eal: &Eal) -> Result<(), String> {
    let mut o = parse(&eal.app_args()).map_err(|e| format!("{e}\n{USAGE}"))?;
    match o.mp {
        Some((_, k)) if (k == 0) != eal.is_primary() => {
            return Err("--proc-id 0 must be the primary process and the others secondaries (use --proc-type)".into())
        }
        None if !eal.is_primary() => {
            return Err("a secondary l3fwd needs --num-procs N --proc-id K (the primary configures the ports)".into())
        }
        _ => {}
    }
    let primary = eal.is_primary();
    let eth = ports(eal)?;
    let enabled: Vec<u16> = eth.port_ids().into_iter().filter(|p| o.mask & (1 << p) != 0).collect();
    if enabled.is_empty() {
        return Err(format!("-p {:#x} enables no port (check -p and --vdev)", o.mask));
    }
    let main_lcore = eal.lcores().main();
    let workers = eal.lcores().workers();
    if o.config.is_empty() {
        let l = workers.first().copied().unwrap_or(main_lcore);
        let q = o.mp.map_or(0, |m| m.1);
        o.config = enabled.iter().map(|&p| (p, q, l)).collect();
    }
    for &(p, q, l) in &o.config {
        if !enabled.contains(&p) {
            return Err(format!("--config names port {p}, which -p {:#x} does not enable", o.mask));
        }
        if l != main_lcore && !workers.contains(&l) {
            return Err(format!("--config names lcore {l}, which is not enabled: add it to -l"));
        }
        if q >= ethdev::MAX_QUEUES as u16 {
            return Err(format!("--config names queue {q} of port {p}: at most {} queues", ethdev::MAX_QUEUES));
        }
    }
    let mut lcores: Vec<u32> = o.config.iter().map(|c| c.2).collect();
    lcores.sort_unstable();
    lcores.dedup();
    let nb_txq = o.mp.map_or(lcores.len() as u16, |m| m.0);
    let max_port = *enabled.iter().max().expect("non-empty");
    let mut nb_rxq = vec![0u16; usize::from(max_port) + 1];
    for &p in &enabled {
        let n = o.config.iter().filter(|c| c.0 == p).map(|c| c.1 + 1).max().unwrap_or(0);
        let given = o.config.iter().filter(|c| c.0 == p).count() as u16;
        if given != n && o.mp.is_none() {
            return Err(format!(
                "--config gives port {p} queues up to {} but not all of 0..{n}: list each queue",
                n - 1
            ));
        }
        nb_rxq[usize::from(p)] = n.max(1);
    }
    if let Some((n, _)) = o.mp {
        nb_rxq.iter_mut().for_each(|q| *q = n);
    }
    let per_port: u32 = enabled.iter().map(|&p| u32::from(nb_rxq[usize::from(p)] + nb_txq) * 512).sum();
    let pool = if primary {
        Some(shared_pool(eal, "mbuf_pool", (per_port + lcores.len() as u32 * 512 + 2048).max(8191))?)
    } else {
        None
    };
    let counters: Vec<Arc<Counters>> = (0..=max_port).map(|_| Arc::default()).collect();
    let mut outs: Vec<Option<Out>> = vec![None; usize::from(max_port) + 1];
    for &p in &enabled {
        if let Some(pool) = pool {
            setup_port(&eth, p, nb_rxq[usize::from(p)], nb_txq, 512, ethdev::rss::hash::IPV4, pool)
                .map_err(|e| format!("port {p}: {e}"))?;
            let c = eth.control(p).map_err(|e| e.to_string())?;
            if o.promisc {
                if let Err(e) = c.set_promiscuous(true) {
                    eprintln!("{APP}: port {p}: cannot enable promiscuous mode: {e}");
                }
            }
        }
        let port = eth.port(p).map_err(|e| e.to_string())?.clone();
        let dmac =
            o.eth_dest.iter().rev().find(|d| d.0 == p).map(|d| d.1).unwrap_or([2, 0, 0, 0, (p >> 8) as u8, p as u8]);
        println!(
            "Port {p}, MAC address: {}, destination MAC: {}",
            examples_common::fmt_mac(port.mac()),
            examples_common::fmt_mac(dmac)
        );
        outs[usize::from(p)] = Some(Out { smac: port.mac(), port, dmac, counters: counters[usize::from(p)].clone() });
    }
    let table = if primary {
        let files = RuleFiles::read(o.rule_ipv4.as_deref(), o.rule_ipv6.as_deref())?;
        let t = Tables::build(eal, o.lookup, &files, &enabled)?;
        register_route_add(&t, &enabled)?;
        t
    } else {
        Tables::find(eal, o.lookup)?
    };
    let stop = Arc::new(AtomicBool::new(false));
    let drops = Arc::new(DropCounters::default());
    let mut jobs: Vec<Job> = Vec::new();
    for (k, &l) in lcores.iter().enumerate() {
        let mut rx = Vec::new();
        for &(p, q, _) in o.config.iter().filter(|c| c.2 == l) {
            rx.push((eth.port(p).map_err(|e| e.to_string())?.clone(), q, counters[usize::from(p)].clone()));
            println!("lcore {l}: RX port {p} queue {q}, TX queue {k}");
        }
        jobs.push(Job {
            lcore: l,
            rx,
            txq: o.mp.map_or(k as u16, |m| m.1),
            outs: outs.clone(),
            table: table.clone(),
            drops: drops.clone(),
            stop: stop.clone(),
        });
    }
    let mut threads = Vec::new();
    let mut launched = Vec::new();
    for job in jobs {
        let l = job.lcore;
        if l == main_lcore {
            threads.push(std::thread::spawn(move || forward(job)));
        } else if let Err(e) = eal.lcores().remote_launch(l, move || forward(job)) {
            eprintln!("{APP}: lcore {l}: {e}");
            stop.store(true, Ordering::Relaxed);
        } else {
            launched.push(l);
        }
    }
    while !eal::signal::quit_requested() && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    for l in launched {
        eal.lcores().wait(l);
    }
    println!("\nSignal received, preparing to exit...");
    for &p in &enabled {
        let c = &counters[usize::from(p)];
        println!(
            "Port {p}: rx={} tx={} dropped={}",
            c.rx.load(Ordering::Relaxed),
            c.tx.load(Ordering::Relaxed),
            c.dropped.load(Ordering::Relaxed)
        );
    }
    println!(
        "Drops: not_ip={} bad_header={} ttl_expired={} no_route={}",
        drops.not_ip.load(Ordering::Relaxed),
        drops.bad_header.load(Ordering::Relaxed),
        drops.ttl.load(Ordering::Relaxed),
        drops.no_route.load(Ordering::Relaxed)
    );
    let Some(pool) = pool else {
        println!("Bye...");
        return Ok(());
    };
    examples_common::close_ports_and_report(eth, &enabled, &pool);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(a: &[&str]) -> Result<Opts, String> {
        parse(&std::iter::once("l3fwd").chain(a.iter().copied()).map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn dpdk_spellings() {
        let o = opts(&["-p", "0x3", "-P", "--config", "(0,0,1),(1,0,2)", "--lookup", "em"]).unwrap();
        assert_eq!((o.mask, o.promisc, o.lookup), (3, true, Lookup::Em));
        assert_eq!(o.config, vec![(0, 0, 1), (1, 0, 2)]);
        let o = opts(&["-p3", "--config=( 0, 1, 3 )", "--eth-dest=1,02:aa:bb:cc:dd:ee", "--rule_ipv4", "r.cfg", "-L"])
            .unwrap();
        assert_eq!(o.config, vec![(0, 1, 3)]);
        assert_eq!(o.eth_dest, vec![(1, [2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee])]);
        assert_eq!((o.rule_ipv4.as_deref(), o.lookup), (Some("r.cfg"), Lookup::Lpm));
        let o = opts(&["-p3", "--rule_ipv6=r6.cfg", "--parse-ptype"]).unwrap();
        assert_eq!(o.rule_ipv6.as_deref(), Some("r6.cfg"));
        assert_eq!(opts(&["-p3", "-E"]).unwrap().lookup, Lookup::Em);
        assert_eq!(opts(&["-p3", "--num-procs=2", "--proc-id", "1"]).unwrap().mp, Some((2, 1)));
    }

    #[test]
    fn bad_values_are_explained() {
        let e = |a: &[&str]| opts(a).err().unwrap();
        assert_eq!(e(&[]), "-p PORTMASK is required");
        assert!(e(&["-p3", "--config", "(0,0)"]).contains("expected (port,queue,lcore)"));
        assert!(e(&["-p3", "--config", "(0,0,1),"]).contains("expected (port,queue,lcore)"));
        assert!(e(&["-p3", "--config", "(0,0,1),(0,0,2)"]).contains("port 0 queue 0 twice"));
        assert!(e(&["-p3", "--lookup", "acl"]).contains("invalid value 'acl' for --lookup: lpm or em"));
        assert!(e(&["-p3", "--eth-dest=1,02:00"]).contains("invalid --eth-dest"));
        assert_eq!(e(&["-p3", "-x"]), "unknown option '-x'");
        assert!(e(&["-p3", "--num-procs", "2", "--proc-id", "2"]).contains("must be below --num-procs 2"));
        assert!(e(&["-p3", "--num-procs", "2"]).contains("go together"));
        assert!(e(&["-p3", "--num-procs=2", "--proc-id=1", "--config=(0,0,1)"]).contains("exclude each other"));
    }
}
