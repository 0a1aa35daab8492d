//! Lookup-table cost in cycles, Bypass beside DPDK 22.11's `lpm_perf_autotest` and
//! `hash_perf_autotest` run by the same invocation (`dpdk-test --no-huge -m 512 --no-pci`).
//! `cargo bench -p table --bench table_perf`; env BYPASS_BENCH_NO_DPDK=1 skips DPDK,
//! BENCH_KEYS=8,16 measures only those key sizes, BENCH_ROUNDS sets the rounds.
//!
//! LPM: about a million routes with the depth mix of DPDK's table (mostly /24, then /16 to
//! /23, a few beyond /24); cycles per add, per lookup of a random address, per address in
//! bulk lookups of 32, per delete. Hash: DPDK's "with 8-byte data, all elements in primary
//! location" workload (see `hash_bench`): cycles per add, lookup, bulk lookup (per key,
//! bursts of 16 as DPDK's `Lookup_bulk`), delete, and lookup with the hash given.
//!
//! Both sides run on CPU 0 (DPDK's `-l 0`). Rounds are interleaved (a Bypass round, then
//! DPDK's two autotests, BENCH_ROUNDS times, default 3); the table prints min/median/max per side and the ratio of the medians, and
//! says which DPDK line each row is compared against.

#[allow(dead_code)]
#[path = "../../eal/benches/common.rs"]
mod common;

use common::{have, print_table, Figures};
use eal::cycles::rdtsc;
use eal::Memory;
use std::io::Write;
use std::process::{Command, Stdio};
use table::{HashParams, HashTable, Lpm, LpmParams};

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

/// Rows of Bypass's add and delete (the same figures as the "add" and "delete" rows) beside
/// DPDK's with its locks on.
const LOCKED_ADD: &str = "add vs DPDK locked";
const LOCKED_DELETE: &str = "delete vs DPDK locked";

/// DPDK's `hash_perf_autotest` workload, for one key size: a table of 2^19 entries filled
/// to 75% (393,216 keys, counters little-endian in the key, as DPDK's `get_input_keys`,
/// kept 64 bytes apart as DPDK's key array), added in order, then shuffled; 5 passes of
/// single lookups over the shuffled keys, 5 with the hash given, 5 in bursts of 16
/// (DPDK's `BURST_SIZE`), each checking the value found; then every key deleted.
fn hash_bench(mem: &Memory, key_len: usize, out: &mut Figures) {
    const ENTRIES: u32 = 1 << 19;
    const KEYS: usize = (ENTRIES as usize) * 3 / 4;
    const PASSES: usize = 5;
    const BURST: usize = 16;
    let mut keys: Vec<[u8; 64]> = (0..KEYS as u64)
        .map(|i| {
            let mut k = [0u8; 64];
            k[..8].copy_from_slice(&(i + 1).to_le_bytes());
            k
        })
        .collect();
    let h = HashTable::create(mem, "bench_hash", &HashParams { entries: ENTRIES, key_len, ..Default::default() })
        .expect("hash");
    let k = |name: &str| format!("hash {name} key {key_len:>2}");
    // Values are the keys' hashes, as DPDK stores its signatures as data; computed before the
    // timed adds, as DPDK's `timed_adds` takes its precomputed `signatures`.
    let values: Vec<u64> = keys.iter().map(|key| u64::from(h.hash(&key[..key_len]).expect("hash"))).collect();
    let t0 = rdtsc();
    for (key, &v) in keys.iter().zip(&values) {
        h.add(&key[..key_len], v).expect("add");
    }
    let add = (rdtsc() - t0) as f64 / KEYS as f64;
    out.entry(k("add")).or_default().push(add);
    out.entry(k(LOCKED_ADD)).or_default().push(add);
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
    let t0 = rdtsc();
    for _ in 0..PASSES {
        for (key, &v) in keys.iter().zip(&want) {
            wrong += usize::from(h.lookup_with_hash(&key[..key_len], v).expect("lookup") != Some(u64::from(v)));
        }
    }
    out.entry(k("lookup with hash")).or_default().push((rdtsc() - t0) as f64 / (PASSES * KEYS) as f64);
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
    let t0 = rdtsc();
    for key in &keys {
        h.delete(&key[..key_len]).expect("delete");
    }
    let delete = (rdtsc() - t0) as f64 / KEYS as f64;
    out.entry(k("delete")).or_default().push(delete);
    out.entry(k(LOCKED_DELETE)).or_default().push(delete);
    assert_eq!(wrong, 0, "{wrong} lookups of {key_len}-byte keys found no value or the wrong one");
    h.free(mem);
}

