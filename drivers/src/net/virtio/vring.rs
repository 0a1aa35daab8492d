//! A split virtqueue in shared memory: one memzone holds the descriptor table, the
//! available ring and the used ring (in the legacy layout, which the modern interface
//! accepts too), then the software ring (which mbuf each descriptor holds) and a few header
//! words (indices, the free list, the doorbell offset). Everything a process needs to poll
//! the queue is there, so a secondary can take over a queue the primary set up.
//!
//! Descriptors are pairs of 64-bit words (address; length | flags << 32 | next << 48), the
//! available ring 16-bit words and the used ring 32-bit words, all atomics: the device
//! reads and writes them by DMA, any process of the group reads and writes them, and no
//! `unsafe` is needed beyond turning a software-ring entry back into its mbuf.

use super::pci::legacy_used_offset;
use eal::shm;
use eal::{EalError, Mbuf, Memory, Memzone};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

/// Descriptor flag: the chain goes on at `next`.
pub const DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the device writes the buffer.
pub const DESC_F_WRITE: u16 = 2;
/// Available-ring flag: the driver wants no interrupt for this queue.
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Used-ring flag: the device wants no notification for this queue now.
pub const USED_F_NO_NOTIFY: u16 = 1;

/// Header words after the software ring.
pub const HDR_WORDS: usize = 16;
/// Header word: the driver's next available index (free-running 16 bits).
pub const H_AVAIL: usize = 0;
/// Header word: the next used index to look at.
pub const H_USED: usize = 1;
/// Header word: head of the free descriptor list (TX and control).
pub const H_FREE_HEAD: usize = 2;
/// Header word: free descriptors.
pub const H_FREE_CNT: usize = 3;
/// Header word: the queue's `queue_notify_off`.
pub const H_NOTIFY_OFF: usize = 4;
/// Header word: the queue's index on the device.
pub const H_INDEX: usize = 5;
/// Header word: mbufs retired because their buffer is not contiguous for the device.
pub const H_RETIRED: usize = 6;
/// Header word: notifications sent.
pub const H_KICKS: usize = 7;
/// Header word: device address of the memzone (the descriptor table).
pub const H_IOVA: usize = 8;

/// Byte offsets of the parts of a queue of `nb` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Available ring.
    pub avail: u64,
    /// Used ring.
    pub used: u64,
    /// Software ring.
    pub sw: u64,
    /// Header words.
    pub hdr: u64,
    /// Whole memzone.
    pub total: u64,
}

impl Layout {
    /// The layout of `nb` entries (a power of two).
    pub fn of(nb: u16) -> Layout {
        let n = u64::from(nb);
        let avail = 16 * n;
        let used = legacy_used_offset(nb);
        let sw = (used + 6 + 8 * n).next_multiple_of(64);
        let hdr = sw + 8 * n;
        Layout { avail, used, sw, hdr, total: hdr + HDR_WORDS as u64 * 8 }
    }

    /// Bytes the device sees (descriptors and both rings).
    pub fn ring_bytes(&self) -> u64 {
        self.sw
    }
}

/// Alignment that keeps the device part of a queue inside one page of any size from 4 KiB
/// up (a power of two at least that large), so it is contiguous for the device in
/// IOVA-as-PA mode too.
pub fn ring_align(nb: u16) -> u64 {
    Layout::of(nb).ring_bytes().next_power_of_two().max(4096)
}

/// Reserves (replacing a previous one of the same name) the memzone of a queue.
pub fn reserve(mem: &Memory, name: &str, nb: u16) -> Result<Memzone, EalError> {
    if let Some(old) = mem.memzone_lookup(name) {
        mem.memzone_free(old);
    }
    mem.memzone_reserve(name, Layout::of(nb).total, ring_align(nb))
}

/// One used-ring element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsedElem {
    /// Head descriptor of the chain.
    pub id: u32,
    /// Bytes the device wrote.
    pub len: u32,
}

/// A view of one queue's shared memory.
#[derive(Clone, Copy)]
pub struct Vring {
    desc: &'static [AtomicU64],
    avail: &'static [AtomicU16],
    used: &'static [AtomicU32],
    sw: &'static [AtomicU64],
    hdr: &'static [AtomicU64],
    nb: u16,
}

