//! Real primary and secondary processes sharing memory: mbuf exchange through rings,
//! role rules, failure messages, crash recovery, repeated attaches. Every test runs once over
//! hugepages and, where memory matters, once with --no-huge.

use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};
use tests::{heap_files, prefix, runtime_dir, Proc};

const W: &str = env!("CARGO_BIN_EXE_eal_worker");
const T: Duration = Duration::from_secs(30);

fn eal_args<'a>(p: &'a str, lcores: &'a str, role: &'a str, no_huge: bool) -> Vec<&'a str> {
    let mut v = vec!["--file-prefix", p, "--lcores", lcores, "--proc-type", role, "-m", "32"];
    if no_huge {
        v.push("--no-huge");
    }
    v
}

fn run(p: &str, lcores: &str, role: &str, no_huge: bool, app: &[&str]) -> Proc {
    let mut a = eal_args(p, lcores, role, no_huge);
    a.push("--");
    a.extend_from_slice(app);
    Proc::spawn(W, &a)
}

fn exchange(no_huge: bool) {
    let p = prefix(if no_huge { "xchg_nohuge" } else { "xchg_huge" });
    let n = 5000;
    let mut pri = run(&p, "0@0", "primary", no_huge, &["exchange-primary", &n.to_string(), "3"]);
    pri.expect("READY sent=5000", T);
    let secs: Vec<Proc> =
        ["1@1", "2@0", "3@1"].iter().map(|l| run(&p, l, "secondary", no_huge, &["exchange-secondary"])).collect();
    let result = pri.expect("RESULT", Duration::from_secs(90));
    assert_eq!(result, format!("RESULT received={n} dups=0 bad=0 missing=0"));
    let mut processed = 0;
    for s in secs {
        let (code, out) = s.finish(T);
        assert_eq!(code, Some(0), "secondary failed: {out:?}");
        let line = out.iter().find(|l| l.starts_with("SECONDARY")).expect("secondary summary");
        assert!(line.ends_with("bad=0"), "{line}");
        processed += line.split("processed=").nth(1).unwrap().split(' ').next().unwrap().parse::<u64>().unwrap();
    }
    assert_eq!(processed, n, "every mbuf was answered exactly once across the secondaries");
    pri.close_stdin();
    let line = pri.expect("POOL", T);
    assert_eq!(line, "POOL full=true in_use=0", "mbufs freed in secondaries returned to the pool");
    let (code, _) = pri.finish(T);
    assert_eq!(code, Some(0));
    assert!(!runtime_dir(&p).exists(), "runtime dir removed on clean exit");
    assert!(heap_files(&p).is_empty(), "heap file removed on clean exit");
}

#[test]
fn primary_and_three_secondaries_exchange_mbufs_hugepages() {
    exchange(false);
}

#[test]
fn primary_and_three_secondaries_exchange_mbufs_no_huge() {
    exchange(true);
}

#[test]
fn secondary_without_primary_fails_fast() {
    let p = prefix("noprimary");
    let t0 = Instant::now();
    let (code, out) = run(&p, "1", "secondary", true, &["attach"]).finish(T);
    assert!(t0.elapsed() < Duration::from_secs(1), "took {:?}", t0.elapsed());
    assert_eq!(code, Some(2));
    assert!(
        out.iter()
            .any(|l| l.contains("no primary process is running for --file-prefix=")
                && l.contains("start the primary first")),
        "{out:?}"
    );
    assert!(!runtime_dir(&p).exists(), "a failed secondary leaves no runtime directory behind");
}

#[test]
fn two_prefixes_never_see_each_other() {
    let (a, b) = (prefix("side_a"), prefix("side_b"));
    let mut pa = run(&a, "0", "primary", true, &["hold", "ring_a"]);
    let mut pb = run(&b, "0", "primary", false, &["hold", "ring_b"]);
    pa.expect("READY role=Primary", T);
    pb.expect("READY role=Primary", T);
    for (p, mine, other) in [(&a, "ring_a", "ring_b"), (&b, "ring_b", "ring_a")] {
        let no_huge = p == &a;
        let (code, out) = run(p, "1", "secondary", no_huge, &["attach", mine]).finish(T);
        assert_eq!(code, Some(0), "{out:?}");
        assert!(out.iter().any(|l| l == &format!("RING {mine} found")), "{out:?}");
        let (_, out) = run(p, "1", "secondary", no_huge, &["attach", other]).finish(T);
        assert!(out.iter().any(|l| l.starts_with(&format!("RING {other} missing"))), "{out:?}");
    }
    assert_eq!(pa.finish(T).0, Some(0));
    assert_eq!(pb.finish(T).0, Some(0));
}

