//! A queue's shared memory, the same for every PMD with DMA queues (e1000, igb, ixgbe,
//! virtio): one memzone holding the device's part of the queue at offset 0 (so its device
//! address is the memzone's IOVA), then the software ring of mbuf addresses (which mbuf each
//! descriptor holds), then the queue's header (indices, counters: a typed
//! [`DescArea::Header`] struct). Everything a process needs to poll the queue is there, so a secondary can poll
//! a queue the primary set up.
//!
//! The device's part is a [`DescArea`]: [`DescWords`] for rings of 16-byte descriptors
//! (the e1000 legacy and the Intel advanced descriptors are two views of those words), the
//! virtio driver's split ring for virtqueues.
//!
//! The one `unsafe` of the queue code lives here: turning a software-ring entry back into
//! the owned `Mbuf` it was made from.

use eal::shm::{self, SharedPlain};
use eal::{EalError, Mbuf, Memory, Memzone};
use std::sync::atomic::{AtomicU64, Ordering};

/// The device's part of a queue's memory, at the start of the memzone.
pub trait DescArea: Copy {
    /// The queue's header after the software ring: its indices and counters, named.
    type Header: SharedPlain;
    /// 8-byte words reserved for the header (at least `size_of::<Header>()` bytes).
    const HDR_WORDS: usize;
    /// Bytes the device's part of a queue of `nb` entries takes (the software ring follows;
    /// a multiple of 8).
    fn bytes(nb: usize) -> u64;
    /// Views the device's part at `addr` for `nb` entries; None if misaligned or if `nb`
    /// is not a size the queue allows.
    fn at(addr: u64, nb: usize) -> Option<Self>;
    /// Zeroes the device's part.
    fn clear(&self);
    /// Whether a queue of `nb` entries is a size the queue allows (for suggestions).
    fn at_size_ok(nb: usize) -> bool {
        nb.is_power_of_two()
    }
}

/// A ring of 16-byte descriptors in shared memory: two atomic little-endian words per
/// descriptor, which the device writes by DMA and any process of the group reads and
/// writes without `unsafe`. Device-specific rings (e1000 legacy, Intel advanced) wrap it.
#[derive(Clone, Copy)]
pub struct DescWords {
    words: &'static [AtomicU64],
}

/// Bytes per 16-byte descriptor.
pub const DESC16_SIZE: u64 = 16;

impl DescWords {
    /// Views `words` (2 per descriptor) as a ring.
    pub fn new(words: &'static [AtomicU64]) -> DescWords {
        DescWords { words }
    }

    /// Number of descriptors.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.words.len() / 2
    }

    /// True for a ring without descriptors.
    pub fn is_empty(&self) -> bool {
        self.words.len() < 2
    }

    /// Word `k` (0 or 1) of descriptor `i`, loaded with ordering `o`.
    #[inline(always)]
    pub fn load(&self, i: usize, k: usize, o: Ordering) -> u64 {
        self.words[2 * i + k].load(o)
    }

    /// Writes descriptor `i`: word 0 relaxed, then word 1 with ordering `o1`.
    #[inline(always)]
    pub fn store(&self, i: usize, w0: u64, w1: u64, o1: Ordering) {
        self.words[2 * i].store(w0, Ordering::Relaxed);
        self.words[2 * i + 1].store(w1, o1);
    }

    /// Gives RX descriptor `i` a buffer at `iova` and clears its write-back word (the
    /// arming both the legacy and the advanced read formats use).
    #[inline(always)]
    pub fn rx_arm(&self, i: usize, iova: u64) {
        self.store(i, iova, 0, Ordering::Relaxed);
    }

    /// The status byte the device writes back into word 1's bits 39:32 of TX descriptor
    /// `i` (acquire: the descriptor is done once DD is seen).
    #[inline(always)]
    pub fn tx_status(&self, i: usize) -> u64 {
        (self.load(i, 1, Ordering::Acquire) >> 32) & 0xff
    }

    /// Zeroes every descriptor.
    pub fn clear(&self) {
        for w in self.words {
            w.store(0, Ordering::Relaxed);
        }
    }
}

/// A ring of 16-byte descriptors of some device's format: a view of [`DescWords`].
pub trait Desc16: Copy {
    /// The queue header of this descriptor format (at most 8 words).
    type Header: SharedPlain;
    /// The ring over `w`.
    fn from_words(w: DescWords) -> Self;
    /// The words under the ring.
    fn words(&self) -> &DescWords;
}

