//! Packet buffers (`Mbuf`) and their pools. An mbuf is a 128-byte header followed by
//! headroom and data room, allocated from a [`Mempool`] in shared memory; it can be handed
//! to another process through a ring and freed there: it goes back to the pool it came from.
//!
//! This module is the one place where mbuf memory is read and written through raw pointers.

use crate::error::EalError;
use crate::memory::Memory;
use crate::mempool::Mempool;
use std::ptr::NonNull;

pub use crate::mbuf_offload::{OlFlags, PacketType, RxCksum, TxL4Cksum, TxOffloadLens};

/// Bytes of headroom in front of the packet data, as DPDK's RTE_PKTMBUF_HEADROOM.
pub const HEADROOM: u16 = 128;
/// Default data room (headroom included), as DPDK's RTE_MBUF_DEFAULT_BUF_SIZE.
pub const DEFAULT_BUF_SIZE: u16 = 2048 + HEADROOM;
/// Size of the mbuf header.
pub const HDR_SIZE: u32 = 128;
/// Value of `port` for an mbuf that came from no port.
pub const NO_PORT: u16 = u16::MAX;

/// The mbuf header, in shared memory. Plain data; `pool` and `next` are shared-memory
/// addresses, valid in every process.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct MbufHdr {
    buf_addr: u64,
    buf_iova: u64,
    data_off: u16,
    refcnt: u16,
    nb_segs: u16,
    port: u16,
    ol_flags: u64,
    packet_type: u32,
    pkt_len: u32,
    data_len: u16,
    vlan_tci: u16,
    hash_rss: u32,
    buf_len: u16,
    _pad0: [u16; 3],
    pool: u64,
    next: u64,
    l2_len: u8,
    l4_len: u8,
    l3_len: u16,
    tso_segsz: u16,
    _pad2: u16,
    _pad1: [u64; 6],
}
const _: () = assert!(std::mem::size_of::<MbufHdr>() == HDR_SIZE as usize);

/// A pool of mbufs: a mempool whose objects are initialised as mbufs.
#[derive(Clone, Copy, Debug)]
#[repr(transparent)]
pub struct PktMbufPool {
    pool: Mempool,
}

/// An owned packet buffer. Dropping it returns it (and its chained segments) to its pool.
/// One word: a burst of them is an array of mbuf addresses, which the pool fills and
/// takes back in place.
#[repr(transparent)]
pub struct Mbuf(NonNull<MbufHdr>);
const _: () = assert!(std::mem::size_of::<Mbuf>() == std::mem::size_of::<u64>());

// SAFETY: an Mbuf is the unique owner of its buffer; the buffer is in shared memory that
// every thread of the process can reach.
unsafe impl Send for Mbuf {}

impl PktMbufPool {
    /// Creates a pool of `n` mbufs with `data_room` bytes each (headroom included; use
    /// [`DEFAULT_BUF_SIZE`]) and a per-lcore cache of `cache_size`.
    pub fn create(mem: &Memory, name: &str, n: u32, cache_size: u32, data_room: u16) -> Result<PktMbufPool, EalError> {
        if data_room < HEADROOM {
            return Err(EalError::InvalidArgument(format!(
                "mbuf pool '{name}': data room {data_room} is smaller than the headroom ({HEADROOM})"
            )));
        }
        let pool = Mempool::create(mem, name, n, HDR_SIZE + data_room as u32, cache_size)?;
        for i in 0..n {
            let addr = pool.obj_addr(i).expect("index below the pool size");
            // SAFETY: the object was just created, is in mapped shared memory, aligned to
            // 64 bytes and HDR_SIZE + data_room long; no one else knows of it yet.
            let h = unsafe { &mut *(addr as *mut MbufHdr) };
            h.buf_addr = addr + HDR_SIZE as u64;
            h.buf_iova = mem.iova(h.buf_addr);
            h.buf_len = data_room;
            h.pool = pool.header_addr();
            h.refcnt = 1;
            h.nb_segs = 1;
            h.port = NO_PORT;
            h.data_off = HEADROOM;
        }
        pool.mark_mbuf_pool();
        Ok(PktMbufPool { pool })
    }

