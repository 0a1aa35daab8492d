//! Host test of the RX/TX queue logic: descriptors in real memory (an anonymous arena, IOVA
//! = VA), a software register file, and a tiny fake device that plays the NIC's part:
//! it consumes armed RX descriptors up to the tail, writes frames and write-backs, and
//! transmits TX descriptors up to the tail, writing back DD.

use super::desc::{RxStatus, RxWriteBack, TxCmd, TxData, RSS_TYPE_IPV4_UDP, TXD_STAT_DD};

/// DD|EOP: a whole frame in one descriptor.
const DD_EOP: u32 = RxStatus::DD.bits() | RxStatus::EOP.bits();
use super::queue::{self, QueueMem};
use super::ring::{self, RingRegs};
use super::{rx, tx, RxParams, RX_FRAME_ERRORS_82576};
use crate::net::intel::reg_io::SoftRegs;
use crate::net::intel::RegIo;
use eal::{shm, Mbuf, Memory, PktMbufPool};
use ethdev::QueueCounters;
use std::sync::atomic::{AtomicU64, Ordering};

const RX_BLOCK: usize = 0x100;
const TX_BLOCK: usize = 0x200;

fn counters() -> QueueCounters {
    QueueCounters {
        packets: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        nombuf: AtomicU64::new(0),
    }
}

/// The device's side of one RX and one TX queue.
struct FakeDev<'a> {
    regs: &'a SoftRegs,
    rx: QueueMem,
    rx_rr: RingRegs,
    tx: QueueMem,
    tx_rr: RingRegs,
    rx_head: usize,
    tx_head: usize,
    tx_descs: usize,
}

impl FakeDev<'_> {
    /// Writes `frame` into the next armed RX descriptor with write-back status `status`;
    /// false when the software has given no free descriptor (the tail is reached).
    fn receive(&mut self, frame: &[u8], hash: u32, status: u32) -> bool {
        let nb = self.rx.nb();
        assert_eq!(self.regs.read32(self.rx_rr.len) as usize, nb * 16, "RDLEN programmed");
        if self.rx_head == self.regs.read32(self.rx_rr.tail) as usize {
            return false;
        }
        let [pkt, hdr] = self.rx.ring.raw(self.rx_head);
        assert_eq!(hdr, 0, "read format: no header buffer, DD clear");
        assert_eq!(pkt % 8, 0);
        let words = shm::shared_slice::<AtomicU64>(pkt, frame.len().div_ceil(8)).unwrap();
        for (w, chunk) in words.iter().zip(frame.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            w.store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
        let wb = RxWriteBack {
            rss_type: RSS_TYPE_IPV4_UDP,
            pkt_type: 0x11,
            rss_hash: hash,
            status_error: status,
            len: frame.len() as u16,
            vlan: 0,
        };
        let (w0, w1) = wb.encode();
        self.rx.ring.set_raw(self.rx_head, [w0, w1]);
        self.rx_head = (self.rx_head + 1) % nb;
        self.regs.set(self.rx_rr.head, self.rx_head as u32);
        true
    }

    /// Transmits every descriptor up to the tail; returns the frames (EOP-delimited).
    fn transmit(&mut self) -> Vec<Vec<u8>> {
        let nb = self.tx.nb();
        let mut out = Vec::new();
        let mut cur = Vec::new();
        while self.tx_head != self.regs.read32(self.tx_rr.tail) as usize {
            let [w0, w1] = self.tx.ring.raw(self.tx_head);
            let d = TxData::decode(w0, w1);
            assert_eq!(d.dtyp, 3, "advanced data descriptor");
            assert_eq!(d.dcmd & (TxCmd::DEXT | TxCmd::IFCS | TxCmd::RS), TxCmd::DEXT | TxCmd::IFCS | TxCmd::RS);
            cur.extend_from_slice(shm::shared_slice::<u8>(d.addr, d.len as usize).unwrap());
            if d.dcmd.contains(TxCmd::EOP) {
                assert_eq!(d.paylen as usize, cur.len(), "PAYLEN is the packet length");
                out.push(std::mem::take(&mut cur));
            }
            self.tx.ring.set_raw(self.tx_head, [w0, w1 | (u64::from(TXD_STAT_DD) << 32)]);
            self.tx_head = (self.tx_head + 1) % nb;
            self.tx_descs += 1;
            self.regs.set(self.tx_rr.head, self.tx_head as u32);
        }
        assert!(cur.is_empty(), "a packet's descriptors were all handed over at once");
        out
    }
}

