use super::*;
use crate::lcore::set_lcore_id;

fn mem() -> Memory {
    Memory::anonymous(32 << 20).unwrap()
}

#[test]
fn create_checks_arguments() {
    let m = mem();
    let e = |r: Result<Mempool, EalError>| r.unwrap_err().to_string();
    assert!(e(Mempool::create(&m, "p", 0, 64, 0)).contains("count 0"));
    assert!(e(Mempool::create(&m, "p", 10, 0, 0)).contains("element size 0"));
    assert!(e(Mempool::create(&m, "p", 100, 64, 513)).contains("cache size"));
    assert!(e(Mempool::create(&m, "p", 100, 64, 80)).contains("2/3"));
    assert!(e(Mempool::create(&m, &"n".repeat(25), 10, 64, 0)).contains("too long"));
    let p = Mempool::create(&m, "p", 100, 100, 16).unwrap();
    assert_eq!(p.elt_size(), 128);
    assert!(matches!(Mempool::create(&m, "p", 100, 64, 0), Err(EalError::Exists(_))));
    assert_eq!(Mempool::lookup(&m, "p").unwrap().size(), 100);
    assert!(matches!(Mempool::lookup(&m, "q"), Err(EalError::NotFound { .. })));
}

#[test]
fn exhaustion_and_return_without_cache() {
    let m = mem();
    let p = Mempool::create(&m, "nc", 64, 64, 0).unwrap();
    let mut objs = vec![0u64; 64];
    assert!(p.get_bulk(&mut objs));
    assert!(objs.iter().all(|&o| p.owns(o)));
    let mut sorted = objs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 64, "all objects distinct");
    assert_eq!(p.get(), None, "pool exhausted");
    assert_eq!(p.avail_count(), 0);
    p.put_bulk(&objs[..10]);
    assert_eq!(p.avail_count(), 10);
    let mut eleven = [0u64; 11];
    assert!(!p.get_bulk(&mut eleven), "bulk get is all or nothing");
    assert_eq!(p.avail_count(), 10);
    p.put_bulk(&objs[10..]);
    assert!(p.is_full());
}

/// `get_bulk_uninit` fills a vector's spare capacity with distinct objects of the pool on
/// every path (the lcore cache, its refill, the ring of a pool without a cache), all or
/// nothing.
#[test]
fn get_bulk_uninit_fills_spare_capacity_all_or_nothing() {
    let m = mem();
    for (name, cache) in [("u0", 0), ("u32", 32)] {
        let p = Mempool::create(&m, name, 100, 64, cache).unwrap();
        std::thread::spawn(move || {
            set_lcore_id(Some(5));
            let mut v: Vec<u64> = Vec::with_capacity(128);
            for n in [8, 40, 30] {
                let start = v.len();
                assert!(p.get_bulk_uninit(&mut v.spare_capacity_mut()[..n]), "{name}: {n}");
                // SAFETY: `get_bulk_uninit` returned true: it wrote these `n` words.
                unsafe { v.set_len(start + n) };
            }
            assert!(!p.get_bulk_uninit(&mut v.spare_capacity_mut()[..23]), "{name}: only 22 left");
            assert!(v.iter().all(|&o| p.owns(o)), "{name}");
            let mut d = v.clone();
            d.sort();
            d.dedup();
            assert_eq!((d.len(), p.in_use_count()), (78, 78), "{name}: distinct, all counted");
            p.put_bulk(&v);
            p.flush_cache();
            assert!(p.is_full(), "{name}");
            set_lcore_id(None);
        })
        .join()
        .unwrap();
    }
}

