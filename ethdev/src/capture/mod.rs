//! Packet capture from a running group (what `dpdk-pdump`'s library does for
//! `dpdk-dumpcap`): a capture tool arms a session in shared memory, and whichever process
//! polls a captured queue copies the frames of each burst into the shared capture ring.
//!
//! - **Off costs one relaxed load**: `Port::rx_burst` / `tx_burst` read the port slot's
//!   `capture` word (in the cache line they already read) and go on when it is zero.
//! - **On**, the hook filters each frame ([`Filter`]), copies up to the snap length into a
//!   free slot of the ring and counts it; a full ring drops the frame and counts the drop.
//!   Forwarding never waits for the capture and no mbuf leaves its owner: the capture holds
//!   copies, so a killed capture tool cannot keep a single mbuf from its pool.
//! - **A dead owner disarms**: the primary's periodic sweep of dead peers (every second)
//!   finds a session whose owner died (`kill -9`) and disarms it ([`sweep_dead_owner`]).
//!
//! One session at a time per group; the area (about 4 MiB) is reserved by the first
//! session and kept for the next ones.

mod area;
pub mod filter;

pub use area::{CaptureArea, Record, MAX_SNAPLEN, SLOTS, SLOT_BYTES};
pub use filter::{Filter, FilterError};

use crate::port_table::{PortSlot, PortTable, MAX_PORTS};
use eal::memory::Memory;
use eal::process::pid_alive;
use eal::Mbuf;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Name of the capture area's memzone.
pub const AREA: &str = "ethdev_capture";

bitflags::bitflags! {
    /// Directions captured on a port (the port slot's `capture` word).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CaptureDir: u32 {
        /// Received frames (after the driver's receive).
        const RX = 1;
        /// Frames given to transmit (before the driver's send, as DPDK's TX callbacks).
        const TX = 2;
    }
}

/// A session's state in the area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum SessionState {
    /// No session.
    Idle = 0,
    /// Capturing.
    Armed = 1,
}

/// Why a capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Another live process owns the group's capture.
    #[error("another capture (pid {0}) is running in this group: stop it first (one capture at a time)")]
    Busy(u32),
    /// A port that does not exist.
    #[error("no port {0}: see --list-interfaces for the ports of the group")]
    NoSuchPort(u16),
    /// Bad settings.
    #[error("capture settings: {0}")]
    Bad(String),
    /// The area could not be reserved or found.
    #[error("capture area: {0}")]
    Eal(#[from] eal::EalError),
    /// Producers of the previous session did not leave the hook.
    #[error("the capture hook stayed busy for {0:?}: a process polling a port may be stuck; try again")]
    Stuck(Duration),
}

/// What to capture.
#[derive(Debug, Clone)]
pub struct CaptureConf {
    /// Ports and the directions captured on each.
    pub ports: Vec<(u16, CaptureDir)>,
    /// Captured queues (bit mask, every queue by default).
    pub queue_mask: u32,
    /// Bytes kept of each frame (1..=[`MAX_SNAPLEN`]; above [`SLOT_BYTES`] the ring gets
    /// fewer slots, see [`Capture::ring_slots`]).
    pub snaplen: u32,
    /// Ring slots (a power of two, 1..=[`SLOTS`]).
    pub ring_size: u32,
    /// Which frames to keep.
    pub filter: Filter,
}

impl Default for CaptureConf {
    fn default() -> CaptureConf {
        CaptureConf {
            ports: Vec::new(),
            queue_mask: u32::MAX,
            snaplen: SLOT_BYTES as u32,
            ring_size: SLOTS as u32,
            filter: Filter::default(),
        }
    }
}

/// Counters of one captured port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCaptureStats {
    /// Frames that passed the filter.
    pub received: u64,
    /// Of those, frames dropped because the ring was full.
    pub dropped: u64,
    /// Frames the filter left out.
    pub filtered: u64,
}

/// An armed capture session, owned by this process: it reads the ring and disarms when
/// dropped.
pub struct Capture {
    area: &'static CaptureArea,
    table: PortTable,
    ports: Vec<u16>,
    slots: u32,
}

fn area_of(mem: &Memory, create: bool) -> Result<Option<&'static CaptureArea>, eal::EalError> {
    let len = std::mem::size_of::<CaptureArea>() as u64;
    let mz = match mem.memzone_lookup(AREA) {
        Some(m) => m,
        None if create => match mem.memzone_reserve(AREA, len, 64) {
            Ok(m) => m,
            Err(eal::EalError::Exists(_)) => mem
                .memzone_lookup(AREA)
                .ok_or_else(|| eal::EalError::NotFound { kind: "memzone", name: AREA.into() })?,
            Err(e) => return Err(e),
        },
        None => return Ok(None),
    };
    if mz.len() < len {
        return Err(eal::EalError::InvalidArgument(format!(
            "the group's capture area is {} bytes, this build's is {len}: start every process from the same build",
            mz.len()
        )));
    }
    eal::shm::shared_ref::<CaptureArea>(mz.addr())
        .map(Some)
        .ok_or_else(|| eal::EalError::InvalidArgument("misaligned capture area".into()))
}