    /// Finds an mbuf pool created by any process of the group (a plain mempool of that
    /// name is an error: its objects are not mbufs).
    pub fn lookup(mem: &Memory, name: &str) -> Result<PktMbufPool, EalError> {
        let pool = Mempool::lookup(mem, name)?;
        if !pool.is_mbuf_pool() {
            return Err(EalError::InvalidArgument(format!("mempool '{name}' is not an mbuf pool")));
        }
        Ok(PktMbufPool { pool })
    }

    /// The mbuf pool whose mempool header is at `addr` (as recorded in shared tables);
    /// cached per thread, so cheap to call on every burst.
    ///
    /// Checked: `addr` must be the header of a pool in shared memory that
    /// [`PktMbufPool::create`] initialised (see [`Mempool::from_header_addr`]); anything
    /// else is an error.
    #[inline]
    pub fn from_header_addr(addr: u64) -> Result<PktMbufPool, EalError> {
        Ok(PktMbufPool { pool: pool_at(addr)? })
    }

    /// Runs `f` on the mbuf pool whose mempool header is at `addr`, as
    /// [`PktMbufPool::from_header_addr`] checks it, without copying the handle out of the
    /// per-thread cache: for a driver's receive, which looks its pool up on every burst.
    #[inline]
    pub fn with_header_addr<R>(addr: u64, f: impl FnOnce(&PktMbufPool) -> R) -> Result<R, EalError> {
        with_pool_at(addr, |p| {
            // SAFETY: `PktMbufPool` is `repr(transparent)` over `Mempool`, and `with_pool_at`
            // hands out only pools `create` initialised as mbuf pools.
            f(unsafe { &*(p as *const Mempool).cast::<PktMbufPool>() })
        })
    }

    /// The underlying mempool (for counts).
    pub fn mempool(&self) -> &Mempool {
        &self.pool
    }

    /// Data room of each mbuf (headroom included).
    pub fn data_room(&self) -> u16 {
        (self.pool.elt_size() - HDR_SIZE).min(u16::MAX as u32) as u16
    }

    /// Allocates one reset mbuf.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        let a = self.pool.get()?;
        // SAFETY: `a` came out of this pool, so it is an initialised mbuf nobody else owns.
        let mut m = unsafe { Mbuf::from_raw(a) };
        m.reset();
        Some(m)
    }

    /// Allocates `n` reset mbufs into `out` (all or none); false when the pool is short.
    #[inline]
    pub fn alloc_bulk(&self, out: &mut Vec<Mbuf>, n: usize) -> bool {
        self.alloc_bulk_as(out, n, 0, NO_PORT)
    }

    /// Allocates `n` mbufs into `out` (all or none) as a driver's receive hands them out:
    /// each reset, one segment of `len` bytes (the data bytes as the pool left them), from
    /// input port `port`. False when the pool is short or `len` bytes do not fit the data
    /// room after the headroom. One pass over the headers, which are only written, and
    /// the addresses go from the pool straight into `out`, as DPDK's
    /// `rte_pktmbuf_alloc_bulk` followed by a driver's length and port stores.
    #[inline]
    pub fn alloc_bulk_rx(&self, out: &mut Vec<Mbuf>, n: usize, len: u16, port: u16) -> bool {
        self.alloc_bulk_as(out, n, len, port)
    }

    #[inline(always)]
    fn alloc_bulk_as(&self, out: &mut Vec<Mbuf>, n: usize, len: u16, port: u16) -> bool {
        // Every mbuf of a pool has its data room (set by `create`, which refuses less than
        // the headroom, and never changed): one check covers the burst.
        if u32::from(HEADROOM) + u32::from(len) > u32::from(self.data_room()) {
            return false;
        }
        let start = out.len();
        out.reserve(n);
        // SAFETY: `reserve` made room for `n` more elements after `start`, which the slice
        // views as words that need not be initialised (the pool only writes them, so they
        // need no clearing first); an `Mbuf` is one pointer-sized word (`repr(transparent)`
        // over `NonNull`, asserted below the type), so the pool can write the addresses
        // straight into the vector's buffer.
        let spare = unsafe {
            let p = out.as_mut_ptr().add(start).cast::<std::mem::MaybeUninit<u64>>();
            std::slice::from_raw_parts_mut(p, n)
        };
        if !self.pool.get_bulk_uninit(spare) {
            return false;
        }
        // SAFETY: `get_bulk_uninit` returned true: it wrote every word of `spare`.
        let addrs = unsafe { &*(spare as *const [std::mem::MaybeUninit<u64>] as *const [u64]) };
        for &a in addrs.iter() {
            // SAFETY: `a` came out of this pool, so it is an initialised mbuf nobody else
            // owns (as in `alloc`).
            let h = unsafe { &mut *(a as *mut MbufHdr) };
            h.reset_as(len, port);
        }
        // SAFETY: the `n` words after `start` now hold mbufs this vector owns.
        unsafe { out.set_len(start + n) };
        true
    }
}

