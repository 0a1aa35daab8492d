//! Forwarding streams and engines. A stream takes packets from one RX queue and sends them
//! on one TX queue; each forwarding lcore runs its streams in a loop until told to stop.

use crate::config::{FwdMode, TxRetry};
use crate::csum::{CsumConf, CsumCounts};
use eal::{Mbuf, PktMbufPool};
use ethdev::Port;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One RX queue feeding one TX queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    /// RX port.
    pub rx_port: u16,
    /// RX queue.
    pub rx_q: u16,
    /// TX port.
    pub tx_port: u16,
    /// TX queue.
    pub tx_q: u16,
}

/// Counters of one stream, published by its lcore.
#[derive(Default)]
pub struct StreamCounters {
    /// Packets received.
    pub rx: AtomicU64,
    /// Packets sent.
    pub tx: AtomicU64,
    /// Packets dropped because TX had no room.
    pub dropped: AtomicU64,
    /// What the csum engine counted.
    pub csum: std::sync::Mutex<CsumCounts>,
}

/// Pairs ports 0-1, 2-3, ... (an odd last port forwards to itself) and makes one stream per
/// RX queue, sending on TX queue `q % nb_txq`.
pub fn make_streams(ports: &[u16], nb_rxq: u16, nb_txq: u16) -> Vec<Stream> {
    let mut v = Vec::new();
    for (i, &p) in ports.iter().enumerate() {
        let peer = ports.get(i ^ 1).copied().unwrap_or(p);
        for q in 0..nb_rxq {
            v.push(Stream { rx_port: p, rx_q: q, tx_port: peer, tx_q: q % nb_txq });
        }
    }
    v
}

/// Everything a forwarding lcore needs.
pub struct FwdJob {
    /// The engine.
    pub mode: FwdMode,
    /// Packets per burst.
    pub burst: usize,
    /// The streams this lcore runs, with their ports and counters.
    pub streams: Vec<(Stream, Port, Port, Arc<StreamCounters>)>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
    /// Pool for txonly.
    pub pool: PktMbufPool,
    /// Packet size for txonly.
    pub txpkts: u16,
    /// Segment lengths of a txonly packet (more than one: a chain of mbufs).
    pub tx_segs: Vec<u16>,
    /// Retrying a partly sent burst.
    pub tx_retry: TxRetry,
    /// The csum engine's settings of each TX port (`csum set`, `tso set`); ports not
    /// listed have the defaults.
    pub csum: Vec<(u16, CsumConf)>,
}

/// A template UDP/IPv4 frame for txonly.
fn template(size: u16, src: [u8; 6], dst: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; size as usize];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = size - 14;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
    ip[16..20].copy_from_slice(&[198, 18, 0, 2]);
    let mut sum = 0u32;
    for c in ip.chunks(2) {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&9u16.to_be_bytes());
    udp[2..4].copy_from_slice(&9u16.to_be_bytes());
    udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f
}

/// The default peer address testpmd uses in mac mode: `02:00:00:00:00:<port>`.
pub fn peer_mac(port: u16) -> [u8; 6] {
    [0x02, 0, 0, 0, (port >> 8) as u8, port as u8]
}

/// How many packets ahead the MAC engines prefetch (DPDK's macswap prefetches the next
/// few packets' first line while it rewrites the current one).
const PREFETCH_AHEAD: usize = 4;

/// Prefetches the first packets of a burst.
#[inline(always)]
fn prefetch_first(bufs: &[Mbuf]) {
    bufs.iter().take(PREFETCH_AHEAD).for_each(Mbuf::prefetch_data);
}

/// While packet `k` is worked on, prefetches packet `k + PREFETCH_AHEAD`.
#[inline(always)]
fn prefetch_ahead(bufs: &[Mbuf], k: usize) {
    if let Some(m) = bufs.get(k + PREFETCH_AHEAD) {
        m.prefetch_data();
    }
}

