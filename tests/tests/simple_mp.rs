//! simple_mp as a user runs it in two terminals: a primary and a secondary (here both with
//! `--proc-type=auto`) send each other text through the shared rings and print it.

use std::time::Duration;
use tests::{example_bin, heap_files, prefix, runtime_dir, Proc};

const T: Duration = Duration::from_secs(30);

#[test]
fn primary_and_secondary_exchange_messages_with_auto_roles() {
    let p = prefix("simple_mp");
    let bin = example_bin("simple_mp");
    let mut a = Proc::spawn(&bin, &["-l", "0", "--no-huge", "--file-prefix", &p, "--proc-type=auto"]);
    a.expect("primary ready", T);
    let mut b = Proc::spawn(&bin, &["-l", "1", "--no-huge", "--file-prefix", &p, "--proc-type=auto"]);
    b.expect("secondary ready", T);
    a.send("send hello from the primary");
    b.expect("Received 'hello from the primary'", T);
    b.send("send and hello back");
    a.expect("Received 'and hello back'", T);
    b.send("bogus");
    b.expect("bad command 'bogus'", T);
    b.send("quit");
    assert_eq!(b.finish(T).0, Some(0));
    a.send("quit");
    assert_eq!(a.finish(T).0, Some(0));
    assert!(!runtime_dir(&p).exists(), "the primary's clean exit removes the runtime dir");
    assert!(heap_files(&p).is_empty());
}

/// A secondary whose primary dies is told through `Mp::on_primary_exit` and leaves with a
/// clear message (and status 3) instead of prompting forever.
#[test]
fn secondary_exits_when_its_primary_dies() {
    let p = prefix("simple_mp_death");
    let bin = example_bin("simple_mp");
    let mut a = Proc::spawn(&bin, &["-l", "0", "--no-huge", "--file-prefix", &p, "--proc-type=primary"]);
    a.expect("primary ready", T);
    let mut b = Proc::spawn(&bin, &["-l", "1", "--no-huge", "--file-prefix", &p, "--proc-type=secondary"]);
    b.expect("secondary ready", T);
    let t0 = std::time::Instant::now();
    a.kill9();
    b.expect("the primary process has exited", T);
    let (code, _) = b.finish(T);
    assert_eq!(code, Some(3));
    assert!(t0.elapsed() < Duration::from_secs(5), "noticed in {:?}", t0.elapsed());
    let _ = std::fs::remove_dir_all(runtime_dir(&p));
    for f in heap_files(&p) {
        let _ = std::fs::remove_file(f);
    }
}