impl MbufHdr {
    /// Resets the header for a new owner: one segment of `len` bytes after the headroom,
    /// input port `port`, no offload state. Only writes, so the line need not be read.
    #[inline(always)]
    fn reset_as(&mut self, len: u16, port: u16) {
        self.data_off = HEADROOM;
        self.refcnt = 1;
        self.nb_segs = 1;
        self.port = port;
        self.ol_flags = 0;
        self.packet_type = 0;
        self.pkt_len = u32::from(len);
        self.data_len = len;
        self.vlan_tci = 0;
        self.hash_rss = 0;
        self.next = 0;
        self.l2_len = 0;
        self.l4_len = 0;
        self.l3_len = 0;
        self.tso_segsz = 0;
    }
}

impl Mbuf {
    #[inline(always)]
    fn h(&self) -> &MbufHdr {
        // SAFETY: self.0 points to an initialised mbuf header that this handle owns.
        unsafe { self.0.as_ref() }
    }

    #[inline(always)]
    fn h_mut(&mut self) -> &mut MbufHdr {
        // SAFETY: as above, and `&mut self` makes the access unique.
        unsafe { self.0.as_mut() }
    }

    #[inline(always)]
    fn reset(&mut self) {
        self.h_mut().reset_as(0, NO_PORT);
    }

    /// Takes ownership of the mbuf at `addr`.
    ///
    /// # Safety
    /// `addr` must be the address of an initialised mbuf that nobody else owns, e.g. one
    /// produced by [`Mbuf::into_raw`] and passed through a ring.
    #[inline]
    pub unsafe fn from_raw(addr: u64) -> Mbuf {
        // SAFETY: the caller promises a valid, non-null mbuf address.
        Mbuf(unsafe { NonNull::new_unchecked(addr as *mut MbufHdr) })
    }

    /// Gives up ownership, returning the mbuf's shared-memory address (for rings).
    #[inline]
    pub fn into_raw(self) -> u64 {
        let a = self.0.as_ptr() as u64;
        std::mem::forget(self);
        a
    }

    /// Address of the mbuf header.
    #[inline]
    pub fn addr(&self) -> u64 {
        self.0.as_ptr() as u64
    }

