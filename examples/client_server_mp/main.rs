//! client_server_mp: a server (the primary) receives from the ports and hands each packet to
//! a client process (a secondary) through the client's ring, so that a flow always goes to
//! the same client. Each client sends what it gets on its own TX queue of the paired port
//! (0<->1, 2<->3).
//!
//! The flow -> client mapping lives in a shared hash table, `MProc_flow_table` (crate
//! `table`, key [`examples_common::flow::flow_key`], value the client id): the server looks
//! each packet's flow up there, and a flow it has not seen goes to client
//! `flow_hash % clients` and is recorded. Any process of the group, of any program, can read
//! the mapping or pin a flow to a client by adding its key before traffic arrives.
//!
//! A port with fewer TX queues than there are clients (QEMU's e1000e has one) gets as many
//! as it has; client `n` then uses queue `n % queues`, and the clients sharing a queue take
//! turns through a lock in shared memory (`MProc_tx_locks`) around each burst.
//!
//! ```text
//! client_server_mp server -l 0 <EAL...> -- -p 3 -n 2
//! client_server_mp client -l 1 --proc-type secondary <EAL...> -- -n 0
//! client_server_mp client -l 2 --proc-type secondary <EAL...> -- -n 1
//! ```
//! The server prints per-client counts every `--stats-period` seconds (default 1) and on
//! exit (Ctrl-C, SIGTERM or Enter); clients print theirs on exit.

use eal::spinlock::SharedSpinlock;
use eal::{Eal, Mbuf, MbufRing, PktMbufPool};
use examples_common::args::{app_cli, portmask, unknown, Arg};
use examples_common::{exit_after, port_pairs, ports, setup_port, shared_pool, should_stop, stop_on_enter};
use std::time::{Duration, Instant};
use table::{HashParams, HashTable, TableError};

const APP: &str = "client_server_mp";
const USAGE: &str =
    "Usage: client_server_mp server [EAL options] -- -p PORTMASK -n NUM_CLIENTS [--stats-period S]\n       \
                     client_server_mp client [EAL options] -- -n CLIENT_ID\n";
const POOL: &str = "MProc_pktmbuf_pool";
const BURST: usize = 32;
const MAX_CLIENTS: u16 = 16;
/// Memzone of the per-(port, TX queue) locks for clients sharing a queue.
const TX_LOCKS: &str = "MProc_tx_locks";
/// Most ports the lock table covers.
const MAX_PORTS: usize = 32;
/// The shared flow -> client table.
const FLOW_TABLE: &str = "MProc_flow_table";
/// Most flows the table records; later flows are still spread by hash, unrecorded.
const MAX_FLOWS: u32 = 65536;

/// The server's view of the flow table.
struct Flows {
    table: HashTable,
    nb_clients: u16,
    /// Flows not recorded because the table was full.
    unrecorded: u64,
}

impl Flows {
    /// The client of the flow of `frame`: the one the table names, else the flow hash's
    /// (then recorded).
    fn client_of(&mut self, frame: &[u8]) -> usize {
        let key = examples_common::flow::flow_key(frame);
        if let Ok(Some(c)) = self.table.lookup(&key) {
            if c < u64::from(self.nb_clients) {
                return c as usize;
            }
        }
        let c = examples_common::flow::flow_hash(frame) % u32::from(self.nb_clients);
        match self.table.add(&key, u64::from(c)) {
            Ok(()) => {}
            Err(TableError::Full(_)) => {
                if self.unrecorded == 0 {
                    eprintln!("{APP}: {FLOW_TABLE} is full ({MAX_FLOWS} flows): new flows are spread by hash only");
                }
                self.unrecorded += 1;
            }
            Err(e) => eprintln!("{APP}: {FLOW_TABLE}: {e}"),
        }
        c as usize
    }
}

fn client_ring(id: u16) -> String {
    format!("MProc_Client_RX_{id}")
}

fn main() {
    // The first word says which side this process plays; the EAL gets the rest.
    let mut args: Vec<String> = std::env::args().collect();
    let role = if args.len() > 1 { args.remove(1) } else { String::new() };
    if role != "server" && role != "client" {
        eprintln!("{APP}: first argument must be 'server' or 'client'\n{USAGE}");
        std::process::exit(1);
    }
    let eal = examples_common::eal_init_args_or_exit(APP, &args);
    exit_after(APP, eal, if role == "server" { server } else { client })
}

