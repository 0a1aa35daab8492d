//! l2fwd: forwards between port pairs (0<->1, 2<->3), rewriting MAC addresses (destination
//! `02:00:00:00:00:<dest port>`, source = the TX port's address) unless `--no-mac-updating`,
//! printing per-port statistics every `-T` seconds; Ctrl-C prints the totals and exits
//! cleanly with every mbuf back in the pool.
//!
//! ```text
//! l2fwd -l 0-1 --vdev net_tap0 --vdev net_tap1 -- -p 0x3 -T 1
//! ```
//!
//! `--rx-intr` (or DPDK l3fwd-power's `--interrupt-only`) is the power mode: each lcore polls
//! while frames come, and after `--idle-polls N` empty rounds in a row (default 300) arms
//! its RX queues' interrupts and sleeps until a frame arrives, then disarms and polls again.
//! A port without RX interrupts is refused at start with the reason.

use eal::{Eal, Mbuf};
use ethdev::Port;
use examples_common::args::{app_cli, portmask, positive, unknown, Arg};
use examples_common::{exit_after, port_pairs, ports, setup_port, shared_pool};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const APP: &str = "l2fwd";
const USAGE: &str = "Usage: l2fwd [EAL options] -- -p PORTMASK [-q NQ] [-T PERIOD] [--[no-]mac-updating]\n\
  -p PORTMASK   hexadecimal bitmask of the ports to use (-p3, -p 0x3, --portmask=3)\n\
  -q NQ         ports (RX queues) per lcore (default 1)\n\
  -T PERIOD     statistics period in seconds (default 10, 0 to disable)\n\
  --no-mac-updating  forward frames unchanged\n\
  --rx-intr, --interrupt-only  sleep on RX interrupts after --idle-polls empty polls\n\
  --idle-polls N  empty poll rounds before sleeping (default 300)\n";
/// How long one sleep lasts at most: the stop flag is looked at this often.
const SLEEP_SLICE: Duration = Duration::from_millis(100);
const BURST: usize = 32;

#[derive(Default)]
struct PortCounters {
    tx: AtomicU64,
    rx: AtomicU64,
    dropped: AtomicU64,
}

struct Opts {
    mask: u64,
    per_lcore: usize,
    period: u64,
    mac_updating: bool,
    rx_intr: bool,
    idle_polls: u32,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts { mask: 0, per_lcore: 1, period: 10, mac_updating: true, rx_intr: false, idle_polls: 300 };
    let mut cli = app_cli(args);
    while let Some(arg) = cli.next_arg()? {
        match arg {
            Arg::Short('p') | Arg::Long("portmask") => o.mask = portmask(&mut cli, "-p")?,
            Arg::Short('q') => o.per_lcore = positive(&mut cli, "-q")?,
            Arg::Short('T') => o.period = cli.number("-T")?,
            Arg::Long("mac-updating") => o.mac_updating = true,
            Arg::Long("no-mac-updating") => o.mac_updating = false,
            Arg::Long("rx-intr") | Arg::Long("interrupt-only") => o.rx_intr = true,
            Arg::Long("idle-polls") => o.idle_polls = positive::<u32>(&mut cli, "--idle-polls")?,
            other => return Err(unknown(other)),
        }
    }
    if o.mask == 0 {
        return Err("-p PORTMASK is required".into());
    }
    Ok(o)
}

/// An RX port of an lcore: (RX port, its TX peer, their counters).
type RxPort = (Port, Port, Arc<PortCounters>, Arc<PortCounters>);

struct Job {
    rx: Vec<RxPort>,
    mac_updating: bool,
    stop: Arc<AtomicBool>,
    /// The power mode's sleeper over this lcore's RX queues (`--rx-intr`).
    sleeper: Option<ethdev::RxIdleSleeper>,
}

fn forward(job: Job) -> i32 {
    let Job { rx, mac_updating, stop, mut sleeper } = job;
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    while !stop.load(Ordering::Relaxed) {
        let got = poll_once(&rx, mac_updating, &mut bufs);
        let Some(s) = sleeper.as_mut() else {
            if got == 0 {
                std::thread::sleep(Duration::from_micros(20));
            }
            continue;
        };
        if s.idle_after(got) {
            if let Err(e) = power_sleep(s, || poll_once(&rx, mac_updating, &mut bufs)) {
                eprintln!("{APP}: RX interrupts: {e}");
                stop.store(true, Ordering::Relaxed);
                return 1;
            }
        }
    }
    0
}

