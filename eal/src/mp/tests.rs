//! In-process tests: a primary and secondaries as separate `Mp` in one
//! process (each with its own socket and IPC thread). The multi-process
//! tests live in the `tests` crate.

use super::*;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;

/// A fresh runtime directory for one test, removed when it drops.
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        TempDir(tempfile::Builder::new().prefix(&format!("bypass-mp-unit-{tag}-")).tempdir().unwrap())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

fn start(dir: &Path, role: MpRole) -> Mp {
    Mp::start(MpConfig { dir: dir.to_path_buf(), role, primary_pid: None, slow_peer_after: DEFAULT_SLOW_PEER_AFTER })
        .unwrap()
}

fn echo(mp: &Mp, m: &MpMessage, peer: &MpPeer) -> HandlerResult {
    let mut r = MpMessage::new(&m.name, &m.param)?;
    r.param.push(0xee);
    mp.reply(&r, peer)?;
    Ok(())
}

const T: Duration = Duration::from_secs(2);

#[test]
fn message_both_ways_and_sync_request() {
    let d = TempDir::new("basic");
    let p = start(d.path(), MpRole::Primary);
    let s = start(d.path(), MpRole::Secondary);
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    p.register("hello", move |_, m, peer| {
        assert!(!peer.is_request());
        tx.send(("p", m.param.clone())).unwrap();
        Ok(())
    })
    .unwrap();
    s.register("hello", move |_, m, _| {
        tx2.send(("s", m.param.clone())).unwrap();
        Ok(())
    })
    .unwrap();
    assert_eq!(s.send(&MpMessage::new("hello", b"up").unwrap()).unwrap(), 1);
    assert_eq!(rx.recv_timeout(T).unwrap(), ("p", b"up".to_vec()));
    assert_eq!(p.send(&MpMessage::new("hello", b"down").unwrap()).unwrap(), 1);
    assert_eq!(rx.recv_timeout(T).unwrap(), ("s", b"down".to_vec()));

    p.register("echo", echo).unwrap();
    let r = s.request_sync(&MpMessage::new("echo", b"x").unwrap(), T).unwrap();
    assert_eq!((r.nb_sent, r.nb_received), (1, 1));
    assert_eq!(r.msgs[0].param, b"x\xee");

    // unknown action: answered "ignore", not counted, no waiting
    let t0 = Instant::now();
    let r = s.request_sync(&MpMessage::new("nobody", b"").unwrap(), T).unwrap();
    assert_eq!((r.nb_sent, r.nb_received), (0, 0));
    assert!(t0.elapsed() < Duration::from_millis(500));
}

#[test]
fn registration_rules() {
    let d = TempDir::new("reg");
    let p = start(d.path(), MpRole::Primary);
    p.register("a", |_, _, _| Ok(())).unwrap();
    assert!(matches!(p.register("a", |_, _, _| Ok(())), Err(MpError::ActionExists(_))));
    assert!(matches!(p.register(&"n".repeat(64), |_, _, _| Ok(())), Err(MpError::BadName { len: 64, .. })));
    p.register(&"n".repeat(63), |_, _, _| Ok(())).unwrap();
    assert!(matches!(p.register("", |_, _, _| Ok(())), Err(MpError::BadName { .. })));
    p.unregister("a").unwrap();
    assert!(matches!(p.unregister("a"), Err(MpError::ActionNotFound(_))));
    p.register("a", |_, _, _| Ok(())).unwrap();
}

#[test]
fn limits_checked_before_sending() {
    let d = TempDir::new("limits");
    let p = start(d.path(), MpRole::Primary);
    let m = MpMessage { name: "x".into(), param: vec![0; 257], fds: vec![] };
    let e = p.send(&m).unwrap_err();
    assert!(matches!(e, MpError::ParamTooLong { len: 257, .. }));
    assert!(e.to_string().contains("256"), "{e}");
    let fds = (0..9).map(|_| std::fs::File::open("/dev/null").unwrap().into()).collect();
    let m = MpMessage::new("x", &[]).unwrap().with_fds(fds);
    assert!(matches!(p.send(&m), Err(MpError::TooManyFds { count: 9, .. })));
    assert!(matches!(p.request_sync(&m, T), Err(MpError::TooManyFds { .. })));
}

