//! IPv6 LPM against a reference, nested prefixes, errors, lookups beside updates.

use eal::Memory;
use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use table::{Lpm6, Lpm6Params, TableError};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn u128(&mut self) -> u128 {
        u128::from(self.next()) << 64 | u128::from(self.next())
    }
}

fn mask(d: u8) -> u128 {
    if d == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(d))
    }
}

/// Prefixes of each depth, sorted; longest match by binary search from /128 down.
fn reference(routes: &HashMap<(u128, u8), u32>) -> Vec<Vec<(u128, u32)>> {
    let mut by = vec![Vec::new(); 129];
    for (&(p, d), &nh) in routes {
        by[usize::from(d)].push((p, nh));
    }
    for v in &mut by {
        v.sort_unstable();
    }
    by
}

fn ref_lookup(by: &[Vec<(u128, u32)>], ip: u128) -> Option<u32> {
    (1..=128u8).rev().find_map(|d| {
        let v = &by[usize::from(d)];
        v.binary_search_by_key(&(ip & mask(d)), |x| x.0).ok().map(|i| v[i].1)
    })
}

fn check(lpm: &Lpm6, routes: &HashMap<(u128, u8), u32>, r: &mut Rng) {
    let by = reference(routes);
    // Random addresses share the few top bits of the routes so that they hit them.
    let tops: Vec<u128> = routes.keys().map(|k| k.0).collect();
    let mut ips: Vec<u128> = (0..20_000)
        .map(|i| {
            let t = tops[i % tops.len()];
            let keep = (r.next() % 80) as u8;
            (t & mask(keep)) | (r.u128() & !mask(keep))
        })
        .collect();
    ips.extend(routes.keys().map(|&(p, d)| p | (r.u128() & !mask(d))));
    // Bursts of 13 into 16 result slots: full lanes of 8, a remainder, and unused slots.
    for c in ips.chunks(13) {
        let mut out = [Some(u32::MAX); 16];
        lpm.lookup_bulk(c, &mut out).unwrap();
        for (ip, got) in c.iter().zip(out) {
            let want = ref_lookup(&by, *ip);
            assert_eq!(got, want, "bulk lookup of address {}", Ipv6Addr::from(*ip));
            assert_eq!(lpm.lookup(*ip), want, "lookup of address {}", Ipv6Addr::from(*ip));
        }
        assert!(out[c.len()..].iter().all(|&x| x == Some(u32::MAX)), "slots past the burst were written");
    }
}

#[test]
fn random_routes_match_the_reference() {
    let m = Memory::anonymous(96 << 20).unwrap();
    let lpm = Lpm6::create(&m, "lpm6_ref", &Lpm6Params { max_rules: 4000, groups: 40_000 }).unwrap();
    let mut r = Rng(0x0123_4567_89ab_cdef);
    let mut routes = HashMap::new();
    // A few top-level /16s so prefixes nest.
    let bases: Vec<u128> = (0..8).map(|_| r.u128()).collect();
    while routes.len() < 3000 {
        let d = match r.next() % 10 {
            0 => 1 + (r.next() % 16) as u8,
            1..=6 => 17 + (r.next() % 48) as u8,
            _ => 65 + (r.next() % 64) as u8,
        };
        let b = bases[(r.next() % 8) as usize];
        let keep = (r.next() % u64::from(d)) as u8;
        let p = ((b & mask(keep)) | (r.u128() & !mask(keep))) & mask(d);
        let nh = (r.next() % u64::from(table::lpm6::MAX_NEXT_HOP + 1)) as u32;
        lpm.add(p, d, nh).unwrap();
        routes.insert((p, d), nh);
    }
    assert_eq!(lpm.rule_count(), 3000);
    check(&lpm, &routes, &mut r);
    let keys: Vec<_> = routes.keys().copied().collect();
    for (i, (p, d)) in keys.into_iter().enumerate() {
        if i % 2 == 0 {
            lpm.delete(p, d).unwrap();
            routes.remove(&(p, d));
        }
    }
    check(&lpm, &routes, &mut r);
    let (&(p, d), &nh) = routes.iter().next().unwrap();
    assert_eq!(Lpm6::lookup_by_name(&m, "lpm6_ref").unwrap().rule_next_hop(p, d).unwrap(), Some(nh));
    lpm.delete_all();
    assert_eq!(lpm.lookup(p), None);
    assert_eq!(lpm.groups_used(), 0);
}

