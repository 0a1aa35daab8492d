//! Shared hash table: correctness, errors, a full table, and readers beside a writer.

use eal::Memory;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use table::{HashFunction, HashParams, HashTable, Lpm, LpmParams, TableError};

fn key(i: u64, len: usize) -> Vec<u8> {
    let mut k = vec![0u8; len];
    let b = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
    for (j, x) in k.iter_mut().enumerate() {
        *x = b[j % 8] ^ (j as u8).wrapping_mul(31) ^ (i >> (8 * (j % 8))) as u8;
    }
    k[..8.min(len)].copy_from_slice(&i.to_le_bytes()[..8.min(len)]);
    k
}

/// A short name of a hash function, for table names.
fn hf_name(hf: HashFunction) -> &'static str {
    match hf {
        HashFunction::Crc32c => "crc",
        HashFunction::Fnv1a => "fnv",
        HashFunction::Jhash => "jhash",
        HashFunction::Toeplitz(_) => "toeplitz",
    }
}

fn params(entries: u32, key_len: usize) -> HashParams {
    HashParams { entries, key_len, ..Default::default() }
}

#[test]
fn add_lookup_delete_iterate_all_key_sizes() {
    let m = Memory::anonymous(16 << 20).unwrap();
    for (n, key_len) in [1usize, 4, 13, 16, 40, 64].into_iter().enumerate() {
        let toeplitz = HashFunction::Toeplitz(eal::toeplitz::DEFAULT_KEY);
        let functions = [HashFunction::Crc32c, HashFunction::Fnv1a, HashFunction::Jhash, toeplitz];
        // Toeplitz: keys a 40-byte key hashes in full, and not the full table of 1-byte keys
        // (a linear hash of 8 bits may leave buckets unused).
        for hf in functions.into_iter().filter(|&f| f != toeplitz || (4..=eal::toeplitz::MAX_INPUT).contains(&key_len))
        {
            let name = format!("h{n}{}", hf_name(hf));
            let entries = if key_len == 1 { 256 } else { 2000 };
            let h = HashTable::create(&m, &name, &HashParams { entries, key_len, hash_fn: hf, seed: 7 }).unwrap();
            let n_keys = entries as u64;
            for i in 0..n_keys {
                h.add(&key(i, key_len), i * 3).unwrap();
            }
            assert_eq!(h.count(), n_keys);
            for i in 0..n_keys {
                assert_eq!(h.lookup(&key(i, key_len)).unwrap(), Some(i * 3), "{name} key {i}");
            }
            // Replace a value, delete every other key.
            h.add(&key(0, key_len), 99).unwrap();
            assert_eq!(h.lookup(&key(0, key_len)).unwrap(), Some(99));
            for i in (0..n_keys).step_by(2) {
                h.delete(&key(i, key_len)).unwrap();
            }
            assert!(matches!(h.delete(&key(0, key_len)), Err(TableError::NotPresent)));
            let mut seen = 0;
            let mut pos = 0;
            while let Some((k, v)) = h.iterate(&mut pos) {
                let i = v / 3;
                assert_eq!(k, key(i, key_len));
                assert_eq!(i % 2, 1);
                seen += 1;
            }
            assert_eq!(seen, n_keys / 2);
            assert_eq!(h.count(), n_keys / 2);
            for i in 0..n_keys {
                let want = (i % 2 == 1).then_some(i * 3);
                assert_eq!(h.lookup(&key(i, key_len)).unwrap(), want);
            }
            h.reset();
            assert_eq!(h.count(), 0);
            assert_eq!(h.lookup(&key(1, key_len)).unwrap(), None);
            h.free(&m);
        }
    }
}

