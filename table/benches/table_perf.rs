//! Lookup-table cost in cycles, Bypass beside DPDK 22.11 in the same run.
//! `cargo bench -p table --bench table_perf`; env BENCH_KEYS=8,16 measures only those hash
//! key sizes, BENCH_ROUNDS sets the rounds (default 3), BYPASS_BENCH_NO_DPDK=1 skips DPDK,
//! BENCH_NO_HUGE=1 runs both sides on 4 KiB pages, BENCH_TABLES=hash,lpm,lpm6 picks the
//! tables (all by default).
//!
//! Memory: both sides run on hugepages when the host has them (the `dpdk-test` runs and the
//! harness take `-m` from them, Bypass's tables live in EAL memory), else both on ordinary
//! pages (`--no-huge`). With 4 KiB pages, random lookups over these tables pay page walks
//! whose cost in this VM swings within a run, so the hugepage figures are the ones to read.
//!
//! LPM: about a million routes with the depth mix of DPDK's table (mostly /24, then /16 to
//! /23, a few beyond /24); cycles per add, per lookup of a random address, per address in
//! bulk lookups of 32, per delete; beside `dpdk-test lpm_perf_autotest`. LPM6: 1000 routes
//! spread evenly over depths 1 to 128 and 100,000 addresses in runs of 400 under one route, as
//! `lpm6_perf_autotest` (whose figures are beside them): add, lookup, bulk lookup of the whole
//! batch, delete.
//!
//! Hash: DPDK's `hash_perf_autotest` workload ("with 8-byte data", all keys in their primary
//! bucket; see `hash_bench`), for each key size in turn, Bypass then DPDK's `rte_hash` driven
//! by `benches/dpdk/hash_pipe.c` (the autotest's sequence, one key size per request), so the
//! two sides of a row run seconds apart: cycles per add, lookup, bulk lookup (per key, bursts
//! of 16 as DPDK's `Lookup_bulk`), delete, and lookup with the hash given. "add" and "delete"
//! are one writer on each side (a `HashTable::writer` session, DPDK's table without locks);
//! the "vs DPDK locked" rows lock per update on both sides.
//!
//! For instruction counts and the cache model, run the bench's Bypass side alone under
//! callgrind: `BYPASS_BENCH_NO_DPDK=1 BENCH_NO_HUGE=1 BENCH_ROUNDS=1 BENCH_TABLES=hash
//! BENCH_KEYS=16 valgrind --tool=callgrind target/release/deps/table_perf-<hash> --bench`.
//!
//! Both sides run on CPU 0. The table prints min/median/max per side and the ratio of the
//! medians, and says which DPDK figure each row is compared against.

#[allow(dead_code)]
#[path = "../../eal/benches/common.rs"]
mod common;

use common::{have, print_table, DpdkPipe, Figures};
use eal::cycles::rdtsc;
use eal::Memory;
use std::io::Write;
use std::process::{Command, Stdio};
use table::{HashParams, HashTable, Lpm, Lpm6, Lpm6Params, LpmParams};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn mask(d: u8) -> u32 {
    u32::MAX << (32 - u32::from(d))
}

/// Depth mix (per mille) close to DPDK's large route table.
const DEPTHS: &[(u8, u32)] = &[
    (8, 1),
    (12, 1),
    (13, 1),
    (14, 2),
    (15, 4),
    (16, 64),
    (17, 12),
    (18, 22),
    (19, 64),
    (20, 58),
    (21, 45),
    (22, 67),
    (23, 80),
    (24, 540),
    (25, 3),
    (26, 5),
    (27, 6),
    (28, 7),
    (29, 12),
    (30, 6),
    (32, 1),
];

