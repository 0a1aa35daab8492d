//! A traffic source and sink for the multi-process samples over `net_ring` ports: a secondary
//! that injects numbered UDP frames of `F` flows into the rings a port receives from, and
//! collects what the sample sends into the rings a port transmits to.
//!
//! `ring_peer <EAL args> -- INJECT_BASE NQ_IN COLLECT_BASE NQ_OUT COUNT FLOWS SPREAD`
//! Frame `i` belongs to flow `i % FLOWS`; with SPREAD=flow it is injected into ring
//! `INJECT_BASE_<flow % NQ_IN>` (imitating RSS), with SPREAD=0 into `INJECT_BASE_0`.
//! Prints `INJECTED n` and then `COLLECTED total=.. dups=.. bad=.. flows_split=.. per_queue=[..]`
//! where `flows_split` counts flows seen on more than one output queue.
//! An optional last argument `pin=CLIENT` first adds every flow to client_server_mp's shared
//! flow table `MProc_flow_table` with client `CLIENT` (the key built here, as that table
//! documents: source, destination address, source, destination port, protocol) and prints
//! `PINNED n`.

use eal::{MbufRing, PktMbufPool};
use std::collections::HashMap;
use std::time::{Duration, Instant};

struct Collector {
    outr: Vec<MbufRing>,
    count: u32,
    flows: u32,
    seen: Vec<bool>,
    flow_queues: HashMap<u32, Vec<bool>>,
    per_queue: Vec<u64>,
    total: u32,
    dups: u32,
    bad: u32,
    got: Vec<eal::Mbuf>,
}

impl Collector {
    fn collect(&mut self) {
        for q in 0..self.outr.len() {
            while self.outr[q].dequeue_burst(&mut self.got, 32) > 0 {
                for m in std::mem::take(&mut self.got) {
                    let d = m.data();
                    let i = d.get(42..46).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(u32::MAX);
                    if i >= self.count || d != tests::numbered_frame(i, self.flows).as_slice() {
                        self.bad += 1;
                    } else if self.seen[i as usize] {
                        self.dups += 1;
                    } else {
                        self.seen[i as usize] = true;
                        self.total += 1;
                        self.per_queue[q] += 1;
                        let n = self.outr.len();
                        self.flow_queues.entry(i % self.flows).or_insert_with(|| vec![false; n])[q] = true;
                    }
                }
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let eal = tests::worker_eal(&args);
    let a = eal.app_args();
    if a.len() < 8 {
        println!("ERROR: usage: ring_peer <EAL> -- INJECT_BASE NQ_IN COLLECT_BASE NQ_OUT COUNT FLOWS SPREAD");
        std::process::exit(2);
    }
    let (inb, nq_in, outb, nq_out) = (&a[1], a[2].parse::<u32>().unwrap_or(1), &a[3], a[4].parse::<u32>().unwrap_or(1));
    let (count, flows) = (a[5].parse::<u32>().unwrap_or(1000), a[6].parse::<u32>().unwrap_or(64));
    let spread = a[7] == "flow";
    let mem = eal.memory();
    let pool = PktMbufPool::lookup(&mem, "ring_peer_pool")
        .or_else(|_| PktMbufPool::create(&mem, "ring_peer_pool", 4095, 64, eal::mbuf::DEFAULT_BUF_SIZE))
        .expect("pool");
    let lookup = |base: &str, n: u32| -> Vec<MbufRing> {
        (0..n)
            .map(|q| MbufRing::lookup(&mem, &format!("{base}_{q}")).unwrap_or_else(|e| panic!("ring {base}_{q}: {e}")))
            .collect()
    };
    let (inr, outr) = (lookup(inb, nq_in), lookup(outb, nq_out));
    if let Some(client) = a.get(8).and_then(|p| p.strip_prefix("pin=")) {
        let t =
            table::HashTable::lookup_by_name(&mem, "MProc_flow_table", 13, 8).expect("client_server_mp's flow table");
        for flow in 0..flows {
            let f = tests::numbered_frame(flow, flows);
            let mut key = [0u8; 13];
            key[..12].copy_from_slice(&f[26..38]);
            key[12] = f[23];
            t.add(&key, client.parse().expect("client id")).expect("add a flow");
        }
        println!("PINNED {flows}");
    }
    let mut c = Collector {
        outr,
        count,
        flows,
        seen: vec![false; count as usize],
        flow_queues: HashMap::new(),
        per_queue: vec![0u64; nq_out as usize],
        total: 0,
        dups: 0,
        bad: 0,
        got: Vec::new(),
    };
    let mut injected = 0u32;
    let end = Instant::now() + Duration::from_secs(60);
    while injected < count && Instant::now() < end {
        // Keep fewer frames in flight than an output ring holds, so a slow sink never
        // makes the sample drop.
        if injected - (c.total + c.dups + c.bad) >= 512 {
            c.collect();
            std::thread::yield_now();
            continue;
        }
        let Some(mut m) = pool.alloc() else {
            c.collect();
            continue;
        };
        let f = tests::numbered_frame(injected, flows);
        m.append(f.len() as u16).expect("room").copy_from_slice(&f);
        let q = if spread { (injected % flows) % nq_in } else { 0 };
        let mut v = vec![m];
        while inr[q as usize].enqueue_burst(&mut v) == 0 {
            c.collect();
            std::thread::yield_now();
        }
        injected += 1;
        if injected.is_multiple_of(16) {
            c.collect();
        }
    }
    println!("INJECTED {injected}");
    while c.total + c.dups + c.bad < count && Instant::now() < end {
        c.collect();
        std::thread::sleep(Duration::from_millis(1));
    }
    let split = c.flow_queues.values().filter(|v| v.iter().filter(|&&b| b).count() > 1).count();
    println!(
        "COLLECTED total={} dups={} bad={} flows_split={split} per_queue={:?}",
        c.total, c.dups, c.bad, c.per_queue
    );
    pool.mempool().flush_cache();
    println!("POOL full={} in_use={}", pool.mempool().is_full(), pool.mempool().in_use_count());
}