fn frame(i: usize) -> Vec<u8> {
    let len = [60usize, 64, 128, 333, 1000, 1514, 2048][i % 7];
    (0..len).map(|k| (i * 7 + k) as u8).collect()
}

fn mbuf_of(pool: &PktMbufPool, data: &[u8]) -> Mbuf {
    let mut m = pool.alloc().unwrap();
    m.append(data.len() as u16).unwrap().copy_from_slice(data);
    m
}

#[test]
fn rx_and_tx_bursts_against_a_fake_device() {
    let mem = Memory::anonymous(32 << 20).unwrap();
    let pool = PktMbufPool::create(&mem, "adv_pool", 2048, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
    let regs = SoftRegs::new(0x1000);
    let (rx_rr, tx_rr) = (RingRegs::block(RX_BLOCK), RingRegs::block(TX_BLOCK));
    let (rx_mz, rxq) = queue::reserve(&mem, "adv_rxq", 64).unwrap();
    let (tx_mz, txq) = queue::reserve(&mem, "adv_txq", 64).unwrap();
    let p = RxParams {
        tail_reg: rx_rr.tail,
        frame_errors: RX_FRAME_ERRORS_82576,
        buf_len: 2048,
        port: 3,
        cksum: None,
        scatter: false,
        vlan_strip: false,
    };

    // Bring-up as a driver does it.
    rx::fill(&rxq, &p, &pool, None).unwrap();
    ring::program(&regs, &rx_rr, &rxq, rx_mz.iova());
    regs.write32(rx_rr.tail, rx::initial_tail(&rxq));
    tx::reset(&txq);
    ring::program(&regs, &tx_rr, &txq, tx_mz.iova());
    let w = regs.take_writes();
    assert!(w.contains(&(rx_rr.bal, rx_mz.iova() as u32)) && w.contains(&(rx_rr.bah, (rx_mz.iova() >> 32) as u32)));
    assert!(w.contains(&(tx_rr.len, 64 * 16)));
    assert_eq!(w.last(), Some(&(tx_rr.tail, 0)));
    assert_eq!(pool.mempool().in_use_count(), 64, "every RX descriptor holds an mbuf");

    let mut dev = FakeDev { regs: &regs, rx: rxq, rx_rr, tx: txq, tx_rr, rx_head: 0, tx_head: 0, tx_descs: 0 };
    let (rc, tc) = (counters(), counters());

    // RX: 1000 frames of mixed sizes, delivered while the ring has room, bursts of 32; a
    // second view of the queue memory (what a secondary builds) polls every other burst.
    let rx_view2 = QueueMem::at(rx_mz.addr(), 64).unwrap();
    let (mut sent, mut got) = (0usize, Vec::new());
    let mut round = 0;
    while got.len() < 1000 {
        while sent < 1000 && dev.receive(&frame(sent), sent as u32, DD_EOP) {
            sent += 1;
        }
        let q = if round % 2 == 0 { &rxq } else { &rx_view2 };
        let n = rx::burst(&regs, q, &p, &pool, None, &rc, &mut got, 32);
        assert!(n <= 32);
        round += 1;
        assert!(round < 10_000, "RX stalled at {} of 1000 frames", got.len());
    }
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.to_vec(), frame(i), "frame {i} intact");
        assert_eq!((m.port(), m.rss_hash()), (3, i as u32));
    }
    assert_eq!(rc.packets.load(Ordering::Relaxed), 1000);
    assert_eq!(rc.bytes.load(Ordering::Relaxed), (0..1000).map(|i| frame(i).len() as u64).sum::<u64>());
    let tails: Vec<_> = regs.take_writes().into_iter().filter(|(o, _)| *o == rx_rr.tail).collect();
    assert!(!tails.is_empty() && tails.len() < 1000 / 8, "tail written in batches ({} writes)", tails.len());
    assert_eq!(pool.mempool().in_use_count(), 64 + 1000, "the ring is refilled");
    drop(got);

    // RX errors: a frame with a CRC error, and a frame over two descriptors, are dropped.
    let mut got = Vec::new();
    rx::burst(&regs, &rxq, &p, &pool, None, &rc, &mut got, 32); // hand back held descriptors
    assert!(dev.receive(&frame(1), 1, DD_EOP | 0x0100_0000));
    assert!(dev.receive(&frame(2), 2, RxStatus::DD.bits()));
    assert!(dev.receive(&frame(3), 3, DD_EOP));
    assert!(dev.receive(&frame(4), 4, DD_EOP | 0x2000_0000)); // checksum error only
    assert_eq!(rx::burst(&regs, &rxq, &p, &pool, None, &rc, &mut got, 32), 1);
    assert_eq!(got[0].to_vec(), frame(4));
    assert_eq!(rc.errors.load(Ordering::Relaxed), 3);
    drop(got);

    // TX: 1000 mbufs of mixed sizes (some cross a 4 KiB page of the arena and take two
    // descriptors), sent in bursts of 32 while the device drains the ring now and then.
    let frames: Vec<Vec<u8>> = (0..1000).map(frame).collect();
    let mut pending: Vec<Mbuf> = Vec::new();
    let (mut queued, mut out) = (0usize, Vec::new());
    let mut round = 0;
    while out.len() < 1000 {
        while pending.len() < 32 && queued < 1000 {
            pending.push(mbuf_of(&pool, &frames[queued]));
            queued += 1;
        }
        let before = pending.len();
        let n = tx::burst(&regs, tx_rr.tail, &txq, &mem, &tc, &mut pending);
        assert_eq!(before - pending.len(), n);
        if round % 3 == 2 || n == 0 {
            out.extend(dev.transmit());
        }
        round += 1;
        assert!(round < 10_000, "TX stalled at {} of 1000 frames", out.len());
    }
    assert_eq!(out, frames, "every frame sent once, intact, in order");
    assert!(dev.tx_descs > 1000, "buffers crossing a page were split ({} descriptors)", dev.tx_descs);
    assert_eq!(tc.packets.load(Ordering::Relaxed), 1000);
    assert!(tx::free_descs(&txq) < 63, "written-back descriptors are reclaimed lazily");
    tx::reclaim(&txq);
    assert_eq!(tx::free_descs(&txq), 63);
    assert_eq!(pool.mempool().in_use_count(), 64, "sent mbufs went back to the pool");

    // A chained mbuf goes out as one frame of its segments in order; an empty one is
    // dropped and counted.
    let mut chained = mbuf_of(&pool, &frames[0]);
    chained.chain(mbuf_of(&pool, &frames[1]));
    let mut bufs = vec![chained, pool.alloc().unwrap(), mbuf_of(&pool, &frames[2])];
    assert_eq!(tx::burst(&regs, tx_rr.tail, &txq, &mem, &tc, &mut bufs), 3);
    assert_eq!(dev.transmit(), vec![[frames[0].clone(), frames[1].clone()].concat(), frames[2].clone()]);
    assert_eq!(tc.errors.load(Ordering::Relaxed), 1);

    // A full ring refuses what does not fit and leaves it with the caller.
    let mut many: Vec<Mbuf> = (0..100).map(|i| mbuf_of(&pool, &frames[i % 3])).collect();
    let n = tx::burst(&regs, tx_rr.tail, &txq, &mem, &tc, &mut many);
    assert!(n > 0 && n <= 63 && many.len() == 100 - n);
    assert_eq!(dev.transmit().len(), n);
    drop(many);

    // Stop: the queues give back every mbuf.
    rxq.release_all();
    txq.release_all();
    assert!(pool.mempool().is_full());
}

