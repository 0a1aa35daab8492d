//! A process the multi-process tests start: `eal_worker <EAL args> -- <scenario> [args]`.
//!
//! Scenarios:
//! - `hold [RING]`: init (a primary creates plain ring RING), print READY, wait for stdin EOF.
//! - `attach [RING]`: init, print ATTACHED; with RING, print whether it was found.
//! - `exchange-primary N K`: create a pool and rings, send N numbered mbufs to the `work`
//!   ring, collect N answers from `done`, release K secondaries, print RESULT, then on stdin
//!   EOF print the pool's state.
//! - `exchange-secondary`: answer every mbuf from `work` with a new mbuf on `done`, freeing
//!   the one received, until released.
//! - `churn-primary`: create pool `cpool` and mbuf ring `fwd`, print READY, then per stdin
//!   line: `STOP` releases one `churn-secondary`; `CHECK` reclaims what dead processes
//!   held, drains `fwd`, and prints the pool's accounting, then recovers what no process
//!   accounts for (the group is quiescent then) and prints whether the pool is full.
//! - `churn-secondary`: allocate, forward through `fwd` and free bursts of 32 mbufs on its
//!   lcore (with a mempool cache) until released; print RUNNING once under way.
//!
//! Any EAL error prints `ERROR: <message>` and exits with 2.

use eal::{Eal, MbufRing, PktMbufPool, Ring};
use std::io::Read;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let eal = tests::worker_eal(&args);
    let app = eal.app_args();
    let scenario = app.get(1).map(String::as_str).unwrap_or("");
    let rest: Vec<&str> = app.iter().skip(2).map(String::as_str).collect();
    let code = match scenario {
        "hold" => hold(&eal, rest.first().copied()),
        "attach" => attach(&eal, rest.first().copied()),
        "exchange-primary" => exchange_primary(
            &eal,
            rest.first().and_then(|s| s.parse().ok()).unwrap_or(1000),
            rest.get(1).and_then(|s| s.parse().ok()).unwrap_or(1),
        ),
        "exchange-secondary" => exchange_secondary(&eal),
        "churn-primary" => churn_primary(&eal),
        "churn-secondary" => churn_secondary(&eal),
        other => {
            println!("ERROR: unknown scenario '{other}'");
            2
        }
    };
    drop(eal);
    std::process::exit(code);
}

fn wait_stdin_eof() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn hold(eal: &Eal, ring: Option<&str>) -> i32 {
    if let (true, Some(name)) = (eal.is_primary(), ring) {
        if let Err(e) = Ring::create(&eal.memory(), name, 64, 0) {
            println!("ERROR: {e}");
            return 2;
        }
    }
    println!("READY role={:?} pid={} heap={:#x}", eal.role(), std::process::id(), eal.memory().heap_start());
    wait_stdin_eof();
    0
}

fn attach(eal: &Eal, ring: Option<&str>) -> i32 {
    println!(
        "ATTACHED role={:?} heap={:#x} init_us={}",
        eal.role(),
        eal.memory().heap_start(),
        eal.init_time().as_micros()
    );
    if let Some(name) = ring {
        match Ring::lookup(&eal.memory(), name) {
            Ok(_) => println!("RING {name} found"),
            Err(e) => println!("RING {name} missing: {e}"),
        }
    }
    0
}

fn payload(seq: u64) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[..8].copy_from_slice(&seq.to_le_bytes());
    for (i, x) in b[8..].iter_mut().enumerate() {
        *x = (seq as u8).wrapping_mul(31).wrapping_add(i as u8);
    }
    b
}

fn seq_of(data: &[u8]) -> Option<u64> {
    let seq = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
    (data == payload(seq)).then_some(seq)
}