fn lpm_bench(mem: &Memory, out: &mut Figures) {
    const ROUTES: usize = 1_000_000;
    let mut r = Rng(0x5eed_1234_abcd_0001);
    let total: u32 = DEPTHS.iter().map(|d| d.1).sum();
    let mut routes = Vec::with_capacity(ROUTES);
    let mut seen = std::collections::HashSet::new();
    while routes.len() < ROUTES {
        let mut pick = (r.next() % u64::from(total)) as u32;
        let d = DEPTHS
            .iter()
            .find(|&&(_, w)| {
                if pick < w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map_or(24, |x| x.0);
        let ip = (r.next() >> 16) as u32 & mask(d);
        if seen.insert((ip, d)) {
            routes.push((ip, d, (r.next() % 256) as u32));
        }
    }
    let lpm = Lpm::create(mem, "bench_lpm", &LpmParams { max_rules: ROUTES as u32 + 1024, tbl8_groups: 1 << 16 })
        .expect("lpm");
    let t0 = rdtsc();
    for &(ip, d, nh) in &routes {
        lpm.add(ip, d, nh).expect("add");
    }
    out.entry("lpm add".into()).or_default().push((rdtsc() - t0) as f64 / ROUTES as f64);
    // 4M random addresses in batches of 4096, as DPDK's test.
    let ips: Vec<u32> = (0..4096).map(|_| (r.next() >> 16) as u32).collect();
    const ITERS: usize = 1024;
    let mut sink = 0u64;
    let t0 = rdtsc();
    for _ in 0..ITERS {
        for &ip in &ips {
            sink += u64::from(lpm.lookup(ip).unwrap_or(0));
        }
    }
    let n = (ITERS * ips.len()) as f64;
    out.entry("lpm lookup".into()).or_default().push((rdtsc() - t0) as f64 / n);
    let mut nhs = [None; 32];
    let t0 = rdtsc();
    for _ in 0..ITERS {
        for c in ips.chunks(32) {
            lpm.lookup_bulk(c, &mut nhs).expect("bulk");
            sink += u64::from(nhs[0].unwrap_or(0));
        }
    }
    out.entry("lpm lookup bulk(32)".into()).or_default().push((rdtsc() - t0) as f64 / n);
    std::hint::black_box(sink);
    let t0 = rdtsc();
    for &(ip, d, _) in &routes {
        lpm.delete(ip, d).expect("delete");
    }
    out.entry("lpm delete".into()).or_default().push((rdtsc() - t0) as f64 / ROUTES as f64);
    lpm.free(mem);
}

/// Rows of Bypass's add and delete taking the writer lock per call (`HashTable::add`,
/// `HashTable::delete`) beside DPDK's with its locks on. The plain "add" and "delete" rows are
/// Bypass's single writer holding the lock across the run (`HashTable::writer`) beside DPDK's
/// single writer without locks: neither pays an atomic operation per update.
const LOCKED_ADD: &str = "add vs DPDK locked";
const LOCKED_DELETE: &str = "delete vs DPDK locked";

/// DPDK's `hash_perf_autotest` workload, for one key size: a table of 2^19 entries filled
/// to 75% (393,216 keys kept 64 bytes apart as DPDK's key array). The keys are the
/// autotest's: a little-endian counter over the key's bytes, skipping a key whose primary
/// bucket already holds 8, so every key sits in its primary bucket ("all elements in primary
/// location"). Added in order, then shuffled; 5 passes of single lookups over the shuffled
/// keys, 5 in bursts of 16 (DPDK's `BURST_SIZE`), each checking the value found; every key
/// deleted; then added again and looked up 5 times with the hash given.
fn hash_bench(mem: &Memory, key_len: usize, out: &mut Figures) {
    const ENTRIES: u32 = 1 << 19;
    const BUCKETS: u32 = ENTRIES / table::hash::SLOTS as u32;
    const KEYS: usize = (ENTRIES as usize) * 3 / 4;
    const PASSES: usize = 5;
    const BURST: usize = 16;
    let h = HashTable::create(mem, "bench_hash", &HashParams { entries: ENTRIES, key_len, ..Default::default() })
        .expect("hash");
    let mut keys: Vec<[u8; 64]> = Vec::with_capacity(KEYS);
    let mut fill = vec![0u8; BUCKETS as usize];
    let mut counter = [0u8; 64];
    while keys.len() < KEYS {
        for b in counter[..key_len].iter_mut() {
            *b = b.wrapping_add(1);
            if *b != 0 {
                break;
            }
        }
        let f = &mut fill[(h.hash(&counter[..key_len]).expect("hash") & (BUCKETS - 1)) as usize];
        if usize::from(*f) < table::hash::SLOTS {
            *f += 1;
            keys.push(counter);
        }
    }
    let k = |name: &str| format!("hash {name} key {key_len:>2}");
    // Values are the keys' hashes, as DPDK stores its signatures as data; computed before the
    // timed adds, as DPDK's `timed_adds` takes its precomputed `signatures`.
    let values: Vec<u64> = keys.iter().map(|key| u64::from(h.hash(&key[..key_len]).expect("hash"))).collect();
    let w = h.writer();
    let t0 = rdtsc();
    for (key, &v) in keys.iter().zip(&values) {
        w.add(&key[..key_len], v).expect("add");
    }
    out.entry(k("add")).or_default().push((rdtsc() - t0) as f64 / KEYS as f64);
    drop(w);
    let keys_in_add_order = keys.clone();
    let mut r = Rng(0xfeed_0000_0000_0001 ^ key_len as u64);
    for i in (1..KEYS).rev() {
        keys.swap(i, (r.next() % (i as u64 + 1)) as usize);
    }
    // The expected values, 32-bit as DPDK's `signatures`.
    let want: Vec<u32> = keys.iter().map(|key| h.hash(&key[..key_len]).expect("hash")).collect();
    let mut wrong = 0usize;
    let t0 = rdtsc();
    for _ in 0..PASSES {
        for (key, &v) in keys.iter().zip(&want) {
            wrong += usize::from(h.lookup(&key[..key_len]).expect("lookup") != Some(u64::from(v)));
        }
    }
    out.entry(k("lookup")).or_default().push((rdtsc() - t0) as f64 / (PASSES * KEYS) as f64);
    let mut vals = [0u64; BURST];
    let t0 = rdtsc();
    for _ in 0..PASSES {
        for (c, w) in keys.chunks_exact(BURST).zip(want.chunks_exact(BURST)) {
            let ks: [&[u8]; BURST] = std::array::from_fn(|j| &c[j][..key_len]);
            let hits = h.lookup_bulk(&ks, &mut vals).expect("bulk");
            wrong += usize::from(hits != (1 << BURST) - 1 || vals.iter().zip(w).any(|(&a, &b)| a != u64::from(b)));
        }
    }
    out.entry(k("lookup bulk(16)")).or_default().push((rdtsc() - t0) as f64 / (PASSES * KEYS) as f64);
    let w = h.writer();
    let t0 = rdtsc();
    for key in &keys {
        w.delete(&key[..key_len]).expect("delete");
    }
    out.entry(k("delete")).or_default().push((rdtsc() - t0) as f64 / KEYS as f64);
    drop(w);
    // DPDK's locked run starts from a new table: a reset one here (its free list in order
    // again), filled in the same order, one lock per add.
    h.reset();
    let t0 = rdtsc();
    for (key, &v) in keys_in_add_order.iter().zip(&values) {
        h.add(&key[..key_len], v).expect("add");
    }
    out.entry(k(LOCKED_ADD)).or_default().push((rdtsc() - t0) as f64 / KEYS as f64);
    let t0 = rdtsc();
    for _ in 0..PASSES {
        for (key, &v) in keys.iter().zip(&want) {
            wrong += usize::from(h.lookup_with_hash(&key[..key_len], v).expect("lookup") != Some(u64::from(v)));
        }
    }
    out.entry(k("lookup with hash")).or_default().push((rdtsc() - t0) as f64 / (PASSES * KEYS) as f64);
    let t0 = rdtsc();
    for key in &keys {
        h.delete(&key[..key_len]).expect("delete");
    }
    out.entry(k(LOCKED_DELETE)).or_default().push((rdtsc() - t0) as f64 / KEYS as f64);
    assert_eq!(wrong, 0, "{wrong} lookups of {key_len}-byte keys found no value or the wrong one");
    h.free(mem);
}

/// `lpm6_perf_autotest`'s shape: 1000 routes, depths spread evenly over 1 to 128 (DPDK's
/// table has 3 to 18 routes of each depth), and 100,000 addresses made as the autotest makes
/// them: 400 in a row under the same route (its prefix, random bits below), for the first 250
/// routes in turn, so every lookup finds a route. Cycles per add, per
/// lookup (1024 passes over the addresses), per address of a bulk lookup of all of them,
/// per delete.
fn lpm6_bench(mem: &Memory, out: &mut Figures) {
    const ROUTES: usize = 1000;
    const IPS: usize = 100_000;
    const ITERS: usize = 1024;
    let mut r = Rng(0x1b96_5eed_0000_0001);
    let mask6 = |d: u8| if d == 0 { 0 } else { u128::MAX << (128 - u32::from(d)) };
    let rand128 = |r: &mut Rng| u128::from(r.next()) << 64 | u128::from(r.next());
    let mut seen = std::collections::HashSet::new();
    let mut routes = Vec::with_capacity(ROUTES);
    // Depth by attempt, so the short depths' few distinct prefixes end the loop.
    for attempt in 0.. {
        if routes.len() == ROUTES {
            break;
        }
        let d = (attempt % 128) as u8 + 1;
        let ip = rand128(&mut r) & mask6(d);
        if seen.insert((ip, d)) {
            routes.push((ip, d));
        }
    }
    // As `generate_large_ips_table`: runs of 400 addresses under one route, route after route.
    let ips: Vec<u128> = (0..IPS)
        .map(|i| {
            let (ip, d) = routes[i / 400 % ROUTES];
            ip | rand128(&mut r) & !mask6(d)
        })
        .collect();
    let lpm = Lpm6::create(mem, "bench_lpm6", &Lpm6Params { max_rules: 1_000_000, groups: 1 << 16 }).expect("lpm6");
    let t0 = rdtsc();
    for &(ip, d) in &routes {
        lpm.add(ip, d, 0xAA).expect("add");
    }
    out.entry("lpm6 add".into()).or_default().push((rdtsc() - t0) as f64 / ROUTES as f64);
    let mut misses = 0usize;
    let t0 = rdtsc();
    for _ in 0..ITERS {
        for &ip in &ips {
            misses += usize::from(lpm.lookup(ip).is_none());
        }
    }
    out.entry("lpm6 lookup".into()).or_default().push((rdtsc() - t0) as f64 / (ITERS * IPS) as f64);
    let mut nhs = vec![None; IPS];
    let mut spent = 0u64;
    for _ in 0..ITERS {
        let t0 = rdtsc();
        lpm.lookup_bulk(&ips, &mut nhs).expect("bulk");
        spent += rdtsc() - t0;
        misses += nhs.iter().filter(|n| n.is_none()).count();
    }
    out.entry("lpm6 lookup bulk".into()).or_default().push(spent as f64 / (ITERS * IPS) as f64);
    assert_eq!(misses, 0, "{misses} IPv6 lookups found no route");
    let t0 = rdtsc();
    for &(ip, d) in &routes {
        lpm.delete(ip, d).expect("delete");
    }
    out.entry("lpm6 delete".into()).or_default().push((rdtsc() - t0) as f64 / ROUTES as f64);
    lpm.free(mem);
}

/// Runs one `dpdk-test` autotest on CPU 0 with `mem_args` and returns its output.
fn dpdk(test: &str, mem_args: &[&str]) -> Result<String, String> {
    let mut child = Command::new("timeout")
        .args(["1200", "dpdk-test", "--no-pci", "-l", "0", "--file-prefix", "bypass_bench_table_dpdk"])
        // No hugepage files left behind if it is cut short (DPDK refuses this with --no-huge,
        // which leaves none anyway).
        .args((!mem_args.contains(&"--no-huge")).then_some("--in-memory"))
        .args(mem_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("dpdk-test: {e}"))?;
    if let Some(mut s) = child.stdin.take() {
        let _ = s.write_all(format!("{test}\n").as_bytes());
    }
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn figure_after(text: &str, label: &str) -> Option<f64> {
    let l = text.lines().find(|l| l.starts_with(label))?;
    l[label.len()..].split_whitespace().next()?.parse().ok()
}

/// The four figures of `lpm_perf_autotest` or `lpm6_perf_autotest` (same labels), filed
/// under `prefix` ("lpm" or "lpm6").
fn parse_lpm(text: &str, prefix: &str, base: &mut Figures) {
    let bulk = if prefix == "lpm" { "lookup bulk(32)" } else { "lookup bulk" };
    for (label, k) in [
        ("Average LPM Add:", "add"),
        ("Average LPM Lookup:", "lookup"),
        ("BULK LPM Lookup:", bulk),
        ("Average LPM Delete:", "delete"),
    ] {
        if let Some(v) = figure_after(text, label) {
            base.entry(format!("{prefix} {k}")).or_default().push(v);
        }
    }
}

/// One key size on DPDK's side (`hash_pipe.c`): the unlocked run's figures, and the locked
/// run's add and delete for the "vs DPDK locked" rows.
fn dpdk_hash(pipe: &mut DpdkPipe, key_len: usize, base: &mut Figures) -> Result<(), String> {
    let k = |name: &str| format!("hash {name} key {key_len:>2}");
    let field = |a: &str, name: &str| -> Result<f64, String> {
        a.split_whitespace()
            .find_map(|f| f.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("hash_pipe: no {name} in '{a}'"))
    };
    let a = pipe.ask(&format!("{key_len} 0"), "add=")?;
    let a = format!("add={a}");
    for (name, row) in [("add", "add"), ("lookup", "lookup"), ("bulk", "lookup bulk(16)"), ("delete", "delete")] {
        base.entry(k(row)).or_default().push(field(&a, name)?);
    }
    base.entry(k("lookup with hash")).or_default().push(field(&a, "lookup_hash")?);
    let a = format!("add={}", pipe.ask(&format!("{key_len} 1"), "add=")?);
    base.entry(k(LOCKED_ADD)).or_default().push(field(&a, "add")?);
    base.entry(k(LOCKED_DELETE)).or_default().push(field(&a, "delete")?);
    Ok(())
}

/// Which DPDK figure each Bypass row is compared against.
const LEGEND: &str = "\
Rows are compared with DPDK 22.11 on the same memory kind, run between Bypass's measurements:
  lpm add/lookup/lookup bulk(32)/delete  <- dpdk-test lpm_perf_autotest: 'Average LPM Add', 'Average LPM
                                            Lookup', 'BULK LPM Lookup', 'Average LPM Delete'
  lpm6 add/lookup/lookup bulk/delete     <- dpdk-test lpm6_perf_autotest, the same four lines
  hash add/lookup/lookup bulk(16)/delete key N
                                         <- hash_pipe.c: hash_perf_autotest's 'with 8-byte data' sequence
                                            on rte_hash (rte_jhash, as the autotest) for key size N, run
                                            right after Bypass's: add_key_data, lookup_data, lookup_bulk_data
                                            of 16, del_key
  hash lookup with hash key N            <- same, lookup_with_hash_data
  hash add/delete vs DPDK locked key N   <- Bypass's add/delete again (its writers always lock), beside
                                            hash_pipe.c's run with the autotest's 'with locks' flags
                                            (RW_CONCURRENCY, TRANS_MEM_SUPPORT)
DPDK's table in the unlocked run has no reader/writer concurrency; Bypass's lookups are safe
beside a writer in another process.";

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).filter(|&n| n > 0).unwrap_or(3);
    // Hugepages for both sides when the host has enough for both at once (Bypass's 400 MB,
    // then DPDK's 512 MB), else 4 KiB pages for both.
    let page = eal::memory::hugetlbfs::default_page_size();
    let huge = std::env::var_os("BENCH_NO_HUGE").is_none()
        && eal::memory::hugetlbfs::find_mount(None).is_ok()
        && eal::memory::hugetlbfs::free_pages(page) * page >= (400 + 512) << 20;
    let mut args = vec!["table_perf", "-l", "0", "--file-prefix", "bypass_bench_table", "-m", "400"];
    if !huge {
        args.push("--no-huge");
    }
    let dpdk_mem: &[&str] = if huge { &["-m", "512"] } else { &["--no-huge", "-m", "512"] };
    // On CPU 0, where DPDK runs (`-l 0`): both sides share one core's caches and whatever
    // else the host runs there.
    let eal = eal::Eal::init(&args).unwrap_or_else(|e| panic!("EAL: {e}"));
    let mem = eal.memory();
    let with_dpdk = std::env::var_os("BYPASS_BENCH_NO_DPDK").is_none() && have("dpdk-test");
    // DPDK's key sizes; BENCH_KEYS="8,16" measures some only.
    let key_lens: Vec<usize> = std::env::var("BENCH_KEYS")
        .ok()
        .map(|v| v.split(',').filter_map(|k| k.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![4, 8, 16, 32, 48, 64, 9, 13, 37, 40]);
    let tables = std::env::var("BENCH_TABLES").unwrap_or_else(|_| "hash,lpm,lpm6".into());
    let want = |t: &str| tables.split(',').any(|x| x.trim() == t);
    let mut ours = Figures::new();
    let mut base = Figures::new();
    println!(
        "CRC32-C in hardware: {}; memory: {}; {rounds} rounds (BENCH_ROUNDS), Bypass then DPDK for each figure",
        table::crc::has_hw(),
        if huge { "hugepages, both sides" } else { "4 KiB pages (--no-huge), both sides" }
    );
    for round in 1..=rounds {
        if want("lpm") {
            lpm_bench(&mem, &mut ours);
        }
        if want("lpm6") {
            lpm6_bench(&mem, &mut ours);
        }
        if with_dpdk {
            for (test, prefix) in [("lpm_perf_autotest", "lpm"), ("lpm6_perf_autotest", "lpm6")] {
                if !want(prefix) {
                    continue;
                }
                match dpdk(test, dpdk_mem) {
                    Ok(t) => parse_lpm(&t, prefix, &mut base),
                    Err(e) => println!("DPDK {test}: {e}"),
                }
            }
        }
        let mut pipe_args = vec!["--no-pci", "-l", "0", "--file-prefix=bypass_bench_hash_pipe"];
        pipe_args.extend_from_slice(dpdk_mem);
        let mut pipe = if with_dpdk && want("hash") {
            DpdkPipe::start("hash_pipe", &pipe_args).map_err(|e| println!("DPDK hash harness: {e}")).ok()
        } else {
            None
        };
        for &key_len in key_lens.iter().filter(|_| want("hash")) {
            hash_bench(&mem, key_len, &mut ours);
            if let Some(p) = pipe.as_mut() {
                if let Err(e) = dpdk_hash(p, key_len, &mut base) {
                    println!("DPDK hash harness: {e}");
                    pipe = None;
                }
            }
        }
        drop(pipe);
        if round < rounds {
            // The figures so far, in case a long run is cut short.
            print_table(&format!("After round {round} of {rounds}"), "cycles per operation", &ours, &base, true);
        }
    }
    if !with_dpdk {
        println!("(DPDK baseline skipped: BYPASS_BENCH_NO_DPDK set or dpdk-test not on PATH)");
    }
    println!("\n{LEGEND}");
    print_table("Lookup tables", "cycles per operation", &ours, &base, true);
}
