//! A real process for the IPC tests (`tests/tests/ipc.rs`).
//!
//! Usage: `ipc_worker primary|secondary DIR TAG [PRIMARY_PID]`
//!
//! Starts `eal::mp` in DIR with the given role, prints
//! `READY pid=<pid> sock=<socket path>`, then runs one command per line of
//! stdin and answers on stdout (one line per result). The scenario is the
//! sequence of commands the test sends. Exits on `quit` or end of stdin.
//!
//! Commands (`-` stands for an empty param):
//! - `register NAME MODE`: add a handler; MODE is one of
//!   `echo` (reply `<param>:<TAG>`), `silent` (never reply), `record` (only
//!   print), `readfd` (read the first fd, reply with its text), `nested`
//!   (try request_sync and send from inside the handler, reply what happened),
//!   `defer` (reply `<param>:<TAG>` from another thread after param ms).
//!   Every handler first prints `GOT <name> <param> fds=<n> [fdtext=<text>]`.
//! - `unregister NAME`
//! - `send NAME PARAM` -> `SENT <n>` or `ERR ...`
//! - `sendlen NAME LEN` / `sendfds NAME COUNT` -> `SENT <n>` or `ERR ...`
//! - `sendfd NAME PATH`: send PATH opened as the message's fd
//! - `sync NAME PARAM TIMEOUT_MS` -> `SYNC sent=<n> recv=<n> ms=<elapsed> params=<p1,p2,..>`
//! - `syncfd NAME PATH TIMEOUT_MS`: same, with PATH's fd attached
//! - `async NAME PARAM TIMEOUT_MS` -> later `ASYNC req=<param> sent=.. recv=.. ms=.. params=..`
//! - `sendmany NAME N [FIRST]`: N messages with params FIRST..FIRST+N (FIRST
//!   0 if not given) in a row -> `SENTMANY
//!   reached=<sum of peers reached> min=<fewest peers one reached> ms=<elapsed> worst_ms=<slowest send>`
//! - `syncmany NAME N TIMEOUT_MS`: N sync requests in a row -> `SYNCMANY
//!   answered=<requests with every reply> n=<N> worst_ms=<slowest>`
//! - `stats` -> `STATS received=.. dropped=.. malformed=.. overflow=.. unhandled=..
//!   send_queued=.. send_dropped=.. slow_peers=.. handler_errors=..`
//! - `alive` -> `ALIVE true|false` (`Mp::primary_alive`)
//! - `quit`
//!
//! A secondary given PRIMARY_PID prints `PRIMARY_EXIT` when the primary dies.
//! With `IPC_WORKER_LOG` set (an env filter such as `warn`), `eal`'s log
//! lines go to stderr. `IPC_WORKER_SLOW_PEER_MS` sets
//! `MpConfig::slow_peer_after` (default 1 s).

use std::io::BufRead;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use eal::mp::{HandlerResult, Mp, MpConfig, MpError, MpMessage, MpPeer, MpReply, MpRole, DEFAULT_SLOW_PEER_AFTER};

fn param_of(s: &str) -> Vec<u8> {
    if s == "-" {
        Vec::new()
    } else {
        s.as_bytes().to_vec()
    }
}

fn show(p: &[u8]) -> String {
    if p.is_empty() {
        "-".into()
    } else {
        String::from_utf8_lossy(p).into_owned()
    }
}

fn params(r: &MpReply) -> String {
    let mut v: Vec<String> = r.msgs.iter().map(|m| show(&m.param)).collect();
    v.sort();
    v.join(",")
}

/// Reads the whole file behind `fd` with pread: a passed fd shares its file
/// offset with every other copy (the sender's and other receivers').
fn fd_text(fd: &OwnedFd) -> std::io::Result<String> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::from(fd.try_clone()?);
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = f.read_at(&mut chunk, data.len() as u64)?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&data).trim().replace(' ', "_"))
}

fn err_line(e: &MpError) -> String {
    format!("ERR {e:?} | {e}")
}

