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
use examples_common::args::{app_cli, portmask, unknown, Arg};
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
    let mut cli = app_cli(args);
    while let Some(arg) = cli.next_arg()? {
        match arg {
            Arg::Long("num-procs") => n = Some(cli.number::<u16>("--num-procs")?),
            Arg::Long("proc-id") => id = Some(cli.number::<u16>("--proc-id")?),
            Arg::Short('p') | Arg::Long("portmask") => mask = Some(portmask(&mut cli, "-p")?),
            other => return Err(unknown(other)),
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
    let handles: Vec<_> = ports.iter().filter_map(|&p| eth.port(p).ok()).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Args, String> {
        parse(&std::iter::once("symmetric_mp").chain(a.iter().copied()).map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn dpdk_spellings() {
        for a in [
            &["--num-procs", "2", "--proc-id", "1", "-p", "3"][..],
            &["--num-procs=2", "--proc-id=1", "-p3"],
            &["--num-procs=2", "--proc-id", "1", "--portmask=0x3"],
        ] {
            let r = args(a).unwrap();
            assert_eq!((r.num_procs, r.proc_id, r.portmask), (2, 1, Some(3)), "{a:?}");
        }
        assert_eq!(args(&["--num-procs=1", "--proc-id=0"]).unwrap().portmask, None);
    }

    #[test]
    fn bad_values_are_explained() {
        let e = |a: &[&str]| args(a).err().unwrap();
        assert!(e(&["--num-procs=x", "--proc-id=0"]).contains("invalid value 'x' for --num-procs"));
        assert_eq!(e(&["--proc-id=0"]), "--num-procs is required");
        assert_eq!(e(&["--num-procs=2"]), "--proc-id is required");
        assert!(e(&["--num-procs=2", "--proc-id=2"]).contains("must be below --num-procs 2"));
        assert!(e(&["--num-procs=2", "--proc-id=0", "-p0"]).contains("invalid portmask '0'"));
        assert_eq!(e(&["--num-procs"]), "option '--num-procs' needs a value");
        assert_eq!(e(&["--bogus"]), "unknown option '--bogus'");
    }
}
