use super::*;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn mem() -> Memory {
    Memory::anonymous(8 << 20).unwrap()
}

#[test]
fn create_checks_arguments() {
    let m = mem();
    assert!(matches!(Ring::create(&m, "r", 100, 0), Err(EalError::InvalidArgument(_))));
    assert!(matches!(Ring::create(&m, "r", 0, flags::EXACT_SZ), Err(EalError::InvalidArgument(_))));
    let r = Ring::create(&m, "r", 64, 0).unwrap();
    assert_eq!(r.capacity(), 63);
    assert!(matches!(Ring::create(&m, "r", 64, 0), Err(EalError::Exists(_))));
    let e = Ring::create(&m, "e", 100, flags::EXACT_SZ).unwrap();
    assert_eq!(e.capacity(), 100);
    assert!(matches!(Ring::lookup(&m, "nope"), Err(EalError::NotFound { .. })));
    assert_eq!(Ring::lookup(&m, "e").unwrap().capacity(), 100);
}

#[test]
fn full_empty_bulk_and_burst() {
    let m = mem();
    let r = Ring::create(&m, "fe", 8, flags::SP_ENQ | flags::SC_DEQ).unwrap();
    assert!(r.is_empty());
    let v: Vec<u64> = (1..=10).collect();
    assert!(!r.enqueue_bulk(&v[..8]), "bulk of 8 into capacity 7 must fail");
    assert_eq!(r.count(), 0, "a failed bulk enqueues nothing");
    assert!(r.enqueue_bulk(&v[..5]));
    assert_eq!(r.enqueue_burst(&v[5..]), 2, "burst fills what is left");
    assert!(r.is_full());
    assert!(!r.enqueue_one(99));
    let mut out = [0u64; 10];
    assert!(!r.dequeue_bulk(&mut out[..8]));
    assert_eq!(r.count(), 7);
    assert!(r.dequeue_bulk(&mut out[..3]));
    assert_eq!(&out[..3], &[1, 2, 3]);
    assert_eq!(r.dequeue_burst(&mut out), 4);
    assert_eq!(&out[..4], &[4, 5, 6, 7]);
    assert!(r.is_empty());
    assert_eq!(r.dequeue_one(), None);
    assert_eq!(r.dequeue_burst(&mut out), 0);
}

#[test]
fn wraps_around_many_times() {
    let m = mem();
    for fl in [0, flags::SP_ENQ | flags::SC_DEQ] {
        let r = Ring::create(&m, &format!("w{fl}"), 16, fl).unwrap();
        let mut next = 0u64;
        let mut expect = 0u64;
        let mut out = [0u64; 7];
        for round in 0..10_000 {
            let n = 1 + round % 7;
            let objs: Vec<u64> = (next..next + n as u64).collect();
            if r.enqueue_bulk(&objs) {
                next += n as u64;
            }
            let k = r.dequeue_burst(&mut out[..1 + (round * 3) % 7]);
            for &o in &out[..k] {
                assert_eq!(o, expect);
                expect += 1;
            }
        }
        assert!(next > 1000, "the ring moved objects");
    }
}

#[test]
fn free_count_tracks_ops_and_indices_wrap_u32() {
    let m = mem();
    let r = Ring::create(&m, "u32", 4, flags::SP_ENQ | flags::SC_DEQ).unwrap();
    // Push the free-running indices past u32::MAX.
    r.hdr.prod.ht.head.store(u32::MAX - 1, Ordering::Relaxed);
    r.hdr.prod.ht.tail.store(u32::MAX - 1, Ordering::Relaxed);
    r.hdr.cons.ht.head.store(u32::MAX - 1, Ordering::Relaxed);
    r.hdr.cons.ht.tail.store(u32::MAX - 1, Ordering::Relaxed);
    assert!(r.enqueue_bulk(&[1, 2, 3]));
    assert_eq!(r.free_count(), 0);
    let mut o = [0; 3];
    assert!(r.dequeue_bulk(&mut o));
    assert_eq!(o, [1, 2, 3]);
    assert_eq!(r.free_count(), 3);
}