impl Vring {
    /// Views the queue memory at `addr` with `nb` entries; None if misaligned, empty or not
    /// a power of two.
    pub fn at(addr: u64, nb: u64) -> Option<Vring> {
        if addr == 0 || nb == 0 || nb > 32768 || !nb.is_power_of_two() {
            return None;
        }
        let nb = nb as u16;
        let l = Layout::of(nb);
        let n = usize::from(nb);
        Some(Vring {
            desc: shm::shared_slice::<AtomicU64>(addr, 2 * n)?,
            avail: shm::shared_slice::<AtomicU16>(addr + l.avail, 3 + n)?,
            used: shm::shared_slice::<AtomicU32>(addr + l.used, 1 + 2 * n)?,
            sw: shm::shared_slice::<AtomicU64>(addr + l.sw, n)?,
            hdr: shm::shared_slice::<AtomicU64>(addr + l.hdr, HDR_WORDS)?,
            nb,
        })
    }

    /// Address of the queue's memory (the descriptor table is at its start).
    pub fn desc_addr(&self) -> u64 {
        self.desc.as_ptr() as u64
    }

    /// Entries.
    #[inline(always)]
    pub fn nb(&self) -> u16 {
        self.nb
    }

    /// `i mod nb`.
    #[inline(always)]
    pub fn wrap(&self, i: u16) -> usize {
        usize::from(i & (self.nb - 1))
    }

    /// Header word `i`.
    #[inline(always)]
    pub fn get(&self, i: usize) -> u64 {
        self.hdr[i].load(Ordering::Relaxed)
    }

    /// Sets header word `i`.
    #[inline(always)]
    pub fn set(&self, i: usize, v: u64) {
        self.hdr[i].store(v, Ordering::Release)
    }

    /// Writes descriptor `i`.
    #[inline(always)]
    pub fn set_desc(&self, i: usize, addr: u64, len: u32, flags: u16, next: u16) {
        self.desc[2 * i].store(addr, Ordering::Relaxed);
        self.desc[2 * i + 1]
            .store(u64::from(len) | (u64::from(flags) << 32) | (u64::from(next) << 48), Ordering::Relaxed);
    }

    /// Changes only the address of descriptor `i`.
    #[inline(always)]
    pub fn set_desc_addr(&self, i: usize, addr: u64) {
        self.desc[2 * i].store(addr, Ordering::Relaxed);
    }

    /// Descriptor `i`: (address, length, flags, next).
    #[inline(always)]
    pub fn desc(&self, i: usize) -> (u64, u32, u16, u16) {
        let w = self.desc[2 * i + 1].load(Ordering::Relaxed);
        (self.desc[2 * i].load(Ordering::Relaxed), w as u32, (w >> 32) as u16, (w >> 48) as u16)
    }

    /// Puts descriptor chain `head` at available position `pos` (not yet published).
    #[inline(always)]
    pub fn avail_put(&self, pos: u16, head: u16) {
        self.avail[2 + self.wrap(pos)].store(head, Ordering::Relaxed);
    }

    /// Publishes the available index (release: the device sees every entry before it).
    #[inline(always)]
    pub fn avail_publish(&self, idx: u16) {
        self.avail[1].store(idx, Ordering::Release);
    }

    /// Sets the available ring's flags.
    pub fn set_avail_flags(&self, f: u16) {
        self.avail[0].store(f, Ordering::Relaxed);
    }

    /// The device's used index (acquire: the elements before it are complete).
    #[inline(always)]
    pub fn used_idx(&self) -> u16 {
        (self.used[0].load(Ordering::Acquire) >> 16) as u16
    }

    /// The used ring's flags.
    #[inline(always)]
    pub fn used_flags(&self) -> u16 {
        self.used[0].load(Ordering::Relaxed) as u16
    }

    /// Used element at used position `pos`.
    #[inline(always)]
    pub fn used_elem(&self, pos: u16) -> UsedElem {
        let i = 1 + 2 * self.wrap(pos);
        UsedElem { id: self.used[i].load(Ordering::Relaxed), len: self.used[i + 1].load(Ordering::Relaxed) }
    }

    /// After publishing: true when the device asks to be notified. The full fence orders
    /// the index store before the flags load (the device may have just re-enabled
    /// notifications after looking at the old index).
    #[inline(always)]
    pub fn needs_kick(&self) -> bool {
        std::sync::atomic::fence(Ordering::SeqCst);
        self.used_flags() & USED_F_NO_NOTIFY == 0
    }

    /// Hands `m` to software slot `i` (the queue owns it from now on).
    #[inline(always)]
    pub fn put(&self, i: usize, m: Mbuf) {
        let old = self.sw[i].swap(m.into_raw(), Ordering::Relaxed);
        debug_assert_eq!(old, 0, "software ring slot {i} was not empty");
    }

