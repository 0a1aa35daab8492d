//! Mempool get/put rates, Bypass beside DPDK 22.11 in the same invocation, rounds
//! interleaved. Same loop, pool geometry and rate formula as DPDK's mempool_perf_autotest
//! (reduced matrix, as the baseline kit's mempool_mini: get n_keep objects in bulks of
//! n_get_bulk, put them back in bulks of n_put_bulk, objects per second summed over cores).
//! `cargo bench -p eal --bench mempool_perf` (env BENCH_ROUNDS, BENCH_SECS).
//! Needs root and hugepages for the DPDK side (compiled from the baseline kit: env
//! BYPASS_BASELINE_DIR, else `shared/baseline` in a directory above the repository).

mod common;

use common::{have, print_table, run_baseline, Figures};
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

fn per_lcore(mp: Mempool, keep: usize, bulk: usize, secs: f64, start: Arc<AtomicU32>, count: Arc<AtomicU64>) {
    let mut table = vec![0u64; MAX_KEEP];
    while start.load(Ordering::Acquire) == 0 {
        std::hint::spin_loop();
    }
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        test_loop(&mp, keep, bulk, &mut table);
        n += N as u64;
    }
    count.fetch_add(n, Ordering::Relaxed);
}

fn bypass_round(eal: &Eal, pools: &[Mempool; 2], secs: f64, f: &mut Figures) {
    let worker = eal.lcores().workers().first().copied();
    for mp in pools {
        for cores in 1..=2usize {
            if cores == 2 && worker.is_none() {
                continue;
            }
            for bulk in [1usize, 32] {
                for keep in [32usize, 128] {
                    let key = format!("cache={} cores={cores} bulk={bulk} keep={keep}", mp.cache_size());
                    if std::env::var("BENCH_ONLY").is_ok_and(|f| !key.contains(&f)) {
                        continue;
                    }
                    let start = Arc::new(AtomicU32::new(0));
                    let count = Arc::new(AtomicU64::new(0));
                    if cores == 2 {
                        let (mp, s, c) = (*mp, start.clone(), count.clone());
                        eal.lcores()
                            .remote_launch(worker.expect("checked"), move || {
                                per_lcore(mp, keep, bulk, secs, s, c);
                                0
                            })
                            .expect("launch");
                    }
                    start.store(1, Ordering::Release);
                    per_lcore(*mp, keep, bulk, secs, start.clone(), count.clone());
                    eal.lcores().wait_all();
                    let rate = count.load(Ordering::Relaxed) as f64 / secs;
                    f.entry(key).or_default().push(rate / 1e6);
                }
            }
        }
    }
}

/// The baseline kit: `$BYPASS_BASELINE_DIR`, else the first `shared/baseline` found in a
/// directory holding the repository (searched upwards from this crate's manifest directory,
/// then from the main checkout of a git worktree), whatever the current directory is.
fn baseline_dir() -> Result<std::path::PathBuf, String> {
    if let Some(d) = std::env::var_os("BYPASS_BASELINE_DIR") {
        return Ok(d.into());
    }
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut starts = vec![manifest.to_path_buf()];
    // A worktree's shared git directory lies in the main checkout.
    if let Ok(o) = std::process::Command::new("git")
        .args(["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .current_dir(manifest)
        .output()
    {
        if o.status.success() {
            starts.push(String::from_utf8_lossy(&o.stdout).trim().into());
        }
    }
    starts
        .iter()
        .flat_map(|s| s.ancestors())
        .map(|d| d.join("shared/baseline/bench/mempool_mini.c"))
        .find(|f| f.is_file())
        .and_then(|f| f.parent().and_then(|b| b.parent()).map(|b| b.to_path_buf()))
        .ok_or_else(|| {
            format!(
                "no shared/baseline/bench/mempool_mini.c in any directory above {}: set BYPASS_BASELINE_DIR to the kit",
                manifest.display()
            )
        })
}

fn build_dpdk_mini() -> Result<String, String> {
    let src = baseline_dir()?.join("bench/mempool_mini.c");
    if !src.exists() {
        return Err(format!("{} not found", src.display()));
    }
    let out = std::env::temp_dir().join("bypass_mempool_mini");
    let flags = std::process::Command::new("pkg-config")
        .args(["--cflags", "--libs", "libdpdk"])
        .output()
        .map_err(|e| format!("pkg-config: {e}"))?;
    if !flags.status.success() {
        return Err("libdpdk-dev is not installed (apt-get install dpdk-dev libdpdk-dev)".into());
    }
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    let st = std::process::Command::new("gcc")
        .args(["-O3", "-DALLOW_EXPERIMENTAL_API"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .args(flags.split_whitespace())
        .status()
        .map_err(|e| format!("gcc: {e}"))?;
    if !st.success() {
        return Err("building mempool_mini failed".into());
    }
    Ok(out.to_string_lossy().into_owned())
}

fn dpdk_round(bin: &str, secs: f64, f: &mut Figures) -> Result<(), String> {
    let out =
        run_baseline(bin, &["-l", "0-1", "--no-pci", "--file-prefix=bypass_bench_mp", "--", &secs.to_string()], "")?;
    for line in out.lines().filter(|l| l.starts_with("mempool_mini cache=")) {
        let kv: std::collections::HashMap<&str, &str> =
            line.split_whitespace().filter_map(|t| t.split_once('=')).collect();
        let (Some(c), Some(cores), Some(b), Some(k), Some(r)) =
            (kv.get("cache"), kv.get("cores"), kv.get("n_get_bulk"), kv.get("n_keep"), kv.get("rate_persec"))
        else {
            continue;
        };
        let rate: f64 = r.parse().map_err(|_| "bad rate")?;
        f.entry(format!("cache={c} cores={cores} bulk={b} keep={k}")).or_default().push(rate / 1e6);
    }
    Ok(())
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
    let dpdk = if have("dpdk-test") { build_dpdk_mini() } else { Err("DPDK not installed".into()) };
    if let Err(e) = &dpdk {
        println!("DPDK baseline unavailable: {e}; printing Bypass figures only");
    }
    let (mut ours, mut base) = (Figures::new(), Figures::new());
    for round in 0..rounds {
        bypass_round(&eal, &pools, secs, &mut ours);
        if let Ok(bin) = &dpdk {
            if let Err(e) = dpdk_round(bin, secs, &mut base) {
                println!("DPDK round {round} failed: {e}");
            }
        }
        eprintln!("round {round} done");
        std::thread::sleep(Duration::from_millis(100));
    }
    print_table("Mempool", "M objects/s", &ours, &base, false);
}
