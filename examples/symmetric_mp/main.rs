//! symmetric_mp: N processes of one group, each forwarding between port pairs (0<->1, 2<->3)
//! on its own queue of every port; the NIC's RSS spreads flows over the queues. The first
//! process (`--proc-id 0`) is the primary and configures the ports with `--num-procs`
//! queues each.
//!
//! ```text
//! symmetric_mp -l 0 --proc-type primary   <EAL...> -- --num-procs 2 --proc-id 0
//! symmetric_mp -l 1 --proc-type secondary <EAL...> -- --num-procs 2 --proc-id 1
//! ```
//! Statistics are printed on exit (Ctrl-C, SIGTERM or Enter).

use eal::Mbuf;
use examples_common::{exit_after, port_pairs, ports, setup_port, shared_pool, should_stop, stop_on_enter};

const APP: &str = "symmetric_mp";
const USAGE: &str = "Usage: symmetric_mp [EAL options] -- --num-procs N --proc-id ID [-p PORTMASK]\n";
const BURST: usize = 32;

struct Args {
    num_procs: u16,
    proc_id: u16,
    portmask: Option<u64>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let (mut n, mut id, mut mask) = (None, None, None);
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let (k, v) = match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut val = || v.clone().or_else(|| it.next().cloned()).ok_or_else(|| format!("option {k} needs a value"));
        match k.as_str() {
            "--num-procs" => n = Some(val()?.parse::<u16>().map_err(|_| "invalid --num-procs".to_string())?),
            "--proc-id" => id = Some(val()?.parse::<u16>().map_err(|_| "invalid --proc-id".to_string())?),
            "-p" => mask = Some(examples_common::parse_portmask(&val()?)?),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let num_procs = n.ok_or("--num-procs is required")?;
    let proc_id = id.ok_or("--proc-id is required")?;
    if num_procs == 0 || proc_id >= num_procs {
        return Err(format!("--proc-id {proc_id} must be below --num-procs {num_procs}"));
    }
    Ok(Args { num_procs, proc_id, portmask: mask })
}

fn main() {
    let eal = examples_common::eal_init_or_exit(APP);
    exit_after(APP, eal, run)
}

fn run(eal: &eal::Eal) -> Result<(), String> {
    let a = parse(&eal.app_args()).map_err(|e| format!("{e}\n{USAGE}"))?;
    if (a.proc_id == 0) != eal.is_primary() {
        return Err("--proc-id 0 must be the primary process and the others secondaries (use --proc-type)".into());
    }
    let eth = ports(eal)?;
    let ports = port_pairs(&eth, a.portmask)?;
    let pool = shared_pool(eal, "MProc_pktmbuf_pool", 8191)?;
    if eal.is_primary() {
        for &p in &ports {
            setup_port(&eth, p, a.num_procs, a.num_procs, 512, ethdev::rss::hash::ALL, pool)
                .map_err(|e| format!("port {p}: {e}"))?;
        }
    }
    let q = a.proc_id;
    for (i, &p) in ports.iter().enumerate() {
        println!("APP: proc {q}: port {p} queue {q} -> port {} queue {q}", ports[i ^ 1]);
    }
    println!("APP: proc {q} ready");
    let stop = stop_on_enter();
    let handles: Vec<_> = ports.iter().filter_map(|&p| eth.port(p).ok().cloned()).collect();
    let mut counts = vec![(0u64, 0u64, 0u64); handles.len()];
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    while !should_stop(&stop) {
        let mut idle = true;
        for i in 0..handles.len() {
            let n = handles[i].rx_burst(q, &mut bufs, BURST).unwrap_or(0);
            if n == 0 {
                continue;
            }
            idle = false;
            counts[i].0 += n as u64;
            let out = &handles[i ^ 1];
            let sent = out.tx_burst(q, &mut bufs).unwrap_or(0);
            counts[i ^ 1].1 += sent as u64;
            counts[i].2 += bufs.len() as u64;
            eal::mbuf::free_bulk(&mut bufs);
        }
        if idle {
            std::thread::yield_now();
        }
    }
    for (i, &p) in ports.iter().enumerate() {
        println!("Port {p}: RX - {}, TX - {}, Drop - {}", counts[i].0, counts[i].1, counts[i].2);
    }
    pool.mempool().flush_cache();
    println!("APP: proc {q} exiting");
    Ok(())
}