#[test]
fn rx_fill_reports_a_small_pool() {
    let mem = Memory::anonymous(8 << 20).unwrap();
    let pool = PktMbufPool::create(&mem, "adv_small", 16, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
    let (_mz, q) = queue::reserve(&mem, "adv_q", 64).unwrap();
    let p = RxParams {
        tail_reg: 0x18,
        frame_errors: 0,
        buf_len: 2048,
        port: 0,
        cksum: None,
        scatter: false,
        vlan_strip: false,
    };
    let e = rx::fill(&q, &p, &pool, None).unwrap_err().to_string();
    assert!(e.contains("ran out") && e.contains("adv_small"), "{e}");
    assert!(pool.mempool().is_full(), "a failed fill gives the mbufs back");
    let tiny = PktMbufPool::create(&mem, "adv_tiny", 128, 0, 1024).unwrap();
    let e = rx::fill(&q, &p, &tiny, None).unwrap_err().to_string();
    assert!(e.contains("data room"), "{e}");
}

impl FakeDev<'_> {
    /// Writes `frame` over as many 2048-byte buffers as it needs, EOP on the last, plus
    /// `extra` status bits on descriptor `bad_at` (if any); stops after `upto` descriptors.
    /// Returns how many descriptors were written.
    fn receive_scattered(&mut self, frame: &[u8], upto: usize, bad_at: Option<(usize, u32)>) -> usize {
        let chunks: Vec<&[u8]> = frame.chunks(2048).collect();
        let mut n = 0;
        for (k, c) in chunks.iter().enumerate().take(upto) {
            let mut status = if k + 1 == chunks.len() { DD_EOP } else { RxStatus::DD.bits() };
            if let Some((at, bits)) = bad_at {
                if at == k {
                    status |= bits;
                }
            }
            if !self.receive(c, 77, status) {
                break;
            }
            n += 1;
        }
        n
    }
}

