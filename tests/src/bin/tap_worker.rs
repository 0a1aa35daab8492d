//! A process the `net_tap` tests start.
//!
//! `tap_worker <EAL args> -- run [QUEUES]`: a primary (with `--vdev net_tap0,...`) or a
//! secondary; port 0 is the TAP port. The primary creates the pool `tap_pool`, configures
//! QUEUES (default 1) RX and TX queues and starts the port; a secondary looks the pool up.
//! Every process prints `LINK port=P up=B seq=S` on each link event, then
//! `READY role=R mac=M up=B seq=S`, and serves commands on stdin, each with a TAG echoed in
//! its answer:
//! - `rx TAG MAX MS`: polls every queue for up to MS ms or MAX frames; prints
//!   `FRAME TAG q=Q len=N hex=..` for each, then `RXDONE TAG n=N`;
//! - `tx TAG Q HEX`: sends one frame on queue Q; prints `TX TAG sent=N`;
//! - `sleeprx TAG COUNT THRESHOLD MS`: polls every queue, l3fwd-power style: after THRESHOLD
//!   empty polls it arms the queues' RX interrupts and sleeps (`SLEEPING TAG` the first
//!   time); prints `FRAME TAG q=Q len=N t_us=T hex=..` for each frame (T: receive time, µs
//!   since the epoch) until COUNT frames or MS ms, then `SLEEPDONE TAG n=N sleeps=S wakes=W`;
//! - `link TAG`: prints `LINKNOW TAG up=B seq=S`;
//! - `stats TAG`: prints `STATS TAG ipackets=.. opackets=.. ibytes=.. obytes=.. ierrors=.. oerrors=..`;
//! - `promisc TAG on|off`, `mtu TAG N`, `mac TAG xx:..` (primary): print `OK TAG` or `ERR TAG msg`.
//!
//! On EOF it closes everything and prints `BYE`. Errors of init print `ERROR: <message>` and
//! exit with 2.
//!
//! Helpers without EAL, run in the TAP's network namespace by the tests:
//! - `tap_worker udp-send DST_IP PORT COUNT PAYLOAD`: COUNT datagrams, each from a new socket
//!   (so a new source port, a new flow); prints `SENT n`.
//! - `tap_worker udp-paced DST_IP PORT COUNT GAP_MS`: COUNT datagrams from one socket, GAP_MS
//!   apart, payload `paced-<i>-<send time in µs since the epoch>`; prints `SENT n`.
//! - `tap_worker udp-recv BIND_IP PORT MS`: prints `UDP-READY`, then `GOT <payload>` or
//!   `UDP-TIMEOUT`.

use eal::{Eal, Mbuf, PktMbufPool};
use ethdev::{Ethdev, PortConf};
use std::io::BufRead;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("udp-send") => std::process::exit(udp_send(&args[2..])),
        Some("udp-recv") => std::process::exit(udp_recv(&args[2..])),
        Some("udp-paced") => std::process::exit(udp_paced(&args[2..])),
        _ => {}
    }
    let eal = tests::worker_eal(&args);
    let app = eal.app_args();
    let code = match app.get(1).map(String::as_str) {
        Some("run") => run(&eal, app.get(2).and_then(|s| s.parse().ok()).unwrap_or(1)),
        other => {
            println!("ERROR: unknown scenario {other:?}");
            2
        }
    };
    drop(eal);
    if code == 0 {
        println!("BYE");
    }
    std::process::exit(code);
}

fn udp_send(a: &[String]) -> i32 {
    let (Some(ip), Some(port), Some(count), Some(payload)) = (a.first(), a.get(1), a.get(2), a.get(3)) else {
        println!("ERROR: udp-send DST_IP PORT COUNT PAYLOAD");
        return 2;
    };
    let count: usize = count.parse().unwrap_or(1);
    let mut sent = 0;
    for i in 0..count {
        let r = UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| s.send_to(format!("{payload}-{i}").as_bytes(), format!("{ip}:{port}")));
        match r {
            Ok(_) => sent += 1,
            Err(e) => println!("ERROR: send: {e}"),
        }
    }
    println!("SENT {sent}");
    0
}

fn now_us() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0)
}