/// Swaps the destination and source MAC addresses of an Ethernet header: the 12 bytes
/// are read as an 8-byte and a 4-byte word and written back shifted (two loads, two
/// stores), not byte by byte.
#[inline(always)]
pub fn swap_macs(h: &mut [u8; 12]) {
    const MAC: u64 = (1 << 48) - 1;
    let (lo, hi) = h.split_at_mut(8);
    let (Ok(lo), Ok(hi)) = (<&mut [u8; 8]>::try_from(lo), <&mut [u8; 4]>::try_from(hi)) else { return };
    let w0 = u64::from_le_bytes(*lo);
    let w1 = u64::from(u32::from_le_bytes(*hi));
    let (dst, src) = (w0 & MAC, (w0 >> 48) | (w1 << 16));
    *lo = (src | (dst << 48)).to_le_bytes();
    *hi = ((dst >> 16) as u32).to_le_bytes();
}

/// Fills each packet of `bufs` with `frame` over a chain of mbufs of `segs` bytes each (as
/// DPDK's txonly with `--txpkts=A,B,...`), the further segments taken from `pool` in one
/// bulk allocation into `spare` (kept between bursts); when the pool is short the burst is
/// dropped.
fn chain_segments(pool: &PktMbufPool, bufs: &mut Vec<Mbuf>, spare: &mut Vec<Mbuf>, segs: &[u16], frame: &[u8]) {
    spare.clear();
    if !pool.alloc_bulk(spare, bufs.len() * (segs.len() - 1)) {
        bufs.clear();
        return;
    }
    bufs.retain_mut(|head| {
        let mut off = 0usize;
        for (k, &len) in segs.iter().enumerate() {
            let part = &frame[off..off + usize::from(len)];
            off += usize::from(len);
            if k == 0 {
                let Some(d) = head.append(len) else { return false };
                d.copy_from_slice(part);
                continue;
            }
            let Some(mut m) = spare.pop() else { return false };
            let Some(d) = m.append(len) else { return false };
            d.copy_from_slice(part);
            head.chain(m);
        }
        true
    });
}

/// Runs the job until `stop` is set; returns 0.
pub fn run(job: FwdJob) -> i32 {
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(job.burst);
    let mut spare: Vec<Mbuf> = Vec::with_capacity(job.burst * job.tx_segs.len());
    let mut local: Vec<(u64, u64, u64)> = vec![(0, 0, 0); job.streams.len()];
    let templates: Vec<Vec<u8>> =
        job.streams.iter().map(|(s, _, tx, _)| template(job.txpkts, tx.mac(), peer_mac(s.tx_port))).collect();
    let confs: Vec<CsumConf> = job
        .streams
        .iter()
        .map(|(s, ..)| job.csum.iter().find(|(p, _)| *p == s.tx_port).map(|(_, c)| *c).unwrap_or_default())
        .collect();
    let mut counts = vec![CsumCounts::default(); job.streams.len()];
    let mut iter = 0u32;
    while !job.stop.load(Ordering::Relaxed) {
        for (i, (s, rx, tx, _)) in job.streams.iter().enumerate() {
            let n = match job.mode {
                FwdMode::TxOnly => {
                    if !job.pool.alloc_bulk(&mut bufs, job.burst) {
                        continue;
                    }
                    if job.tx_segs.len() > 1 {
                        chain_segments(&job.pool, &mut bufs, &mut spare, &job.tx_segs, &templates[i]);
                    } else {
                        for m in &mut bufs {
                            if let Some(d) = m.append(job.txpkts) {
                                d.copy_from_slice(&templates[i]);
                            }
                        }
                    }
                    bufs.len()
                }
                _ => rx.rx_burst(s.rx_q, &mut bufs, job.burst).unwrap_or(0),
            };
            if n == 0 {
                continue;
            }
            let l = &mut local[i];
            if job.mode != FwdMode::TxOnly {
                l.0 += n as u64;
            }
            match job.mode {
                FwdMode::RxOnly => {
                    eal::mbuf::free_bulk(&mut bufs);
                    continue;
                }
                FwdMode::Mac => {
                    let mut macs = [0u8; 12];
                    macs[..6].copy_from_slice(&peer_mac(s.tx_port));
                    macs[6..].copy_from_slice(&tx.mac());
                    prefetch_first(&bufs);
                    for k in 0..bufs.len() {
                        prefetch_ahead(&bufs, k);
                        if let Some(h) = bufs[k].data_mut().first_chunk_mut::<12>() {
                            *h = macs;
                        }
                    }
                }
                FwdMode::MacSwap => {
                    prefetch_first(&bufs);
                    for k in 0..bufs.len() {
                        prefetch_ahead(&bufs, k);
                        if let Some(h) = bufs[k].data_mut().first_chunk_mut::<12>() {
                            swap_macs(h);
                        }
                    }
                }
                FwdMode::Csum => {
                    for m in bufs.iter_mut() {
                        crate::csum::prepare(m, &confs[i], &mut counts[i]);
                    }
                    // What the TX port refuses is dropped (and counted) here.
                    let refused = crate::tx_prep::drop_refused(&mut bufs, &mut counts[i], |b| tx.tx_prepare(b));
                    l.2 += refused as u64;
                }
                FwdMode::Io | FwdMode::TxOnly => {}
            }
            let mut sent = tx.tx_burst(s.tx_q, &mut bufs).unwrap_or(0);
            if job.tx_retry.enabled && !bufs.is_empty() {
                sent += retry_tx(tx, s.tx_q, &mut bufs, job.tx_retry);
            }
            l.1 += sent as u64;
            if !bufs.is_empty() {
                l.2 += bufs.len() as u64;
                eal::mbuf::free_bulk(&mut bufs);
            }
        }
        iter = iter.wrapping_add(1);
        if iter.is_multiple_of(4096) {
            publish(&job, &local, &counts);
        }
    }
    publish(&job, &local, &counts);
    job.pool.mempool().flush_cache();
    0
}

