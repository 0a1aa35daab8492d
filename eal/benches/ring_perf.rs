//! Ring cost in cycles per element, Bypass beside DPDK 22.11. `cargo bench -p eal --bench
//! ring_perf` (env BENCH_ROUNDS, default 3; BENCH_ONLY, BENCH_SIDE to profile one figure). Figures follow DPDK's definitions: one core = an
//! enqueue-N + dequeue-N pair divided by N; two cores = the producer's cycles per element
//! plus the consumer's.
//!
//! The figures alternate per measurement: each Bypass measurement is followed at once by the
//! same one on DPDK's `rte_ring` in `dpdk/ring_two_core.c` (the same loops as
//! `ring_perf_autotest`; started once, driven over a pipe, idle meanwhile), since this VM
//! changes speed every few seconds. BENCH_AUTOTEST=1 adds `dpdk-test ring_perf_autotest`'s
//! own figures once per round (keys prefixed `autotest.`), as a check of the harness. A
//! second table gives each one-core measurement's fastest run of 8192 pairs, on both sides:
//! the cost of the code without the preemption a loaded host adds.

#[allow(dead_code, reason = "each bench uses a part of common")]
mod common;

use common::{have, median, print_table, run_baseline, DpdkPipe, Figures};
use eal::cycles::rdtsc;
use eal::ring::{flags, Ring};
use eal::Memory;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// DPDK's side of the figures: `dpdk/ring_two_core.c`, one process for the run.
fn start_dpdk() -> Result<DpdkPipe, String> {
    DpdkPipe::start("ring_two_core", &["-l", "0-1", "--no-pci", "--file-prefix=bypass_bench_ring2"])
}

const ONE_CORE_ITERS: u64 = 1 << 21;
const TWO_CORE_OBJS: u64 = 1 << 24;

/// BENCH_RING_OPS=0 runs the threads as non-lcores, whose multi-producer/consumer
/// operations are not recorded for crash repair (to measure what the record costs).
fn record_ops() -> bool {
    std::env::var("BENCH_RING_OPS").map_or(true, |v| v != "0")
}

/// Pairs per run in the one-core figure's fastest run.
const ONE_CORE_CHUNK: u64 = 1 << 13;

/// Cycles per element over all pairs, and those of the fastest run of [`ONE_CORE_CHUNK`]
/// pairs (which preemption on a loaded host can only make slower, never faster).
fn one_core(r: &Ring, n: usize, single: bool) -> (f64, f64) {
    let objs: Vec<u64> = (0..n as u64).collect();
    let mut out = vec![0u64; n];
    let mut fastest = u64::MAX;
    let t0 = rdtsc();
    let mut c0 = t0;
    for i in 0..ONE_CORE_ITERS {
        if single {
            r.sp_enqueue_bulk(&objs);
            r.sc_dequeue_bulk(&mut out);
        } else {
            r.mp_enqueue_bulk(&objs);
            r.mc_dequeue_bulk(&mut out);
        }
        if (i + 1) % ONE_CORE_CHUNK == 0 {
            let c = rdtsc();
            fastest = fastest.min(c - c0);
            c0 = c;
        }
    }
    let all = (rdtsc() - t0) as f64 / (ONE_CORE_ITERS * n as u64) as f64;
    (all, fastest as f64 / (ONE_CORE_CHUNK * n as u64) as f64)
}

/// DPDK's one-core answer "X best=B".
fn parse_one_core(a: &str) -> Result<(f64, f64), String> {
    let bad = || format!("ring_two_core: unparsable answer '{a}'");
    let (all, best) = a.split_once(" best=").ok_or_else(bad)?;
    Ok((all.parse().map_err(|_| bad())?, best.parse().map_err(|_| bad())?))
}

fn two_core(mem: Memory, r: Ring, n: usize, single: bool) -> f64 {
    let iters = TWO_CORE_OBJS / n as u64;
    let go = Arc::new(AtomicU32::new(0));
    let g2 = go.clone();
    let consumer = std::thread::spawn(move || {
        let _ = eal::lcore::pin_current_thread(&[1]);
        if record_ops() {
            eal::ring::record_ops_as_lcore(&mem, 1);
        }
        let mut out = vec![0u64; n];
        g2.fetch_add(1, Ordering::SeqCst);
        while g2.load(Ordering::SeqCst) < 2 {}
        let t0 = rdtsc();
        for _ in 0..iters {
            loop {
                let ok = if single { r.sc_dequeue_bulk(&mut out) } else { r.mc_dequeue_bulk(&mut out) };
                if ok {
                    break;
                }
                std::hint::spin_loop();
            }
        }
        (rdtsc() - t0) as f64 / (iters * n as u64) as f64
    });
    let _ = eal::lcore::pin_current_thread(&[0]);
    let objs: Vec<u64> = (0..n as u64).collect();
    while go.load(Ordering::SeqCst) < 1 {}
    go.store(2, Ordering::SeqCst);
    let t0 = rdtsc();
    for _ in 0..iters {
        loop {
            let ok = if single { r.sp_enqueue_bulk(&objs) } else { r.mp_enqueue_bulk(&objs) };
            if ok {
                break;
            }
            std::hint::spin_loop();
        }
    }
    let prod = (rdtsc() - t0) as f64 / (iters * n as u64) as f64;
    prod + consumer.join().expect("consumer thread")
}