#[test]
fn fds_travel_and_sync_in_handler_is_refused() {
    let d = TempDir::new("fds");
    let p = start(d.path(), MpRole::Primary);
    let s = start(d.path(), MpRole::Secondary);
    p.register("file", |mp, m, peer| {
        let mut f = std::fs::File::from(m.fds[0].try_clone()?);
        let mut text = String::new();
        f.rewind()?;
        f.read_to_string(&mut text)?;
        let sync = mp.request_sync(&MpMessage::new("file", b"")?, T);
        let refused = matches!(sync, Err(MpError::SyncRequestInHandler(_)));
        let r = MpMessage::new("file", format!("{text}|{refused}").as_bytes())?;
        mp.reply(&r, peer)?;
        Ok(())
    })
    .unwrap();
    let path = d.path().join("data.txt");
    let mut f = std::fs::File::options().create(true).truncate(true).read(true).write(true).open(&path).unwrap();
    f.write_all(b"through an fd").unwrap();
    let m = MpMessage::new("file", &[]).unwrap().with_fds(vec![f.into()]);
    let r = s.request_sync(&m, T).unwrap();
    assert_eq!(r.nb_received, 1);
    assert_eq!(r.msgs[0].param, b"through an fd|true");
}

#[test]
fn garbage_is_dropped_and_service_goes_on() {
    let d = TempDir::new("garbage");
    let p = start(d.path(), MpRole::Primary);
    let s = start(d.path(), MpRole::Secondary);
    p.register("echo", echo).unwrap();
    let g = UnixDatagram::unbound().unwrap();
    let target = d.path().join("mp_socket");
    let mut good = wire::encode(Kind::Request, 5, 1, "echo", b"p", 0).unwrap().as_bytes().to_vec();
    let mut wrong_version = good.clone();
    wrong_version[4] = 9;
    good.truncate(good.len() - 1);
    let sent: Vec<Vec<u8>> = vec![vec![], b"hello".to_vec(), vec![0xff; 1000], wrong_version, good];
    for m in &sent {
        g.send_to(m, &target).unwrap();
    }
    let r = s.request_sync(&MpMessage::new("echo", b"ok").unwrap(), T).unwrap();
    assert_eq!(r.nb_received, 1);
    let st = p.stats();
    assert_eq!(st.dropped, sent.len() as u64, "{st:?}");
}

#[test]
fn async_request_and_shutdown() {
    let d = TempDir::new("async");
    let p = start(d.path(), MpRole::Primary);
    let s1 = start(d.path(), MpRole::Secondary);
    let s2 = start(d.path(), MpRole::Secondary);
    s1.register("echo", echo).unwrap();
    s2.register("echo", echo).unwrap();
    let (tx, rx) = mpsc::channel();
    p.request_async(&MpMessage::new("echo", b"a").unwrap(), T, move |req, rep| {
        tx.send((req.name.clone(), rep.nb_sent, rep.nb_received)).unwrap();
    })
    .unwrap();
    assert_eq!(rx.recv_timeout(T).unwrap(), ("echo".to_string(), 2, 2));

    // an async request with nobody to send to completes at once
    let lone = TempDir::new("async-lone");
    let q = start(lone.path(), MpRole::Primary);
    let (tx, rx) = mpsc::channel();
    q.request_async(&MpMessage::new("echo", b"").unwrap(), T, move |_, rep| {
        tx.send(rep.nb_sent).unwrap();
    })
    .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_millis(500)).unwrap(), 0);

    let path = s2.socket_path().to_path_buf();
    assert!(path.exists());
    s2.shutdown();
    assert!(!path.exists());
    assert!(matches!(s2.send(&MpMessage::new("echo", b"").unwrap()), Err(MpError::ShutDown)));
    let r = p.request_sync(&MpMessage::new("echo", b"").unwrap(), T).unwrap();
    assert_eq!((r.nb_sent, r.nb_received), (1, 1));
    drop(s1);
    let r = p.request_sync(&MpMessage::new("echo", b"").unwrap(), T).unwrap();
    assert_eq!((r.nb_sent, r.nb_received), (0, 0));
}

