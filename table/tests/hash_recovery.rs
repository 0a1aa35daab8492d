//! A writer process killed with SIGKILL in the middle of updates: the next writer takes the
//! lock from the dead one and proceeds, readers running all along never see a value that
//! is not their key's, and the table is whole afterwards (every stable key, no key twice,
//! the right count). The writer is a forked child sharing the table's memory, so the kill
//! is a real process death at an arbitrary instruction.
//!
//! One test in this file: it forks, which is only sound while the process has one thread.

use eal::Memory;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use table::{HashParams, HashTable};

const STABLE: u64 = 1000;
const CHURN: u64 = 2000;

/// Key `i`, `len` bytes (8, 16 or 24): its id first, so iteration can name it.
fn key(i: u64, len: usize) -> Vec<u8> {
    let mut k = Vec::with_capacity(24);
    k.extend_from_slice(&i.to_le_bytes());
    k.extend_from_slice(&(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
    k.extend_from_slice(&(!i).to_le_bytes());
    k.truncate(len);
    k
}

/// The child's endless churn: adds, updates and deletes, holding the lock almost always.
fn churn(h: &HashTable) -> ! {
    let len = h.key_len();
    let mut gen = 0u64;
    loop {
        gen += 1;
        for i in STABLE..STABLE + CHURN {
            let _ = h.add(&key(i, len), i << 8 | (gen & 0xff));
        }
        for i in 0..STABLE {
            let _ = h.add(&key(i, len), i << 8 | (gen & 0xff));
        }
        for i in STABLE..STABLE + CHURN {
            let _ = h.delete(&key(i, len));
        }
    }
}

/// Both layouts: entries inside their buckets (8- and 16-byte keys) and in the key store
/// (24-byte keys). One after the other, every thread of a run joined before the next forks.
#[test]
fn killed_writer_is_recovered_and_readers_never_see_torn_entries() {
    for key_len in [8, 16, 24] {
        killed_writer_run(key_len);
    }
}

fn killed_writer_run(key_len: usize) {
    let key = move |i: u64| key(i, key_len);
    let name = format!("recover{key_len}");
    let name = name.as_str();
    let m = Memory::anonymous(16 << 20).unwrap();
    let h = HashTable::create(&m, name, &HashParams { entries: 4096, key_len, ..Default::default() }).unwrap();
    for i in 0..STABLE {
        h.add(&key(i), i << 8).unwrap();
    }
    // Fork the writers first, one per round, while this process has one thread; each waits
    // for its start byte on a pipe.
    const ROUNDS: usize = 16;
    let mut writers = Vec::new();
    for _ in 0..ROUNDS {
        let mut fds = [0i32; 2];
        // SAFETY: fds is a valid array of two ints.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the process has one thread (no test runs beside this one), so the child
        // may run any code.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let mut b = [0u8; 1];
            // SAFETY: b is a valid one-byte buffer.
            unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) };
            churn(&h);
        }
        // SAFETY: closing our copy of the read end.
        unsafe { libc::close(fds[0]) };
        writers.push((pid, fds[1]));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let lookups = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let h = HashTable::lookup_by_name(&m, name, key_len, 8).unwrap();
            let (stop, lookups) = (stop.clone(), lookups.clone());
            std::thread::spawn(move || {
                let mut x = r + 1;
                while !stop.load(Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let i = (x >> 33) % (STABLE + CHURN);
                    match h.lookup(&key(i)).unwrap() {
                        Some(v) => assert_eq!(v >> 8, i, "key {i} read value {v:#x}: a torn entry"),
                        None => assert!(i >= STABLE, "stable key {i} not found"),
                    }
                    lookups.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut held_at_death = 0;
    for (round, (pid, start)) in writers.into_iter().enumerate() {
        // SAFETY: start is our pipe's write end; one byte from a valid buffer.
        assert_eq!(unsafe { libc::write(start, [1u8].as_ptr().cast(), 1) }, 1);
        std::thread::sleep(Duration::from_millis(20 + (round as u64 * 37) % 90));
        // Kill while it holds the lock, most of the time: wait until the lock word names it.
        let t = Instant::now();
        while h.writer_pid() != Some(pid as u32) && t.elapsed() < Duration::from_secs(1) {
            std::hint::spin_loop();
        }
        // SAFETY: pid is our child; SIGKILL and reaping it have no memory preconditions.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
            libc::close(start);
        }
        if h.writer_pid() == Some(pid as u32) {
            held_at_death += 1;
        }
        // A new writer proceeds (the dead one's lock is taken over), within a deadline.
        let h2 = HashTable::lookup_by_name(&m, name, key_len, 8).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let k = key(STABLE + CHURN + round as u64);
        let adder = std::thread::spawn(move || {
            let t = Instant::now();
            h2.add(&k, (STABLE + CHURN + round as u64) << 8).unwrap();
            tx.send(t.elapsed()).unwrap();
        });
        let took = rx.recv_timeout(Duration::from_secs(10)).expect("a new writer blocked on a dead writer's lock");
        adder.join().unwrap();
        assert!(took < Duration::from_secs(5), "round {round}: the new writer waited {took:?}");
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    // The kill lands just after the lock word was seen naming the writer; sometimes the
    // writer has let go in between, so not every round takes the lock from a dead owner.
    assert!(held_at_death >= ROUNDS / 4, "writers died holding the lock in only {held_at_death} of {ROUNDS} rounds");
    assert!(lookups.load(Ordering::Relaxed) > 1000);
    // Whole afterwards: every stable key with its own id, no key twice, the count right.
    let mut seen = HashSet::new();
    let mut next = 0;
    while let Some((k, v)) = h.iterate(&mut next) {
        let i = u64::from_le_bytes(k[..8].try_into().unwrap());
        assert_eq!(k, key(i), "a whole key");
        assert_eq!(v >> 8, i, "key {i}: value {v:#x}");
        assert!(seen.insert(i), "key {i} twice");
    }
    assert!((0..STABLE).all(|i| seen.contains(&i)));
    assert_eq!(h.count(), seen.len() as u64);
    println!(
        "{key_len}-byte keys: writers died holding the lock in {held_at_death} of {ROUNDS} rounds; {} lookups",
        lookups.load(Ordering::Relaxed)
    );
}