impl<T: Desc16> DescArea for T {
    type Header = T::Header;
    const HDR_WORDS: usize = 8;
    fn bytes(nb: usize) -> u64 {
        nb as u64 * DESC16_SIZE
    }
    fn at(addr: u64, nb: usize) -> Option<T> {
        Some(T::from_words(DescWords::new(shm::shared_slice::<AtomicU64>(addr, 2 * nb)?)))
    }
    fn clear(&self) {
        self.words().clear()
    }
}

/// The shared memory of one queue whose device part is a `D`.
pub struct QueueMem<D: DescArea> {
    /// The device's part (descriptors, rings).
    pub ring: D,
    /// One mbuf address (or 0) per entry.
    sw: &'static [AtomicU64],
    /// The header words (all of them, for zeroing).
    hdr_words: &'static [AtomicU64],
    /// The same words, as the queue's header.
    hdr: &'static D::Header,
}

// Not derived: a derive would ask `D::Header: Copy`, which atomics are not; the fields are
// a copyable `D` and shared references.
impl<D: DescArea> Clone for QueueMem<D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D: DescArea> Copy for QueueMem<D> {}

/// Bytes a queue of `nb` entries takes.
pub fn bytes<D: DescArea>(nb: usize) -> u64 {
    D::bytes(nb) + nb as u64 * 8 + D::HDR_WORDS as u64 * 8
}

/// Alignment that keeps the device's part inside one page of any size from 4 KiB up (a
/// power of two at least its size), so that it is contiguous for the device in IOVA-as-PA
/// mode too.
pub fn ring_align<D: DescArea>(nb: usize) -> u64 {
    D::bytes(nb).next_power_of_two().max(4096)
}

/// In IOVA-as-PA mode the device part must lie in one page ([`ring_align`] places it so
/// when it fits): a larger one is refused, naming hugepages and the most entries that fit.
pub fn check_contiguous<D: DescArea>(mem: &Memory, name: &str, nb: usize) -> Result<(), EalError> {
    let page = mem.page_size();
    let bytes = D::bytes(nb);
    if super::iova::pa_mode(*mem).is_none() || bytes <= page {
        return Ok(());
    }
    let fits = (1..nb).rev().find(|&n| D::at_size_ok(n) && D::bytes(n) <= page);
    let alt = match fits {
        Some(n) => format!(", or give the queue at most {n} descriptors"),
        None => String::new(),
    };
    Err(EalError::NotDmaContiguous {
        what: format!("the device ring of queue '{name}' ({nb} descriptors)"),
        bytes,
        page,
        alt,
    })
}

/// Reserves the memzone `name` for a queue of `nb` entries, replacing a previous one of
/// that name (a queue set up again: release its mbufs first), and returns it with the
/// queue zeroed.
pub fn reserve<D: DescArea>(mem: &Memory, name: &str, nb: usize) -> Result<(Memzone, QueueMem<D>), EalError> {
    check_contiguous::<D>(mem, name, nb)?;
    if let Some(old) = mem.memzone_lookup(name) {
        mem.memzone_free(old);
    }
    let mz = mem.memzone_reserve(name, bytes::<D>(nb), ring_align::<D>(nb))?;
    let q = QueueMem::at(mz.addr(), nb)
        .ok_or_else(|| EalError::InvalidArgument(format!("queue memzone '{name}' is misaligned")))?;
    q.zero();
    Ok((mz, q))
}

/// Sets up a queue, the same way for every PMD: withdraws the queue `slot` records (freeing
/// the mbufs it holds), reserves a fresh memzone `name` for `nb` entries (replacing one of
/// that name) and publishes it in `slot`. Returns the memzone (its IOVA is the device
/// address of the queue) and the queue.
///
/// Only for queues whose software ring holds mbufs: the virtio control queue keeps other
/// data there and is set up once, while its slot is empty.
pub fn setup_queue<D: DescArea>(
    mem: &Memory,
    name: &str,
    slot: &QueueSlot,
    nb: usize,
) -> Result<(Memzone, QueueMem<D>), EalError> {
    if let Some(old) = slot.withdraw::<D>() {
        old.release_all();
    }
    let (mz, q) = reserve::<D>(mem, name, nb)?;
    slot.publish(mz.addr(), nb);
    Ok((mz, q))
}

/// Packs a queue memzone's address (below 2^48, as every address of the heap's VA window)
/// and its number of entries (below 2^16) into one word, so that a queue is published or
/// withdrawn by a single atomic store (see [`QueueSlot`]).
fn pack(addr: u64, nb: usize) -> u64 {
    debug_assert!(addr < 1 << 48 && nb < 1 << 16);
    addr | ((nb as u64) << 48)
}

/// The memzone address in a word made by [`pack`].
fn packed_addr(word: u64) -> u64 {
    word & ((1 << 48) - 1)
}