/// Tries the rest of a burst again while the TX queue is full, `r.retries` times at most,
/// `r.delay_us` apart (busy-waiting, as the forwarding lcore has nothing else to do);
/// returns how many more were sent. What is left is dropped by the caller.
fn retry_tx(tx: &Port, q: u16, bufs: &mut Vec<Mbuf>, r: TxRetry) -> usize {
    let mut sent = 0;
    for _ in 0..r.retries {
        if bufs.is_empty() {
            break;
        }
        let until = Instant::now() + Duration::from_micros(u64::from(r.delay_us));
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        sent += tx.tx_burst(q, bufs).unwrap_or(0);
    }
    sent
}

fn publish(job: &FwdJob, local: &[(u64, u64, u64)], counts: &[CsumCounts]) {
    for (((_, _, _, c), l), k) in job.streams.iter().zip(local).zip(counts) {
        c.rx.store(l.0, Ordering::Relaxed);
        c.tx.store(l.1, Ordering::Relaxed);
        c.dropped.store(l.2, Ordering::Relaxed);
        if job.mode == FwdMode::Csum {
            *c.csum.lock().unwrap_or_else(|p| p.into_inner()) = k.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_pair_ports_and_spread_queues() {
        let s = make_streams(&[0, 1, 2], 2, 1);
        assert_eq!(s.len(), 6);
        assert_eq!(s[0], Stream { rx_port: 0, rx_q: 0, tx_port: 1, tx_q: 0 });
        assert_eq!(s[3], Stream { rx_port: 1, rx_q: 1, tx_port: 0, tx_q: 0 });
        assert_eq!(s[4].tx_port, 2, "an odd last port forwards to itself");
    }

    #[test]
    fn swap_macs_exchanges_destination_and_source() {
        let mut h = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        swap_macs(&mut h);
        assert_eq!(h, [7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]);
        swap_macs(&mut h);
        assert_eq!(h, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn template_has_valid_ip_checksum() {
        let f = template(64, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let mut sum = 0u32;
        for c in f[14..34].chunks(2) {
            sum += u16::from_be_bytes([c[0], c[1]]) as u32;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
        assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 2]);
    }
}