fn handler(mode: &str, tag: String) -> Option<impl Fn(&Mp, &MpMessage, &MpPeer) -> HandlerResult> {
    let mode = mode.to_owned();
    if !["echo", "silent", "record", "readfd", "nested", "defer"].contains(&mode.as_str()) {
        return None;
    }
    Some(move |mp: &Mp, m: &MpMessage, peer: &MpPeer| -> HandlerResult {
        let text = match m.fds.first() {
            Some(fd) => format!(" fdtext={}", fd_text(fd)?),
            None => String::new(),
        };
        println!("GOT {} {} fds={}{}", m.name, show(&m.param), m.fds.len(), text);
        let echo = format!("{}:{}", show(&m.param), tag);
        match mode.as_str() {
            "echo" if peer.is_request() => mp.reply(&MpMessage::new(&m.name, echo.as_bytes())?, peer)?,
            "readfd" if peer.is_request() => {
                let t = match m.fds.first() {
                    Some(fd) => fd_text(fd)?,
                    None => "nofd".into(),
                };
                mp.reply(&MpMessage::new(&m.name, t.as_bytes())?, peer)?
            }
            "nested" => {
                let sync = mp.request_sync(&MpMessage::new("nested_probe", b"")?, Duration::from_secs(1));
                let refused = matches!(sync, Err(MpError::SyncRequestInHandler(_)));
                let sent = mp.send(&MpMessage::new("nested_msg", b"from_handler")?)?;
                let async_ok = mp
                    .request_async(&MpMessage::new("nested_async", b"")?, Duration::from_millis(200), |_, r| {
                        println!("NESTED_ASYNC sent={} recv={}", r.nb_sent, r.nb_received)
                    })
                    .is_ok();
                if peer.is_request() {
                    let r = format!("refused={refused},sent={sent},async={async_ok}");
                    mp.reply(&MpMessage::new(&m.name, r.as_bytes())?, peer)?;
                }
            }
            "defer" if peer.is_request() => {
                let ms: u64 = show(&m.param).parse().unwrap_or(0);
                let (mp, peer) = (mp.clone(), peer.clone());
                let name = m.name.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(ms));
                    match MpMessage::new(&name, echo.as_bytes()) {
                        Ok(r) => {
                            if let Err(e) = mp.reply(&r, &peer) {
                                println!("{}", err_line(&e));
                            }
                        }
                        Err(e) => println!("{}", err_line(&e)),
                    }
                });
            }
            _ => {}
        }
        Ok(())
    })
}

fn open_fd(path: &str) -> std::io::Result<OwnedFd> {
    Ok(std::fs::File::open(path)?.into())
}

fn report_send(r: Result<usize, MpError>) {
    match r {
        Ok(n) => println!("SENT {n}"),
        Err(e) => println!("{}", err_line(&e)),
    }
}

fn report_sync(mp: &Mp, m: &MpMessage, timeout_ms: u64) {
    let t0 = Instant::now();
    match mp.request_sync(m, Duration::from_millis(timeout_ms)) {
        Ok(r) => println!(
            "SYNC sent={} recv={} ms={} params={}",
            r.nb_sent,
            r.nb_received,
            t0.elapsed().as_millis(),
            params(&r)
        ),
        Err(e) => println!("{}", err_line(&e)),
    }
}