/// Arms the interrupts, polls once more (a frame that came before the arming raised none)
/// and sleeps if that found nothing; the queues are disarmed again on return.
fn power_sleep(s: &mut ethdev::RxIdleSleeper, mut poll: impl FnMut() -> usize) -> Result<(), ethdev::EthError> {
    s.arm()?;
    if poll() == 0 {
        s.sleep(SLEEP_SLICE)?;
        Ok(())
    } else {
        s.disarm()
    }
}

/// One round over the lcore's RX ports: receive, rewrite, send. Returns the frames received.
fn poll_once(rx_ports: &[RxPort], mac_updating: bool, bufs: &mut Vec<Mbuf>) -> usize {
    let mut total = 0;
    for (rx, tx, rc, tc) in rx_ports {
        let n = rx.rx_burst(0, bufs, BURST).unwrap_or(0);
        if n == 0 {
            continue;
        }
        total += n;
        rc.rx.fetch_add(n as u64, Ordering::Relaxed);
        if mac_updating {
            let (src, dst) = (tx.mac(), [0x02, 0, 0, 0, (tx.id() >> 8) as u8, tx.id() as u8]);
            for m in bufs.iter_mut() {
                let d = m.data_mut();
                if d.len() >= 12 {
                    d[0..6].copy_from_slice(&dst);
                    d[6..12].copy_from_slice(&src);
                }
            }
        }
        let sent = tx.tx_burst(0, bufs).unwrap_or(0);
        tc.tx.fetch_add(sent as u64, Ordering::Relaxed);
        tc.dropped.fetch_add(bufs.len() as u64, Ordering::Relaxed);
        eal::mbuf::free_bulk(bufs);
    }
    total
}

fn print_stats(ports: &[u16], c: &[Arc<PortCounters>]) {
    println!("\nPort statistics ====================================");
    let (mut t, mut r, mut d) = (0, 0, 0);
    for (i, p) in ports.iter().enumerate() {
        let (tx, rx, dr) =
            (c[i].tx.load(Ordering::Relaxed), c[i].rx.load(Ordering::Relaxed), c[i].dropped.load(Ordering::Relaxed));
        println!("Statistics for port {p} ------------------------------");
        println!("Packets sent: {tx:>24}\nPackets received: {rx:>20}\nPackets dropped: {dr:>21}");
        t += tx;
        r += rx;
        d += dr;
    }
    println!("Aggregate statistics ===============================");
    println!("Total packets sent: {t:>18}\nTotal packets received: {r:>14}\nTotal packets dropped: {d:>15}");
    println!("====================================================");
}

fn main() {
    let eal = examples_common::eal_init_or_exit(APP);
    exit_after(APP, eal, run)
}