    /// Takes the mbuf software slot `i` holds, if any.
    #[inline(always)]
    pub fn take(&self, i: usize) -> Option<Mbuf> {
        let a = self.sw[i].swap(0, Ordering::Relaxed);
        // SAFETY: a non-zero entry was stored by `put` from `Mbuf::into_raw`, and the atomic
        // swap to 0 makes this call its only taker, so ownership moves back exactly once.
        (a != 0).then(|| unsafe { Mbuf::from_raw(a) })
    }

    /// Raw software word `i` (the control queue keeps its command bytes there).
    pub fn sw_word(&self, i: usize) -> &'static AtomicU64 {
        &self.sw[i]
    }

    /// Links every descriptor into the free list (TX and control queues).
    pub fn init_free_list(&self) {
        let n = usize::from(self.nb);
        for i in 0..n {
            self.set_desc(i, 0, 0, 0, ((i + 1) % n) as u16);
        }
        self.set(H_FREE_HEAD, 0);
        self.set(H_FREE_CNT, n as u64);
    }

    /// Takes a descriptor off the free list (the caller checked the count).
    #[inline(always)]
    pub fn free_pop(&self, head: &mut u16) -> u16 {
        let id = *head;
        *head = self.desc(usize::from(id)).3;
        id
    }

    /// Frees every mbuf the queue holds and zeroes the rings and the header.
    pub fn release_all(&self) {
        for i in 0..usize::from(self.nb) {
            if self.sw[i].load(Ordering::Relaxed) != 0 {
                drop(self.take(i));
            }
        }
        for w in self.desc {
            w.store(0, Ordering::Relaxed);
        }
        for w in self.avail {
            w.store(0, Ordering::Relaxed);
        }
        for w in self.used {
            w.store(0, Ordering::Relaxed);
        }
        for h in self.hdr {
            h.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eal::PktMbufPool;

    #[test]
    fn layout_is_the_legacy_one() {
        let l = Layout::of(256);
        assert_eq!((l.avail, l.used), (4096, 8192));
        assert_eq!(l.sw, (8192u64 + 6 + 2048).next_multiple_of(64));
        assert_eq!(ring_align(256), 16384);
        assert_eq!(ring_align(16), 8192, "the used ring starts on a 4 KiB boundary");
    }

    #[test]
    fn rings_free_list_and_mbuf_ownership() {
        let mem = Memory::anonymous(8 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "vq_pool", 16, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        let mz = reserve(&mem, "vq_test", 64).unwrap();
        assert!(mz.addr().is_multiple_of(4096));
        let q = Vring::at(mz.addr(), 64).unwrap();
        assert!(Vring::at(mz.addr(), 48).is_none(), "not a power of two");
        q.release_all();
        q.init_free_list();
        let mut head = q.get(H_FREE_HEAD) as u16;
        assert_eq!((q.free_pop(&mut head), q.free_pop(&mut head)), (0, 1));
        q.set_desc(5, 0x1234_5678, 1514, DESC_F_WRITE | DESC_F_NEXT, 9);
        assert_eq!(q.desc(5), (0x1234_5678, 1514, 3, 9));
        q.avail_put(65, 7);
        q.avail_publish(66);
        let l = Layout::of(64);
        let av = shm::shared_slice::<AtomicU16>(mz.addr() + l.avail, 4).unwrap();
        assert_eq!((av[1].load(Ordering::Relaxed), av[3].load(Ordering::Relaxed)), (66, 7));
        // The device writes used index 3 and element 2 = (id 11, len 60).
        let us = shm::shared_slice::<AtomicU32>(mz.addr() + l.used, 8).unwrap();
        us[0].store(3 << 16 | u32::from(USED_F_NO_NOTIFY), Ordering::Relaxed);
        us[5].store(11, Ordering::Relaxed);
        us[6].store(60, Ordering::Relaxed);
        assert_eq!(q.used_idx(), 3);
        assert!(!q.needs_kick());
        assert_eq!(q.used_elem(66), UsedElem { id: 11, len: 60 });
        q.put(3, pool.alloc().unwrap());
        assert_eq!(pool.mempool().in_use_count(), 1);
        assert!(q.take(3).is_some() && q.take(3).is_none());
        q.put(4, pool.alloc().unwrap());
        q.release_all();
        assert!(pool.mempool().is_full());
        assert_eq!(q.used_idx(), 0);
    }
}