fn run(mp: &Mp, tag: &str, line: &str) -> Result<bool, String> {
    let w: Vec<&str> = line.split_whitespace().collect();
    let arg = |i: usize| w.get(i).copied().ok_or_else(|| format!("missing argument {i} in {line:?}"));
    let num = |i: usize| -> Result<u64, String> { arg(i)?.parse().map_err(|e| format!("{line:?}: {e}")) };
    let msg = |name: &str, p: Vec<u8>| MpMessage { name: name.to_owned(), param: p, fds: Vec::new() };
    match w.first().copied().unwrap_or("") {
        "" => {}
        "register" => {
            let h = handler(arg(2)?, tag.to_owned()).ok_or_else(|| format!("unknown mode in {line:?}"))?;
            match mp.register(arg(1)?, h) {
                Ok(()) => println!("REGISTERED {}", arg(1)?),
                Err(e) => println!("{}", err_line(&e)),
            }
        }
        "unregister" => match mp.unregister(arg(1)?) {
            Ok(()) => println!("UNREGISTERED {}", arg(1)?),
            Err(e) => println!("{}", err_line(&e)),
        },
        "send" => report_send(mp.send(&msg(arg(1)?, param_of(arg(2)?)))),
        "sendlen" => report_send(mp.send(&msg(arg(1)?, vec![b'z'; num(2)? as usize]))),
        "sendfds" => {
            let fds = (0..num(2)?)
                .map(|_| open_fd("/dev/null"))
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(|e| e.to_string())?;
            report_send(mp.send(&msg(arg(1)?, Vec::new()).with_fds(fds)))
        }
        "sendfd" => {
            let fd = open_fd(arg(2)?).map_err(|e| e.to_string())?;
            report_send(mp.send(&msg(arg(1)?, Vec::new()).with_fds(vec![fd])))
        }
        "sync" => report_sync(mp, &msg(arg(1)?, param_of(arg(2)?)), num(3)?),
        "syncfd" => {
            let fd = open_fd(arg(2)?).map_err(|e| e.to_string())?;
            report_sync(mp, &msg(arg(1)?, Vec::new()).with_fds(vec![fd]), num(3)?)
        }
        "async" => {
            let req = msg(arg(1)?, param_of(arg(2)?));
            let t0 = Instant::now();
            let r = mp.request_async(&req, Duration::from_millis(num(3)?), move |req, r| {
                println!(
                    "ASYNC req={} sent={} recv={} ms={} params={}",
                    show(&req.param),
                    r.nb_sent,
                    r.nb_received,
                    t0.elapsed().as_millis(),
                    params(&r)
                )
            });
            match r {
                Ok(()) => println!("ASYNC_STARTED"),
                Err(e) => println!("{}", err_line(&e)),
            }
        }
        "stats" => {
            let s = mp.stats();
            println!(
                "STATS received={} dropped={} malformed={} overflow={} unhandled={} send_queued={} send_dropped={} slow_peers={} handler_errors={}",
                s.received,
                s.dropped,
                s.malformed,
                s.overflow,
                s.unhandled,
                s.send_queued,
                s.send_dropped,
                s.slow_peers,
                s.handler_errors
            );
        }
        "alive" => println!("ALIVE {}", mp.primary_alive()),
        "sendmany" => {
            let t0 = Instant::now();
            let (mut reached, mut min, mut worst) = (0usize, usize::MAX, Duration::ZERO);
            let first = if w.len() > 3 { num(3)? } else { 0 };
            for i in first..first + num(2)? {
                let t = Instant::now();
                match mp.send(&msg(arg(1)?, i.to_string().into_bytes())) {
                    Ok(n) => {
                        reached += n;
                        min = min.min(n);
                    }
                    Err(e) => {
                        println!("{}", err_line(&e));
                        return Ok(true);
                    }
                }
                worst = worst.max(t.elapsed());
            }
            println!(
                "SENTMANY reached={reached} min={min} ms={} worst_ms={}",
                t0.elapsed().as_millis(),
                worst.as_millis()
            );
        }
        "syncmany" => {
            let (n, timeout) = (num(2)?, Duration::from_millis(num(3)?));
            let (mut answered, mut worst) = (0u64, Duration::ZERO);
            for i in 0..n {
                let t = Instant::now();
                match mp.request_sync(&msg(arg(1)?, i.to_string().into_bytes()), timeout) {
                    Ok(r) if r.nb_sent > 0 && r.nb_received == r.nb_sent => answered += 1,
                    Ok(_) => {}
                    Err(e) => println!("{}", err_line(&e)),
                }
                worst = worst.max(t.elapsed());
            }
            println!("SYNCMANY answered={answered} n={n} worst_ms={}", worst.as_millis());
        }
        "quit" => return Ok(false),
        other => return Err(format!("unknown command {other:?}")),
    }
    Ok(true)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: ipc_worker primary|secondary DIR TAG [PRIMARY_PID]");
        std::process::exit(2);
    }
    let role = match args[1].as_str() {
        "primary" => MpRole::Primary,
        "secondary" => MpRole::Secondary,
        r => {
            eprintln!("unknown role {r:?}");
            std::process::exit(2);
        }
    };
    if let Ok(filter) = std::env::var("IPC_WORKER_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
    let tag = args[3].clone();
    let primary_pid = args.get(4).and_then(|p| p.parse().ok());
    let slow_peer_after = match std::env::var("IPC_WORKER_SLOW_PEER_MS") {
        Ok(ms) => match ms.parse() {
            Ok(ms) => Duration::from_millis(ms),
            Err(e) => {
                eprintln!("IPC_WORKER_SLOW_PEER_MS={ms:?}: {e} (give milliseconds)");
                std::process::exit(2);
            }
        },
        Err(_) => DEFAULT_SLOW_PEER_AFTER,
    };
    let mp = match Mp::start(MpConfig { dir: PathBuf::from(&args[2]), role, primary_pid, slow_peer_after }) {
        Ok(mp) => mp,
        Err(e) => {
            println!("{}", err_line(&e));
            std::process::exit(1);
        }
    };
    mp.on_primary_exit(|| println!("PRIMARY_EXIT"));
    println!("READY pid={} sock={}", std::process::id(), mp.socket_path().display());
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match run(&mp, &tag, line.trim()) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => println!("BADCMD {e}"),
        }
    }
    mp.shutdown();
    println!("BYE");
}