ethdev::shared_state! {
    /// Where a driver's state records one queue: its memzone's address and entry count,
    /// published or withdrawn by one atomic store, so a process polling the queue sees
    /// either the whole queue or none. All-zero: no queue.
    pub struct QueueSlot {
        /// The memzone address (low 48 bits) and entry count (high 16 bits); 0: none.
        word: AtomicU64,
    }
}

impl QueueSlot {
    /// Publishes the queue at `addr` with `nb` entries (release: its memory is ready).
    pub fn publish(&self, addr: u64, nb: usize) {
        self.word.store(pack(addr, nb), Ordering::Release);
    }

    /// Withdraws the queue; returns the one it recorded, if any.
    pub fn withdraw<D: DescArea>(&self) -> Option<QueueMem<D>> {
        QueueMem::unpack(self.word.swap(0, Ordering::AcqRel))
    }

    /// The queue recorded, if any.
    #[inline(always)]
    pub fn get<D: DescArea>(&self) -> Option<QueueMem<D>> {
        QueueMem::unpack(self.word.load(Ordering::Acquire))
    }

    /// True when a queue is recorded.
    pub fn is_set(&self) -> bool {
        self.word.load(Ordering::Acquire) != 0
    }

    /// The recorded queue memzone's address (0: none).
    pub fn addr(&self) -> u64 {
        packed_addr(self.word.load(Ordering::Acquire))
    }
}

impl<D: DescArea> QueueMem<D> {
    /// The queue a word made by [`pack`] records; None for 0 (no queue).
    fn unpack(word: u64) -> Option<QueueMem<D>> {
        QueueMem::at(packed_addr(word), (word >> 48) as usize)
    }

    /// Views the queue memory at `addr` with `nb` entries; None if misaligned, empty, not
    /// in shared memory (the views are checked, see `eal::shm::shared_slice`) or a size `D`
    /// refuses.
    pub fn at(addr: u64, nb: usize) -> Option<QueueMem<D>> {
        if addr == 0 || nb == 0 {
            return None;
        }
        let ring = D::at(addr, nb)?;
        let sw_at = addr + D::bytes(nb);
        let sw = shm::shared_slice::<AtomicU64>(sw_at, nb)?;
        const { assert!(size_of::<D::Header>() <= D::HDR_WORDS * 8 && align_of::<D::Header>() <= 8) };
        let hdr_at = sw_at + nb as u64 * 8;
        let hdr_words = shm::shared_slice::<AtomicU64>(hdr_at, D::HDR_WORDS)?;
        let hdr = shm::shared_ref::<D::Header>(hdr_at)?;
        Some(QueueMem { ring, sw, hdr_words, hdr })
    }

    /// Number of entries.
    #[inline(always)]
    pub fn nb(&self) -> usize {
        self.sw.len()
    }

    /// Address of the queue's memory (the device's part is at its start).
    pub fn addr(&self) -> u64 {
        self.sw.as_ptr() as u64 - D::bytes(self.nb())
    }