fn crash_and_restart(no_huge: bool) {
    let p = prefix(if no_huge { "crash_nohuge" } else { "crash_huge" });
    let mut pri = run(&p, "0", "primary", no_huge, &["hold"]);
    pri.expect("READY", T);
    pri.kill9();
    assert!(runtime_dir(&p).join("config").exists(), "a crash leaves the config");
    assert_eq!(heap_files(&p).len(), 1, "a crash leaves the heap file");
    // Unlike DPDK, a secondary does not attach to a dead primary's state.
    let (code, out) = run(&p, "1", "secondary", no_huge, &["attach"]).finish(T);
    assert_eq!(code, Some(2));
    assert!(out.iter().any(|l| l.contains("no primary process is running")), "{out:?}");
    // A new primary cleans up and starts.
    let mut pri = run(&p, "0", "primary", no_huge, &["hold", "fresh"]);
    pri.expect("READY role=Primary", T);
    assert_eq!(heap_files(&p).len(), 1);
    let (code, out) = run(&p, "1", "secondary", no_huge, &["attach", "fresh"]).finish(T);
    assert_eq!(code, Some(0), "{out:?}");
    assert!(out.iter().any(|l| l == "RING fresh found"));
    assert_eq!(pri.finish(T).0, Some(0));
    assert!(heap_files(&p).is_empty());
    assert!(!runtime_dir(&p).exists());
}

#[test]
fn crashed_primary_is_replaced_cleanly_hugepages() {
    crash_and_restart(false);
}

#[test]
fn crashed_primary_is_replaced_cleanly_no_huge() {
    crash_and_restart(true);
}

fn attach_many(no_huge: bool) {
    let aslr = std::fs::read_to_string("/proc/sys/kernel/randomize_va_space").unwrap_or_default();
    assert_eq!(aslr.trim(), "2", "this test is meant to run with full ASLR");
    let p = prefix(if no_huge { "attach200_nohuge" } else { "attach200_huge" });
    let mut pri = run(&p, "0", "primary", no_huge, &["hold"]);
    let ready = pri.expect("READY", T);
    let heap = ready.split("heap=").nth(1).unwrap().to_string();
    for i in 0..200 {
        let (code, out) = run(&p, "1", "secondary", no_huge, &["attach"]).finish(T);
        assert_eq!(code, Some(0), "attach #{i} failed: {out:?}");
        assert!(out.iter().any(|l| l.contains(&format!("heap={heap}"))), "attach #{i}: {out:?}");
    }
    assert_eq!(pri.finish(T).0, Some(0));
}

#[test]
fn secondary_attaches_200_times_with_aslr_hugepages() {
    attach_many(false);
}

#[test]
fn secondary_attaches_200_times_with_aslr_no_huge() {
    attach_many(true);
}

#[test]
fn role_rules_and_clear_errors() {
    let p = prefix("roles");
    let mut pri = run(&p, "0", "auto", true, &["hold"]);
    pri.expect("READY role=Primary", T);
    // auto becomes a secondary when a primary runs.
    let (code, out) = run(&p, "1", "auto", true, &["attach"]).finish(T);
    assert_eq!(code, Some(0));
    assert!(out.iter().any(|l| l.starts_with("ATTACHED role=Secondary")), "{out:?}");
    // A second primary is refused.
    let (code, out) = run(&p, "1", "primary", true, &["hold"]).finish(T);
    assert_eq!(code, Some(2));
    assert!(out.iter().any(|l| l.contains("another primary process (pid")), "{out:?}");
    // Two processes of one group on the same lcore are refused.
    let (code, out) = run(&p, "0", "secondary", true, &["attach"]).finish(T);
    assert_eq!(code, Some(2));
    assert!(out.iter().any(|l| l.contains("lcore 0 is already used by process")), "{out:?}");
    // A secondary of another build is refused: patch the layout version in the config file.
    let cfg = std::fs::OpenOptions::new().read(true).write(true).open(runtime_dir(&p).join("config")).unwrap();
    let mut orig = [0u8; 8];
    cfg.read_exact_at(&mut orig, 8).unwrap();
    cfg.write_all_at(&(u64::from_le_bytes(orig) ^ 1).to_le_bytes(), 8).unwrap();
    let (code, out) = run(&p, "1", "secondary", true, &["attach"]).finish(T);
    cfg.write_all_at(&orig, 8).unwrap();
    assert_eq!(code, Some(2));
    assert!(out.iter().any(|l| l.contains("runs another build of Bypass")), "{out:?}");
    assert_eq!(pri.finish(T).0, Some(0));
}