    /// Bytes of packet data in this segment.
    #[inline]
    pub fn data_len(&self) -> u16 {
        self.h().data_len
    }
    /// Bytes of packet data in all segments.
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        self.h().pkt_len
    }
    /// Input port, or [`NO_PORT`].
    #[inline]
    pub fn port(&self) -> u16 {
        self.h().port
    }
    /// Sets the input port.
    #[inline]
    pub fn set_port(&mut self, p: u16) {
        self.h_mut().port = p;
    }
    /// RSS hash from the NIC.
    #[inline]
    pub fn rss_hash(&self) -> u32 {
        self.h().hash_rss
    }
    /// Sets the RSS hash (drivers).
    #[inline]
    pub fn set_rss_hash(&mut self, h: u32) {
        self.h_mut().hash_rss = h;
    }
    /// Offload flags: what the receiving device found, or what the sender asks for.
    #[inline]
    pub fn ol_flags(&self) -> OlFlags {
        OlFlags::from_bits_retain(self.h().ol_flags)
    }
    /// Sets the offload flags (drivers on receive, applications before transmit).
    #[inline]
    pub fn set_ol_flags(&mut self, f: OlFlags) {
        self.h_mut().ol_flags = f.bits();
    }
    /// The layers the receiving device recognised.
    #[inline]
    pub fn packet_type(&self) -> PacketType {
        PacketType::from_bits_retain(self.h().packet_type)
    }
    /// Sets the recognised layers.
    #[inline]
    pub fn set_packet_type(&mut self, t: PacketType) {
        self.h_mut().packet_type = t.bits();
    }
    /// The VLAN tag control information (valid with [`OlFlags::RX_VLAN`] or to send with
    /// [`OlFlags::TX_VLAN`]).
    #[inline]
    pub fn vlan_tci(&self) -> u16 {
        self.h().vlan_tci
    }
    /// Sets the VLAN tag control information.
    #[inline]
    pub fn set_vlan_tci(&mut self, tci: u16) {
        self.h_mut().vlan_tci = tci;
    }
    /// Header lengths and TSO segment size for TX offloads.
    #[inline]
    pub fn tx_offload(&self) -> TxOffloadLens {
        let h = self.h();
        TxOffloadLens { l2_len: h.l2_len, l3_len: h.l3_len, l4_len: h.l4_len, tso_segsz: h.tso_segsz }
    }
    /// Sets the header lengths and TSO segment size for TX offloads.
    #[inline]
    pub fn set_tx_offload(&mut self, l: TxOffloadLens) {
        let h = self.h_mut();
        (h.l2_len, h.l3_len, h.l4_len, h.tso_segsz) = (l.l2_len, l.l3_len, l.l4_len, l.tso_segsz);
    }
    /// The data of each segment, first to last.
    pub fn segments(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut cur = Some(self.0);
        std::iter::from_fn(move || {
            let p = cur?;
            // SAFETY: walking our own chain; every `next` is an mbuf this one owns, alive
            // as long as `self` is borrowed.
            let h = unsafe { p.as_ref() };
            cur = NonNull::new(h.next as *mut MbufHdr);
            // SAFETY: each segment's data range lies in its buffer.
            Some(unsafe {
                std::slice::from_raw_parts((h.buf_addr + h.data_off as u64) as *const u8, h.data_len as usize)
            })
        })
    }
    /// Number of chained segments.
    #[inline]
    pub fn nb_segs(&self) -> u16 {
        self.h().nb_segs
    }
    /// Bytes free in front of the data.
    #[inline]
    pub fn headroom(&self) -> u16 {
        self.h().data_off
    }
    /// Bytes free after the data in this segment.
    #[inline]
    pub fn tailroom(&self) -> u16 {
        let h = self.h();
        h.buf_len - h.data_off - h.data_len
    }
    /// Device address of the first data byte (for descriptors).
    #[inline]
    pub fn data_iova(&self) -> u64 {
        let h = self.h();
        h.buf_iova + h.data_off as u64
    }
    /// Device address of the buffer start plus the headroom (RX descriptors).
    #[inline]
    pub fn buf_iova_default(&self) -> u64 {
        self.h().buf_iova + HEADROOM as u64
    }

    /// This segment's data.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let h = self.h();
        // SAFETY: buf_addr+data_off..+data_len lies inside this mbuf's buffer, which we own.
        unsafe { std::slice::from_raw_parts((h.buf_addr + h.data_off as u64) as *const u8, h.data_len as usize) }
    }

    /// Asks the CPU to bring this segment's first data line into its cache (a hint, as
    /// DPDK's `rte_prefetch0` of `rte_pktmbuf_mtod`): forwarding loops call it on the next
    /// packets of a burst while they work on the current one.
    #[inline(always)]
    pub fn prefetch_data(&self) {
        let h = self.h();
        crate::prefetch::addr((h.buf_addr + h.data_off as u64) as *const u8);
    }

    /// This segment's data, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let h = self.h();
        let (p, l) = (h.buf_addr + h.data_off as u64, h.data_len as usize);
        // SAFETY: as in `data`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(p as *mut u8, l) }
    }

    /// Extends the data by `len` bytes at the end; returns the new bytes, or None (nothing
    /// changed) when the tailroom is too small.
    #[inline]
    pub fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        if len > self.tailroom() {
            return None;
        }
        let h = self.h_mut();
        let start = h.buf_addr + h.data_off as u64 + h.data_len as u64;
        h.data_len += len;
        h.pkt_len += len as u32;
        // SAFETY: the new bytes lie within the buffer (checked against the tailroom).
        Some(unsafe { std::slice::from_raw_parts_mut(start as *mut u8, len as usize) })
    }

    /// Extends the data by `len` bytes at the front (into the headroom).
    #[inline]
    pub fn prepend(&mut self, len: u16) -> Option<&mut [u8]> {
        if len > self.headroom() {
            return None;
        }
        let h = self.h_mut();
        h.data_off -= len;
        h.data_len += len;
        h.pkt_len += len as u32;
        let start = h.buf_addr + h.data_off as u64;
        // SAFETY: the bytes lie within the buffer (checked against the headroom).
        Some(unsafe { std::slice::from_raw_parts_mut(start as *mut u8, len as usize) })
    }

    /// Removes `len` bytes from the front; false (nothing changed) if there are fewer.
    #[inline]
    pub fn adj(&mut self, len: u16) -> bool {
        if len > self.data_len() {
            return false;
        }
        let h = self.h_mut();
        h.data_off += len;
        h.data_len -= len;
        h.pkt_len -= len as u32;
        true
    }

    /// Removes `len` bytes from the end; false (nothing changed) if there are fewer.
    #[inline]
    pub fn trim(&mut self, len: u16) -> bool {
        if len > self.data_len() {
            return false;
        }
        let h = self.h_mut();
        h.data_len -= len;
        h.pkt_len -= len as u32;
        true
    }

    /// Sets this single segment's data length (drivers, after the device wrote it).
    #[inline]
    pub fn set_len(&mut self, len: u16) -> bool {
        let h = self.h_mut();
        if h.data_off as u32 + len as u32 > h.buf_len as u32 {
            return false;
        }
        h.data_len = len;
        h.pkt_len = len as u32;
        true
    }

    /// Appends `tail` as the next segment(s) of this packet.
    pub fn chain(&mut self, tail: Mbuf) {
        let (tl, ts) = (tail.pkt_len(), tail.nb_segs());
        let mut last = self.0;
        // SAFETY: walking our own chain; every `next` is an mbuf we own.
        unsafe {
            while last.as_ref().next != 0 {
                last = NonNull::new_unchecked(last.as_ref().next as *mut MbufHdr);
            }
            last.as_mut().next = tail.into_raw();
        }
        let h = self.h_mut();
        h.pkt_len += tl;
        h.nb_segs += ts;
    }

    /// Copies the whole packet (all segments) into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.pkt_len() as usize);
        let mut cur = Some(self.0);
        while let Some(p) = cur {
            // SAFETY: walking our own chain.
            let h = unsafe { p.as_ref() };
            // SAFETY: each segment's data range lies in its buffer.
            v.extend_from_slice(unsafe {
                std::slice::from_raw_parts((h.buf_addr + h.data_off as u64) as *const u8, h.data_len as usize)
            });
            cur = NonNull::new(h.next as *mut MbufHdr);
        }
        v
    }

    /// The pool this mbuf belongs to.
    pub fn pool(&self) -> Option<PktMbufPool> {
        pool_at(self.h().pool).ok().map(|pool| PktMbufPool { pool })
    }
}

