//! Mempool get/put rates, Bypass beside DPDK 22.11, each measurement followed at once by the
//! same one on DPDK (this VM changes speed every few seconds). Same loop, pool geometry and
//! rate formula as DPDK's mempool_perf_autotest (reduced matrix, as the baseline kit's
//! mempool_mini: get n_keep objects in bulks of n_get_bulk, put them back in bulks of
//! n_put_bulk, objects per second summed over cores); DPDK's side is `dpdk/mempool_pipe.c`,
//! built from this repository and driven over a pipe, so it is found from any checkout.
//! `cargo bench -p eal --bench mempool_perf` (env BENCH_ROUNDS, BENCH_SECS; BENCH_ONLY=TEXT
//! keeps the figures whose key contains TEXT, BENCH_SIDE=bypass skips DPDK, for profiling).
//! A second table gives each measurement's fastest pass (65536 objects) on the main lcore
//! in TSC cycles per object, on both sides: what the code costs without the preemption a
//! loaded host adds to the objects/s figures.
//! Needs root and hugepages for the DPDK side (libdpdk-dev for `pkg-config libdpdk`).

#[allow(dead_code, reason = "run_baseline and median are for ring_perf")]
mod common;

use common::{have, print_table, DpdkPipe, Figures};
use eal::{Eal, Mempool};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const N: usize = 65536;
const MAX_KEEP: usize = 512;
const ELT: u32 = 2048;

fn test_loop(mp: &Mempool, keep: usize, bulk: usize, table: &mut [u64]) {
    // As DPDK's test: the lcore's cache is looked up once and passed to every call.
    let cache = mp.local_cache();
    for _ in 0..N / keep {
        let mut idx = 0;
        while idx < keep {
            if !mp.get_bulk_with(cache, &mut table[idx..idx + bulk]) {
                panic!("mempool exhausted in the benchmark");
            }
            idx += bulk;
        }
        let mut idx = 0;
        while idx < keep {
            mp.put_bulk_with(cache, &table[idx..idx + bulk]);
            idx += bulk;
        }
    }
}

/// Runs passes for `secs` seconds; adds the objects moved to `count` and stores the fastest
/// pass in `best` (TSC cycles per object: the cost of the code itself, which preemption by
/// other work on a loaded host can only make slower, never faster).
fn per_lcore(
    mp: Mempool,
    keep: usize,
    bulk: usize,
    secs: f64,
    start: Arc<AtomicU32>,
    count: Arc<AtomicU64>,
    best: Arc<AtomicU64>,
) {
    // On the stack and cache-aligned, as the autotest's `obj_table`.
    #[repr(C, align(64))]
    struct Table([u64; MAX_KEEP]);
    let mut table = Table([0; MAX_KEEP]);
    while start.load(Ordering::Acquire) == 0 {
        std::hint::spin_loop();
    }
    let t0 = Instant::now();
    let mut n = 0u64;
    let mut fastest = u64::MAX;
    while t0.elapsed().as_secs_f64() < secs {
        let c0 = tsc();
        test_loop(&mp, keep, bulk, &mut table.0);
        fastest = fastest.min(tsc().wrapping_sub(c0));
        n += N as u64;
    }
    count.fetch_add(n, Ordering::Relaxed);
    best.store(fastest, Ordering::Relaxed);
}

/// The time-stamp counter (what DPDK's side reads with `rte_rdtsc`).
fn tsc() -> u64 {
    // SAFETY: RDTSC has no preconditions; every x86-64 CPU has it.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// DPDK's answer "R best=B": objects per second and its fastest pass in cycles per object.
fn parse_answer(a: &str) -> Result<(f64, f64), String> {
    let bad = || format!("mempool_pipe: unparsable answer '{a}'");
    let (rate, best) = a.split_once(" best=").ok_or_else(bad)?;
    Ok((rate.parse().map_err(|_| bad())?, best.parse().map_err(|_| bad())?))
}

/// BENCH_ONLY=TEXT keeps the figures whose key contains TEXT (e.g. `cache=512 cores=1`).
fn selected(key: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |f| key.contains(&f))
}

