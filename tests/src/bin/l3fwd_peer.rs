//! A traffic source and sink for l3fwd over `net_ring` ports: a secondary that injects UDP
//! frames into the ring a port receives from and reports what comes out of the rings the
//! ports transmit to.
//!
//! `l3fwd_peer <EAL args> -- IN_RING OUT_RING[,OUT_RING...] SPEC...`
//! with `SPEC = dst,ttl,src,sport,dport,bad` (`bad` = 1 corrupts the header checksum; IPv6
//! addresses make an IPv6 frame, `ttl` its hop limit, `bad` its UDP checksum), or a
//! table action done from this process before any frame is sent:
//! `lpm-add:PREFIX/DEPTH:PORT` adds a route to l3fwd's LPM table `l3fwd_lpm_v4`,
//! `em-add:DST,SRC,DPORT,SPORT,PROTO:PORT` adds a 5-tuple to its EM table `l3fwd_em_v4`,
//! `em-open:KEYLEN` opens the EM table with that key length and prints `OPEN ok` or
//! `OPEN_ERROR <why>`.
//! Frame `i` (counting frame specs only) carries `i` in its IPv4 identification field or
//! IPv6 flow label. Prints `INJECTED n`, then one
//! `GOT out=K v=4|6 id=I ttl=T csum=ok|bad dmac=.. smac=.. len=L` line per frame collected
//! from output ring `K` (`ttl` the hop limit and `csum` the UDP checksum for IPv6), then `DONE`.

use eal::{MbufRing, PktMbufPool};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// The UDP checksum of an IPv6 frame (pseudo-header and UDP header and payload, RFC 8200);
/// 0 when the checksum field is right.
fn udp6_checksum(p: &[u8]) -> u16 {
    let udp = &p[54..];
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&p[22..54]);
    pseudo.extend_from_slice(&(udp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 17]);
    pseudo.extend_from_slice(udp);
    if pseudo.len() % 2 == 1 {
        pseudo.push(0);
    }
    checksum(&pseudo)
}

fn frame6(i: u16, f: &[&str]) -> Vec<u8> {
    let dst: Ipv6Addr = f[0].parse().expect("dst");
    let src: Ipv6Addr = f[2].parse().expect("src");
    let (sport, dport): (u16, u16) = (f[3].parse().expect("sport"), f[4].parse().expect("dport"));
    let mut p = vec![0u8; 14 + 40 + 8 + 18];
    p[0..6].copy_from_slice(&[2, 0, 0, 0, 0xee, 0xee]);
    p[6..12].copy_from_slice(&[2, 0, 0, 0, 0xee, 0xef]);
    p[12..14].copy_from_slice(&[0x86, 0xdd]);
    p[14] = 0x60;
    p[16..18].copy_from_slice(&i.to_be_bytes());
    p[18..20].copy_from_slice(&26u16.to_be_bytes());
    p[20] = 17;
    p[21] = f[1].parse().expect("hop limit");
    p[22..38].copy_from_slice(&src.octets());
    p[38..54].copy_from_slice(&dst.octets());
    p[54..56].copy_from_slice(&sport.to_be_bytes());
    p[56..58].copy_from_slice(&dport.to_be_bytes());
    p[58..60].copy_from_slice(&26u16.to_be_bytes());
    for (k, b) in p[62..].iter_mut().enumerate() {
        *b = k as u8;
    }
    let mut c = udp6_checksum(&p);
    if f[5] == "1" {
        c ^= 0x5a5a;
    }
    p[60..62].copy_from_slice(&c.to_be_bytes());
    p
}

fn frame(i: u16, spec: &str) -> Vec<u8> {
    let f: Vec<&str> = spec.split(',').collect();
    assert_eq!(f.len(), 6, "SPEC is dst,ttl,src,sport,dport,bad: {spec}");
    if f[0].contains(':') {
        return frame6(i, &f);
    }
    let dst: Ipv4Addr = f[0].parse().expect("dst");
    let ttl: u8 = f[1].parse().expect("ttl");
    let src: Ipv4Addr = f[2].parse().expect("src");
    let (sport, dport): (u16, u16) = (f[3].parse().expect("sport"), f[4].parse().expect("dport"));
    let mut p = vec![0u8; 64];
    p[0..6].copy_from_slice(&[2, 0, 0, 0, 0xee, 0xee]);
    p[6..12].copy_from_slice(&[2, 0, 0, 0, 0xee, 0xef]);
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    p[16..18].copy_from_slice(&46u16.to_be_bytes());
    p[18..20].copy_from_slice(&i.to_be_bytes());
    p[22] = ttl;
    p[23] = 17;
    p[26..30].copy_from_slice(&src.octets());
    p[30..34].copy_from_slice(&dst.octets());
    p[34..36].copy_from_slice(&sport.to_be_bytes());
    p[36..38].copy_from_slice(&dport.to_be_bytes());
    p[38..40].copy_from_slice(&26u16.to_be_bytes());
    let mut c = checksum(&p[14..34]);
    if f[5] == "1" {
        c ^= 0x5a5a;
    }
    p[24..26].copy_from_slice(&c.to_be_bytes());
    p
}