/// The application options: `-p PORTMASK`, `-n NUM_CLIENTS` (server) or `-n CLIENT_ID`
/// (client), `--stats-period S`.
fn parse_opts(args: &[String]) -> Result<(Option<u64>, Option<u16>, u64), String> {
    let (mut mask, mut n, mut period) = (None, None, 1u64);
    let mut cli = app_cli(args);
    while let Some(arg) = cli.next_arg()? {
        match arg {
            Arg::Short('p') | Arg::Long("portmask") => mask = Some(portmask(&mut cli, "-p")?),
            Arg::Short('n') => n = Some(cli.number("-n")?),
            Arg::Long("stats-period") => period = cli.number("--stats-period")?,
            other => return Err(unknown(other)),
        }
    }
    Ok((mask, n, period))
}

fn opts(eal: &Eal) -> Result<(Option<u64>, Option<u16>, u64), String> {
    parse_opts(&eal.app_args())
}

fn server(eal: &Eal) -> Result<(), String> {
    let (mask, n, period) = opts(eal).map_err(|e| format!("{e}\n{USAGE}"))?;
    if !eal.is_primary() {
        return Err("the server must be the primary process".into());
    }
    let nb_clients = n
        .filter(|&n| (1..=MAX_CLIENTS).contains(&n))
        .ok_or_else(|| format!("-n NUM_CLIENTS (1..={MAX_CLIENTS}) is required\n{USAGE}"))?;
    let eth = ports(eal)?;
    let ports = port_pairs(&eth, mask)?;
    let mem = eal.memory();
    let pool = shared_pool(eal, POOL, 16383)?;
    let rings = (0..nb_clients)
        .map(|i| MbufRing::create(&mem, &client_ring(i), 2048, eal::ring::flags::SP_ENQ | eal::ring::flags::SC_DEQ))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if ports.len() > MAX_PORTS {
        return Err(format!("at most {MAX_PORTS} ports (use -p to select fewer)"));
    }
    let table = HashTable::create(
        &mem,
        FLOW_TABLE,
        &HashParams { entries: MAX_FLOWS, key_len: examples_common::flow::FLOW_KEY_LEN, ..Default::default() },
    )
    .map_err(|e| format!("{FLOW_TABLE}: {e} (give the EAL more memory with -m)"))?;
    let mut flows = Flows { table, nb_clients, unrecorded: 0 };
    mem.memzone_reserve(TX_LOCKS, (MAX_PORTS * MAX_CLIENTS as usize * 4) as u64, 64).map_err(|e| e.to_string())?;
    for &p in &ports {
        let max_txq = eth.control(p).map_err(|e| format!("port {p}: {e}"))?.info().max_tx_queues.max(1);
        let nb_txq = nb_clients.min(max_txq);
        if nb_txq < nb_clients {
            println!("APP: port {p} has {max_txq} TX queue(s) for {nb_clients} clients: clients share them");
        }
        setup_port(&eth, p, 1, nb_txq, 512, 0, pool).map_err(|e| format!("port {p}: {e}"))?;
    }
    println!("APP: server ready: {} ports, {nb_clients} clients", ports.len());
    let stop = stop_on_enter();
    let handles: Vec<_> = ports.iter().filter_map(|&p| eth.port(p).ok()).collect();
    let mut per_client: Vec<Vec<Mbuf>> = (0..nb_clients).map(|_| Vec::with_capacity(BURST)).collect();
    let nc = nb_clients as usize;
    let (mut rx, mut sent, mut dropped) = (vec![0u64; nc], vec![0u64; nc], vec![0u64; nc]);
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut next = Instant::now() + Duration::from_secs(period.max(1));
    let print = |rx: &[u64], sent: &[u64], dropped: &[u64]| {
        for c in 0..rx.len() {
            println!("Client {c}: rx {} enqueued {} dropped {}", rx[c], sent[c], dropped[c]);
        }
    };
    while !should_stop(&stop) {
        let mut idle = true;
        for h in &handles {
            if h.rx_burst(0, &mut bufs, BURST).unwrap_or(0) == 0 {
                continue;
            }
            idle = false;
            for m in bufs.drain(..) {
                let c = flows.client_of(m.data());
                rx[c] += 1;
                per_client[c].push(m);
            }
            for (c, v) in per_client.iter_mut().enumerate() {
                if v.is_empty() {
                    continue;
                }
                sent[c] += rings[c].enqueue_burst(v) as u64;
                dropped[c] += v.len() as u64;
                eal::mbuf::free_bulk(v);
            }
        }
        if Instant::now() >= next {
            print(&rx, &sent, &dropped);
            next += Duration::from_secs(period.max(1));
        }
        if idle {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    print(&rx, &sent, &dropped);
    println!("Flows: {} in {FLOW_TABLE}, {} not recorded", flows.table.count(), flows.unrecorded);
    for &p in &ports {
        if let Ok(c) = eth.control(p) {
            c.close();
        }
    }
    let mut left = Vec::new();
    for r in &rings {
        while r.dequeue_burst(&mut left, 64) > 0 {
            eal::mbuf::free_bulk(&mut left);
        }
    }
    pool.mempool().flush_cache();
    println!("Pool {POOL}: {} of {} mbufs free", pool.mempool().avail_count(), pool.mempool().size());
    Ok(())
}

fn client(eal: &Eal) -> Result<(), String> {
    let id = match opts(eal).map_err(|e| format!("{e}\n{USAGE}"))? {
        (_, Some(id), _) if id < MAX_CLIENTS => id,
        _ => return Err(format!("-n CLIENT_ID (0..{MAX_CLIENTS}) is required\n{USAGE}")),
    };
    if eal.is_primary() {
        return Err("a client must be a secondary process (--proc-type secondary); start the server first".into());
    }
    let eth = ports(eal)?;
    let ring = MbufRing::lookup(&eal.memory(), &client_ring(id))
        .map_err(|_| format!("no ring for client {id}: the server was started with fewer clients (-n)"))?;
    let ports = eth.port_ids();
    let handles: Vec<_> = ports.iter().filter_map(|&p| eth.port(p).ok()).collect();
    // The server made one ring per client: their count says who else may share a TX queue.
    let nb_clients = (0..MAX_CLIENTS).take_while(|&i| MbufRing::lookup(&eal.memory(), &client_ring(i)).is_ok()).count();
    let locks = eal
        .memory()
        .memzone_lookup(TX_LOCKS)
        .and_then(|mz| eal::shm::shared_slice::<SharedSpinlock>(mz.addr(), MAX_PORTS * MAX_CLIENTS as usize))
        .ok_or_else(|| format!("no {TX_LOCKS} memzone: start the server of this version first"))?;
    // Per port: the TX queue this client uses, and the lock to take if others share it.
    let txq: Vec<(u16, Option<&SharedSpinlock>)> = handles
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let n = h.nb_tx_queues().max(1);
            let q = id % n;
            let shared = (n as usize) < nb_clients;
            (q, shared.then(|| &locks[(i % MAX_PORTS) * MAX_CLIENTS as usize + q as usize]))
        })
        .collect();
    for (i, &(q, l)) in txq.iter().enumerate() {
        let how = if l.is_some() { "shared with other clients" } else { "its own" };
        println!("APP: client {id}: port {} TX queue {q} ({how})", ports[i]);
    }
    println!("APP: client {id} ready");
    let stop = stop_on_enter();
    let (mut rx, mut tx, mut drop) = (0u64, 0u64, 0u64);
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut out: Vec<Vec<Mbuf>> = handles.iter().map(|_| Vec::with_capacity(BURST)).collect();
    while !should_stop(&stop) {
        if ring.dequeue_burst(&mut bufs, BURST) == 0 {
            std::thread::sleep(Duration::from_micros(50));
            continue;
        }
        rx += bufs.len() as u64;
        for m in bufs.drain(..) {
            // Packets go out on the port paired with the one they came in on.
            let i = ports.iter().position(|&p| p == m.port()).unwrap_or(0) ^ 1;
            let last = out.len() - 1;
            out[i.min(last)].push(m);
        }
        for (i, v) in out.iter_mut().enumerate() {
            if v.is_empty() {
                continue;
            }
            let (q, lock) = txq[i];
            let sent = {
                let _turn = lock.map(|l| l.lock());
                handles[i].tx_burst(q, v).unwrap_or(0)
            };
            tx += sent as u64;
            drop += v.len() as u64;
            eal::mbuf::free_bulk(v);
        }
    }
    if let Ok(p) = PktMbufPool::lookup(&eal.memory(), POOL) {
        p.mempool().flush_cache();
    }
    println!("Client {id}: rx {rx} tx {tx} dropped {drop}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(a: &[&str]) -> Result<(Option<u64>, Option<u16>, u64), String> {
        parse_opts(&std::iter::once(APP).chain(a.iter().copied()).map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn dpdk_spellings() {
        for a in [
            &["-p", "3", "-n", "2", "--stats-period", "5"][..],
            &["-p3", "-n2", "--stats-period=5"],
            &["--portmask=0x3", "-n=2", "--stats-period", "5"],
        ] {
            assert_eq!(opts(a).unwrap(), (Some(3), Some(2), 5), "{a:?}");
        }
        assert_eq!(opts(&["-n", "0"]).unwrap(), (None, Some(0), 1));
    }

    #[test]
    fn bad_values_are_explained() {
        let e = |a: &[&str]| opts(a).unwrap_err();
        assert!(e(&["-p0"]).contains("invalid portmask '0'"));
        assert_eq!(e(&["-n", "many"]), "invalid value 'many' for -n: expected a number");
        assert!(e(&["--stats-period=x"]).contains("invalid value 'x' for --stats-period"));
        assert_eq!(e(&["-n"]), "option '-n' needs a value");
        assert_eq!(e(&["client"]), "unexpected argument 'client'");
    }
}
