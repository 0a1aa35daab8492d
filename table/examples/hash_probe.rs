//! `hash_perf_autotest`'s 8-byte-key workload once, one function per phase, for
//! `valgrind --tool=callgrind --cache-sim=yes` (per-operation instructions and cache misses;
//! the timed figures are `table_perf`'s). `cargo build --release -p table --example hash_probe`;
//! argument: key length (default 8).

use eal::Memory;
use table::{HashParams, HashTable};

const ENTRIES: u32 = 1 << 19;
const KEYS: usize = (ENTRIES as usize) * 3 / 4;
const BURST: usize = 16;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// This thread's CPU time in nanoseconds (time while descheduled left out, so a loaded host
/// inflates it less than the TSC).
fn thread_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Cycles per operation of each phase: by the TSC, and by this thread's CPU time at the TSC
/// rate ("cpu").
struct Timer(u64, u64, f64, Vec<String>);
impl Timer {
    fn start(&mut self) {
        self.0 = eal::cycles::rdtsc();
        self.1 = thread_ns();
    }
    fn lap(&mut self, name: &str) {
        let (now, ns) = (eal::cycles::rdtsc(), thread_ns());
        let cpu = (ns - self.1) as f64 * self.2;
        self.3.push(format!("{name}={:.1}/cpu={:.1}", (now - self.0) as f64 / KEYS as f64, cpu / KEYS as f64));
        self.start();
    }
}

#[inline(never)]
fn phase_add(h: &HashTable, keys: &[[u8; 64]], values: &[u64], kl: usize) {
    for (key, &v) in keys.iter().zip(values) {
        h.add(&key[..kl], v).expect("add");
    }
}

#[inline(never)]
fn phase_lookup(h: &HashTable, keys: &[[u8; 64]], want: &[u32], kl: usize) -> usize {
    keys.iter().zip(want).filter(|(k, &v)| h.lookup(&k[..kl]).expect("lookup") != Some(u64::from(v))).count()
}

#[inline(never)]
fn phase_lookup_with_hash(h: &HashTable, keys: &[[u8; 64]], want: &[u32], kl: usize) -> usize {
    keys.iter()
        .zip(want)
        .filter(|(k, &v)| h.lookup_with_hash(&k[..kl], v).expect("lookup") != Some(u64::from(v)))
        .count()
}

#[inline(never)]
fn phase_bulk(h: &HashTable, keys: &[[u8; 64]], want: &[u32], kl: usize) -> usize {
    let mut vals = [0u64; BURST];
    let mut wrong = 0;
    for (c, w) in keys.chunks_exact(BURST).zip(want.chunks_exact(BURST)) {
        let ks: [&[u8]; BURST] = std::array::from_fn(|j| &c[j][..kl]);
        let hits = h.lookup_bulk(&ks, &mut vals).expect("bulk");
        wrong += usize::from(hits != (1 << BURST) - 1 || vals.iter().zip(w).any(|(&a, &b)| a != u64::from(b)));
    }
    wrong
}

#[inline(never)]
fn phase_delete(h: &HashTable, keys: &[[u8; 64]], kl: usize) {
    for key in keys {
        h.delete(&key[..kl]).expect("delete");
    }
}

fn main() {
    let kl: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    let mem = Memory::anonymous(200 << 20).expect("arena");
    let mut keys: Vec<[u8; 64]> = (0..KEYS as u64)
        .map(|i| {
            let mut k = [0u8; 64];
            k[..8].copy_from_slice(&(i + 1).to_le_bytes());
            k
        })
        .collect();
    let h = HashTable::create(&mem, "probe", &HashParams { entries: ENTRIES, key_len: kl, ..Default::default() })
        .expect("hash");
    // Values are the keys' hashes, computed before the timed adds as DPDK's test does.
    let values: Vec<u64> = keys.iter().map(|k| u64::from(h.hash(&k[..kl]).expect("hash"))).collect();
    let ghz = eal::cycles::tsc_hz(std::time::Duration::from_millis(100)) as f64 / 1e9;
    let mut t = Timer(0, 0, ghz, Vec::new());
    t.start();
    phase_add(&h, &keys, &values, kl);
    t.lap("add");
    let mut r = Rng(0xfeed_0000_0000_0001 ^ kl as u64);
    for i in (1..KEYS).rev() {
        keys.swap(i, (r.next() % (i as u64 + 1)) as usize);
    }
    let want: Vec<u32> = keys.iter().map(|k| h.hash(&k[..kl]).expect("hash")).collect();
    t.start();
    let mut wrong = phase_lookup(&h, &keys, &want, kl);
    t.lap("lookup");
    wrong += phase_lookup_with_hash(&h, &keys, &want, kl);
    t.lap("lookup_with_hash");
    wrong += phase_bulk(&h, &keys, &want, kl);
    t.lap("bulk16");
    phase_delete(&h, &keys, kl);
    t.lap("delete");
    assert_eq!(wrong, 0);
    println!("{KEYS} keys of {kl} bytes, cycles per operation: {}", t.3.join(" "));
}