fn udp_paced(a: &[String]) -> i32 {
    let (Some(ip), Some(port), Some(count), Some(gap)) = (a.first(), a.get(1), a.get(2), a.get(3)) else {
        println!("ERROR: udp-paced DST_IP PORT COUNT GAP_MS");
        return 2;
    };
    let (count, gap): (usize, u64) = (count.parse().unwrap_or(1), gap.parse().unwrap_or(10));
    let s = match UdpSocket::bind("0.0.0.0:0") {
        Ok(s) => s,
        Err(e) => {
            println!("ERROR: bind: {e}");
            return 2;
        }
    };
    let mut sent = 0;
    for i in 0..count {
        std::thread::sleep(Duration::from_millis(gap));
        match s.send_to(format!("paced-{i}-{}", now_us()).as_bytes(), format!("{ip}:{port}")) {
            Ok(_) => sent += 1,
            Err(e) => println!("ERROR: send: {e}"),
        }
    }
    println!("SENT {sent}");
    0
}

fn udp_recv(a: &[String]) -> i32 {
    let (Some(ip), Some(port), Some(ms)) = (a.first(), a.get(1), a.get(2)) else {
        println!("ERROR: udp-recv BIND_IP PORT MS");
        return 2;
    };
    let s = match UdpSocket::bind(format!("{ip}:{port}")) {
        Ok(s) => s,
        Err(e) => {
            println!("ERROR: bind: {e}");
            return 2;
        }
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(ms.parse().unwrap_or(3000))));
    println!("UDP-READY");
    let mut buf = [0u8; 2048];
    match s.recv_from(&mut buf) {
        Ok((n, from)) => println!("GOT {} from={from}", String::from_utf8_lossy(&buf[..n])),
        Err(_) => println!("UDP-TIMEOUT"),
    }
    0
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    s.as_bytes()
        .chunks(2)
        .map(|c| if c.len() == 2 { u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok() } else { None })
        .collect()
}

fn run(eal: &Eal, queues: u16) -> i32 {
    let eth = match Ethdev::init(eal, &drivers::all()) {
        Ok(e) => e,
        Err(e) => {
            println!("ERROR: {e}");
            return 2;
        }
    };
    let r = serve(eal, &eth, queues);
    drop(eth);
    match r {
        Ok(()) => 0,
        Err(e) => {
            println!("ERROR: {e}");
            2
        }
    }
}

/// The `sleeprx` command: (frames, sleeps, wakes).
fn sleep_rx(
    port: &ethdev::Port,
    tag: &str,
    count: usize,
    threshold: u32,
    end: Instant,
) -> Result<(usize, u64, u64), ethdev::EthError> {
    let mut sleeper = ethdev::RxIdleSleeper::new(threshold)?;
    for q in 0..port.nb_rx_queues() {
        sleeper.add(port, q)?;
    }
    let mut n = 0;
    let mut said = false;
    let mut bufs: Vec<Mbuf> = Vec::new();
    let mut poll = |n: &mut usize| {
        let mut got = 0;
        for q in 0..port.nb_rx_queues() {
            let _ = port.rx_burst(q, &mut bufs, 32);
            let t = now_us();
            for m in bufs.drain(..) {
                println!("FRAME {tag} q={q} len={} t_us={t} hex={}", m.pkt_len(), hex(&m.to_vec()));
                got += 1;
            }
        }
        *n += got;
        got
    };
    while n < count && Instant::now() < end {
        let got = poll(&mut n);
        if sleeper.idle_after(got) {
            sleeper.arm()?;
            if poll(&mut n) == 0 {
                if !said {
                    println!("SLEEPING {tag}");
                    said = true;
                }
                sleeper.sleep(end.saturating_duration_since(Instant::now()))?;
            } else {
                sleeper.disarm()?;
            }
        }
    }
    Ok((n, sleeper.sleeps(), sleeper.wakes()))
}