/// The EM key l3fwd builds: dst ip, src ip, dst port, src port, proto (network order).
fn em_key(f: &[&str]) -> [u8; 13] {
    let mut k = [0u8; 13];
    k[0..4].copy_from_slice(&f[0].parse::<Ipv4Addr>().expect("dst").octets());
    k[4..8].copy_from_slice(&f[1].parse::<Ipv4Addr>().expect("src").octets());
    k[8..10].copy_from_slice(&f[2].parse::<u16>().expect("dport").to_be_bytes());
    k[10..12].copy_from_slice(&f[3].parse::<u16>().expect("sport").to_be_bytes());
    k[12] = f[4].parse().expect("proto");
    k
}

fn table_action(mem: &eal::Memory, act: &str) {
    let p: Vec<&str> = act.split(':').collect();
    match p[0] {
        "lpm-add" => {
            let (ip, d) = p[1].split_once('/').expect("PREFIX/DEPTH");
            let lpm = table::Lpm::lookup_by_name(mem, "l3fwd_lpm_v4").expect("l3fwd's LPM table");
            let ip = u32::from(ip.parse::<Ipv4Addr>().expect("prefix"));
            lpm.add(ip, d.parse().expect("depth"), p[2].parse().expect("port")).expect("add");
            println!("ADDED {act}");
        }
        "em-add" => {
            let h = table::HashTable::lookup_by_name(mem, "l3fwd_em_v4", 13, 8).expect("l3fwd's EM table");
            let f: Vec<&str> = p[1].split(',').collect();
            h.add(&em_key(&f), p[2].parse().expect("port")).expect("add");
            println!("ADDED {act}");
        }
        "em-open" => match table::HashTable::lookup_by_name(mem, "l3fwd_em_v4", p[1].parse().expect("len"), 8) {
            Ok(_) => println!("OPEN ok"),
            Err(e) => println!("OPEN_ERROR {e}"),
        },
        other => panic!("unknown action {other}"),
    }
}

/// A table action (`lpm-add:...`) rather than a frame spec.
fn is_action(s: &str) -> bool {
    s.split_once(':').is_some_and(|(a, _)| ["lpm-add", "em-add", "em-open"].contains(&a))
}

fn mac(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let eal = tests::worker_eal(&args);
    let a = eal.app_args();
    if a.len() < 3 {
        println!("ERROR: usage: l3fwd_peer <EAL> -- IN_RING OUT_RING[,OUT_RING...] SPEC...");
        std::process::exit(2);
    }
    let mem = eal.memory();
    let pool =
        PktMbufPool::create(&mem, &format!("l3peer_{}", std::process::id()), 1023, 0, eal::mbuf::DEFAULT_BUF_SIZE)
            .expect("pool");
    let ring = |n: &str| MbufRing::lookup(&mem, n).unwrap_or_else(|e| panic!("ring {n}: {e}"));
    let inr = ring(&a[1]);
    let outs: Vec<MbufRing> = a[2].split(',').map(ring).collect();
    let actions: Vec<&String> = a[3..].iter().filter(|s| is_action(s)).collect();
    for act in actions {
        table_action(&mem, act);
    }
    let mut injected = 0;
    for (i, spec) in a[3..].iter().filter(|s| !is_action(s)).enumerate() {
        let f = frame(i as u16, spec);
        let mut m = pool.alloc().expect("mbuf");
        m.append(f.len() as u16).expect("room").copy_from_slice(&f);
        let mut v = vec![m];
        while inr.enqueue_burst(&mut v) == 0 {
            std::thread::yield_now();
        }
        injected += 1;
    }
    println!("INJECTED {injected}");
    let end = Instant::now() + Duration::from_millis(1500);
    let mut got = Vec::new();
    while Instant::now() < end {
        for (k, r) in outs.iter().enumerate() {
            while r.dequeue_burst(&mut got, 32) > 0 {
                for m in std::mem::take(&mut got) {
                    let d = m.data();
                    let v6 = d[12..14] == [0x86, 0xdd];
                    let (id, ttl, ok) = if v6 {
                        (u16::from_be_bytes([d[16], d[17]]), d[21], udp6_checksum(d) == 0)
                    } else {
                        (u16::from_be_bytes([d[18], d[19]]), d[22], checksum(&d[14..34]) == 0)
                    };
                    println!(
                        "GOT out={k} v={} id={id} ttl={ttl} csum={} dmac={} smac={} len={}",
                        if v6 { 6 } else { 4 },
                        if ok { "ok" } else { "bad" },
                        mac(&d[0..6]),
                        mac(&d[6..12]),
                        d.len()
                    );
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    println!("DONE");
}