fn jumbo(i: usize) -> Vec<u8> {
    let len = [9018usize, 4096, 60, 2049, 16128, 1514, 6000][i % 7];
    (0..len).map(|k| (i * 13 + k * 7 + k / 251) as u8).collect()
}

#[test]
fn scattered_frames_arrive_as_chains() {
    let mem = Memory::anonymous(64 << 20).unwrap();
    let pool = PktMbufPool::create(&mem, "sc_pool", 4096, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
    let regs = SoftRegs::new(0x1000);
    let (rx_rr, tx_rr) = (RingRegs::block(RX_BLOCK), RingRegs::block(TX_BLOCK));
    let (rx_mz, rxq) = queue::reserve(&mem, "sc_rxq", 32).unwrap();
    let (_tx_mz, txq) = queue::reserve(&mem, "sc_txq", 32).unwrap();
    let p = RxParams {
        tail_reg: rx_rr.tail,
        frame_errors: RX_FRAME_ERRORS_82576,
        buf_len: 2048,
        port: 5,
        cksum: None,
        scatter: true,
        vlan_strip: false,
    };
    rx::fill(&rxq, &p, &pool, None).unwrap();
    ring::program(&regs, &rx_rr, &rxq, rx_mz.iova());
    regs.write32(rx_rr.tail, rx::initial_tail(&rxq));
    let mut dev = FakeDev { regs: &regs, rx: rxq, rx_rr, tx: txq, tx_rr, rx_head: 0, tx_head: 0, tx_descs: 0 };
    let rc = counters();

    // 300 frames of 1 to 8 buffers, bursts of at most 3 frames, polled from two views of the
    // queue (a secondary's is the second): each arrives whole, byte for byte, in order.
    let view2 = QueueMem::at(rx_mz.addr(), 32).unwrap();
    let (mut sent, mut partial, mut got) = (0usize, 0usize, Vec::new());
    let mut round = 0;
    while got.len() < 300 {
        while sent < 300 {
            let f = jumbo(sent);
            let segs = f.len().div_ceil(2048);
            // The device writes a frame only when it has buffers for all of it (QEMU's
            // models do), and sometimes leaves one half-written until the next round.
            let wrote = dev.receive_scattered(&f[partial * 2048..], if round % 5 == 1 { 1 } else { usize::MAX }, None);
            partial += wrote;
            if partial < segs {
                break;
            }
            partial = 0;
            sent += 1;
        }
        let q = if round % 2 == 0 { &rxq } else { &view2 };
        rx::burst(&regs, q, &p, &pool, None, &rc, &mut got, 3);
        round += 1;
        assert!(round < 20_000, "RX stalled at {} of 300 frames", got.len());
    }
    for (i, m) in got.iter().enumerate() {
        let f = jumbo(i);
        assert_eq!(m.nb_segs() as usize, f.len().div_ceil(2048), "frame {i}: one segment per buffer");
        assert_eq!(m.pkt_len() as usize, f.len());
        assert!(m.to_vec() == f, "frame {i} ({} bytes) intact", f.len());
        assert_eq!((m.port(), m.rss_hash()), (5, 77));
    }
    assert_eq!(rc.packets.load(Ordering::Relaxed), 300);
    assert_eq!(rc.bytes.load(Ordering::Relaxed), (0..300).map(|i| jumbo(i).len() as u64).sum::<u64>());
    assert_eq!(rc.errors.load(Ordering::Relaxed), 0);
    drop(got);

    // A frame with an error on a middle descriptor is dropped whole, counted once, and its
    // buffers go back to the device; the next frame arrives.
    let mut got = Vec::new();
    let in_use = pool.mempool().in_use_count();
    assert_eq!(dev.receive_scattered(&jumbo(0), usize::MAX, Some((2, 0x0100_0000))), 5);
    assert_eq!(dev.receive_scattered(&jumbo(1), usize::MAX, None), 2);
    assert_eq!(rx::burst(&regs, &rxq, &p, &pool, None, &rc, &mut got, 32), 1);
    assert!(got[0].to_vec() == jumbo(1));
    assert_eq!(rc.errors.load(Ordering::Relaxed), 1);
    drop(got);
    assert_eq!(pool.mempool().in_use_count(), in_use, "no mbuf lost or leaked by the drop");

    // The device reports checksums and the stripped tag in a frame's last write-back: a
    // chain gets the flags of its EOP descriptor (bad L4 checksum, VLAN stripped), not of
    // its first.
    let flagged = RxParams { cksum: Some(crate::net::intel::rx_cksum::ADV_82576), vlan_strip: true, ..p };
    let eop_bits = RxStatus::VP.bits() | RxStatus::L4I.bits() | RxStatus::IPCS.bits() | (1 << 29);
    assert_eq!(dev.receive_scattered(&jumbo(1), usize::MAX, Some((1, eop_bits))), 2);
    let mut got = Vec::new();
    assert_eq!(rx::burst(&regs, &rxq, &flagged, &pool, None, &rc, &mut got, 32), 1);
    let f = got[0].ol_flags();
    assert_eq!(got[0].nb_segs(), 2);
    assert!(f.contains(eal::mbuf::OlFlags::RX_IP_CKSUM_GOOD | eal::mbuf::OlFlags::RX_L4_CKSUM_BAD), "{f:?}");
    assert!(f.contains(eal::mbuf::OlFlags::RX_VLAN_STRIPPED), "{f:?}");
    assert_eq!(rc.errors.load(Ordering::Relaxed), 1, "a checksum error is no frame error");
    drop(got);

    // The device runs into the tail in the middle of a frame: the burst takes nothing of it
    // but hands back the descriptors it held, and the device finishes the frame.
    let mut got = Vec::new();
    rx::burst(&regs, &rxq, &p, &pool, None, &rc, &mut got, 32);
    let _ = regs.take_writes();
    let big: Vec<u8> = (0..28 * 2048).map(|k| (k % 241) as u8).collect();
    let first = dev.receive_scattered(&big, usize::MAX, None);
    assert!(first < 28, "the ring is too short for the frame before the tail moves ({first})");
    assert_eq!(rx::burst(&regs, &rxq, &p, &pool, None, &rc, &mut got, 32), 0);
    assert!(regs.take_writes().iter().any(|(o, _)| *o == rx_rr.tail), "a starved device gets the held descriptors");
    let rest = dev.receive_scattered(&big[first * 2048..], usize::MAX, None);
    assert_eq!(first + rest, 28, "the device finished the frame");
    assert_eq!(rx::burst(&regs, &rxq, &p, &pool, None, &rc, &mut got, 32), 1);
    assert_eq!(got[0].nb_segs(), 28);
    assert!(got[0].to_vec() == big);
    drop(got);
    rxq.release_all();
    assert!(pool.mempool().is_full());
}

/// A packet of `len` bytes asking for `flags` with TCP/IPv4 header lengths and MSS `mss`.
fn offloaded(pool: &PktMbufPool, len: u16, flags: eal::mbuf::OlFlags, mss: u16) -> Mbuf {
    let mut m = mbuf_of(pool, &vec![0x5a; usize::from(len)]);
    m.set_ol_flags(flags);
    m.set_tx_offload(eal::mbuf::TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 20, tso_segsz: mss });
    m
}