#[test]
fn lcore_cache_fills_and_flushes() {
    let m = mem();
    let p = Mempool::create(&m, "c", 1024, 64, 32).unwrap();
    std::thread::spawn(move || {
        set_lcore_id(Some(3));
        let mut objs = vec![0u64; 8];
        assert!(p.get_bulk(&mut objs));
        // The first get refills the cache with cache_size + n from the ring.
        assert_eq!(p.ring.count(), 1024 - 40);
        assert_eq!(p.cache(3).lens.len.load(Ordering::Relaxed), 32);
        assert_eq!(p.in_use_count(), 8);
        p.put_bulk(&objs);
        assert_eq!(p.cache(3).lens.len.load(Ordering::Relaxed), 40);
        // Over the flush threshold (48) the cache goes back down to cache_size.
        let mut more = vec![0u64; 16];
        assert!(p.get_bulk(&mut more));
        let mut others = vec![0u64; 32];
        assert!(p.ring.mc_dequeue_bulk(&mut others));
        p.put_bulk(&more);
        p.put_bulk(&others);
        assert_eq!(p.cache(3).lens.len.load(Ordering::Relaxed), 32);
        assert!(p.is_full());
        p.flush_cache();
        assert_eq!(p.ring.count(), 1024);
    })
    .join()
    .unwrap();
}

#[test]
fn a_cache_of_another_pool_is_not_used() {
    let m = mem();
    // A small cache on `a`, a large one on `b`: b's capacity must never index a's words.
    let a = Mempool::create(&m, "small", 64, 64, 4).unwrap();
    let b = Mempool::create(&m, "large", 1024, 64, 256).unwrap();
    std::thread::spawn(move || {
        set_lcore_id(Some(2));
        let foreign = a.local_cache();
        let mut objs = vec![0u64; 200];
        assert!(b.get_bulk_with(foreign, &mut objs));
        assert_eq!(b.ring.count(), 1024 - 200, "taken from b's ring, not through a's cache");
        assert_eq!(a.lcore_cache_count(2), 0);
        b.put_bulk_with(a.local_cache(), &objs);
        assert_eq!(b.ring.count(), 1024);
        assert_eq!(a.lcore_cache_count(2), 0, "a's cache untouched");
        assert!(a.is_full() && b.is_full());
    })
    .join()
    .unwrap();
}

#[test]
fn lifo_cache_returns_warm_objects() {
    let m = mem();
    let p = Mempool::create(&m, "lifo", 256, 64, 32).unwrap();
    std::thread::spawn(move || {
        set_lcore_id(Some(1));
        let a = p.get().unwrap();
        p.put(a);
        assert_eq!(p.get(), Some(a));
    })
    .join()
    .unwrap();
}