fn run(eal: &Eal) -> Result<(), String> {
    let o = parse(&eal.app_args()).map_err(|e| format!("{e}\n{USAGE}"))?;
    if !eal.is_primary() {
        return Err("l2fwd configures its ports: run it as the primary process".into());
    }
    let eth = ports(eal)?;
    let ports = port_pairs(&eth, Some(o.mask))?;
    let pool = shared_pool(eal, "mbuf_pool", 8191)?;
    for &p in &ports {
        setup_port(&eth, p, 1, 1, 512, 0, pool).map_err(|e| format!("port {p}: {e}"))?;
        let port = eth.port(p).map_err(|e| e.to_string())?;
        println!("Port {p}, MAC address: {}", examples_common::fmt_mac(port.mac()));
    }
    let counters: Vec<Arc<PortCounters>> = ports.iter().map(|_| Arc::default()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut lcores = eal.lcores().workers();
    let on_main = lcores.is_empty();
    if on_main {
        lcores.push(eal.lcores().main());
    }
    let mut jobs: Vec<Job> = Vec::new();
    for (i, &p) in ports.iter().enumerate() {
        let peer = i ^ 1;
        let k = (i / o.per_lcore) % lcores.len();
        while jobs.len() <= k {
            jobs.push(Job { rx: Vec::new(), mac_updating: o.mac_updating, stop: stop.clone(), sleeper: None });
        }
        let (rx, tx) = (eth.port(p).expect("port").clone(), eth.port(ports[peer]).expect("port").clone());
        jobs[k].rx.push((rx, tx, counters[i].clone(), counters[peer].clone()));
        println!("Lcore {}: RX port {p} -> TX port {}", lcores[k], ports[peer]);
    }
    if o.rx_intr {
        for job in &mut jobs {
            let mut s = ethdev::RxIdleSleeper::new(o.idle_polls).map_err(|e| e.to_string())?;
            for (rx, ..) in &job.rx {
                s.add(rx, 0).map_err(|e| format!("--rx-intr: {e}"))?;
            }
            job.sleeper = Some(s);
        }
        println!("RX interrupts: sleeping after {} empty polls", o.idle_polls);
    }
    let stats_loop = |stop: &AtomicBool| {
        let mut next = Instant::now() + Duration::from_secs(o.period.max(1));
        while !eal::signal::quit_requested() && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            if o.period > 0 && Instant::now() >= next {
                print_stats(&ports, &counters);
                next += Duration::from_secs(o.period);
            }
        }
        stop.store(true, Ordering::Relaxed);
    };
    if on_main {
        // One lcore: forward on a plain thread, statistics here.
        let job = jobs.remove(0);
        let h = std::thread::spawn(move || forward(job));
        stats_loop(&stop);
        let _ = h.join();
    } else {
        let used: Vec<u32> = lcores.iter().take(jobs.len()).copied().collect();
        for (job, &l) in jobs.into_iter().zip(&used) {
            if let Err(e) = eal.lcores().remote_launch(l, move || forward(job)) {
                eprintln!("{APP}: lcore {l}: {e}");
                stop.store(true, Ordering::Relaxed);
            }
        }
        stats_loop(&stop);
        for l in used {
            eal.lcores().wait(l);
        }
    }
    println!("\nSignal received, preparing to exit...");
    print_stats(&ports, &counters);
    examples_common::close_ports_and_report(eth, &ports, &pool);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(a: &[&str]) -> Result<Opts, String> {
        parse(&std::iter::once("l2fwd").chain(a.iter().copied()).map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn dpdk_spellings() {
        for a in [&["-p3"][..], &["-p", "3"], &["-p", "0x3"], &["--portmask=3"], &["--portmask", "0x3"]] {
            assert_eq!(opts(a).unwrap().mask, 3, "{a:?}");
        }
        let o = opts(&["-p3", "-q", "2", "-T1", "--no-mac-updating"]).unwrap();
        assert_eq!((o.per_lcore, o.period, o.mac_updating), (2, 1, false));
        assert_eq!(opts(&["-p", "3", "-q2", "-T", "0"]).unwrap().per_lcore, 2);
        let o = opts(&["-p3", "--interrupt-only", "--idle-polls", "50"]).unwrap();
        assert_eq!((o.rx_intr, o.idle_polls), (true, 50));
        assert!(opts(&["-p3", "--rx-intr"]).unwrap().rx_intr && !opts(&["-p3"]).unwrap().rx_intr);
    }

    #[test]
    fn bad_values_are_explained() {
        let e = |a: &[&str]| opts(a).err().unwrap();
        assert_eq!(e(&[]), "-p PORTMASK is required");
        assert!(e(&["-p0"]).contains("invalid portmask '0'"));
        assert!(e(&["-p3", "-q0"]).contains("invalid value '0' for -q"));
        assert!(e(&["-p3", "-T", "soon"]).contains("invalid value 'soon' for -T"));
        assert_eq!(e(&["-p3", "-x"]), "unknown option '-x'");
        assert_eq!(e(&["-p"]), "option '-p' needs a value");
        assert!(e(&["-p3", "--idle-polls", "0"]).contains("--idle-polls"));
        assert!(e(&["-p3", "--no-mac-updating=1"]).contains("takes no value"));
    }
}