#[test]
fn tx_offloads_write_a_context_only_when_it_changes_and_reclaim_past_it() {
    use super::tx_ctx::{POPTS_IXSM, POPTS_TXSM};
    use eal::mbuf::OlFlags;
    let mem = Memory::anonymous(16 << 20).unwrap();
    let pool = PktMbufPool::create(&mem, "adv_ol_pool", 256, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
    let regs = SoftRegs::new(0x1000);
    let tx_rr = RingRegs::block(TX_BLOCK);
    let (tx_mz, txq) = queue::reserve(&mem, "adv_ol_txq", 64).unwrap();
    tx::reset(&txq);
    ring::program(&regs, &tx_rr, &txq, tx_mz.iova());
    let tc = counters();
    let csum = OlFlags::TX_IPV4 | OlFlags::TX_IP_CKSUM | OlFlags::TX_TCP_CKSUM;
    let tso = csum | OlFlags::TX_TCP_SEG;
    // plain, csum, csum (same context), TSO (new context), csum (back: new context), plain
    // with only TX_IPV4 (no request).
    let mut bufs = vec![
        mbuf_of(&pool, &frame(0)),
        offloaded(&pool, 100, csum, 0),
        offloaded(&pool, 200, csum, 0),
        offloaded(&pool, 1514, tso, 800),
        offloaded(&pool, 300, csum, 0),
        offloaded(&pool, 90, OlFlags::TX_IPV4, 0),
    ];
    assert_eq!(tx::burst(&regs, tx_rr.tail, &txq, &mem, &tc, &mut bufs), 6);
    assert_eq!(tc.packets.load(Ordering::Relaxed), 6);
    let tail = regs.read32(tx_rr.tail) as usize;
    // Walk the ring as the device does: context descriptors (DTYP 2, no RS) are not
    // written back; data descriptors carry the packet's offload bits.
    let mut kinds = Vec::new();
    let mut contexts = 0;
    for i in 0..tail {
        let [w0, w1] = txq.ring.raw(i);
        let d = TxData::decode(w0, w1);
        match d.dtyp {
            2 => {
                assert!(!d.dcmd.contains(TxCmd::RS), "no write-back asked for a context descriptor");
                kinds.push(if (w1 >> 32) >> 16 == 800 { "ctx-tso" } else { "ctx" });
                contexts += 1;
            }
            3 => {
                let popts = w1 & (POPTS_IXSM | POPTS_TXSM);
                txq.ring.set_raw(i, [w0, w1 | (u64::from(TXD_STAT_DD) << 32)]);
                if !d.dcmd.contains(TxCmd::EOP) {
                    continue; // a buffer split at a page boundary: the packet goes on
                }
                kinds.push(match (popts != 0, d.dcmd.contains(TxCmd::TSE)) {
                    (false, _) => "plain",
                    (true, false) => "csum",
                    (true, true) => {
                        assert_eq!(d.paylen, 1514 - 54, "TSO PAYLEN: after the headers");
                        "tso"
                    }
                });
            }
            t => panic!("descriptor type {t}"),
        }
    }
    assert_eq!(kinds, ["plain", "ctx", "csum", "csum", "ctx-tso", "tso", "ctx", "csum", "plain"]);
    assert_eq!(pool.mempool().in_use_count(), 6);
    assert_eq!(contexts, 3, "a context descriptor only where the context changes");
    assert_eq!(tx::reclaim(&txq), tail, "every descriptor, context ones included, is reclaimed");
    assert_eq!(pool.mempool().in_use_count(), 0);
    // The cached context survives bursts: the same request again needs no new one; a reset
    // queue forgets it.
    let mut bufs = vec![offloaded(&pool, 100, csum, 0)];
    tx::burst(&regs, tx_rr.tail, &txq, &mem, &tc, &mut bufs);
    assert_eq!(regs.read32(tx_rr.tail) as usize, tail + 1, "no context descriptor: the last one still holds");
    tx::reset(&txq);
    assert_eq!(txq.hdr().ctx_w1.load(Ordering::Relaxed), 0);
}