/// A writer session holds the lock across its updates: its adds and deletes land, other
/// writers wait until it is dropped (and then proceed), readers never wait.
#[test]
fn writer_session_holds_the_lock_until_dropped() {
    let m = Memory::anonymous(4 << 20).unwrap();
    for key_len in [8, 13, 24] {
        let name = format!("session{key_len}");
        let h = HashTable::create(&m, &name, &params(1024, key_len)).unwrap();
        let w = h.writer();
        for i in 0..600 {
            w.add(&key(i, key_len), i + 7).unwrap();
        }
        assert_eq!(w.delete(&key(3, key_len)).unwrap(), 10);
        assert!(matches!(w.delete(&key(3, key_len)), Err(TableError::NotPresent)));
        assert!(matches!(w.add(&[0u8; 65][..key_len + 1], 1), Err(TableError::InvalidParam(_))));
        assert_eq!(h.writer_pid(), Some(std::process::id()), "the session holds the lock");
        // Readers go on while the session holds the lock.
        assert_eq!(h.lookup(&key(5, key_len)).unwrap(), Some(12));
        assert_eq!(h.lookup(&key(3, key_len)).unwrap(), None);
        // Another writer waits for the session.
        let other = HashTable::lookup_by_name(&m, &name, key_len, 8).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let k = key(1000, key_len);
        let t = std::thread::spawn(move || {
            other.add(&k, 1).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err(), "an add ran past a held session");
        drop(w);
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the add waiting for the session never ran");
        t.join().unwrap();
        assert_eq!(h.writer_pid(), None);
        assert_eq!(h.count(), 600);
        assert_eq!(h.lookup(&key(1000, key_len)).unwrap(), Some(1));
        h.free(&m);
    }
}

#[test]
fn bulk_and_with_hash() {
    let m = Memory::anonymous(4 << 20).unwrap();
    let h = HashTable::create(&m, "bulk", &params(1024, 12)).unwrap();
    for i in 0..500 {
        h.add(&key(i, 12), i + 1000).unwrap();
    }
    let keys: Vec<Vec<u8>> = (490..522).map(|i| key(i, 12)).collect();
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    let mut vals = [0u64; 32];
    let hits = h.lookup_bulk(&refs, &mut vals).unwrap();
    assert_eq!(hits, (1u64 << 10) - 1);
    for (i, v) in vals.iter().enumerate().take(10) {
        assert_eq!(*v, 490 + i as u64 + 1000);
    }
    let sig = h.hash(&key(5, 12)).unwrap();
    assert_eq!(h.lookup_with_hash(&key(5, 12), sig).unwrap(), Some(1005));
    assert_eq!(h.lookup_with_hash(&key(5, 12), sig ^ 0x5555).unwrap(), None);
    let too_many: Vec<&[u8]> = (0..65).map(|_| refs[0]).collect();
    let mut big = [0u64; 65];
    assert!(matches!(h.lookup_bulk(&too_many, &mut big), Err(TableError::InvalidParam(_))));
}

#[test]
fn full_table_keeps_every_entry() {
    let m = Memory::anonymous(4 << 20).unwrap();
    // 8000 entries: the table gets 1024 buckets of 8 (8192 slots): a 98% load.
    let h = HashTable::create(&m, "full", &params(8000, 16)).unwrap();
    let mut added = 0u64;
    for i in 0..8000 {
        match h.add(&key(i, 16), i) {
            Ok(()) => added += 1,
            Err(TableError::Full(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(added >= 7600, "only {added} of 8000 fit");
    let err = h.add(&key(1 << 40, 16), 1);
    if added == 8000 {
        assert!(matches!(err, Err(TableError::Full(ref n)) if n == "full"), "{err:?}");
        assert!(err.unwrap_err().to_string().contains("more entries"));
    }
    for i in 0..added {
        assert_eq!(h.lookup(&key(i, 16)).unwrap(), Some(i), "key {i} lost by cuckoo moves");
    }
    assert_eq!(h.count(), added);
}

/// Keys that cuckoo moves or a full primary bucket put in their alternative bucket stay one
/// copy each: once deletes free slots in their primary buckets, adding them again replaces
/// their values there (no second copy in the primary bucket), and deleting them removes them.
#[test]
fn keys_in_their_alternative_bucket_are_updated_not_copied() {
    let m = Memory::anonymous(8 << 20).unwrap();
    for key_len in [8, 16, 24] {
        let name = format!("alt{key_len}");
        let h = HashTable::create(&m, &name, &params(4000, key_len)).unwrap();
        // 4096 slots filled to 97%: many keys live in their alternative bucket.
        let n = 3980u64;
        for i in 0..n {
            h.add(&key(i, key_len), i).unwrap();
        }
        // Free slots all over the table, then add every kept key again with a new value.
        for i in (0..n).filter(|i| i % 3 == 0) {
            assert_eq!(h.delete(&key(i, key_len)).unwrap(), i);
        }
        let kept: Vec<u64> = (0..n).filter(|i| i % 3 != 0).collect();
        assert_eq!(h.count(), kept.len() as u64);
        let w = h.writer();
        for &i in &kept {
            w.add(&key(i, key_len), i + 1_000_000).unwrap();
        }
        drop(w);
        assert_eq!(h.count(), kept.len() as u64, "{key_len}-byte keys: an add of a present key made a second copy");
        let mut pos = 0;
        let mut seen = 0;
        while let Some((_, v)) = h.iterate(&mut pos) {
            assert!(v >= 1_000_000, "{key_len}-byte keys: a stale copy holding {v} is left");
            seen += 1;
        }
        assert_eq!(seen, kept.len());
        for &i in &kept {
            assert_eq!(h.lookup(&key(i, key_len)).unwrap(), Some(i + 1_000_000));
            assert_eq!(h.delete(&key(i, key_len)).unwrap(), i + 1_000_000);
            assert_eq!(
                h.lookup(&key(i, key_len)).unwrap(),
                None,
                "{key_len}-byte key {i} still found after its delete"
            );
        }
        assert_eq!(h.count(), 0);
        h.free(&m);
    }
}

/// A Toeplitz table keyed by an IPv4 flow's addresses and ports (network order) hashes as a
/// NIC's RSS does, so a packet's RSS hash finds its flow; another handle found by name reads
/// the same key from the table; keys longer than the Toeplitz key covers are refused.
#[test]
fn toeplitz_table_takes_a_nics_rss_hash() {
    use eal::toeplitz::DEFAULT_KEY;
    let m = Memory::anonymous(4 << 20).unwrap();
    let rss = HashParams { entries: 1024, key_len: 12, hash_fn: HashFunction::Toeplitz(DEFAULT_KEY), seed: 0 };
    let h = HashTable::create(&m, "rss_flows", &rss).unwrap();
    // Microsoft's RSS verification flow 66.9.149.187:2794 -> 161.142.100.80:1766, whose RSS
    // hash under the default key the specification and Intel's datasheets give as 0x51ccc178.
    let flow = [66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6];
    assert_eq!(h.hash(&flow).unwrap(), 0x51cc_c178);
    h.add(&flow, 7).unwrap();
    for i in 0..500u32 {
        let mut k = flow;
        k[..4].copy_from_slice(&(0x0a00_0000 + i).to_be_bytes());
        h.add(&k, u64::from(i)).unwrap();
    }
    assert_eq!(h.lookup_with_hash(&flow, 0x51cc_c178).unwrap(), Some(7));
    let other = HashTable::lookup_by_name(&m, "rss_flows", 12, 8).unwrap();
    assert_eq!(other.hash_function(), HashFunction::Toeplitz(DEFAULT_KEY));
    assert_eq!(other.lookup(&flow).unwrap(), Some(7));
    for i in 0..500u32 {
        let mut k = flow;
        k[..4].copy_from_slice(&(0x0a00_0000 + i).to_be_bytes());
        assert_eq!(other.lookup(&k).unwrap(), Some(u64::from(i)));
    }
    // Another key, another hash.
    let mut key = DEFAULT_KEY;
    key.reverse();
    let h2 =
        HashTable::create(&m, "rss_other_key", &HashParams { hash_fn: HashFunction::Toeplitz(key), ..rss.clone() })
            .unwrap();
    assert_ne!(h2.hash(&flow).unwrap(), 0x51cc_c178);
    let long = HashParams { key_len: eal::toeplitz::MAX_INPUT + 1, ..rss };
    let err = HashTable::create(&m, "rss_long", &long).unwrap_err();
    assert!(matches!(err, TableError::InvalidParam(_)), "{err:?}");
    assert!(err.to_string().contains("36 bytes") && err.to_string().contains("Crc32c"), "{err}");
}

/// A Jhash table's hashes are DPDK's `rte_jhash` values (lookup3's published ones), through
/// the table's key words and back.
#[test]
fn jhash_table_hashes_as_rte_jhash() {
    let m = Memory::anonymous(4 << 20).unwrap();
    let text = b"Four score and seven years ago";
    for (seed, want) in [(0u32, 0x1777_0551u32), (1, 0xcd62_8161)] {
        let name = format!("jhash{seed}");
        let p = HashParams { entries: 64, key_len: text.len(), hash_fn: HashFunction::Jhash, seed };
        let h = HashTable::create(&m, &name, &p).unwrap();
        assert_eq!(h.hash(text).unwrap(), want);
        h.add(text, 1).unwrap();
        assert_eq!(h.lookup_with_hash(text, want).unwrap(), Some(1));
        h.free(&m);
    }
}

#[test]
fn errors_name_the_problem() {
    let m = Memory::anonymous(80 << 20).unwrap();
    let h = HashTable::create(&m, "flows", &params(64, 13)).unwrap();
    let e = HashTable::lookup_by_name(&m, "flows", 16, 8).unwrap_err();
    assert!(matches!(e, TableError::SizeMismatch { what: "keys", stored: 13, asked: 16, .. }), "{e:?}");
    assert!(e.to_string().contains("13"), "{e}");
    let e = HashTable::lookup_by_name(&m, "flows", 13, 4).unwrap_err();
    assert!(matches!(e, TableError::SizeMismatch { what: "values", stored: 8, asked: 4, .. }), "{e:?}");
    assert!(matches!(HashTable::lookup_by_name(&m, "nope", 13, 8), Err(TableError::NotFound(_))));
    let found = HashTable::lookup_by_name(&m, "flows", 13, 8).unwrap();
    h.add(&key(1, 13), 5).unwrap();
    assert_eq!(found.lookup(&key(1, 13)).unwrap(), Some(5));
    assert!(matches!(h.lookup(&[0u8; 12]), Err(TableError::InvalidParam(_))));
    assert!(matches!(h.add(&[0u8; 14], 1), Err(TableError::InvalidParam(_))));
    assert!(matches!(HashTable::create(&m, "flows", &params(64, 13)), Err(TableError::Eal(_))));
    assert!(matches!(HashTable::create(&m, "k0", &params(64, 0)), Err(TableError::InvalidParam(_))));
    assert!(matches!(HashTable::create(&m, "k65", &params(64, 65)), Err(TableError::InvalidParam(_))));
    assert!(matches!(HashTable::create(&m, "e0", &params(0, 8)), Err(TableError::InvalidParam(_))));
    assert!(matches!(HashTable::create(&m, "", &params(64, 8)), Err(TableError::InvalidParam(_))));
    assert!(matches!(HashTable::create(&m, &"x".repeat(40), &params(64, 8)), Err(TableError::InvalidParam(_))));
    // A memzone holding something else is not taken for a table.
    m.memzone_reserve("other", 4096, 64).unwrap();
    assert!(matches!(HashTable::lookup_by_name(&m, "other", 8, 8), Err(TableError::NotATable { .. })));
    Lpm::create(&m, "lpm", &LpmParams::default()).unwrap();
    assert!(matches!(HashTable::lookup_by_name(&m, "lpm", 8, 8), Err(TableError::NotATable { .. })));
}

/// One writer adds, updates and deletes while readers look up: a reader never sees a value
/// that does not belong to its key, and keys never deleted are always found. For both
/// layouts: entries inside their buckets (8- and 13-byte keys) and in the key store (24).
#[test]
fn readers_beside_a_writer_never_see_torn_entries() {
    for key_len in [8, 13, 24] {
        readers_beside_a_writer(key_len);
    }
}

fn readers_beside_a_writer(key_len: usize) {
    let m = Memory::anonymous(8 << 20).unwrap();
    let h = HashTable::create(&m, "conc", &params(4096, key_len)).unwrap();
    const STABLE: u64 = 1000;
    const CHURN: u64 = 2500;
    // Value = key id << 8 | generation; the key id part must always match.
    for i in 0..STABLE {
        h.add(&key(i, key_len), i << 8).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let lookups = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let h = HashTable::lookup_by_name(&m, "conc", key_len, 8).unwrap();
            let (stop, lookups, started) = (stop.clone(), lookups.clone(), started.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                let mut x = r + 1;
                while !stop.load(Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let i = (x >> 33) % (STABLE + CHURN);
                    match h.lookup(&key(i, key_len)).unwrap() {
                        Some(v) => assert_eq!(v >> 8, i, "key {i} read value {v:#x}"),
                        None => assert!(i >= STABLE, "stable key {i} not found"),
                    }
                    // Bulk lookups see the same guarantees.
                    let ks: Vec<Vec<u8>> = (0..8).map(|j| key((i + j) % STABLE, key_len)).collect();
                    let refs: Vec<&[u8]> = ks.iter().map(|k| k.as_slice()).collect();
                    let mut vals = [0u64; 8];
                    assert_eq!(h.lookup_bulk(&refs, &mut vals).unwrap(), 0xff);
                    for j in 0..8 {
                        assert_eq!(vals[j as usize] >> 8, (i + j) % STABLE);
                    }
                    n += 9;
                    if n == 9 {
                        // The writer starts once every reader is looking up.
                        started.fetch_add(1, Ordering::Release);
                    }
                }
                lookups.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    while started.load(Ordering::Acquire) < 2 {
        std::thread::yield_now();
    }
    for round in 0..20u64 {
        for i in STABLE..STABLE + CHURN {
            h.add(&key(i, key_len), i << 8 | (round & 0xff)).unwrap();
        }
        for i in 0..STABLE {
            h.add(&key(i, key_len), i << 8 | (round & 0xff)).unwrap();
        }
        for i in STABLE..STABLE + CHURN {
            h.delete(&key(i, key_len)).unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert!(lookups.load(Ordering::Relaxed) > 0);
    assert_eq!(h.count(), STABLE);
}