/// Clears every port's capture word, marks the area idle and waits (up to `wait`) for the
/// producers inside the hook to leave. True when none is left inside.
fn disarm(area: &CaptureArea, table: &PortTable, wait: Duration) -> bool {
    for id in 0..MAX_PORTS as u16 {
        if let Some(s) = table.slot(id) {
            s.capture.store(0, Ordering::SeqCst);
        }
    }
    area.state.store(SessionState::Idle as u32, Ordering::SeqCst);
    let end = Instant::now() + wait;
    while area.inflight.load(Ordering::SeqCst) != 0 {
        if Instant::now() >= end {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

impl Capture {
    /// Arms a capture of `conf` owned by this process (any process of the group).
    pub fn start(mem: &Memory, conf: &CaptureConf) -> Result<Capture, CaptureError> {
        let table = PortTable::lookup(mem)?;
        if conf.ports.is_empty() {
            return Err(CaptureError::Bad("no port to capture: name one with -i".into()));
        }
        for &(p, dir) in &conf.ports {
            if table.slot(p).is_none_or(|s| s.in_use.load(Ordering::Acquire) != 1) {
                return Err(CaptureError::NoSuchPort(p));
            }
            if dir.is_empty() {
                return Err(CaptureError::Bad(format!("port {p}: no direction to capture (rx, tx or both)")));
            }
        }
        if conf.snaplen == 0 || conf.snaplen as usize > MAX_SNAPLEN {
            return Err(CaptureError::Bad(format!("snap length {}: must be 1..={MAX_SNAPLEN}", conf.snaplen)));
        }
        if !conf.ring_size.is_power_of_two() || conf.ring_size as usize > SLOTS {
            return Err(CaptureError::Bad(format!(
                "ring size {}: must be a power of two up to {SLOTS}",
                conf.ring_size
            )));
        }
        let area = area_of(mem, true)?.expect("created");
        let me = std::process::id();
        loop {
            match area.owner.compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(pid) if pid_alive(pid) => return Err(CaptureError::Busy(pid)),
                Err(pid) => {
                    // Its owner died before the primary's sweep noticed: disarm for it.
                    disarm(area, &table, Duration::from_secs(1));
                    let _ = area.owner.compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Relaxed);
                }
            }
        }
        let wait = Duration::from_secs(1);
        if !disarm(area, &table, wait) {
            area.owner.store(0, Ordering::Release);
            return Err(CaptureError::Stuck(wait));
        }
        let slots = area.reset_ring(conf.ring_size, conf.snaplen);
        for c in &area.ports {
            c.received.store(0, Ordering::Relaxed);
            c.dropped.store(0, Ordering::Relaxed);
            c.filtered.store(0, Ordering::Relaxed);
        }
        let words = conf.filter.to_words();
        for (slot, w) in area.filter.iter().zip(words.iter().chain(std::iter::repeat(&0))) {
            slot.store(*w, Ordering::Relaxed);
        }
        area.filter_len.store(words.len() as u32, Ordering::Relaxed);
        area.queue_mask.store(conf.queue_mask, Ordering::Relaxed);
        area.snaplen.store(conf.snaplen, Ordering::Relaxed);
        area.session.fetch_add(1, Ordering::Relaxed);
        area.state.store(SessionState::Armed as u32, Ordering::SeqCst);
        for &(p, dir) in &conf.ports {
            let s = table.slot(p).expect("checked above");
            s.capture_area.store(area as *const CaptureArea as u64, Ordering::SeqCst);
            s.capture.fetch_or(dir.bits(), Ordering::SeqCst);
        }
        tracing::info!(ports = ?conf.ports, "capture armed");
        Ok(Capture { area, table, ports: conf.ports.iter().map(|p| p.0).collect(), slots })
    }

    /// Slots of the session's ring: the ring size asked for, or fewer when that many frames
    /// of the snap length do not fit the area.
    pub fn ring_slots(&self) -> u32 {
        self.slots
    }

    /// The oldest captured frame, if any.
    pub fn next_record(&mut self) -> Option<Record> {
        self.area.pop()
    }

    /// True while the session is armed (false once the primary disarmed it).
    pub fn armed(&self) -> bool {
        self.area.state.load(Ordering::Acquire) == SessionState::Armed as u32
            && self.area.owner.load(Ordering::Acquire) == std::process::id()
    }

    /// Counters of port `p` in this session.
    pub fn stats(&self, p: u16) -> PortCaptureStats {
        stats_of(self.area, p)
    }

    /// Disarms; frames still in the ring stay readable with [`Capture::next_record`].
    pub fn stop(&mut self) {
        if self.area.owner.load(Ordering::Acquire) == std::process::id() {
            disarm(self.area, &self.table, Duration::from_secs(1));
        }
    }

    /// The captured ports.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
        let _ = self.area.owner.compare_exchange(std::process::id(), 0, Ordering::AcqRel, Ordering::Relaxed);
    }
}

