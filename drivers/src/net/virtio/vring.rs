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
use crate::net::common::queue_mem;
use crate::net::common::queue_mem::{DescArea, QueueMem};
use eal::shm;
use eal::{EalError, Memory, Memzone};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

/// Descriptor flag: the chain goes on at `next`.
pub const DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the device writes the buffer.
pub const DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer is a table of descriptors (`VIRTIO_RING_F_INDIRECT_DESC`).
pub const DESC_F_INDIRECT: u16 = 4;
/// Entries of each indirect descriptor table (one table per descriptor of a TX queue).
pub const IND_ENTRIES: usize = 64;
/// Bytes of each indirect descriptor table.
pub const IND_BYTES: u64 = 16 * IND_ENTRIES as u64;
/// Available-ring flag: the driver wants no interrupt for this queue.
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Used-ring flag: the device wants no notification for this queue now.
pub const USED_F_NO_NOTIFY: u16 = 1;

/// Header words after the software ring.
pub const HDR_WORDS: usize = 16;

ethdev::shared_state! {
    /// The header of a virtqueue (after its software ring in the queue memzone).
    pub struct VringHeader {
        /// The driver's next available index (free-running 16 bits).
        pub avail: AtomicU64,
        /// The next used index to look at.
        pub used: AtomicU64,
        /// Head of the free descriptor list (TX and control).
        pub free_head: AtomicU64,
        /// Free descriptors.
        pub free_cnt: AtomicU64,
        /// The queue's `queue_notify_off`.
        pub notify_off: AtomicU64,
        /// The queue's index on the device.
        pub index: AtomicU64,
        /// Mbufs retired because their buffer is not contiguous for the device.
        pub retired: AtomicU64,
        /// Notifications sent.
        pub kicks: AtomicU64,
        /// Device address of the memzone (the descriptor table).
        pub iova: AtomicU64,
        /// Large TCP segments (GSO) received (RX queue: flagged `RX_LRO`) or sent whole
        /// for the device to segment (TX queue).
        pub large_segs: AtomicU64,
        /// Address of the TX queue's indirect descriptor tables, [`IND_BYTES`] for each
        /// descriptor (0: none; set at each start when `VIRTIO_RING_F_INDIRECT_DESC` is
        /// negotiated).
        pub ind_addr: AtomicU64,
    }
}

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

/// Reserves the memzone of a queue of `nb` entries (replacing a previous one of the same
/// name) and returns it with the queue zeroed.
pub fn reserve(mem: &Memory, name: &str, nb: u16) -> Result<(Memzone, Vring), EalError> {
    queue_mem::reserve(mem, name, usize::from(nb))
}

/// One used-ring element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsedElem {
    /// Head descriptor of the chain.
    pub id: u32,
    /// Bytes the device wrote.
    pub len: u32,
}

/// The device's part of a virtqueue: descriptor table, available and used rings.
#[derive(Clone, Copy)]
pub struct SplitRing {
    desc: &'static [AtomicU64],
    avail: &'static [AtomicU16],
    used: &'static [AtomicU32],
    nb: u16,
}

impl DescArea for SplitRing {
    type Header = VringHeader;
    const HDR_WORDS: usize = HDR_WORDS;

    fn bytes(nb: usize) -> u64 {
        u16::try_from(nb).map_or(u64::MAX, |nb| Layout::of(nb).ring_bytes())
    }

    /// None unless `nb` is a power of two of at most 32768.
    fn at(addr: u64, nb: usize) -> Option<SplitRing> {
        if nb > 32768 || !nb.is_power_of_two() {
            return None;
        }
        let l = Layout::of(nb as u16);
        Some(SplitRing {
            desc: shm::shared_slice::<AtomicU64>(addr, 2 * nb)?,
            avail: shm::shared_slice::<AtomicU16>(addr + l.avail, 3 + nb)?,
            used: shm::shared_slice::<AtomicU32>(addr + l.used, 1 + 2 * nb)?,
            nb: nb as u16,
        })
    }

    fn clear(&self) {
        for w in self.desc {
            w.store(0, Ordering::Relaxed);
        }
        for w in self.avail {
            w.store(0, Ordering::Relaxed);
        }
        for w in self.used {
            w.store(0, Ordering::Relaxed);
        }
    }
}

/// One indirect descriptor table (descriptors in the layout of the ring's).
pub struct IndTable {
    w: &'static [AtomicU64],
    /// Its address.
    pub addr: u64,
}

impl IndTable {
    /// Writes entry `i` (below [`IND_ENTRIES`]).
    #[inline(always)]
    pub fn set(&self, i: usize, addr: u64, len: u32, flags: u16, next: u16) {
        self.w[2 * i].store(addr, Ordering::Relaxed);
        self.w[2 * i + 1].store(u64::from(len) | (u64::from(flags) << 32) | (u64::from(next) << 48), Ordering::Relaxed);
    }
}

/// A view of one virtqueue's shared memory.
pub type Vring = QueueMem<SplitRing>;

