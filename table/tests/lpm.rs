//! IPv4 LPM against a reference, errors, and lookups beside updates.

use eal::Memory;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use table::{Lpm, LpmParams, TableError};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 16) as u32
    }
}

fn mask(d: u8) -> u32 {
    if d == 0 {
        0
    } else {
        u32::MAX << (32 - d)
    }
}

/// The reference: the prefixes of each depth, sorted; the longest match is found by binary
/// search from /32 down to /1.
struct Reference {
    by_depth: Vec<Vec<(u32, u32)>>,
}

impl Reference {
    fn new(routes: &HashMap<(u32, u8), u32>) -> Reference {
        let mut by_depth = vec![Vec::new(); 33];
        for (&(p, d), &nh) in routes {
            by_depth[d as usize].push((p, nh));
        }
        for v in &mut by_depth {
            v.sort_unstable();
        }
        Reference { by_depth }
    }
    fn lookup(&self, ip: u32) -> Option<u32> {
        for d in (1..=32u8).rev() {
            let v = &self.by_depth[d as usize];
            if let Ok(i) = v.binary_search_by_key(&(ip & mask(d)), |x| x.0) {
                return Some(v[i].1);
            }
        }
        None
    }
}

fn random_depth(r: &mut Rng) -> u8 {
    // Mostly /8 to /32 (as in routing tables); a few short ones, which each rewrite many
    // tbl24 entries.
    if r.next().is_multiple_of(1000) {
        1 + (r.next() % 7) as u8
    } else {
        8 + (r.next() % 25) as u8
    }
}

fn check(lpm: &Lpm, reference: &Reference, routes: &HashMap<(u32, u8), u32>, r: &mut Rng) {
    let mut ips: Vec<u32> = (0..100_000).map(|_| r.u32()).collect();
    // Addresses inside the routes too, so long prefixes are exercised.
    ips.extend(routes.keys().map(|&(p, d)| p | (r.u32() & !mask(d))));
    for chunk in ips.chunks(32) {
        let mut out = [None; 32];
        lpm.lookup_bulk(chunk, &mut out).unwrap();
        for (ip, got) in chunk.iter().zip(out) {
            assert_eq!(got, reference.lookup(*ip), "address {}", std::net::Ipv4Addr::from(*ip));
            assert_eq!(lpm.lookup(*ip), got);
        }
    }
}

#[test]
fn ten_thousand_routes_match_the_reference() {
    let m = Memory::anonymous(160 << 20).unwrap();
    let lpm = Lpm::create(&m, "lpm_ref", &LpmParams { max_rules: 12_000, tbl8_groups: 8192 }).unwrap();
    let mut r = Rng(0x1234_5678_9abc_def1);
    let mut routes = HashMap::new();
    while routes.len() < 10_000 {
        let d = random_depth(&mut r);
        let p = r.u32() & mask(d);
        let nh = (r.next() % (1 << 24)) as u32;
        lpm.add(p, d, nh).unwrap();
        routes.insert((p, d), nh);
    }
    assert_eq!(lpm.rule_count(), 10_000);
    check(&lpm, &Reference::new(&routes), &routes, &mut r);
    // Delete half of the routes: lookups fall back to the covering ones.
    let keys: Vec<_> = routes.keys().copied().collect();
    for (i, (p, d)) in keys.into_iter().enumerate() {
        if i % 2 == 0 {
            lpm.delete(p, d).unwrap();
            routes.remove(&(p, d));
        }
    }
    assert_eq!(lpm.rule_count(), 5_000);
    check(&lpm, &Reference::new(&routes), &routes, &mut r);
    // Found by name, the same table.
    let other = Lpm::lookup_by_name(&m, "lpm_ref").unwrap();
    let (&(p, d), &nh) = routes.iter().next().unwrap();
    assert_eq!(other.rule_next_hop(p, d).unwrap(), Some(nh));
    lpm.delete_all();
    assert_eq!(other.lookup(p), None);
    assert_eq!(other.rule_count(), 0);
}