thread_local! {
    /// The pool of the last mbuf this thread freed: frees come in runs from one pool.
    /// Borrowed in place (a pool handle is two cache lines; copying it out on every burst
    /// cost more than the rest of a free).
    static LAST_POOL: std::cell::RefCell<Option<Mempool>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` on the handle of the pool whose shared header is at `addr`, cached per thread
/// (an `f` that frees mbufs itself works, with uncached look-ups).
#[inline]
fn with_pool_at<R>(addr: u64, f: impl FnOnce(&Mempool) -> R) -> Result<R, EalError> {
    LAST_POOL.with(|c| {
        // Borrowed already only when `f` of an outer call frees mbufs: then look up afresh.
        if let Ok(cached) = c.try_borrow() {
            if let Some(p) = cached.as_ref().filter(|p| p.header_addr() == addr) {
                return Ok(f(p));
            }
        }
        let p = Mempool::from_header_addr(addr)?;
        if !p.is_mbuf_pool() {
            return Err(EalError::InvalidArgument(format!("the mempool at {addr:#x} is not an mbuf pool")));
        }
        let r = f(&p);
        if let Ok(mut cached) = c.try_borrow_mut() {
            *cached = Some(p);
        }
        Ok(r)
    })
}

/// The handle of the pool whose shared header is at `addr`, cached per thread.
#[inline]
fn pool_at(addr: u64) -> Result<Mempool, EalError> {
    with_pool_at(addr, |p| *p)
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        let mut cur = Some(self.0);
        while let Some(p) = cur {
            // SAFETY: we own every segment of the chain.
            let h = unsafe { &mut *p.as_ptr() };
            cur = NonNull::new(h.next as *mut MbufHdr);
            h.next = 0;
            if let Err(e) = with_pool_at(h.pool, |pl| pl.put(p.as_ptr() as u64)) {
                tracing::error!("mbuf at {:#x} has no valid pool ({e}); leaking it", p.as_ptr() as u64);
            }
        }
    }
}

/// Frees every mbuf in `bufs` (emptying it), every segment of a chain included, returning
/// runs of segments of one pool to it in bulk.
#[inline]
pub fn free_bulk(bufs: &mut Vec<Mbuf>) {
    let Some(first) = bufs.first() else { return };
    // The common burst: single segments of one pool. One pass of two loads per mbuf finds
    // it, and the vector's own words go back to the pool, with no copy.
    let pool = first.h().pool;
    let mixed = bufs.iter().fold(0u64, |acc, m| {
        let h = m.h();
        acc | h.next | (h.pool ^ pool)
    });
    if mixed == 0 {
        // SAFETY: an `Mbuf` is one word holding its header's address (`repr(transparent)`
        // over `NonNull`, size asserted below the type), so the vector's buffer is
        // `len` initialised `u64` addresses.
        let addrs = unsafe { std::slice::from_raw_parts(bufs.as_ptr().cast::<u64>(), bufs.len()) };
        if let Err(e) = with_pool_at(pool, |p| p.put_bulk(addrs)) {
            tracing::error!("{} mbufs have no valid pool ({e}); leaking them", addrs.len());
        }
        // SAFETY: the pool owns those mbufs now; forgetting the handles (length 0, `Mbuf`
        // has nothing else to drop) keeps them from being freed twice.
        unsafe { bufs.set_len(0) };
        return;
    }
    free_bulk_chains(bufs);
}

/// [`free_bulk`] of a burst with chains or mbufs of several pools.
#[cold]
fn free_bulk_chains(bufs: &mut Vec<Mbuf>) {
    const RUN: usize = 64;
    let mut addrs = [0u64; RUN];
    let mut n = 0;
    let mut pool = 0u64;
    let flush = |pool: u64, addrs: &[u64]| {
        if addrs.is_empty() {
            return;
        }
        if let Err(e) = with_pool_at(pool, |p| p.put_bulk(addrs)) {
            tracing::error!("{} mbufs have no valid pool ({e}); leaking them", addrs.len());
        }
    };
    for m in bufs.drain(..) {
        let mut seg = m.into_raw();
        while seg != 0 {
            // SAFETY: `seg` is a segment of a chain we owned (`into_raw` gave up the head);
            // each is unlinked before it goes back to its pool, as `Drop` does.
            let h = unsafe { &mut *(seg as *mut MbufHdr) };
            let next = h.next;
            if next != 0 {
                h.next = 0;
            }
            if h.pool != pool || n == RUN {
                flush(pool, &addrs[..n]);
                n = 0;
                pool = h.pool;
            }
            addrs[n] = seg;
            n += 1;
            seg = next;
        }
    }
    flush(pool, &addrs[..n]);
}

impl std::fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mbuf({:#x}, len {}, port {})", self.addr(), self.pkt_len(), self.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_bulk_returns_every_segment_of_chains_and_unlinks_them() {
        let m = Memory::anonymous(16 << 20).unwrap();
        let p = PktMbufPool::create(&m, "mbc", 256, 0, DEFAULT_BUF_SIZE).unwrap();
        let q = PktMbufPool::create(&m, "mbq", 64, 0, DEFAULT_BUF_SIZE).unwrap();
        let mut bufs = Vec::new();
        for i in 0..40 {
            let mut head = p.alloc().unwrap();
            head.append(10).unwrap();
            for k in 0..(i % 4) {
                // Segments of another pool in some chains: each goes back to its own.
                let mut s = if k == 1 { q.alloc().unwrap() } else { p.alloc().unwrap() };
                s.append(20).unwrap();
                head.chain(s);
            }
            bufs.push(head);
        }
        assert!(p.mempool().in_use_count() > 40 && q.mempool().in_use_count() > 0);
        free_bulk(&mut bufs);
        assert!(bufs.is_empty());
        assert!(p.mempool().is_full() && q.mempool().is_full(), "no segment leaked");
        let mut again = Vec::new();
        assert!(p.alloc_bulk(&mut again, 256));
        assert!(again.iter().all(|m| m.nb_segs() == 1 && m.pkt_len() == 0), "freed segments come back unlinked");
    }

    #[test]
    fn alloc_bulk_rx_sets_length_and_port_and_free_bulk_takes_the_burst_back() {
        let m = Memory::anonymous(16 << 20).unwrap();
        let p = PktMbufPool::create(&m, "rx", 64, 0, DEFAULT_BUF_SIZE).unwrap();
        let mut v = Vec::new();
        let mut a = p.alloc().unwrap();
        a.append(9).unwrap();
        a.set_port(3);
        a.set_vlan_tci(7);
        drop(a);
        assert!(p.alloc_bulk_rx(&mut v, 32, 60, 5));
        assert_eq!(v.len(), 32);
        assert!(v.iter().all(|b| (b.pkt_len(), b.data_len(), b.port(), b.nb_segs()) == (60, 60, 5, 1)));
        assert!(v.iter().all(|b| b.headroom() == HEADROOM && b.vlan_tci() == 0), "reset as a new mbuf");
        let room = DEFAULT_BUF_SIZE - HEADROOM;
        assert!(!p.alloc_bulk_rx(&mut v, 1, room + 1, 5), "a length past the data room is refused");
        assert!(!p.alloc_bulk_rx(&mut v, 33, 60, 5), "only 32 left: all or nothing");
        assert_eq!((v.len(), p.mempool().in_use_count()), (32, 32));
        // A burst of single segments of one pool goes back in one piece.
        free_bulk(&mut v);
        assert!(v.is_empty() && p.mempool().is_full());
        // Frees inside `with_header_addr` (the per-thread cache borrowed) still reach the pool.
        let mut w = Vec::new();
        assert!(p.alloc_bulk(&mut w, 4));
        PktMbufPool::with_header_addr(p.mempool().header_addr(), |_| free_bulk(&mut w)).unwrap();
        assert!(p.mempool().is_full());
    }

    #[test]
    fn alloc_append_free_returns_to_pool() {
        let m = Memory::anonymous(16 << 20).unwrap();
        let p = PktMbufPool::create(&m, "mb", 64, 0, DEFAULT_BUF_SIZE).unwrap();
        let mut a = p.alloc().unwrap();
        assert_eq!(a.headroom(), HEADROOM);
        assert_eq!(a.data_len(), 0);
        a.append(5).unwrap().copy_from_slice(b"hello");
        a.prepend(2).unwrap().copy_from_slice(b"<<");
        assert_eq!(a.data(), b"<<hello");
        assert_eq!(a.pkt_len(), 7);
        assert!(a.append(4000).is_none());
        assert!(a.adj(2));
        assert!(a.trim(1));
        assert_eq!(a.data(), b"hell");
        assert_eq!(p.mempool().in_use_count(), 1);
        let raw = a.into_raw();
        // SAFETY: raw came from into_raw just above.
        let a = unsafe { Mbuf::from_raw(raw) };
        assert_eq!(a.data(), b"hell");
        drop(a);
        assert!(p.mempool().is_full());
    }

    #[test]
    fn chains_free_every_segment_and_bulk_is_all_or_nothing() {
        let m = Memory::anonymous(16 << 20).unwrap();
        let p = PktMbufPool::create(&m, "chain", 8, 0, DEFAULT_BUF_SIZE).unwrap();
        let mut a = p.alloc().unwrap();
        a.append(3).unwrap().copy_from_slice(b"abc");
        let mut b = p.alloc().unwrap();
        b.append(2).unwrap().copy_from_slice(b"de");
        a.chain(b);
        assert_eq!(a.nb_segs(), 2);
        assert_eq!(a.to_vec(), b"abcde");
        assert_eq!(a.segments().collect::<Vec<_>>(), [&b"abc"[..], &b"de"[..]]);
        assert_eq!(p.mempool().in_use_count(), 2);
        let mut v = Vec::new();
        assert!(!p.alloc_bulk(&mut v, 7), "only 6 left");
        assert!(v.is_empty());
        assert_eq!(p.mempool().in_use_count(), 2);
        drop(a);
        assert!(p.alloc_bulk(&mut v, 8));
        assert_eq!(p.mempool().avail_count(), 0);
        v.clear();
        assert!(p.mempool().is_full());
        assert!(PktMbufPool::create(&m, "tiny", 8, 0, 64).is_err());
    }

    #[test]
    fn offload_fields_are_kept_and_cleared_when_the_mbuf_is_reused() {
        let m = Memory::anonymous(4 << 20).unwrap();
        let p = PktMbufPool::create(&m, "ol", 1, 0, DEFAULT_BUF_SIZE).unwrap();
        let mut a = p.alloc().unwrap();
        let lens = TxOffloadLens { l2_len: 14, l3_len: 20, l4_len: 32, tso_segsz: 1448 };
        a.set_ol_flags(OlFlags::TX_TCP_SEG | OlFlags::TX_TCP_CKSUM | OlFlags::TX_IP_CKSUM | OlFlags::TX_IPV4);
        a.set_tx_offload(lens);
        a.set_vlan_tci(0x0123);
        a.set_packet_type(PacketType::L2_ETHER | PacketType::L3_IPV4 | PacketType::L4_TCP);
        assert_eq!(a.tx_offload(), lens);
        assert_eq!(a.ol_flags().tx_l4(), TxL4Cksum::Tcp);
        assert_eq!(a.vlan_tci(), 0x0123);
        assert!(a.packet_type().contains(PacketType::L4_TCP));
        drop(a);
        let b = p.alloc().unwrap();
        assert_eq!((b.ol_flags(), b.tx_offload(), b.vlan_tci()), (OlFlags::empty(), TxOffloadLens::default(), 0));
        assert_eq!(b.packet_type(), PacketType::empty());
    }

    #[test]
    fn a_plain_mempool_is_not_an_mbuf_pool() {
        let m = Memory::anonymous(4 << 20).unwrap();
        let plain = Mempool::create(&m, "plain", 8, 256, 0).unwrap();
        assert!(PktMbufPool::from_header_addr(plain.header_addr()).is_err());
        assert!(PktMbufPool::lookup(&m, "plain").is_err());
        let p = PktMbufPool::create(&m, "real", 8, 0, DEFAULT_BUF_SIZE).unwrap();
        assert!(PktMbufPool::from_header_addr(p.mempool().header_addr()).is_ok());
        let local = [0u64; 32];
        assert!(PktMbufPool::from_header_addr(local.as_ptr() as u64).is_err());
    }
}