/// Fds that arrive with a datagram nobody takes are closed: the peer end of
/// a socket pair sees end-of-file once every copy is gone.
#[test]
fn unclaimed_fds_are_closed() {
    use std::os::unix::net::UnixStream;
    let d = TempDir::new("fdclose");
    let p = start(d.path(), MpRole::Primary);
    p.register("taken", |_, _, _| Ok(())).unwrap();
    let to = SockAddr::Path(p.socket_path().to_path_buf());
    let sender = Sock::bind_auto().unwrap();
    let good = |kind, id, name: &str, nb| wire::encode(kind, id, 1, name, b"", nb).unwrap().as_bytes().to_vec();
    let mut bad_magic = good(Kind::Message, 0, "x", 1);
    bad_magic[0] = b'Z';
    let cases: Vec<(&str, Vec<u8>, usize)> = vec![
        ("malformed", bad_magic, 1),
        ("fd count mismatch", good(Kind::Message, 0, "x", 1), 2),
        ("message, no handler", good(Kind::Message, 0, "nobody", 3), 3),
        ("request, no handler", good(Kind::Request, 9, "nobody", 1), 1),
        ("late reply", good(Kind::Reply, 12345, "x", 1), 1),
        ("handled", good(Kind::Message, 0, "taken", 2), 2),
    ];
    for (what, data, nb) in cases {
        let (a, mut b) = UnixStream::pair().unwrap();
        let copies: Vec<OwnedFd> = (0..nb).map(|_| OwnedFd::from(a.try_clone().unwrap())).collect();
        let fds: Vec<BorrowedFd<'_>> = copies.iter().map(|f| f.as_fd()).collect();
        sender.send_to(&to, &data, &fds).unwrap();
        drop(copies);
        drop(a);
        b.set_read_timeout(Some(T)).unwrap();
        let mut byte = [0u8; 1];
        let n = b.read(&mut byte);
        assert!(matches!(n, Ok(0)), "{what}: fd still open in the receiver ({n:?})");
    }
    assert!(p.stats().dropped >= 2);
}

/// Waits until `f` holds, up to `t`.
fn wait_for(t: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + t;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// A peer that sends many valid requests and never reads its answers does
/// not stall the IPC thread: a legitimate secondary's sync requests keep
/// being answered in time, and the mute peer ends up marked slow.
#[test]
fn non_reading_peer_does_not_stall_the_ipc_thread() {
    let d = TempDir::new("mute");
    let p = start(d.path(), MpRole::Primary);
    let s = start(d.path(), MpRole::Secondary);
    p.register("echo", echo).unwrap();
    let mute = UnixDatagram::bind(d.path().join("mute")).unwrap();
    let target = p.socket_path().to_path_buf();
    let flood = std::thread::spawn(move || {
        for id in 1..=300u64 {
            let m = wire::encode(Kind::Request, id, 1, "echo", b"mute", 0).unwrap();
            // blocking send: waits while the primary's queue is full
            mute.send_to(m.as_bytes(), &target).unwrap();
        }
        mute // never read; dropped (and unlinked with the dir) at the end
    });
    let t0 = Instant::now();
    let mut answered = 0;
    let n = 60;
    for i in 0..n {
        let r = s.request_sync(&MpMessage::new("echo", &[i]).unwrap(), Duration::from_millis(500)).unwrap();
        if r.nb_received == 1 && r.msgs[0].param == [i, 0xee] {
            answered += 1;
        }
    }
    let took = t0.elapsed();
    let _mute = flood.join().unwrap();
    assert_eq!(answered, n, "all sync requests answered (took {took:?}), stats {:?}", p.stats());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(wait_for(Duration::from_secs(5), || p.stats().slow_peers >= 1), "mute peer marked slow: {:?}", p.stats());
    let st = p.stats();
    assert!(st.send_dropped > 0, "{st:?}");
    // the legitimate secondary is still served after the mute one went slow
    let r = s.request_sync(&MpMessage::new("echo", b"z").unwrap(), T).unwrap();
    assert_eq!(r.nb_received, 1);
}

/// A secondary that does not read (stopped) does not stall broadcasts to
/// the others: every send returns at once and the live secondary gets all.
#[test]
fn stuck_secondary_does_not_stall_broadcasts() {
    let d = TempDir::new("stuck");
    let p = start(d.path(), MpRole::Primary);
    let s = start(d.path(), MpRole::Secondary);
    // a "secondary" socket nobody reads
    let _stuck = UnixDatagram::bind(d.path().join(peers::secondary_socket_name(std::process::id(), 999_999))).unwrap();
    let (tx, rx) = mpsc::channel();
    s.register("bc", move |_, m, _| {
        tx.send(m.param.clone()).unwrap();
        Ok(())
    })
    .unwrap();
    let n = 200u32;
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        let t = Instant::now();
        let reached = p.send(&MpMessage::new("bc", &i.to_le_bytes()).unwrap()).unwrap();
        slowest = slowest.max(t.elapsed());
        assert!(reached >= 1, "broadcast {i} reached {reached}");
    }
    assert!(slowest < Duration::from_millis(250), "a broadcast blocked for {slowest:?}");
    for i in 0..n {
        let got = rx.recv_timeout(T).unwrap();
        assert_eq!(got, i.to_le_bytes(), "live secondary gets every broadcast in order: {:?}", p.stats());
    }
    assert!(wait_for(Duration::from_secs(5), || p.stats().slow_peers == 1), "{:?}", p.stats());
    let st = p.stats();
    assert!(st.send_queued > 0 && st.send_dropped > 0, "{st:?}");
}