fn exchange_primary(eal: &Eal, n: usize, k: usize) -> i32 {
    let mem = eal.memory();
    let size = (2 * n as u32).next_power_of_two().max(64);
    let setup = || -> Result<_, eal::EalError> {
        let pool = PktMbufPool::create(&mem, "xpool", 2 * n as u32 + 512, 32, 256)?;
        let work = MbufRing::create(&mem, "work", size, 0)?;
        let done = MbufRing::create(&mem, "done", size, 0)?;
        let stop = Ring::create(&mem, "stop", 64, 0)?;
        Ok((pool, work, done, stop))
    };
    let (pool, work, done, stop) = match setup() {
        Ok(v) => v,
        Err(e) => {
            println!("ERROR: {e}");
            return 2;
        }
    };
    let mut batch = Vec::new();
    for seq in 0..n as u64 {
        let mut m = pool.alloc().expect("pool sized for the test");
        m.append(64).expect("room").copy_from_slice(&payload(seq));
        batch.push(m);
    }
    let sent = work.enqueue_burst(&mut batch);
    println!("READY sent={sent}");
    let mut seen = vec![false; n];
    let (mut got, mut dups, mut bad) = (0usize, 0usize, 0usize);
    let end = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while got + dups + bad < n && Instant::now() < end {
        if done.dequeue_burst(&mut out, 32) == 0 {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        for m in out.drain(..) {
            match seq_of(m.data()) {
                Some(s) if (s as usize) < n && !seen[s as usize] => {
                    seen[s as usize] = true;
                    got += 1;
                }
                Some(_) => dups += 1,
                None => bad += 1,
            }
        }
    }
    println!("RESULT received={got} dups={dups} bad={bad} missing={}", n - got);
    for _ in 0..k {
        stop.enqueue_one(1);
    }
    wait_stdin_eof();
    pool.mempool().flush_cache();
    println!("POOL full={} in_use={}", pool.mempool().is_full(), pool.mempool().in_use_count());
    0
}

fn exchange_secondary(eal: &Eal) -> i32 {
    let mem = eal.memory();
    let lookup = || -> Result<_, eal::EalError> {
        Ok((
            PktMbufPool::lookup(&mem, "xpool")?,
            MbufRing::lookup(&mem, "work")?,
            MbufRing::lookup(&mem, "done")?,
            Ring::lookup(&mem, "stop")?,
        ))
    };
    let (pool, work, done, stop) = match lookup() {
        Ok(v) => v,
        Err(e) => {
            println!("ERROR: {e}");
            return 2;
        }
    };
    println!("ATTACHED");
    let (mut processed, mut bad) = (0u64, 0u64);
    let mut inbox = Vec::new();
    let mut outbox = Vec::new();
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if work.dequeue_burst(&mut inbox, 32) == 0 {
            if stop.dequeue_one().is_some() || Instant::now() > end {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
            continue;
        }
        for m in inbox.drain(..) {
            let Some(seq) = seq_of(m.data()) else {
                bad += 1;
                continue;
            };
            drop(m); // freed in this process, back to the primary's pool
            let mut a = loop {
                if let Some(a) = pool.alloc() {
                    break a;
                }
                std::thread::yield_now();
            };
            a.append(64).expect("room").copy_from_slice(&payload(seq));
            outbox.push(a);
            processed += 1;
        }
        while !outbox.is_empty() {
            done.enqueue_burst(&mut outbox);
        }
    }
    pool.mempool().flush_cache();
    println!("SECONDARY processed={processed} bad={bad}");
    0
}

fn churn_primary(eal: &Eal) -> i32 {
    let mem = eal.memory();
    let setup = || -> Result<_, eal::EalError> {
        Ok((
            PktMbufPool::create(&mem, "cpool", 4095, 256, 256)?,
            MbufRing::create(&mem, "fwd", 1024, 0)?,
            Ring::create(&mem, "cstop", 64, 0)?,
        ))
    };
    let (pool, fwd, stop) = match setup() {
        Ok(v) => v,
        Err(e) => {
            println!("ERROR: {e}");
            return 2;
        }
    };
    println!("READY");
    let mut last = eal::reclaim::totals();
    for line in std::io::stdin().lines().map_while(Result::ok) {
        match line.trim() {
            "STOP" => {
                stop.enqueue_one(1);
            }
            "CHECK" => {
                eal.reclaim_dead_processes();
                let now = eal::reclaim::totals();
                let (lcores, objects, uncertain) = (now.0 - last.0, now.1 - last.1, now.2 - last.2);
                last = now;
                let mut out = Vec::new();
                let mut drained = 0;
                while fwd.dequeue_burst(&mut out, 64) > 0 {
                    drained += out.len();
                    out.clear();
                }
                let mp = pool.mempool();
                mp.flush_cache();
                let dead_cached: u32 = (1..eal::config::MAX_LCORES as u32).map(|id| mp.lcore_cache_count(id)).sum();
                let owners = (1..eal::config::MAX_LCORES)
                    .filter(|&i| eal.memory().config().lcore_owner[i].load(std::sync::atomic::Ordering::Relaxed) != 0)
                    .count();
                let in_use = mp.in_use_count();
                let recovered = mp.recover_unaccounted(&[]);
                println!(
                    "CHECK lcores={lcores} objects={objects} uncertain={uncertain} drained={drained} \
                     cached={dead_cached} owners={owners} in_use={in_use} recovered={recovered} full={} stalls={}",
                    mp.is_full(),
                    eal::ring::stalled_waits()
                );
            }
            _ => println!("ERROR: unknown command {line:?}"),
        }
    }
    0
}

fn churn_secondary(eal: &Eal) -> i32 {
    let mem = eal.memory();
    let lookup = || -> Result<_, eal::EalError> {
        Ok((PktMbufPool::lookup(&mem, "cpool")?, MbufRing::lookup(&mem, "fwd")?, Ring::lookup(&mem, "cstop")?))
    };
    let (pool, fwd, stop) = match lookup() {
        Ok(v) => v,
        Err(e) => {
            println!("ERROR: {e}");
            return 2;
        }
    };
    let (mut hand, mut rx) = (Vec::with_capacity(32), Vec::with_capacity(32));
    let mut iters = 0u64;
    loop {
        if pool.alloc_bulk(&mut hand, 32) {
            fwd.enqueue_burst(&mut hand);
            hand.clear(); // what did not fit is freed
        }
        fwd.dequeue_burst(&mut rx, 32);
        rx.clear(); // freed on this lcore, through its cache
        iters += 1;
        if iters == 2000 {
            println!("RUNNING");
        }
        if iters.is_multiple_of(64) && stop.dequeue_one().is_some() {
            break;
        }
    }
    pool.mempool().flush_cache();
    println!("DONE iters={iters}");
    0
}