fn stress(fl: u32, producers: u64, consumers: usize, per_producer: u64, burst: usize) {
    let m = mem();
    let r = Ring::create(&m, "stress", 1024, fl).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mut hs = Vec::new();
    for p in 0..producers {
        hs.push(std::thread::spawn(move || {
            let mut i = 0;
            let mut buf = Vec::with_capacity(burst);
            while i < per_producer {
                buf.clear();
                buf.extend((i..(i + burst as u64).min(per_producer)).map(|k| (p << 32) | k));
                let n = if i % 2 == 0 {
                    r.enqueue_burst(&buf)
                } else if r.enqueue_bulk(&buf) {
                    buf.len()
                } else {
                    0
                };
                i += n as u64;
                if n == 0 {
                    std::thread::yield_now();
                }
            }
        }));
    }
    let mut cs = Vec::new();
    for _ in 0..consumers {
        let done = done.clone();
        cs.push(std::thread::spawn(move || {
            let (mut sum, mut count) = (0u64, 0u64);
            let mut last = vec![None::<u64>; producers as usize];
            let mut out = vec![0u64; burst];
            loop {
                let n = r.dequeue_burst(&mut out);
                for &o in &out[..n] {
                    let (p, k) = ((o >> 32) as usize, o & 0xffff_ffff);
                    if consumers == 1 {
                        assert!(last[p].is_none_or(|l| l < k), "per-producer FIFO order");
                        last[p] = Some(k);
                    }
                    sum = sum.wrapping_add(o);
                    count += 1;
                }
                if n == 0 {
                    if done.load(Ordering::Acquire) && r.is_empty() {
                        break;
                    }
                    std::thread::yield_now();
                }
            }
            (sum, count)
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let (mut sum, mut count) = (0u64, 0u64);
    for c in cs {
        let (s, n) = c.join().unwrap();
        sum = sum.wrapping_add(s);
        count += n;
    }
    let mut expect = 0u64;
    for p in 0..producers {
        for k in 0..per_producer {
            expect = expect.wrapping_add((p << 32) | k);
        }
    }
    assert_eq!(count, producers * per_producer, "every element dequeued exactly once");
    assert_eq!(sum, expect, "checksum of all elements");
}

#[test]
fn spsc_stress_checksum() {
    stress(flags::SP_ENQ | flags::SC_DEQ, 1, 1, 200_000, 32);
}

#[test]
fn mpmc_stress_checksum() {
    stress(0, 3, 3, 100_000, 8);
}

#[test]
fn mpsc_stress_keeps_per_producer_order() {
    stress(flags::SC_DEQ, 3, 1, 100_000, 13);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn header_lines_are_cache_padded() {
    use std::mem::{align_of, offset_of, size_of};
    // 128-byte lines on x86-64 (adjacent-line prefetch): the producer's and the consumer's
    // index words each own one and never share.
    assert_eq!(align_of::<RingHeader>(), 128);
    assert_eq!(offset_of!(RingHeader, prod), 128);
    assert_eq!(offset_of!(RingHeader, cons), 256);
    assert_eq!(size_of::<RingHeader>(), 384);
}

#[test]
fn a_producer_that_died_mid_enqueue_is_reported_not_silent() {
    let m = mem();
    let r = Ring::create(&m, "stall", 64, 0).unwrap();
    assert!(r.enqueue_bulk(&[1, 2]));
    assert!(!r.producer_stalled());
    // A producer reserves one slot and dies before publishing it.
    r.hdr.prod.ht.head.fetch_add(1, Ordering::AcqRel);
    assert!(r.producer_stalled());
    let before = stalled_waits();
    let t = std::thread::spawn(move || r.mp_enqueue_bulk(&[4]));
    std::thread::sleep(STALL_REPORT + std::time::Duration::from_millis(500));
    assert!(!t.is_finished(), "later producers wait for their turn");
    assert!(stalled_waits() > before, "the stall is counted and logged");
    // Whoever repairs the ring publishes the dead producer's slot.
    // SAFETY: reserved and unpublished slots of a simulated dead producer; one thread.
    unsafe { r.slots.set(2, 3) };
    r.hdr.prod.ht.tail.fetch_add(1, Ordering::AcqRel);
    assert!(t.join().unwrap());
    let mut out = [0u64; 4];
    assert!(r.dequeue_bulk(&mut out));
    assert_eq!(out, [1, 2, 3, 4]);
}

#[test]
fn the_primary_finishes_a_dead_lcores_ring_operations() {
    use crate::config::{RingOp, RING_OP_CONSUMER, RING_OP_WRITTEN};
    let m = mem();
    let r = Ring::create(&m, "dead_op", 64, 0).unwrap();
    let op: &RingOp = &m.config().ring_ops[5];
    // A producer wrote its two slots and died waiting for its turn to publish.
    let head = r.hdr.prod.ht.head.fetch_add(2, Ordering::AcqRel);
    // SAFETY: reserved and unpublished slots of a simulated dead producer; one thread.
    unsafe { r.slots.set(head as usize, 10) };
    // SAFETY: reserved and unpublished slots of a simulated dead producer; one thread.
    unsafe { r.slots.set(head as usize + 1, 11) };
    op.head.store(head, Ordering::Relaxed);
    op.n.store(2 | RING_OP_WRITTEN, Ordering::Relaxed);
    op.ring.store(r.header_addr(), Ordering::Release);
    let later = std::thread::spawn(move || r.mp_enqueue_bulk(&[12]));
    assert_eq!(Ring::finish_dead_op(m.config(), 5, |_, _| None), DeadOp::ProducerPublished(2));
    assert!(later.join().unwrap(), "the later producer is no longer stuck");
    assert_eq!(op.ring.load(Ordering::Relaxed), 0);
    // A consumer reserved one slot and died before publishing.
    let head = r.hdr.cons.ht.head.fetch_add(1, Ordering::AcqRel);
    op.head.store(head, Ordering::Relaxed);
    op.n.store(1 | RING_OP_CONSUMER, Ordering::Relaxed);
    op.ring.store(r.header_addr(), Ordering::Release);
    assert_eq!(Ring::finish_dead_op(m.config(), 5, |_, _| None), DeadOp::ConsumerReleased(1));
    let mut out = [0u64; 2];
    assert!(r.dequeue_bulk(&mut out));
    assert_eq!(out, [11, 12], "the dead consumer's object (10) went with it");
    // A producer that died before writing its slots cannot be published (plain ring).
    let head = r.hdr.prod.ht.head.fetch_add(1, Ordering::AcqRel);
    op.head.store(head, Ordering::Relaxed);
    op.n.store(1, Ordering::Relaxed);
    op.ring.store(r.header_addr(), Ordering::Release);
    assert_eq!(Ring::finish_dead_op(m.config(), 5, |_, _| None), DeadOp::Stalled);
    assert!(r.producer_stalled());
    // An operation published before its process died is left alone.
    r.hdr.prod.ht.tail.store(head.wrapping_add(1), Ordering::Release);
    assert_eq!(Ring::finish_dead_op(m.config(), 5, |_, _| None), DeadOp::Done);
}

#[test]
fn a_dead_producers_unwritten_mbuf_ring_slots_become_holes() {
    use crate::config::RingOp;
    let m = mem();
    let r = Ring::create_kind(&m, "holes", 64, 0, RingKind::Mbuf).unwrap();
    let op: &RingOp = &m.config().ring_ops[6];
    let head = r.hdr.prod.ht.head.fetch_add(2, Ordering::AcqRel);
    // SAFETY: reserved and unpublished slots of a simulated dead producer; one thread.
    unsafe { r.slots.set(head as usize, 0xdead) }; // stale, half written
    op.head.store(head, Ordering::Relaxed);
    op.n.store(2, Ordering::Relaxed);
    op.ring.store(r.header_addr(), Ordering::Release);
    assert_eq!(Ring::finish_dead_op(m.config(), 6, |_, _| None), DeadOp::ProducerHoles(2));
    let mb = crate::MbufRing::from_header_addr(r.header_addr()).unwrap();
    let mut out = Vec::new();
    assert_eq!(mb.dequeue_burst(&mut out, 8), 0, "holes are skipped");
    assert!(out.is_empty());
    assert!(r.is_empty());
}