fn serve(eal: &Eal, eth: &Ethdev, queues: u16) -> Result<(), String> {
    let id = *eth.port_ids().first().ok_or("no port")?;
    eth.on_link_change(Some(id), |p, l, seq| {
        let t_us =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
        println!("LINK port={p} up={} seq={seq} t_us={t_us}", l.up)
    });
    let mem = eal.memory();
    let pool = if eth.is_primary() {
        let pool =
            PktMbufPool::create(&mem, "tap_pool", 1023, 32, eal::mbuf::DEFAULT_BUF_SIZE).map_err(|e| e.to_string())?;
        let c = eth.control(id).map_err(|e| e.to_string())?;
        c.configure(&PortConf { nb_rxq: queues, nb_txq: queues, ..Default::default() }).map_err(|e| e.to_string())?;
        for q in 0..queues {
            c.rx_queue_setup(q, 256, pool).map_err(|e| e.to_string())?;
            c.tx_queue_setup(q, 256).map_err(|e| e.to_string())?;
        }
        c.start().map_err(|e| e.to_string())?;
        pool
    } else {
        PktMbufPool::lookup(&mem, "tap_pool").map_err(|e| e.to_string())?
    };
    let port = eth.port(id).map_err(|e| e.to_string())?;
    let (link, seq) = port.link();
    let mac = port.mac().iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    println!("READY role={:?} mac={mac} up={} seq={seq} queues={}", eal.role(), link.up, port.nb_rx_queues());
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let tag = w.get(1).copied().unwrap_or("-");
        match (w.first().copied(), w.len()) {
            (Some("rx"), 4) => {
                let max: usize = w[2].parse().unwrap_or(1);
                let end = Instant::now() + Duration::from_millis(w[3].parse().unwrap_or(1000));
                let mut n = 0;
                let mut bufs: Vec<Mbuf> = Vec::new();
                while n < max && Instant::now() < end {
                    for q in 0..port.nb_rx_queues() {
                        let _ = port.rx_burst(q, &mut bufs, 32);
                        for m in bufs.drain(..) {
                            println!("FRAME {tag} q={q} len={} hex={}", m.pkt_len(), hex(&m.to_vec()));
                            n += 1;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                println!("RXDONE {tag} n={n}");
            }
            (Some("sleeprx"), 5) => {
                let count: usize = w[2].parse().unwrap_or(1);
                let threshold: u32 = w[3].parse().unwrap_or(10);
                let end = Instant::now() + Duration::from_millis(w[4].parse().unwrap_or(1000));
                match sleep_rx(&port, tag, count, threshold, end) {
                    Ok((n, sleeps, wakes)) => println!("SLEEPDONE {tag} n={n} sleeps={sleeps} wakes={wakes}"),
                    Err(e) => println!("ERR {tag} {e}"),
                }
            }
            (Some("tx"), 4) => {
                let q: u16 = w[2].parse().unwrap_or(0);
                let Some(bytes) = unhex(w[3]) else {
                    println!("ERR {tag} bad hex");
                    continue;
                };
                let Some(mut m) = pool.alloc() else {
                    println!("ERR {tag} no mbuf");
                    continue;
                };
                match m.append(bytes.len() as u16) {
                    Some(d) => d.copy_from_slice(&bytes),
                    None => {
                        println!("ERR {tag} frame too long");
                        continue;
                    }
                }
                let mut v = vec![m];
                let sent = port.tx_burst(q, &mut v).map_err(|e| e.to_string());
                println!("TX {tag} sent={}", sent.unwrap_or(0));
            }
            (Some("link"), 2) => {
                let (l, s) = port.link();
                println!("LINKNOW {tag} up={} seq={s}", l.up);
            }
            (Some("stats"), 2) => {
                let s = port.stats();
                println!(
                    "STATS {tag} ipackets={} opackets={} ibytes={} obytes={} ierrors={} oerrors={}",
                    s.ipackets, s.opackets, s.ibytes, s.obytes, s.ierrors, s.oerrors
                );
            }
            (Some(op @ ("promisc" | "mtu" | "mac")), 3) => {
                let r = eth.control(id).map_err(|e| e.to_string()).and_then(|c| match op {
                    "promisc" => c.set_promiscuous(w[2] == "on").map_err(|e| e.to_string()),
                    "mtu" => c.set_mtu(w[2].parse().unwrap_or(0)).map_err(|e| e.to_string()),
                    _ => {
                        let m = drivers::net::tap::args::parse_mac(w[2]).map_err(|e| e.to_string())?;
                        c.set_mac(m).map_err(|e| e.to_string())
                    }
                });
                match r {
                    Ok(()) => println!("OK {tag}"),
                    Err(e) => println!("ERR {tag} {e}"),
                }
            }
            _ => println!("ERR {tag} unknown command: {line}"),
        }
    }
    Ok(())
}