#[test]
fn concurrent_lcores_lose_nothing() {
    let m = mem();
    let p = Mempool::create(&m, "conc", 4096, 64, 64).unwrap();
    let hs: Vec<_> = (0..4u32)
        .map(|id| {
            std::thread::spawn(move || {
                set_lcore_id(if id == 3 { None } else { Some(id) });
                let mut held = vec![0u64; 32];
                for round in 0..20_000 {
                    let n = 1 + round % 32;
                    if p.get_bulk(&mut held[..n]) {
                        for &o in &held[..n] {
                            assert!(p.owns(o));
                        }
                        p.put_bulk(&held[..n]);
                    }
                }
                p.flush_cache();
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert!(p.is_full());
    let mut all = vec![0u64; 4096];
    assert!(p.get_bulk(&mut all));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4096, "no object duplicated");
}

#[test]
fn layout_keeps_objects_inside_pages_when_asked() {
    let l = Layout { objs: 0x20_0000, elt: 2304, per_page: (2 << 20) / 2304, page: 2 << 20 };
    for i in [0u64, 1, 909, 910, 911, 5000] {
        let a = l.addr(i);
        assert_eq!(a / l.page, (a + l.elt - 1) / l.page, "object {i} stays in one page");
        assert_eq!(l.index(a), Some(i));
    }
    assert_eq!(l.addr(910), 0x40_0000, "a new page starts a new run");
    assert_eq!(l.index(0x20_0000 + 910 * 2304), None, "the page tail holds no object");
    let packed = Layout { objs: 0x1000, elt: 128, per_page: 0, page: 4096 };
    assert_eq!(packed.addr(3), 0x1000 + 384);
    assert_eq!(packed.index(0x1000 + 384), Some(3));
    assert_eq!(packed.index(0x1000 + 385), None);
}

/// Fills lcore `id`'s cache of `p` with `n` objects (on a thread that acts as that lcore)
/// and leaves them there, as a process killed with them cached would.
fn leave_in_cache(p: Mempool, id: u32, n: usize) -> Vec<u64> {
    std::thread::spawn(move || {
        set_lcore_id(Some(id));
        let mut objs = vec![0u64; n];
        for chunk in objs.chunks_mut(16) {
            assert!(p.get_bulk(chunk));
        }
        p.put_bulk(&objs);
        objs
    })
    .join()
    .unwrap()
}

#[test]
fn a_dead_lcores_cache_goes_back_to_the_ring() {
    let m = mem();
    let p = Mempool::create(&m, "dead", 1024, 64, 64).unwrap();
    leave_in_cache(p, 7, 80);
    let cached = p.cache(7).lens.len.load(Ordering::Relaxed);
    assert!(cached > 0);
    assert_eq!(p.ring.count() + cached, 1024);
    let cfg = m.config();
    cfg.lcore_owner[7].store(u32::MAX, Ordering::Relaxed); // no such process
    cfg.lcore_owner[8].store(std::process::id(), Ordering::Relaxed); // alive: untouched
    let r = crate::reclaim::reclaim_dead(cfg);
    assert_eq!(r.lcores, vec![(7, u32::MAX)]);
    assert_eq!(r.objects, cached as u64);
    assert_eq!(r.uncertain, 0);
    assert_eq!(p.ring.count(), 1024, "every object is in the ring again");
    assert_eq!(p.cache(7).lens.len.load(Ordering::Relaxed), 0);
    assert_eq!(cfg.lcore_owner[7].load(Ordering::Relaxed), 0, "the lcore id is free");
    assert_eq!(cfg.lcore_owner[8].load(Ordering::Relaxed), std::process::id());
    assert!(crate::reclaim::reclaim_dead(cfg).is_empty(), "nothing twice");
}

#[test]
fn claiming_a_dead_processs_lcore_reclaims_its_caches_first() {
    let m = mem();
    let p = Mempool::create(&m, "claim", 512, 64, 32).unwrap();
    leave_in_cache(p, 9, 40);
    assert!(p.cache(9).lens.len.load(Ordering::Relaxed) > 0);
    m.config().lcore_owner[9].store(u32::MAX, Ordering::Relaxed);
    crate::lcore::claim_lcores(m.config(), &[9], "t").unwrap();
    assert_eq!(p.ring.count(), 512);
    assert_eq!(m.config().lcore_owner[9].load(Ordering::Relaxed), std::process::id());
    m.config().lcore_owner[9].store(0, Ordering::Relaxed);
}

#[test]
fn death_mid_refill_or_flush_never_returns_an_object_twice() {
    let m = mem();
    let p = Mempool::create(&m, "torn", 1024, 64, 64).unwrap();
    // Mid-flush: the owner wrote 100 objects into its cache and may or may not have
    // given those above cache_size to the ring: only the first cache_size come back.
    let mut objs = vec![0u64; 100];
    assert!(p.ring.mc_dequeue_bulk(&mut objs));
    let c = p.cache(3);
    // SAFETY: lcore 3's cache in a test: no thread is bound to it.
    unsafe { p.words(&c).write(0, &objs) };
    c.lens.len.store(90, Ordering::Relaxed);
    c.lens.op.store(OP_FLUSH | 100, Ordering::Relaxed);
    let r = p.reclaim_cache(3);
    assert_eq!(r, CacheReclaim { returned: 64, uncertain: 36, ring_stalled: false });
    assert_eq!(p.ring.count(), 1024 - 36);
    // Mid-refill: the objects below the fill level come back, the refill is in doubt.
    let mut objs = vec![0u64; 20];
    assert!(p.ring.mc_dequeue_bulk(&mut objs));
    // SAFETY: lcore 3's cache in a test: no thread is bound to it.
    unsafe { p.words(&c).write(0, &objs) };
    c.lens.len.store(20, Ordering::Relaxed);
    c.lens.op.store(OP_REFILL | 60, Ordering::Relaxed);
    let r = p.reclaim_cache(3);
    assert_eq!(r, CacheReclaim { returned: 20, uncertain: 60, ring_stalled: false });
    assert_eq!(c.lens.op.load(Ordering::Relaxed), 0);
    assert_eq!(c.lens.len.load(Ordering::Relaxed), 0);
}

#[test]
fn objects_lost_in_dead_hands_are_recovered_when_quiescent() {
    let m = mem();
    let p = Mempool::create(&m, "hands", 512, 64, 32).unwrap();
    leave_in_cache(p, 4, 40);
    let mut hand = [0u64; 10];
    assert!(p.get_bulk(&mut hand)); // held by "a dead process"
    let mut kept = [0u64; 5];
    assert!(p.get_bulk(&mut kept)); // held legitimately
    assert_eq!(p.in_use_count(), 15);
    assert_eq!(p.recover_unaccounted(&kept), 10);
    assert_eq!(p.in_use_count(), 5);
    p.put_bulk(&kept);
    assert!(p.is_full());
    assert_eq!(p.recover_unaccounted(&[]), 0, "nothing twice");
}

#[test]
fn a_flush_cut_short_by_death_is_finished_with_the_caches_objects() {
    let m = mem();
    let p = Mempool::create(&m, "cut", 1024, 64, 64).unwrap();
    // Lcore 11 flushes 100 objects: it keeps 64 and has reserved 36 ring slots, unwritten.
    let mut objs = vec![0u64; 100];
    assert!(p.ring.mc_dequeue_bulk(&mut objs));
    let c = p.cache(11);
    // SAFETY: lcore 11's cache in a test: no thread is bound to it.
    unsafe { p.words(&c).write(0, &objs) };
    c.lens.len.store(90, Ordering::Relaxed);
    c.lens.op.store(OP_FLUSH | 100, Ordering::Relaxed);
    let cfg = m.config();
    let head = p.ring.reserve_unpublished(36);
    let rec = &cfg.ring_ops[11];
    rec.head.store(head, Ordering::Relaxed);
    rec.n.store(36, Ordering::Relaxed);
    rec.ring.store(p.ring.header_addr(), Ordering::Release);
    cfg.lcore_owner[11].store(u32::MAX, Ordering::Relaxed);
    let r = crate::reclaim::reclaim_dead(cfg);
    assert_eq!(r.ring_enqueues_published, 1);
    assert_eq!((r.objects, r.uncertain), (64, 0));
    assert_eq!(p.ring.count(), 1024, "nothing lost, nothing twice");
    let mut all = vec![0u64; 1024];
    assert!(p.ring.mc_dequeue_bulk(&mut all));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 1024);
}

#[test]
fn iova_pa_on_small_pages_keeps_objects_in_a_page_or_refuses() {
    let m = mem();
    assert!(m.page_size() < (2 << 20), "anonymous memory has base pages");
    m.config().iova_pa.store(1, Ordering::Release);
    let p = Mempool::create(&m, "pa_small", 64, 2304, 0).unwrap();
    let page = m.page_size();
    for _ in 0..64 {
        let a = p.get().unwrap();
        assert_eq!(a / page, (a + 2304 - 1) / page, "object {a:#x} crosses a page in IOVA-as-PA mode");
    }
    let e = Mempool::create(&m, "pa_big", 8, page as u32 + 1, 0).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, EalError::NotDmaContiguous { .. }), "{msg}");
    assert!(msg.contains("pa_big") && msg.contains("--no-huge") && msg.contains("--huge-dir"), "{msg}");
}