fn dpdk(test: &str) -> Result<String, String> {
    let mut child = Command::new("timeout")
        .args(["1200", "dpdk-test", "--no-huge", "-m", "512", "--no-pci", "-l", "0"])
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

fn parse_lpm(text: &str, base: &mut Figures) {
    for (label, k) in [
        ("Average LPM Add:", "lpm add"),
        ("Average LPM Lookup:", "lpm lookup"),
        ("BULK LPM Lookup:", "lpm lookup bulk(32)"),
        ("Average LPM Delete:", "lpm delete"),
    ] {
        if let Some(v) = figure_after(text, label) {
            base.entry(k.into()).or_default().push(v);
        }
    }
}

/// The "with 8-byte data" tables of the "all elements in primary location" section, of the
/// runs without locks (the goal's rows) and, for add and delete only, with locks (Bypass's
/// writers always take the table's lock, so those rows compare like with like).
fn parse_hash(text: &str, base: &mut Figures) {
    parse_hash_section(text, base, false);
    if let Some(at) = text.find("With locks in the code") {
        parse_hash_section(&text[at..], base, true);
    }
}

fn parse_hash_section(text: &str, base: &mut Figures, locked: bool) {
    let Some(start) = text.find("Operations with 8-byte data") else { return };
    let sect = &text[start..];
    let end = sect[1..].find("Operations").map_or(sect.len(), |e| e + 1);
    let sect = &sect[..end];
    let mut precomputed = false;
    for l in sect.lines() {
        if l.starts_with("With pre-computed") {
            precomputed = true;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        let Ok(key_len) = f.first().unwrap_or(&"").parse::<usize>() else { continue };
        if f.len() < 5 {
            continue;
        }
        let v: Vec<f64> = f[1..5].iter().filter_map(|x| x.parse().ok()).collect();
        if v.len() < 4 {
            continue;
        }
        let k = |name: &str| format!("hash {name} key {key_len:>2}");
        if locked {
            if !precomputed {
                base.entry(k(LOCKED_ADD)).or_default().push(v[0]);
                base.entry(k(LOCKED_DELETE)).or_default().push(v[3]);
            }
        } else if precomputed {
            base.entry(k("lookup with hash")).or_default().push(v[1]);
        } else {
            base.entry(k("add")).or_default().push(v[0]);
            base.entry(k("lookup")).or_default().push(v[1]);
            base.entry(k("lookup bulk(16)")).or_default().push(v[2]);
            base.entry(k("delete")).or_default().push(v[3]);
        }
    }
}

/// Which DPDK line each Bypass row is compared against.
const LEGEND: &str = "\
Rows are compared with DPDK 22.11 `dpdk-test` (--no-huge -m 512 --no-pci -l 0), run between Bypass's rounds:
  lpm add/lookup/lookup bulk(32)/delete  <- lpm_perf_autotest: 'Average LPM Add', 'Average LPM Lookup',
                                            'BULK LPM Lookup', 'Average LPM Delete'
  hash add/lookup/lookup bulk(16)/delete key N
                                         <- hash_perf_autotest, first table set (ALL ELEMENTS IN PRIMARY
                                            LOCATION, no locks), 'Operations with 8-byte data', 'Without
                                            pre-computed hash values': columns Add, Lookup, Lookup_bulk,
                                            Delete of the row for key size N
  hash lookup with hash key N            <- same, 'With pre-computed hash values': column Lookup
  hash add/delete vs DPDK locked key N   <- Bypass's add/delete again (its writers always lock), beside
                                            the same columns of the 'With locks in the code' run
                                            (RW_CONCURRENCY, TRANS_MEM_SUPPORT flags)
DPDK's table in that test has no reader/writer concurrency; Bypass's lookups are safe beside a
writer in another process.";

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).filter(|&n| n > 0).unwrap_or(3);
    // On CPU 0, where DPDK's `-l 0` runs its test: both sides share one core's caches and
    // whatever else the host runs there.
    if let Err(e) = eal::lcore::pin_current_thread(&[0]) {
        println!("(not pinned to CPU 0: {e})");
    }
    let mem = Memory::anonymous(400 << 20).expect("arena");
    let with_dpdk = std::env::var_os("BYPASS_BENCH_NO_DPDK").is_none() && have("dpdk-test");
    // DPDK's key sizes; BENCH_KEYS="8,16" measures some only (DPDK still runs them all).
    let key_lens: Vec<usize> = std::env::var("BENCH_KEYS")
        .ok()
        .map(|v| v.split(',').filter_map(|k| k.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![4, 8, 16, 32, 48, 64, 9, 13, 37, 40]);
    let mut ours = Figures::new();
    let mut base = Figures::new();
    println!("CRC32-C in hardware: {}; {rounds} rounds (BENCH_ROUNDS), Bypass then DPDK in each", table::crc::has_hw());
    for round in 1..=rounds {
        lpm_bench(&mem, &mut ours);
        for &key_len in &key_lens {
            hash_bench(&mem, key_len, &mut ours);
        }
        if with_dpdk {
            match dpdk("lpm_perf_autotest") {
                Ok(t) => parse_lpm(&t, &mut base),
                Err(e) => println!("DPDK lpm_perf_autotest: {e}"),
            }
            match dpdk("hash_perf_autotest") {
                Ok(t) => parse_hash(&t, &mut base),
                Err(e) => println!("DPDK hash_perf_autotest: {e}"),
            }
        }
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