/// A flood of garbage is counted exactly and does not disturb service.
#[test]
fn garbage_flood_is_counted() {
    let d = TempDir::new("flood");
    let p = start(d.path(), MpRole::Primary);
    let s = start(d.path(), MpRole::Secondary);
    p.register("echo", echo).unwrap();
    let g = UnixDatagram::unbound().unwrap();
    let n = 5000u64;
    for i in 0..n {
        g.send_to(&[i as u8; 40], p.socket_path()).unwrap();
    }
    assert!(wait_for(Duration::from_secs(5), || p.stats().malformed == n), "{:?}", p.stats());
    let st = p.stats();
    assert_eq!((st.dropped, st.overflow), (n, 0), "{st:?}");
    let r = s.request_sync(&MpMessage::new("echo", b"ok").unwrap(), T).unwrap();
    assert_eq!(r.nb_received, 1);
}

/// A sender flooding valid work does not starve another: the socket is
/// drained into per-sender queues served in turn, and the secondary's sync
/// requests are all answered.
#[test]
fn flooding_sender_does_not_starve_others() {
    let d = TempDir::new("fair");
    let p = start(d.path(), MpRole::Primary);
    let s = start(d.path(), MpRole::Secondary);
    p.register("work", |_, _, _| {
        std::thread::sleep(Duration::from_micros(200));
        Ok(())
    })
    .unwrap();
    p.register("echo", echo).unwrap();
    let target = p.socket_path().to_path_buf();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let flood = std::thread::spawn(move || {
        let flooder = UnixDatagram::unbound().unwrap();
        flooder.set_nonblocking(true).unwrap();
        let m = wire::encode(Kind::Message, 0, 1, "work", b"", 0).unwrap();
        let mut sent = 0u64;
        while !stop2.load(Ordering::Relaxed) {
            if flooder.send_to(m.as_bytes(), &target).is_ok() {
                sent += 1;
            } else {
                std::thread::yield_now();
            }
        }
        sent
    });
    std::thread::sleep(Duration::from_millis(50));
    let mut answered = 0;
    let mut worst = Duration::ZERO;
    for i in 0..20u8 {
        let t = Instant::now();
        let r = s.request_sync(&MpMessage::new("echo", &[i]).unwrap(), Duration::from_millis(1000)).unwrap();
        worst = worst.max(t.elapsed());
        answered += usize::from(r.nb_received == 1);
    }
    stop.store(true, Ordering::Relaxed);
    let sent = flood.join().unwrap();
    let st = p.stats();
    eprintln!("flooding sender: {answered}/20 answered, worst {worst:?}, flooder sent {sent}, {st:?}");
    assert_eq!(answered, 20, "worst {worst:?}, flooder sent {sent}, {st:?}");
}