#[test]
fn bad_memory_options_are_explained() {
    let p = prefix("badmem");
    let (code, out) = Proc::spawn(W, &["--file-prefix", &p, "-l", "0", "--huge-dir", "/tmp", "--", "attach"]).finish(T);
    assert_eq!(code, Some(2));
    assert!(out.iter().any(|l| l.contains("is not a hugetlbfs mount point")), "{out:?}");
    let (code, out) = Proc::spawn(W, &["--file-prefix", &p, "-l", "0", "-m", "900000", "--", "attach"]).finish(T);
    assert_eq!(code, Some(2));
    assert!(out.iter().any(|l| l.contains("not enough free hugepages")), "{out:?}");
    let (code, out) = Proc::spawn(W, &["-l", "0", "-a", "00:01.0", "-b", "00:02.0", "--", "attach"]).finish(T);
    assert_eq!(code, Some(2));
    assert!(out.iter().any(|l| l.contains("cannot be used together")), "{out:?}");
    assert!(heap_files(&p).is_empty(), "failed starts leave no heap file");
    assert!(!runtime_dir(&p).exists(), "failed starts leave no runtime directory");
}

/// `kill -9` of a secondary under traffic, 20 times: the primary reclaims the dead
/// lcore's mempool cache and lcore id (by itself within a second, checked once) and
/// finishes any ring operation the kill cut short (else the surviving secondary would hang
/// on the shared ring); what is then still missing from the pool is what the dead process
/// held in its hands (at most its two bursts of 32, plus any refill counted as uncertain),
/// and the quiescent primary recovers exactly that: the pool is full after every cycle.
#[test]
fn killed_secondaries_lose_no_mbufs_20_times() {
    let p = prefix("reclaim");
    let mut pri = run(&p, "0@0", "primary", true, &["churn-primary"]);
    pri.expect("READY", T);
    let (mut cache_returned, mut hand_lost) = (0u64, 0u64);
    for cycle in 0..20 {
        eprintln!("cycle {cycle}");
        let victim = run(&p, "1@0", "secondary", true, &["churn-secondary"]);
        let mut survivor = run(&p, "2@1", "secondary", true, &["churn-secondary"]);
        let mut victim = victim;
        victim.expect("RUNNING", T);
        survivor.expect("RUNNING", T);
        std::thread::sleep(Duration::from_millis(50 + 10 * cycle));
        victim.kill9();
        pri.send("STOP");
        let (code, out) = survivor.finish(T);
        assert_eq!(code, Some(0), "cycle {cycle}: survivor failed: {out:?}");
        if cycle == 0 {
            // The primary's own periodic pass (with its sweep of dead IPC peers) finds it.
            pri.expect("reclaimed the lcores and mempool caches of dead processes", Duration::from_secs(5));
        }
        pri.seen.clear();
        pri.send("CHECK");
        let line = pri.expect("CHECK", T);
        let field = |k: &str| -> u64 {
            line.split(&format!("{k}="))
                .nth(1)
                .and_then(|v| v.split(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX)
        };
        assert_eq!(field("owners"), 0, "cycle {cycle}: every lcore id free again: {line}");
        assert_eq!(field("cached"), 0, "cycle {cycle}: no object left in a dead cache: {line}");
        assert_eq!(field("stalls"), 0, "cycle {cycle}: no ring stalled: {line}");
        let (in_use, recovered, uncertain) = (field("in_use"), field("recovered"), field("uncertain"));
        assert!(in_use <= 64 + uncertain, "cycle {cycle}: only the dead process's two bursts are missing: {line}");
        assert_eq!(recovered, in_use, "cycle {cycle}: exactly the missing mbufs are recovered: {line}");
        assert!(line.ends_with(&format!("full=true stalls={}", field("stalls"))), "cycle {cycle}: {line}");
        cache_returned += field("objects");
        hand_lost += in_use;
    }
    println!("over 20 kills: {cache_returned} mbufs returned from dead caches, {hand_lost} recovered from dead hands");
    assert!(cache_returned > 0, "the dead lcores' caches held mbufs");
    pri.close_stdin();
    let (code, _) = pri.finish(T);
    assert_eq!(code, Some(0));
}