/// BENCH_ONLY=TEXT keeps the figures whose key contains TEXT (e.g. `1core.mpmc.bulk_8`), for
/// profiling one of them.
fn selected(key: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |f| key.contains(&f))
}

/// BENCH_SIDE=bypass measures Bypass alone (no DPDK process), for profiling it.
fn dpdk_wanted() -> bool {
    std::env::var("BENCH_SIDE").map_or(true, |s| s != "bypass")
}

/// The figures of one side: per measurement, and the one-core fastest runs.
#[derive(Default)]
struct Side {
    all: Figures,
    best: Figures,
}

fn bypass_round(mem: &Memory, round: usize, ours: &mut Side, dpdk2: &mut Option<DpdkPipe>, theirs: &mut Side) {
    for (mode, single) in [("spsc", true), ("mpmc", false)] {
        for n in [8usize, 32] {
            let r = Ring::create(
                mem,
                &format!("b{round}{mode}{n}"),
                4096,
                if single { flags::SP_ENQ | flags::SC_DEQ } else { 0 },
            )
            .expect("ring");
            for cores in [1u32, 2] {
                let key = format!("{cores}core.{mode}.bulk_{n}");
                if !selected(&key) {
                    continue;
                }
                let (v, best) =
                    if cores == 1 { one_core(&r, n, single) } else { (two_core(*mem, r, n, single), f64::NAN) };
                ours.all.entry(key.clone()).or_default().push(v);
                if cores == 1 {
                    ours.best.entry(key.clone()).or_default().push(best);
                }
                if let Some(d) = dpdk2.as_mut() {
                    let req = format!("{cores} {mode} {n}");
                    let answer = if cores == 1 {
                        d.ask(&req, "cycles=").and_then(|a| parse_one_core(&a))
                    } else {
                        d.measure(&req, "cycles").map(|v| (v, f64::NAN))
                    };
                    match answer {
                        Ok((v, best)) => {
                            theirs.all.entry(key.clone()).or_default().push(v);
                            if cores == 1 {
                                theirs.best.entry(key).or_default().push(best);
                            }
                        }
                        Err(e) => {
                            println!("DPDK ring harness failed: {e}");
                            *dpdk2 = None;
                        }
                    }
                }
            }
            r.free(mem);
        }
    }
}

fn dpdk_round(f: &mut Figures) -> Result<(), String> {
    let out = run_baseline(
        "dpdk-test",
        &["-l", "0-1", "--no-pci", "--file-prefix=bypass_bench_ring"],
        "ring_perf_autotest\n",
    )?;
    let mut section = "";
    for line in out.lines() {
        if line.contains("### Testing using two physical cores") {
            section = "2core";
        } else if line.contains("### Testing bulk enq/deq") {
            section = "1core";
        } else if line.starts_with("###") {
            section = "";
        }
        let Some(rest) = line.strip_prefix("legacy APIs: ") else { continue };
        let mode = if rest.starts_with("SP/SC") { "spsc" } else { "mpmc" };
        for n in [8, 32] {
            if rest.contains(&format!("bulk (size: {n}):")) && !section.is_empty() {
                let v: f64 = rest.rsplit(':').next().and_then(|v| v.trim().parse().ok()).ok_or("unparsable line")?;
                // 22.11's one-core figure is per enqueue+dequeue pair of N: make it per element.
                let v = if section == "1core" { v / n as f64 } else { v };
                f.entry(format!("autotest.{section}.{mode}.bulk_{n}")).or_default().push(v);
            }
        }
    }
    Ok(())
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let mem = Memory::anonymous(64 << 20).expect("arena");
    if record_ops() {
        eal::ring::record_ops_as_lcore(&mem, 0);
    }
    println!("ring operations recorded per lcore (crash repair): {}", record_ops());
    let (mut ours, mut theirs) = (Side::default(), Side::default());
    let dpdk = dpdk_wanted() && have("dpdk-test");
    if !dpdk {
        println!("DPDK baseline: dpdk-test not found (apt-get install dpdk); printing Bypass figures only");
    }
    let mut dpdk2 =
        if dpdk { start_dpdk().map_err(|e| println!("DPDK two-core harness unavailable: {e}")).ok() } else { None };
    for round in 0..rounds {
        bypass_round(&mem, round, &mut ours, &mut dpdk2, &mut theirs);
        if dpdk && std::env::var("BENCH_AUTOTEST").is_ok_and(|v| v == "1") {
            if let Err(e) = dpdk_round(&mut theirs.all) {
                println!("DPDK baseline round {round} failed: {e}");
            }
        }
        eprintln!("round {round} done");
    }
    let (ours, ours_best, base) = (&ours.all, &ours.best, &theirs.all);
    print_table("Ring", "cycles per element", ours, base, true);
    print_table(
        "Ring, one core, fastest run of 8192 pairs per measurement",
        "cycles per element",
        ours_best,
        &theirs.best,
        true,
    );
    for (k, v) in base.iter().filter(|(k, _)| k.starts_with("autotest.")) {
        println!("{k:<36} DPDK ring_perf_autotest median {:.2} ({} rounds)", median(v), v.len());
    }
    let worst = ours.iter().filter_map(|(k, v)| base.get(k).map(|b| median(v) / median(b))).fold(f64::NAN, f64::max);
    println!("worst ratio: {worst:.2}");
}
