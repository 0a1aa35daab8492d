//! The shared config: the first bytes of the shared window, backed by the `config` file in
//! the runtime directory. It holds plain data only (see [`SharedPlain`]).

use crate::name::SharedName;
use crate::shm::SharedPlain;
use crate::spinlock::SharedSpinlock;
use std::sync::atomic::{AtomicU32, AtomicU64};

/// Written last by a primary whose initialisation is complete.
pub const CONFIG_MAGIC: u64 = u64::from_le_bytes(*b"BYPASS01");
/// Maximum number of memzones in a group.
pub const MAX_MEMZONES: usize = 1024;
/// Maximum lcore id + 1.
pub const MAX_LCORES: usize = 128;
/// Maximum number of PCI devices in the shared device table.
pub const MAX_DEVICES: usize = 32;

/// The layout version: processes of one group must agree on it. It changes with any change
/// of a shared structure's size or of the crate version.
pub const fn layout_version() -> u64 {
    const VERSION_STR: &[u8] = env!("CARGO_PKG_VERSION").as_bytes();
    // FNV-1a over the crate version, then mixed with the shared sizes.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < VERSION_STR.len() {
        h ^= VERSION_STR[i] as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
        i += 1;
    }
    h ^= std::mem::size_of::<SharedConfig>() as u64;
    h = h.wrapping_mul(0x100_0000_01b3);
    h ^= LAYOUT_REVISION;
    h.wrapping_mul(0x100_0000_01b3)
}

/// Bumped by hand whenever a shared structure changes meaning without changing size.
const LAYOUT_REVISION: u64 = 11;

/// One memzone slot.
#[repr(C)]
pub struct MemzoneSlot {
    /// The memzone's name (at most 31 bytes).
    pub name: SharedName<4>,
    /// Start address in the shared window; 0 when the slot is free.
    pub addr: AtomicU64,
    /// Length in bytes.
    pub len: AtomicU64,
    /// IOVA of the first byte (equal to `addr` in IOVA-as-VA mode).
    pub iova: AtomicU64,
    /// Pid of the process that reserved it.
    pub owner: AtomicU32,
    /// 1 while the slot is in use.
    pub in_use: AtomicU32,
}
// SAFETY: repr(C) of plain atomics and a SharedName.
unsafe impl SharedPlain for MemzoneSlot {}

/// One entry of the shared device table (filled by the PCI bus in the primary).
#[repr(C)]
pub struct DeviceSlot {
    /// PCI address packed as domain<<16 | bus<<8 | dev<<3 | fn; 0 with `in_use == 0`.
    pub pci_addr: AtomicU32,
    /// VFIO IOMMU group number.
    pub iommu_group: AtomicU32,
    /// BAR sizes in bytes (0 = absent).
    pub bar_len: [AtomicU64; 6],
    /// The PMD's name.
    pub driver: SharedName<4>,
    /// The ethdev port id it became, or u32::MAX.
    pub port_id: AtomicU32,
    /// 1 while the slot is in use.
    pub in_use: AtomicU32,
}
// SAFETY: repr(C) of plain atomics and a SharedName.
unsafe impl SharedPlain for DeviceSlot {}

/// What one lcore is doing to a multi-producer or multi-consumer ring, recorded so that
/// the primary can finish the operation if the lcore's process dies between reserving
/// slots and publishing them (which would stall every later producer or consumer).
#[repr(C, align(64))]
pub struct RingOp {
    /// Header address of the ring; 0 when the lcore is in no ring operation.
    pub ring: AtomicU64,
    /// First index of the reserved slots.
    pub head: AtomicU32,
    /// Number of slots reserved, with [`RING_OP_CONSUMER`] and [`RING_OP_WRITTEN`].
    pub n: AtomicU32,
}
// SAFETY: repr(C) of plain atomics.
unsafe impl SharedPlain for RingOp {}

/// [`RingOp::n`]: the operation is a dequeue.
pub const RING_OP_CONSUMER: u32 = 1 << 31;
/// [`RingOp::n`]: an enqueue has written all its slots (publishing them is safe).
pub const RING_OP_WRITTEN: u32 = 1 << 30;
/// [`RingOp::n`]: the slot count bits.
pub const RING_OP_COUNT: u32 = (1 << 30) - 1;