/// One Bypass measurement, then at once the same one on DPDK's `rte_mempool`.
fn round(
    eal: &Eal,
    pools: &[Mempool; 2],
    secs: f64,
    ours: &mut Figures,
    dpdk: &mut Option<DpdkPipe>,
    base: &mut Figures,
    best: &mut [Figures; 2],
) {
    let worker = eal.lcores().workers().first().copied();
    for mp in pools {
        for cores in 1..=2usize {
            if cores == 2 && worker.is_none() {
                continue;
            }
            for bulk in [1usize, 32] {
                for keep in [32usize, 128] {
                    let key = format!("cache={} cores={cores} bulk={bulk} keep={keep}", mp.cache_size());
                    if !selected(&key) {
                        continue;
                    }
                    let start = Arc::new(AtomicU32::new(0));
                    let count = Arc::new(AtomicU64::new(0));
                    let fastest = Arc::new(AtomicU64::new(0));
                    if cores == 2 {
                        let (mp, s, c, f) = (*mp, start.clone(), count.clone(), Arc::new(AtomicU64::new(0)));
                        eal.lcores()
                            .remote_launch(worker.expect("checked"), move || {
                                per_lcore(mp, keep, bulk, secs, s, c, f);
                                0
                            })
                            .expect("launch");
                    }
                    start.store(1, Ordering::Release);
                    per_lcore(*mp, keep, bulk, secs, start.clone(), count.clone(), fastest.clone());
                    eal.lcores().wait_all();
                    let rate = count.load(Ordering::Relaxed) as f64 / secs;
                    ours.entry(key.clone()).or_default().push(rate / 1e6);
                    let cycles = fastest.load(Ordering::Relaxed) as f64 / N as f64;
                    best[0].entry(key.clone()).or_default().push(cycles);
                    if let Some(d) = dpdk.as_mut() {
                        let req = format!("{} {cores} {bulk} {keep} {secs}", mp.cache_size());
                        let answer = d.ask(&req, "rate=").and_then(|a| parse_answer(&a));
                        match answer {
                            Ok((r, b)) => {
                                base.entry(key.clone()).or_default().push(r / 1e6);
                                best[1].entry(key).or_default().push(b);
                            }
                            Err(e) => {
                                println!("DPDK mempool harness failed: {e}");
                                *dpdk = None;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let secs: f64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(0.5);
    let mut args = vec!["mempool_perf", "-l", "0-1", "--file-prefix", "bypass_bench_mempool", "-m", "256"];
    let huge = eal::memory::hugetlbfs::find_mount(None).is_ok();
    if !huge {
        args.push("--no-huge");
    }
    let eal = Eal::init(&args).unwrap_or_else(|e| panic!("EAL: {e}"));
    let mem = eal.memory();
    let size = (2 * (MAX_KEEP + 512) - 1) as u32;
    let pools = [
        Mempool::create(&mem, "mm_nocache", size, ELT, 0).expect("pool"),
        Mempool::create(&mem, "mm_cache", size, ELT, 512).expect("pool"),
    ];
    let side_dpdk = std::env::var("BENCH_SIDE").map_or(true, |s| s != "bypass");
    let mut dpdk = if !side_dpdk {
        None
    } else if !have("dpdk-test") {
        println!("DPDK baseline: DPDK not installed (apt-get install dpdk dpdk-dev); printing Bypass figures only");
        None
    } else {
        DpdkPipe::start("mempool_pipe", &["-l", "0-1", "--no-pci", "--file-prefix=bypass_bench_mp"])
            .map_err(|e| println!("DPDK baseline unavailable: {e}; printing Bypass figures only"))
            .ok()
    };
    let (mut ours, mut base) = (Figures::new(), Figures::new());
    let mut best = [Figures::new(), Figures::new()];
    for r in 0..rounds {
        round(&eal, &pools, secs, &mut ours, &mut dpdk, &mut base, &mut best);
        eprintln!("round {r} done");
        std::thread::sleep(Duration::from_millis(100));
    }
    print_table("Mempool", "M objects/s", &ours, &base, false);
    print_table(
        "Mempool, fastest pass of each measurement",
        "TSC cycles per object on the main lcore",
        &best[0],
        &best[1],
        true,
    );
}