    /// The queue's header (indices and counters in shared memory).
    #[inline(always)]
    pub fn hdr(&self) -> &'static D::Header {
        self.hdr
    }

    /// Hands `m` to slot `i` of the software ring (the queue owns it from now on). An mbuf
    /// already in the slot (which the queue code never leaves) is freed.
    #[inline(always)]
    pub fn put(&self, i: usize, m: Mbuf) {
        let old = self.sw[i].swap(m.into_raw(), Ordering::Relaxed);
        if old != 0 {
            debug_assert!(false, "software ring slot {i} was not empty");
            // SAFETY: `old` came from `Mbuf::into_raw` in `put` and the swap removed it from
            // the ring, so this is its only owner.
            drop(unsafe { Mbuf::from_raw(old) });
        }
    }

    /// Takes the mbuf slot `i` holds, if any.
    #[inline(always)]
    pub fn take(&self, i: usize) -> Option<Mbuf> {
        let a = self.sw[i].swap(0, Ordering::Relaxed);
        // SAFETY: a non-zero entry was stored by `put` from `Mbuf::into_raw`, and the atomic
        // swap to 0 makes this call its only taker, so ownership moves back exactly once.
        (a != 0).then(|| unsafe { Mbuf::from_raw(a) })
    }

    /// True when slot `i` holds an mbuf.
    pub fn holds(&self, i: usize) -> bool {
        self.sw[i].load(Ordering::Relaxed) != 0
    }

    /// Raw software word `i`, for a queue that keeps other data than mbufs there (the
    /// virtio control queue keeps its command bytes).
    pub fn sw_word(&self, i: usize) -> &'static AtomicU64 {
        &self.sw[i]
    }

    /// Frees every mbuf the queue holds and zeroes the device's part and the header.
    pub fn release_all(&self) {
        for i in 0..self.nb() {
            drop(self.take(i));
        }
        self.zero();
    }

    /// Zeroes the device's part, software ring and header without freeing anything: for
    /// fresh memory, and for a queue whose software words hold no mbufs (the virtio control
    /// queue keeps its command bytes there, which [`Self::release_all`] would take for
    /// mbufs).
    pub fn zero(&self) {
        self.ring.clear();
        for w in self.sw.iter().chain(self.hdr_words) {
            w.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eal::PktMbufPool;

    #[derive(Clone, Copy)]
    struct Plain(DescWords);
    impl Desc16 for Plain {
        type Header = [AtomicU64; 8];
        fn from_words(w: DescWords) -> Plain {
            Plain(w)
        }
        fn words(&self) -> &DescWords {
            &self.0
        }
    }

    #[test]
    fn iova_pa_on_small_pages_refuses_rings_longer_than_a_page() {
        let mem = Memory::anonymous(8 << 20).unwrap();
        assert_eq!(mem.page_size(), 4096);
        // IOVA = VA: any ring.
        assert!(reserve::<Plain>(&mem, "qm_va", 1024).is_ok());
        mem.config().iova_pa.store(1, Ordering::Release);
        let e = reserve::<Plain>(&mem, "qm_pa", 1024).err().unwrap();
        let msg = e.to_string();
        assert!(matches!(e, EalError::NotDmaContiguous { bytes: 16384, page: 4096, .. }), "{msg}");
        assert!(msg.contains("qm_pa") && msg.contains("hugepages") && msg.contains("--huge-dir"), "{msg}");
        assert!(msg.contains("at most 256 descriptors"), "{msg}");
        let (mz, _) = reserve::<Plain>(&mem, "qm_pa", 256).unwrap();
        assert_eq!(mz.addr() % 4096, 0, "a ring of one page starts a page");
    }

    #[test]
    fn layout_and_mbuf_ownership() {
        let mem = Memory::anonymous(8 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "qm_pool", 16, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        let (mz, q) = reserve::<Plain>(&mem, "qm_test", 64).unwrap();
        assert_eq!(mz.addr() % 4096, 0);
        assert!(mz.len() >= bytes::<Plain>(64));
        assert_eq!(bytes::<Plain>(64), 64 * 16 + 64 * 8 + 8 * 8);
        assert_eq!((q.nb(), q.ring.0.len(), q.addr()), (64, 64, mz.addr()));
        q.put(3, pool.alloc().unwrap());
        q.put(9, pool.alloc().unwrap());
        assert!(q.holds(3) && !q.holds(4));
        assert_eq!(pool.mempool().in_use_count(), 2);
        let m = q.take(3).unwrap();
        assert!(q.take(3).is_none(), "taken once");
        drop(m);
        q.hdr()[1].store(42, Ordering::Release);
        assert_eq!(q.hdr()[1].load(Ordering::Relaxed), 42);
        q.ring.0.rx_arm(5, 0x1000);
        assert_eq!(q.ring.0.load(5, 0, Ordering::Relaxed), 0x1000);
        // Another view of the same memory (what a secondary builds) sees the same state.
        let q2 = QueueMem::<Plain>::at(mz.addr(), 64).unwrap();
        assert_eq!(q2.hdr()[1].load(Ordering::Relaxed), 42);
        assert!(q2.holds(9));
        q2.release_all();
        assert!(pool.mempool().is_full());
        assert_eq!(q.hdr()[1].load(Ordering::Relaxed), 0);
        assert_eq!(q.ring.0.load(5, 0, Ordering::Relaxed), 0);
        // Reserving again replaces the old memzone.
        assert!(reserve::<Plain>(&mem, "qm_test", 128).is_ok());
        assert_eq!(ring_align::<Plain>(256), 4096);
        assert_eq!(ring_align::<Plain>(1024), 16384);
        assert!(QueueMem::<Plain>::at(0, 64).is_none());
    }

    #[test]
    fn queue_slot_packs_address_and_count() {
        let mem = Memory::anonymous(4 << 20).unwrap();
        let (mz, _) = reserve::<Plain>(&mem, "qm_pack", 4096).unwrap();
        let slot = QueueSlot { word: AtomicU64::new(0) };
        assert!(!slot.is_set() && slot.get::<Plain>().is_none());
        slot.publish(mz.addr(), 4096);
        assert_eq!(slot.addr(), mz.addr());
        let q = slot.get::<Plain>().unwrap();
        assert_eq!((q.nb(), q.addr()), (4096, mz.addr()));
        assert_eq!(slot.withdraw::<Plain>().map(|q| q.addr()), Some(mz.addr()));
        assert!(!slot.is_set() && slot.withdraw::<Plain>().is_none());
    }
}
