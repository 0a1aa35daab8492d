//! A UDP echo pair for tests across network namespaces (no ping needed on the machine):
//! `udp_echo serve ADDR:PORT COUNT` echoes COUNT datagrams then exits;
//! `udp_echo send ADDR:PORT COUNT` sends COUNT numbered datagrams, waits for each echo
//! (retrying), and prints `ECHOED n/COUNT`.

use std::net::UdpSocket;
use std::time::Duration;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: udp_echo serve|send ADDR:PORT COUNT");
        std::process::exit(2);
    }
    let count: u32 = a[3].parse().unwrap_or(1);
    match a[1].as_str() {
        "serve" => {
            let s = UdpSocket::bind(&a[2]).unwrap_or_else(|e| panic!("bind {}: {e}", a[2]));
            s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
            println!("SERVING");
            let mut buf = [0u8; 2048];
            for _ in 0..count {
                match s.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        let _ = s.send_to(&buf[..n], from);
                    }
                    Err(e) => {
                        eprintln!("udp_echo: {e}");
                        std::process::exit(1);
                    }
                }
            }
        }
        "send" => {
            let s = UdpSocket::bind("0.0.0.0:0").expect("bind");
            s.set_read_timeout(Some(Duration::from_millis(700))).expect("timeout");
            let mut ok = 0;
            let mut buf = [0u8; 2048];
            for i in 0..count {
                let msg = format!("bypass echo {i}");
                for _try in 0..6 {
                    let _ = s.send_to(msg.as_bytes(), &a[2]);
                    if let Ok((n, _)) = s.recv_from(&mut buf) {
                        if &buf[..n] == msg.as_bytes() {
                            ok += 1;
                            break;
                        }
                    }
                }
            }
            println!("ECHOED {ok}/{count}");
            std::process::exit(if ok == count { 0 } else { 1 });
        }
        _ => {
            eprintln!("usage: udp_echo serve|send ADDR:PORT COUNT");
            std::process::exit(2);
        }
    }
}