fn stats_of(area: &CaptureArea, p: u16) -> PortCaptureStats {
    area.ports.get(p as usize).map_or_else(PortCaptureStats::default, |c| PortCaptureStats {
        received: c.received.load(Ordering::Relaxed),
        dropped: c.dropped.load(Ordering::Relaxed),
        filtered: c.filtered.load(Ordering::Relaxed),
    })
}

/// The state of the group's capture: `Some((owner pid, armed))` when an area exists and a
/// session owns it.
pub fn session(mem: &Memory) -> Option<(u32, bool)> {
    let area = area_of(mem, false).ok().flatten()?;
    let owner = area.owner.load(Ordering::Acquire);
    (owner != 0).then(|| (owner, area.state.load(Ordering::Acquire) == SessionState::Armed as u32))
}

/// Disarms a session whose owner is dead (run by the primary at each sweep of dead peers);
/// returns the dead owner's pid when it did.
pub fn sweep_dead_owner(mem: &Memory) -> Option<u32> {
    let area = area_of(mem, false).ok().flatten()?;
    let owner = area.owner.load(Ordering::Acquire);
    if owner == 0 || pid_alive(owner) {
        return None;
    }
    let table = PortTable::lookup(mem).ok()?;
    disarm(area, &table, Duration::from_secs(1));
    area.owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed).ok()?;
    tracing::warn!(pid = owner, "the capture's owner died: capture disarmed");
    Some(owner)
}

/// The hook: copies the frames of one burst of port `id`, queue `q` into the ring. Called
/// by `Port` only when the slot's capture word has `dir`.
#[cold]
#[inline(never)]
pub(crate) fn tap(slot: &PortSlot, id: u16, q: u16, dir: CaptureDir, bufs: &[Mbuf]) {
    if bufs.is_empty() {
        return;
    }
    let Some(area) = eal::shm::shared_ref::<CaptureArea>(slot.capture_area.load(Ordering::Acquire)) else {
        return;
    };
    area.inflight.fetch_add(1, Ordering::SeqCst);
    if area.state.load(Ordering::SeqCst) == SessionState::Armed as u32
        && (q >= 32 || area.queue_mask.load(Ordering::Relaxed) & (1 << q) != 0)
    {
        copy_burst(area, id, q, dir, bufs);
    }
    area.inflight.fetch_sub(1, Ordering::Release);
}

thread_local! {
    /// This thread's decoded copy of the armed session's filter, by session number (decoded
    /// once per session, not once per burst).
    static FILTER: RefCell<(u32, Option<Filter>)> = const { RefCell::new((0, None)) };
}

fn session_filter(area: &CaptureArea) -> (u32, Option<Filter>) {
    let n = (area.filter_len.load(Ordering::Relaxed) as usize).min(filter::MAX_OPS);
    if n == 0 {
        return (area.session.load(Ordering::Relaxed), None);
    }
    let words: Vec<u64> = area.filter[..n].iter().map(|w| w.load(Ordering::Relaxed)).collect();
    // A program that does not decode keeps nothing rather than everything.
    (area.session.load(Ordering::Relaxed), Some(Filter::from_words(&words).unwrap_or_else(Filter::nothing)))
}

fn copy_burst(area: &CaptureArea, id: u16, q: u16, dir: CaptureDir, bufs: &[Mbuf]) {
    FILTER.with(|cell| {
        let mut f = cell.borrow_mut();
        let session = area.session.load(Ordering::Relaxed);
        if f.0 != session {
            *f = session_filter(area);
        }
        copy_filtered(area, id, q, dir, bufs, f.1.as_ref());
    });
}

fn copy_filtered(area: &CaptureArea, id: u16, q: u16, dir: CaptureDir, bufs: &[Mbuf], filter: Option<&Filter>) {
    let Some(c) = area.ports.get(id as usize) else { return };
    let snaplen = area.snaplen.load(Ordering::Relaxed) as usize;
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let meta = id as u64 | (q as u64) << 16 | (if dir == CaptureDir::RX { 1u64 } else { 2 }) << 32;
    let (mut received, mut dropped, mut filtered) = (0u64, 0u64, 0u64);
    for m in bufs {
        let owned;
        let bytes: &[u8] = if m.nb_segs() <= 1 {
            m.data()
        } else {
            owned = m.to_vec();
            &owned
        };
        if filter.is_some_and(|f| !f.matches(bytes)) {
            filtered += 1;
            continue;
        }
        received += 1;
        if !area.push(meta, m.pkt_len(), ts, &bytes[..bytes.len().min(snaplen)]) {
            dropped += 1;
        }
    }
    add(&c.received, received);
    add(&c.dropped, dropped);
    add(&c.filtered, filtered);
}

fn add(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}
