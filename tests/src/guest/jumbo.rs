//! `jumbo N MTU [LABEL]`: jumbo frames each way on port 0, configured with MTU `MTU` and
//! `RxOffloads::SCATTER` (2 KiB mbufs, so long frames arrive as chains): N frames from the
//! host peer of up to MTU + 14 bytes, checked byte for byte after reassembly (and frames
//! longer than one buffer must arrive chained), then N such frames sent to the peer as
//! chains of 2 KiB mbufs (each must leave as one frame; the peer checks them), or from one
//! big mbuf each on a port without `TxOffloads::MULTI_SEGS`. The port's
//! counters must match what moved, with no error.

use super::frames::{self, HOST_MAC, TAG_G2H, TAG_H2G};
use super::port::{self, Layout};
use super::say;
use eal::{Eal, Mbuf, PktMbufPool};
use ethdev::{Ethdev, Port, RxOffloads, TxOffloads};
use std::time::{Duration, Instant};

/// Data bytes per TX segment: what one default mbuf holds after its headroom.
const SEG: usize = 2048;

/// Runs the scenario (see the module documentation).
pub fn run(eal: &Eal, eth: &Ethdev, n: u32, mtu: u16, label: &str, layout: Layout) -> Result<(), String> {
    let pool = port::pool(eal)?;
    let info = eth.control(0).map_err(|e| e.to_string())?.info();
    say("max_mtu", info.max_mtu);
    say("max_rx_pktlen", info.max_rx_pktlen());
    port::start_with(eth, 0, pool, layout, Some(mtu), RxOffloads::SCATTER)?;
    let p = eth.port(0).map_err(|e| e.to_string())?;
    if p.mtu() != mtu {
        return Err(format!("MTU is {} after configure, asked {mtu}", p.mtu()));
    }
    let max_len = usize::from(mtu) + 14;
    say("READY", format!("jumbo-{label} {} max_len={max_len}", p.name()));
    let (rx_bytes, chained) = receive(&p, n, max_len, Duration::from_secs(180))?;
    say("rx_chained", chained);
    say("RX_DONE", p.name());
    // A port that sends no chains (virtio) sends each frame from one big mbuf.
    let chains = p.tx_limits().offloads.contains(TxOffloads::MULTI_SEGS);
    let tx_pool = if chains {
        pool
    } else {
        let room = u16::try_from(max_len).map_err(|_| "frame too long")? + eal::mbuf::HEADROOM;
        PktMbufPool::create(&eal.memory(), "jumbo_tx", 255, 0, room).map_err(|e| e.to_string())?
    };
    let tx_bytes = send(&p, &tx_pool, n, max_len, chains, Duration::from_secs(180))?;
    let pc = eth.control(0).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    while pc.stats_get().opackets < u64::from(n) && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = pc.stats_get();
    say("stats", format!("{s:?}"));
    port::dump_xstats(eth, 0, "xstats");
    let n = u64::from(n);
    for (what, got, want) in [
        ("ipackets", s.ipackets, n),
        ("ibytes", s.ibytes, rx_bytes),
        ("opackets", s.opackets, n),
        ("obytes", s.obytes, tx_bytes),
        ("ierrors", s.ierrors, 0),
        ("imissed", s.imissed, 0),
        ("rx_nombuf", s.rx_nombuf, 0),
    ] {
        if got != want {
            return Err(format!("counter {what} is {got}, expected {want}"));
        }
    }
    if chained == 0 {
        return Err("no received frame spanned several buffers".into());
    }
    say("STATS_OK", p.name());
    Ok(())
}

/// Receives `n` jumbo frames and checks each; returns their bytes and how many arrived as
/// chains.
fn receive(p: &Port, n: u32, max_len: usize, timeout: Duration) -> Result<(u64, u64), String> {
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(port::BURST);
    let (mut got, mut bytes, mut chained) = (0u32, 0u64, 0u64);
    let deadline = Instant::now() + timeout;
    let t0 = Instant::now();
    while got < n {
        bufs.clear();
        if p.rx_burst(0, &mut bufs, port::BURST).map_err(|e| e.to_string())? == 0 {
            if Instant::now() > deadline {
                return Err(format!("timeout: {got} of {n} jumbo frames received; {:?}", p.stats()));
            }
            std::hint::spin_loop();
            continue;
        }
        for m in bufs.drain(..) {
            let data = m.to_vec();
            frames::check_jumbo(&data, got, max_len, TAG_H2G, p.mac(), HOST_MAC)?;
            // At most 2 KiB in a segment (a virtio buffer after the first holds 12 bytes
            // more): one segment exactly when the frame fits one.
            let segs = usize::from(m.nb_segs());
            if (segs > 1) != (data.len() > SEG) || segs > data.len().div_ceil(SEG) {
                return Err(format!("jumbo frame {got}: {} bytes in {segs} segments", data.len()));
            }
            chained += u64::from(segs > 1);
            bytes += data.len() as u64;
            got += 1;
        }
    }
    say("rx", format!("frames={got} bytes={bytes} elapsed_ms={}", t0.elapsed().as_millis()));
    Ok((bytes, chained))
}

/// Sends `n` jumbo frames, each a chain of mbufs of at most [`SEG`] bytes (the first one of
/// every three split at the Ethernet header as well), or each in one mbuf of `pool` when
/// not `chains`; returns their bytes.
fn send(p: &Port, pool: &PktMbufPool, n: u32, max_len: usize, chains: bool, timeout: Duration) -> Result<u64, String> {
    let deadline = Instant::now() + timeout;
    let (mut bytes, mut nb_chained) = (0u64, 0u64);
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(port::BURST);
    let mut next = 0;
    while next < n || !bufs.is_empty() {
        while bufs.len() < port::BURST && next < n {
            let f = frames::build_jumbo(next, max_len, TAG_G2H, HOST_MAC, p.mac());
            let mut pieces: Vec<&[u8]> = Vec::new();
            let body = if !chains {
                pieces.push(&f[..]);
                &f[f.len()..]
            } else if next.is_multiple_of(3) {
                pieces.push(&f[..14]);
                &f[14..]
            } else {
                &f[..]
            };
            pieces.extend(body.chunks(SEG));
            let mut head: Option<Mbuf> = None;
            for piece in pieces {
                let mut m = pool.alloc().ok_or("mempool empty")?;
                m.append(piece.len() as u16).ok_or("mbuf too small")?.copy_from_slice(piece);
                match head.as_mut() {
                    None => head = Some(m),
                    Some(h) => h.chain(m),
                }
            }
            let m = head.ok_or("empty frame")?;
            nb_chained += u64::from(m.nb_segs() > 1);
            bytes += f.len() as u64;
            bufs.push(m);
            next += 1;
        }
        p.tx_prepare(&bufs).map_err(|e| format!("tx_prepare: {e}"))?;
        p.tx_burst(0, &mut bufs).map_err(|e| e.to_string())?;
        if Instant::now() > deadline {
            return Err(format!("timeout with {} jumbo frames unsent", bufs.len()));
        }
    }
    say("tx_chained", nb_chained);
    Ok(bytes)
}