impl QueueMem<SplitRing> {
    /// Entries, as the device counts them.
    #[inline(always)]
    pub fn size(&self) -> u16 {
        self.ring.nb
    }

    /// `i mod nb`.
    #[inline(always)]
    pub fn wrap(&self, i: u16) -> usize {
        usize::from(i & (self.ring.nb - 1))
    }

    /// Writes descriptor `i`.
    #[inline(always)]
    pub fn set_desc(&self, i: usize, addr: u64, len: u32, flags: u16, next: u16) {
        self.ring.desc[2 * i].store(addr, Ordering::Relaxed);
        self.ring.desc[2 * i + 1]
            .store(u64::from(len) | (u64::from(flags) << 32) | (u64::from(next) << 48), Ordering::Relaxed);
    }

    /// Changes only the address of descriptor `i`.
    #[inline(always)]
    pub fn set_desc_addr(&self, i: usize, addr: u64) {
        self.ring.desc[2 * i].store(addr, Ordering::Relaxed);
    }

    /// Descriptor `i`: (address, length, flags, next).
    #[inline(always)]
    pub fn desc(&self, i: usize) -> (u64, u32, u16, u16) {
        let w = self.ring.desc[2 * i + 1].load(Ordering::Relaxed);
        (self.ring.desc[2 * i].load(Ordering::Relaxed), w as u32, (w >> 32) as u16, (w >> 48) as u16)
    }

    /// Puts descriptor chain `head` at available position `pos` (not yet published).
    #[inline(always)]
    pub fn avail_put(&self, pos: u16, head: u16) {
        self.ring.avail[2 + self.wrap(pos)].store(head, Ordering::Relaxed);
    }

    /// Publishes the available index (release: the device sees every entry before it).
    #[inline(always)]
    pub fn avail_publish(&self, idx: u16) {
        self.ring.avail[1].store(idx, Ordering::Release);
    }

    /// Sets the available ring's flags.
    pub fn set_avail_flags(&self, f: u16) {
        self.ring.avail[0].store(f, Ordering::Relaxed);
    }

    /// The device's used index (acquire: the elements before it are complete).
    #[inline(always)]
    pub fn used_idx(&self) -> u16 {
        (self.ring.used[0].load(Ordering::Acquire) >> 16) as u16
    }

    /// The used ring's flags.
    #[inline(always)]
    pub fn used_flags(&self) -> u16 {
        self.ring.used[0].load(Ordering::Relaxed) as u16
    }

    /// Used element at used position `pos`.
    #[inline(always)]
    pub fn used_elem(&self, pos: u16) -> UsedElem {
        let i = 1 + 2 * self.wrap(pos);
        UsedElem { id: self.ring.used[i].load(Ordering::Relaxed), len: self.ring.used[i + 1].load(Ordering::Relaxed) }
    }

    /// After publishing: true when the device asks to be notified. The full fence orders
    /// the index store before the flags load (the device may have just re-enabled
    /// notifications after looking at the old index).
    #[inline(always)]
    pub fn needs_kick(&self) -> bool {
        std::sync::atomic::fence(Ordering::SeqCst);
        self.used_flags() & USED_F_NO_NOTIFY == 0
    }

    /// Links every descriptor into the free list (TX and control queues).
    pub fn init_free_list(&self) {
        let n = self.nb();
        for i in 0..n {
            self.set_desc(i, 0, 0, 0, ((i + 1) % n) as u16);
        }
        self.hdr().free_head.store(0, Ordering::Release);
        self.hdr().free_cnt.store(n as u64, Ordering::Release);
    }

    /// The indirect descriptor table of descriptor `id` (`ind_addr` must be set).
    #[inline(always)]
    pub fn ind_table(&self, ind_addr: u64, id: u16) -> Option<IndTable> {
        let addr = ind_addr + u64::from(id) * IND_BYTES;
        shm::shared_slice::<AtomicU64>(addr, 2 * IND_ENTRIES).map(|w| IndTable { w, addr })
    }

    /// Takes a descriptor off the free list (the caller checked the count).
    #[inline(always)]
    pub fn free_pop(&self, head: &mut u16) -> u16 {
        let id = *head;
        *head = self.desc(usize::from(id)).3;
        id
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
        assert_eq!(queue_mem::ring_align::<SplitRing>(256), 16384);
        assert_eq!(queue_mem::ring_align::<SplitRing>(16), 8192, "the used ring starts on a 4 KiB boundary");
        assert_eq!(queue_mem::bytes::<SplitRing>(256), l.hdr + HDR_WORDS as u64 * 8);
    }

    #[test]
    fn rings_free_list_and_mbuf_ownership() {
        let mem = Memory::anonymous(8 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "vq_pool", 16, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        let (mz, q) = reserve(&mem, "vq_test", 64).unwrap();
        assert!(mz.addr().is_multiple_of(4096));
        assert_eq!((q.size(), q.addr()), (64, mz.addr()));
        assert!(Vring::at(mz.addr(), 48).is_none(), "not a power of two");
        q.release_all();
        q.init_free_list();
        let mut head = q.hdr().free_head.load(Ordering::Relaxed) as u16;
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
