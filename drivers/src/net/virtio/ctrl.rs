//! The control queue (primary only): one command at a time, as a chain of three
//! descriptors (the class and command, the data, the one-byte acknowledgement the device
//! writes), polled to completion. The command bytes live in the queue's own memzone (its
//! software-ring words), so nothing else needs DMA memory.

use super::error::VirtioError;
use super::net::CTRL_OK;
use super::pci::Notifier;
use super::vring::{Vring, AVAIL_F_NO_INTERRUPT, DESC_F_NEXT, DESC_F_WRITE};
use eal::Memory;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long a command may take (QEMU under TCG included).
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a command is polled without sleeping.
const SPIN: Duration = Duration::from_micros(500);

/// The control queue of a port.
pub struct CtrlQueue {
    q: Vring,
    /// Device address of each of the three command words (class and command, unused,
    /// acknowledgement; the data follows in words 3..).
    iova: [u64; 3],
    index: u16,
    noff: u16,
    kick: Notifier,
    /// Commands completed.
    pub done: u64,
}

impl CtrlQueue {
    /// The control queue in `q` (memory at `addr`), queue `index` of the device with
    /// doorbell offset `noff`; resets its rings.
    pub fn new(q: Vring, mem: &Memory, index: u16, noff: u16, kick: Notifier) -> CtrlQueue {
        // Not `release_all`: the software words hold command bytes, not mbufs.
        q.zero();
        q.set_avail_flags(AVAIL_F_NO_INTERRUPT);
        let word = |i: usize| mem.iova(q.sw_word(i) as *const _ as u64);
        CtrlQueue { q, iova: [word(0), word(1), word(2)], index, noff, kick, done: 0 }
    }

    /// Runs command `cmd` of `class` with `data` (up to 8 bytes); Err with the reason when
    /// the device does not acknowledge it.
    pub fn command(&mut self, class: u8, cmd: u8, data: &[u8]) -> Result<(), VirtioError> {
        if data.is_empty() || data.len() > 8 {
            return Err(VirtioError::CtrlDataLen(data.len()));
        }
        self.command_parts(class, cmd, &[data])
    }

    /// Runs command `cmd` of `class` whose data is `parts`, each in a descriptor of its own
    /// (as `VIRTIO_NET_CTRL_MAC_TABLE_SET`'s two tables). The parts are copied to the
    /// queue's software words after the three of [`Self::command`]: they must fit them,
    /// each rounded up to whole words, and the chain must fit the queue.
    pub fn command_parts(&mut self, class: u8, cmd: u8, parts: &[&[u8]]) -> Result<(), VirtioError> {
        let nb = usize::from(self.q.size());
        let words: usize = parts.iter().map(|p| p.len().div_ceil(8)).sum();
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if parts.is_empty() || parts.iter().any(|p| p.is_empty()) || parts.len() + 2 > nb || 3 + words > nb {
            return Err(VirtioError::CtrlDataLen(total));
        }
        self.q.sw_word(0).store(u64::from(class) | (u64::from(cmd) << 8), Ordering::Relaxed);
        self.q.sw_word(2).store(0xff, Ordering::Relaxed);
        self.q.set_desc(0, self.iova[0], 2, DESC_F_NEXT, 1);
        let mut word = 3;
        for (i, part) in parts.iter().enumerate() {
            for (k, chunk) in part.chunks(8).enumerate() {
                let mut d = [0u8; 8];
                d[..chunk.len()].copy_from_slice(chunk);
                self.q.sw_word(word + k).store(u64::from_le_bytes(d), Ordering::Relaxed);
            }
            // The words are consecutive in the queue's memzone, which is contiguous in
            // device address space.
            let iova = self.iova[2] + 8 * (word as u64 - 2);
            word += part.len().div_ceil(8);
            let desc = i + 1;
            let next = if desc == parts.len() { nb - 1 } else { desc + 1 };
            self.q.set_desc(desc, iova, part.len() as u32, DESC_F_NEXT, next as u16);
        }
        self.q.set_desc(nb - 1, self.iova[2], 1, DESC_F_WRITE, 0);
        let avail = self.q.hdr().avail.load(Ordering::Relaxed) as u16;
        self.q.avail_put(avail, 0);
        let next = avail.wrapping_add(1);
        self.q.hdr().avail.store(u64::from(next), Ordering::Release);
        self.q.avail_publish(next);
        std::sync::atomic::fence(Ordering::SeqCst);
        self.kick.notify(self.index, self.noff);
        let t0 = Instant::now();
        while self.q.used_idx() != next {
            let waited = t0.elapsed();
            if waited > TIMEOUT {
                return Err(VirtioError::CtrlTimeout { class, cmd, timeout: TIMEOUT });
            }
            // A device answers most commands within microseconds (start writes the whole
            // VLAN table, 4096 of them): spin briefly before sleeping.
            if waited < SPIN {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        self.q.hdr().used.store(u64::from(next), Ordering::Release);
        self.done += 1;
        let ack = self.q.sw_word(2).load(Ordering::Acquire) as u8;
        if ack != CTRL_OK {
            return Err(VirtioError::CtrlRefused { class, cmd, ack });
        }
        Ok(())
    }
}