/// The shared config of one group. Field order of the first four fields is fixed: a
/// secondary reads them from the file before it maps anything (see `header` below).
#[repr(C)]
pub struct SharedConfig {
    /// [`CONFIG_MAGIC`] once the primary is ready; 0 while it starts or after it exited.
    pub magic: AtomicU64,
    /// [`layout_version`] of the primary's build.
    pub layout_version: AtomicU64,
    /// Base of the shared window.
    pub base: AtomicU64,
    /// Length of the shared window.
    pub window_len: AtomicU64,
    /// Pid of the primary.
    pub primary_pid: AtomicU32,
    /// 1 with `--no-huge`.
    pub no_huge: AtomicU32,
    /// 1 in IOVA-as-PA mode.
    pub iova_pa: AtomicU32,
    /// The kind of the VFIO groups the primary opened: 0 IOMMU groups (or none), 1
    /// no-IOMMU groups (read and written through `bus::group_kind` / `record_group_kind`).
    pub vfio_group_kind: AtomicU32,
    /// Bytes of the window taken by this config (the heap starts after it).
    pub config_len: AtomicU64,
    /// Start of the memory segment (the heap).
    pub mem_start: AtomicU64,
    /// Length of the memory segment.
    pub mem_len: AtomicU64,
    /// Page size backing the segment.
    pub page_size: AtomicU64,
    /// Path of the file that backs the segment.
    pub mem_file: SharedName<32>,
    /// Serialises memzone reservation and release.
    pub memzone_lock: SharedSpinlock,
    _pad1: AtomicU32,
    /// The memzone table.
    pub memzones: [MemzoneSlot; MAX_MEMZONES],
    /// Pid of the process that uses each lcore id, 0 if none.
    pub lcore_owner: [AtomicU32; MAX_LCORES],
    /// The shared device table.
    pub devices: [DeviceSlot; MAX_DEVICES],
    /// The memory the primary was asked for, in MB (`-m`, or the default).
    pub memory_mb: AtomicU64,
    /// The primary's `--vdev` arguments, separated by spaces (cut with `...` if too long).
    pub vdevs: SharedName<32>,
    /// Each lcore's ring operation in progress (see [`RingOp`]).
    pub ring_ops: [RingOp; MAX_LCORES],
}
// SAFETY: repr(C) of plain atomics, names, slots and a spinlock; all valid when zeroed.
unsafe impl SharedPlain for SharedConfig {}

/// Byte offsets of the header fields a secondary reads with `pread` before mapping.
pub mod header {
    /// Offset of `magic`.
    pub const MAGIC: usize = std::mem::offset_of!(super::SharedConfig, magic);
    /// Offset of `layout_version`.
    pub const LAYOUT_VERSION: usize = std::mem::offset_of!(super::SharedConfig, layout_version);
    /// Offset of `base`.
    pub const BASE: usize = std::mem::offset_of!(super::SharedConfig, base);
    /// Offset of `window_len`.
    pub const WINDOW_LEN: usize = std::mem::offset_of!(super::SharedConfig, window_len);
    /// Offset of `primary_pid`.
    pub const PRIMARY_PID: usize = std::mem::offset_of!(super::SharedConfig, primary_pid);
    /// Bytes to read to see all of the above.
    pub const LEN: usize = 40;
    const _: () = assert!(MAGIC == 0 && LAYOUT_VERSION == 8 && BASE == 16 && WINDOW_LEN == 24 && PRIMARY_PID == 32);
}

/// The header fields of a config file, decoded from its first bytes.
#[derive(Debug, Clone, Copy)]
pub struct ConfigHeader {
    /// See [`SharedConfig::magic`].
    pub magic: u64,
    /// See [`SharedConfig::layout_version`].
    pub layout_version: u64,
    /// See [`SharedConfig::base`].
    pub base: u64,
    /// See [`SharedConfig::window_len`].
    pub window_len: u64,
    /// See [`SharedConfig::primary_pid`].
    pub primary_pid: u32,
}

impl ConfigHeader {
    /// Decodes the header from the first [`header::LEN`] bytes of a config file.
    pub fn decode(b: &[u8]) -> Option<ConfigHeader> {
        if b.len() < header::LEN {
            return None;
        }
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        Some(ConfigHeader {
            magic: u64_at(header::MAGIC),
            layout_version: u64_at(header::LAYOUT_VERSION),
            base: u64_at(header::BASE),
            window_len: u64_at(header::WINDOW_LEN),
            primary_pid: u32::from_le_bytes(
                b[header::PRIMARY_PID..header::PRIMARY_PID + 4].try_into().unwrap_or([0; 4]),
            ),
        })
    }
}

// The config must fit the span of the window reserved for it.
const _: () = assert!(std::mem::size_of::<SharedConfig>() as u64 <= crate::memory::CONFIG_SPAN);