#[test]
fn nested_prefixes_and_group_recycling() {
    let m = Memory::anonymous(80 << 20).unwrap();
    let lpm = Lpm::create(&m, "lpm_nest", &LpmParams { max_rules: 64, tbl8_groups: 2 }).unwrap();
    let ip = u32::from(std::net::Ipv4Addr::new(10, 1, 2, 3));
    lpm.add(ip, 8, 1).unwrap();
    lpm.add(ip, 24, 2).unwrap();
    lpm.add(ip, 28, 3).unwrap();
    lpm.add(ip, 32, 4).unwrap();
    assert_eq!(lpm.lookup(ip), Some(4));
    assert_eq!(lpm.lookup(ip + 1), Some(3));
    assert_eq!(lpm.lookup(ip ^ 0x80), Some(2));
    assert_eq!(lpm.lookup(ip ^ 0x8000), Some(1));
    assert_eq!(lpm.lookup(ip ^ 0x8000_0000), None);
    lpm.delete(ip, 28).unwrap();
    assert_eq!(lpm.lookup(ip + 1), Some(2));
    lpm.delete(ip, 32).unwrap();
    assert_eq!(lpm.lookup(ip), Some(2));
    // Both groups can be used again after the /24 collapsed back.
    lpm.add(u32::from(std::net::Ipv4Addr::new(1, 0, 0, 1)), 32, 5).unwrap();
    lpm.add(u32::from(std::net::Ipv4Addr::new(2, 0, 0, 1)), 32, 6).unwrap();
    let e = lpm.add(u32::from(std::net::Ipv4Addr::new(3, 0, 0, 1)), 32, 7).unwrap_err();
    assert!(e.to_string().contains("tbl8 groups"), "{e}");
    assert_eq!(lpm.lookup(u32::from(std::net::Ipv4Addr::new(3, 0, 0, 1))), None);
    lpm.delete(ip, 24).unwrap();
    assert_eq!(lpm.lookup(ip), Some(1));
    lpm.delete(ip, 8).unwrap();
    assert_eq!(lpm.lookup(ip), None);
    assert!(matches!(lpm.delete(ip, 8), Err(TableError::NotPresent)));
}

#[test]
fn errors_name_the_problem() {
    let m = Memory::anonymous(80 << 20).unwrap();
    let lpm = Lpm::create(&m, "lpm_err", &LpmParams { max_rules: 2, tbl8_groups: 4 }).unwrap();
    assert!(matches!(lpm.add(1, 0, 1), Err(TableError::InvalidParam(_))));
    assert!(matches!(lpm.add(1, 33, 1), Err(TableError::InvalidParam(_))));
    assert!(matches!(lpm.add(1, 8, 1 << 24), Err(TableError::InvalidParam(_))));
    lpm.add(1 << 24, 8, 1).unwrap();
    lpm.add(2 << 24, 8, 1).unwrap();
    lpm.add(2 << 24, 8, 3).unwrap(); // replacing is not adding
    assert!(matches!(lpm.add(3 << 24, 8, 1), Err(TableError::Full(_))));
    assert!(matches!(lpm.add(3 << 24, 30, 1), Err(TableError::Full(_))));
    assert_eq!(lpm.lookup(3 << 24), None);
    assert_eq!(lpm.lookup(2 << 24), Some(3));
    assert!(matches!(Lpm::lookup_by_name(&m, "none"), Err(TableError::NotFound(_))));
    m.memzone_reserve("small", 64, 64).unwrap();
    assert!(matches!(Lpm::lookup_by_name(&m, "small"), Err(TableError::NotATable { .. })));
    assert!(matches!(
        Lpm::create(&m, "z", &LpmParams { max_rules: 0, tbl8_groups: 1 }),
        Err(TableError::InvalidParam(_))
    ));
}

/// A writer flaps more-specific routes while readers look up: every answer is one of the
/// next hops a route covering the address had at some point, never garbage.
#[test]
fn lookups_beside_updates() {
    let m = Memory::anonymous(80 << 20).unwrap();
    let lpm = Lpm::create(&m, "lpm_conc", &LpmParams { max_rules: 1024, tbl8_groups: 64 }).unwrap();
    let base = u32::from(std::net::Ipv4Addr::new(192, 168, 0, 0));
    lpm.add(base, 16, 1).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let readers: Vec<_> = (0..2u64)
        .map(|s| {
            let l = Lpm::lookup_by_name(&m, "lpm_conc").unwrap();
            let (stop, started) = (stop.clone(), started.clone());
            std::thread::spawn(move || {
                let mut r = Rng(s + 99);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let host = r.u32() & 0xffff;
                    let nh = l.lookup(base | host).expect("the /16 always covers");
                    // /16 -> 1, /24 -> 2, /25 or /30 -> 3 (see the writer)
                    assert!((1..=3).contains(&nh), "next hop {nh}");
                    n += 1;
                    if n == 1 {
                        // The writer starts once every reader is looking up.
                        started.fetch_add(1, Ordering::Release);
                    }
                }
                n
            })
        })
        .collect();
    while started.load(Ordering::Acquire) < 2 {
        std::thread::yield_now();
    }
    for round in 0..300u32 {
        let third = (round % 16) << 8;
        lpm.add(base | third, 24, 2).unwrap();
        lpm.add(base | third | 0x80, 25, 3).unwrap();
        lpm.add(base | third | 0x4, 30, 3).unwrap();
        lpm.delete(base | third, 24).unwrap();
        lpm.delete(base | third | 0x80, 25).unwrap();
        lpm.delete(base | third | 0x4, 30).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(lpm.rule_count(), 1);
}
