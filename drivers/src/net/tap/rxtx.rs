//! The TAP data path: one non-blocking `read` per received frame into an mbuf of the queue's
//! pool, one `write` per sent frame. A system call per packet: TAP is for tests and slow
//! paths, not the fast path of the project.

use super::shared;
use eal::{Mbuf, PktMbufPool};
use ethdev::{DataPath, EthError, PortSlot, RxIntrSource};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The data path of a TAP port in one process: the queue fds (opened by the primary, or
/// received from it by a secondary).
pub struct TapData {
    slot: &'static PortSlot,
    port: u16,
    queues: Arc<Vec<File>>,
}

impl TapData {
    /// A data path over `queues` (queue `q` is `queues[q]`).
    pub fn new(slot: &'static PortSlot, port: u16, queues: Arc<Vec<File>>) -> TapData {
        TapData { slot, port, queues }
    }

    fn tx_file(&self, q: u16) -> Option<&File> {
        let attached =
            (shared::state(self.slot).attached.load(Ordering::Relaxed) as usize).clamp(1, self.queues.len().max(1));
        self.queues.get(q as usize % attached)
    }
}

impl DataPath for TapData {
    /// A TAP queue's RX interrupt is its fd's readability: a copy of the queue fd (the same
    /// open file, so a secondary's copy works too) that epoll reports while frames wait.
    fn rx_intr_source(&self, q: u16) -> Result<RxIntrSource, EthError> {
        let f = self.queues.get(q as usize).ok_or(EthError::QueueOutOfRange {
            port: self.port,
            dir: "rx",
            queue: q,
            nb: self.queues.len() as u16,
        })?;
        let dup = f.try_clone().map_err(|e| EthError::Device {
            port: self.port,
            msg: format!("duplicating TAP queue {q}'s fd for RX interrupts: {e} (raise the fd limit, ulimit -n)"),
        })?;
        Ok(RxIntrSource::Readable(Arc::new(dup.into())))
    }

    /// Nothing to arm: readability is level-triggered and costs the data path nothing.
    fn rx_intr_ctl(&self, q: u16, _on: bool) -> Result<(), EthError> {
        if q as usize >= self.queues.len() {
            return Err(EthError::QueueOutOfRange {
                port: self.port,
                dir: "rx",
                queue: q,
                nb: self.queues.len() as u16,
            });
        }
        Ok(())
    }

    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize {
        let (Some(mut f), Some(c)) = (self.queues.get(q as usize), self.slot.counters.rx.get(q as usize)) else {
            return 0;
        };
        let Ok(pool) = PktMbufPool::from_header_addr(self.slot.rxq_pool[q as usize].load(Ordering::Relaxed)) else {
            return 0;
        };
        let (mut n, mut bytes) = (0usize, 0u64);
        while n < max {
            let Some(mut m) = pool.alloc() else {
                c.add_nombuf(1);
                break;
            };
            let room = m.tailroom();
            m.set_len(room);
            match f.read(m.data_mut()) {
                Ok(len) if len > 0 => {
                    m.set_len(len as u16);
                    m.set_port(self.port);
                    bytes += len as u64;
                    bufs.push(m);
                    n += 1;
                }
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // The interface was deleted under us: no frames (the link is reported down).
                Err(e) if e.raw_os_error() == Some(libc::EBADFD) => break,
                Err(e) => {
                    tracing::debug!(port = self.port, q, "TAP read failed: {e}");
                    c.add_errors(1);
                    break;
                }
            }
        }
        c.add(n as u64, bytes);
        n
    }

    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize {
        let (Some(mut f), Some(c)) = (self.tx_file(q), self.slot.counters.tx.get(q as usize)) else {
            return 0;
        };
        let (mut done, mut sent, mut bytes, mut errors) = (0usize, 0u64, 0u64, 0u64);
        for m in bufs.iter() {
            let r = if m.nb_segs() > 1 { f.write(&m.to_vec()) } else { f.write(m.data()) };
            match r {
                Ok(_) => {
                    sent += 1;
                    bytes += m.pkt_len() as u64;
                }
                // The kernel has no room now: the rest stays with the caller.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => break,
                // Refused (interface down: EIO; malformed frame: EINVAL): dropped and counted.
                Err(e) => {
                    tracing::trace!(port = self.port, q, "TAP write failed: {e}");
                    errors += 1;
                }
            }
            done += 1;
        }
        bufs.drain(..done);
        c.add(sent, bytes);
        if errors > 0 {
            c.add_errors(errors);
        }
        done
    }
}