/// The primary removes a stale socket of a dead secondary by itself.
#[test]
fn stale_secondary_socket_is_swept() {
    let d = TempDir::new("sweep");
    let _p = start(d.path(), MpRole::Primary);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let stale = d.path().join(peers::secondary_socket_name(dead_pid, 0));
    drop(UnixDatagram::bind(&stale).unwrap()); // the file stays, nobody bound
    let live = d.path().join(peers::secondary_socket_name(dead_pid, 1));
    let _live = UnixDatagram::bind(&live).unwrap(); // same dead pid, but bound
    assert!(stale.exists());
    assert!(wait_for(Duration::from_secs(3), || !stale.exists()), "stale socket not removed");
    assert!(live.exists(), "a bound socket is never removed");
}

/// `primary_alive` turns false when the watched primary exits, and
/// `on_primary_exit` runs.
#[test]
fn primary_alive_flag_and_callback() {
    let d = TempDir::new("alive");
    let mut child = std::process::Command::new("sleep").arg("10").spawn().unwrap();
    let s = Mp::start(MpConfig {
        dir: d.path().to_path_buf(),
        role: MpRole::Secondary,
        primary_pid: Some(child.id()),
        slow_peer_after: DEFAULT_SLOW_PEER_AFTER,
    })
    .unwrap();
    assert!(s.primary_alive());
    let (tx, rx) = mpsc::channel();
    s.on_primary_exit(move || tx.send(()).unwrap());
    child.kill().unwrap();
    child.wait().unwrap();
    rx.recv_timeout(T).unwrap();
    assert!(!s.primary_alive());
    let p = start(d.path(), MpRole::Primary);
    assert!(p.primary_alive());
}

/// Without a watched pid, a primary that died (socket file left, nobody
/// bound) is noticed when a datagram to it is refused.
#[test]
fn unwatched_primary_death_shows_on_refusal() {
    let d = TempDir::new("refused");
    let s = start(d.path(), MpRole::Secondary);
    drop(UnixDatagram::bind(d.path().join(peers::PRIMARY_SOCKET)).unwrap()); // a dead primary's socket
    let (tx, rx) = mpsc::channel();
    s.on_primary_exit(move || tx.send(()).unwrap());
    assert!(s.primary_alive());
    let r = s.request_sync(&MpMessage::new("x", b"").unwrap(), T).unwrap();
    assert_eq!(r.nb_sent, 0);
    rx.recv_timeout(T).unwrap();
    assert!(!s.primary_alive());
    assert_eq!(s.send(&MpMessage::new("x", b"").unwrap()).unwrap(), 0);
}

/// What waits in a backlog when the endpoint shuts down gets a short grace:
/// a last burst of messages sent just before `shutdown` still arrives.
#[test]
fn backlog_is_flushed_at_shutdown() {
    let d = TempDir::new("stopflush");
    let p = start(d.path(), MpRole::Primary);
    let s = start(d.path(), MpRole::Secondary);
    let open = Arc::new(AtomicBool::new(false));
    let open2 = open.clone();
    let (tx, rx) = mpsc::channel();
    let (started_tx, started) = mpsc::channel();
    p.register("m", move |_, m, _| {
        let _ = started_tx.send(());
        // the first message holds the primary's IPC thread until opened
        let end = Instant::now() + Duration::from_secs(2);
        while !open2.load(Ordering::Acquire) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(1));
        }
        tx.send(m.param[0]).unwrap();
        Ok(())
    })
    .unwrap();
    let n = 40u8;
    for i in 0..n {
        assert_eq!(s.send(&MpMessage::new("m", &[i]).unwrap()).unwrap(), 1);
        if i == 0 {
            // the primary's IPC thread is held: the rest fill its queue
            started.recv_timeout(T).unwrap();
        }
    }
    assert!(s.stats().send_queued > 0, "{:?}", s.stats());
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        open.store(true, Ordering::Release);
    });
    s.shutdown();
    opener.join().unwrap();
    let got: Vec<u8> = (0..n).map(|_| rx.recv_timeout(T).unwrap()).collect();
    assert_eq!(got, (0..n).collect::<Vec<u8>>());
}
