//! simple_mp: the DPDK multi-process sample. The primary creates two mbuf rings and a pool;
//! a secondary looks them up. Each side reads commands from its prompt: `send <text>` hands
//! the text to the other side, which prints it; `quit` exits. A secondary whose primary
//! dies says so and exits with status 3.
//!
//! ```text
//! simple_mp -l 0 --proc-type=primary            # terminal 1
//! simple_mp -l 1 --proc-type=secondary          # terminal 2
//! ```

use eal::{Eal, EalError, MbufRing, PktMbufPool};
use examples_common::args::{app_cli, unknown, Arg};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const PRI_2_SEC: &str = "PRI_2_SEC";
const SEC_2_PRI: &str = "SEC_2_PRI";
const MSG_POOL: &str = "MSG_POOL";
const PROMPT: &str = "simple_mp > ";

const APP: &str = "simple_mp";
const USAGE: &str =
    "Usage: simple_mp [EAL options] [-- -h]\n  (no application options: the role comes from --proc-type)\n";

/// What the application options ask for: the usage text, or a run.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Help,
    Run,
}

/// simple_mp has no application options of its own (as DPDK's): `-h` asks for the usage,
/// anything else is refused by name.
fn parse(args: &[String]) -> Result<Asked, String> {
    let mut cli = app_cli(args);
    match cli.next_arg()? {
        None => Ok(Asked::Run),
        Some(Arg::Short('h') | Arg::Long("help")) => Ok(Asked::Help),
        Some(other) => Err(format!("{}: simple_mp takes only EAL options", unknown(other))),
    }
}

fn main() {
    let eal = examples_common::eal_init_or_exit(APP);
    let code = match parse(&eal.app_args()) {
        Ok(Asked::Help) => {
            print!("{USAGE}");
            0
        }
        Err(e) => {
            eprintln!("{APP}: {e}\n{USAGE}");
            1
        }
        Ok(Asked::Run) => match run(&eal) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{APP}: {e}");
                1
            }
        },
    };
    drop(eal);
    std::process::exit(code);
}

fn run(eal: &Eal) -> Result<(), EalError> {
    let mem = eal.memory();
    let (send, recv, pool) = if eal.is_primary() {
        let pool = PktMbufPool::create(&mem, MSG_POOL, 1023, 32, 256)?;
        let p2s = MbufRing::create(&mem, PRI_2_SEC, 1024, 0)?;
        let s2p = MbufRing::create(&mem, SEC_2_PRI, 1024, 0)?;
        (p2s, s2p, pool)
    } else {
        let pool = PktMbufPool::lookup(&mem, MSG_POOL)?;
        (MbufRing::lookup(&mem, SEC_2_PRI)?, MbufRing::lookup(&mem, PRI_2_SEC)?, pool)
    };
    println!("{} ready (pid {})", if eal.is_primary() { "primary" } else { "secondary" }, std::process::id());
    if !eal.is_primary() {
        // The rings and the pool live in the primary's memory: without it there is nothing
        // left to talk to. The prompt blocks on stdin, so leave from the callback.
        eal.mp().on_primary_exit(|| {
            eprintln!("simple_mp: the primary process has exited; a secondary cannot go on without it: exiting");
            std::process::exit(3);
        });
    }

    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let stop = stop.clone();
        move || {
            let me = eal::lcore::lcore_id().map_or("-".to_string(), |l| l.to_string());
            let mut got = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if recv.dequeue_burst(&mut got, 32) == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
                for m in got.drain(..) {
                    let text = String::from_utf8_lossy(m.data()).into_owned();
                    println!("core {me}: Received '{text}'");
                }
                let _ = std::io::stdout().flush();
            }
            0
        }
    };
    let worker = eal.lcores().workers().first().copied();
    let plain = match worker {
        Some(l) => {
            eal.lcores().remote_launch(l, receiver)?;
            None
        }
        None => Some(std::thread::spawn(receiver)),
    };

    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        print!("{PROMPT}");
        let _ = std::io::stdout().flush();
        line.clear();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let cmd = line.trim();
        if cmd == "quit" {
            break;
        } else if let Some(text) = cmd.strip_prefix("send ") {
            send_text(&pool, &send, text);
        } else if cmd == "help" {
            println!("commands: send <text> | quit | help");
        } else if !cmd.is_empty() {
            println!("bad command '{cmd}': try help");
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(l) = worker {
        eal.lcores().wait(l);
    }
    if let Some(h) = plain {
        let _ = h.join();
    }
    pool.mempool().flush_cache();
    Ok(())
}

fn send_text(pool: &PktMbufPool, ring: &MbufRing, text: &str) {
    let Some(mut m) = pool.alloc() else {
        println!("message pool is empty: the other side is not reading");
        return;
    };
    let bytes = &text.as_bytes()[..text.len().min(pool.data_room() as usize - eal::mbuf::HEADROOM as usize)];
    if let Some(d) = m.append(bytes.len() as u16) {
        d.copy_from_slice(bytes);
    }
    let mut v = vec![m];
    if ring.enqueue_burst(&mut v) == 0 {
        println!("ring {} is full: the other side is not reading", ring.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(a: &[&str]) -> Result<Asked, String> {
        parse(&std::iter::once(APP).chain(a.iter().copied()).map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn only_help_is_an_application_option() {
        assert_eq!(asked(&[]), Ok(Asked::Run));
        assert_eq!(asked(&["-h"]), Ok(Asked::Help));
        assert_eq!(asked(&["--help"]), Ok(Asked::Help));
        assert_eq!(asked(&["-p3"]), Err("unknown option '-p': simple_mp takes only EAL options".into()));
        assert_eq!(asked(&["x"]), Err("unexpected argument 'x': simple_mp takes only EAL options".into()));
    }
}