#[test]
fn nested_prefixes_and_errors() {
    let m = Memory::anonymous(16 << 20).unwrap();
    let lpm = Lpm6::create(&m, "lpm6_nest", &Lpm6Params { max_rules: 8, groups: 28 }).unwrap();
    let a = u128::from("2001:db8:1:2::5".parse::<Ipv6Addr>().unwrap());
    lpm.add(a, 32, 1).unwrap();
    lpm.add(a, 48, 2).unwrap();
    lpm.add(a, 128, 3).unwrap();
    assert_eq!(lpm.lookup(a), Some(3));
    assert_eq!(lpm.lookup(a + 1), Some(2));
    assert_eq!(lpm.lookup(a ^ 1 << 90), Some(1));
    assert_eq!(lpm.lookup(a ^ 1 << 127), None);
    lpm.delete(a, 48).unwrap();
    assert_eq!(lpm.lookup(a + 1), Some(1));
    assert_eq!(lpm.lookup(a), Some(3));
    lpm.delete(a, 128).unwrap();
    assert_eq!(lpm.lookup(a), Some(1));
    assert!(matches!(lpm.delete(a, 128), Err(TableError::NotPresent)));
    assert!(matches!(lpm.add(a, 0, 1), Err(TableError::InvalidParam(_))));
    assert!(matches!(lpm.add(a, 129, 1), Err(TableError::InvalidParam(_))));
    assert!(matches!(lpm.add(a, 64, 1 << 22), Err(TableError::InvalidParam(_))));
    // 28 groups: a /128 in a new /16 needs 14 (as the first did); the third does not fit and
    // changes nothing.
    let b = u128::from("3000::1".parse::<Ipv6Addr>().unwrap());
    let c = u128::from("4000::1".parse::<Ipv6Addr>().unwrap());
    lpm.add(b, 128, 4).unwrap();
    let e = lpm.add(c, 128, 5).unwrap_err();
    assert!(e.to_string().contains("more groups"), "{e}");
    assert_eq!(lpm.lookup(c), None);
    assert!(lpm.rule_next_hop(c, 128).unwrap().is_none());
    assert!(matches!(Lpm6::lookup_by_name(&m, "none"), Err(TableError::NotFound(_))));
    assert!(matches!(Lpm6::create(&m, "z", &Lpm6Params { max_rules: 0, groups: 1 }), Err(TableError::InvalidParam(_))));
}

#[test]
fn lookups_beside_updates() {
    let m = Memory::anonymous(16 << 20).unwrap();
    let lpm = Lpm6::create(&m, "lpm6_conc", &Lpm6Params::default()).unwrap();
    let base = u128::from("2001:db8::".parse::<Ipv6Addr>().unwrap());
    lpm.add(base, 32, 1).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let readers: Vec<_> = (0..2u64)
        .map(|s| {
            let l = Lpm6::lookup_by_name(&m, "lpm6_conc").unwrap();
            let (stop, started) = (stop.clone(), started.clone());
            std::thread::spawn(move || {
                let mut r = Rng(s + 7);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let ip = base | (u128::from(r.next() % 4) << 64) | u128::from(r.next());
                    let nh = l.lookup(ip).expect("the /32 always covers");
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
    let start = std::time::Instant::now();
    let mut round = 0u128;
    while round < 200 || start.elapsed() < std::time::Duration::from_millis(300) {
        round += 1;
        let p = base | (round % 4) << 64;
        lpm.add(p, 64, 2).unwrap();
        lpm.add(p | 1 << 63, 65, 3).unwrap();
        lpm.delete(p, 64).unwrap();
        lpm.delete(p | 1 << 63, 65).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}
