//! The port table in shared memory: one slot per port, the same port ids in every process.

use crate::device_xstats::DeviceXstats;
use crate::driver_state::{PRIVATE_ALIGN, PRIVATE_BYTES};
use crate::link::SharedLink;
use crate::stats::{PortCounters, MAX_QUEUES};
use eal::name::SharedName;
use eal::shm::{self, SharedPlain};
use eal::{EalError, Memory};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Most ports in a group.
pub const MAX_PORTS: usize = 32;
/// Words backing the driver state area of a slot ([`PRIVATE_BYTES`] bytes).
const PRIVATE_WORDS: usize = PRIVATE_BYTES / 8;
const TABLE: &str = "ethdev_ports";

/// Life-cycle state of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum PortState {
    /// Slot free.
    Unused = 0,
    /// Probed, not configured.
    Probed = 1,
    /// Configured (queues may be set up).
    Configured = 2,
    /// Started: bursts allowed.
    Started = 3,
    /// Closed.
    Closed = 4,
}

impl PortState {
    pub(crate) fn from_u32(v: u32) -> PortState {
        match v {
            1 => PortState::Probed,
            2 => PortState::Configured,
            3 => PortState::Started,
            4 => PortState::Closed,
            _ => PortState::Unused,
        }
    }
    pub(crate) fn name(self) -> &'static str {
        match self {
            PortState::Unused => "unused",
            PortState::Probed => "not configured",
            PortState::Configured => "stopped",
            PortState::Started => "started",
            PortState::Closed => "closed",
        }
    }
}

crate::shared_state! {
    /// One port's shared state; all-zero is an unused slot.
    pub struct PortSlot {
        /// 1 while the slot holds a port.
        pub in_use: AtomicU32,
        /// A [`PortState`].
        pub state: AtomicU32,
        /// Directions being captured ([`crate::capture::CaptureDir`] bits; 0 when off).
        pub capture: AtomicU32,
        /// Address of the capture area while `capture` is set.
        pub capture_area: AtomicU64,
        /// Port name (the vdev name or PCI address).
        pub name: SharedName<8>,
        /// Driver name.
        pub driver: SharedName<4>,
        /// The device arguments the port was probed with.
        pub devargs: SharedName<16>,
        /// MAC address in the low 48 bits (byte 0 of the address in the lowest byte).
        pub mac: AtomicU64,
        /// Configured RX queues.
        pub nb_rxq: AtomicU32,
        /// Configured TX queues.
        pub nb_txq: AtomicU32,
        /// MTU.
        pub mtu: AtomicU32,
        /// 1 in promiscuous mode.
        pub promisc: AtomicU32,
        /// 1 in all-multicast mode.
        pub allmulti: AtomicU32,
        /// 1 with RSS on.
        pub rss: AtomicU32,
        /// Secondary unicast addresses and the multicast list.
        pub mac_filters: crate::mac_filters::MacFilters,
        /// Configured RX offloads ([`crate::RxOffloads`] bits).
        pub rx_offloads: AtomicU64,
        /// Configured TX offloads ([`crate::TxOffloads`] bits).
        pub tx_offloads: AtomicU64,
        /// Most segments per transmitted packet.
        pub tx_max_segs: AtomicU32,
        /// Index in the EAL's shared device table, or u32::MAX for virtual devices.
        pub device_slot: AtomicU32,
        /// Mempool (header address) of each RX queue.
        pub rxq_pool: [AtomicU64; MAX_QUEUES],
        /// RX queues that are set up (bit mask).
        pub rxq_ready: AtomicU32,
        /// TX queues that are set up (bit mask).
        pub txq_ready: AtomicU32,
        /// RX queues stopped while the port runs (bit mask; bursts on them are refused).
        pub rxq_stopped: AtomicU32,
        /// TX queues stopped while the port runs (bit mask).
        pub txq_stopped: AtomicU32,
        /// Link state and its sequence number.
        pub link: SharedLink,
        /// The driver's own counters as the primary last read them.
        pub device_xstats: DeviceXstats,
        /// The driver's shared state (see [`PortSlot::driver_state`]).
        private: [AtomicU64; PRIVATE_WORDS],
        /// Software counters.
        pub counters: PortCounters,
        /// Bumped each time the slot is given to a new port, so that a hotplug message or a
        /// handle of an earlier port in this slot is told apart from the current one.
        pub generation: AtomicU32,
    }
}

impl PortSlot {
    /// Current state.
    #[inline]
    pub fn state(&self) -> PortState {
        PortState::from_u32(self.state.load(Ordering::Acquire))
    }
    /// The MAC address.
    pub fn mac(&self) -> [u8; 6] {
        let v = self.mac.load(Ordering::Relaxed).to_le_bytes();
        [v[0], v[1], v[2], v[3], v[4], v[5]]
    }
    /// Sets the MAC address.
    pub fn set_mac(&self, m: [u8; 6]) {
        let mut b = [0u8; 8];
        b[..6].copy_from_slice(&m);
        self.mac.store(u64::from_le_bytes(b), Ordering::Relaxed);
    }

    /// The driver's shared state of this port, typed: the driver's [`shared_state!`]
    /// struct viewed over the slot's driver area. A `T` larger than [`PRIVATE_BYTES`] or
    /// aligned to more than [`PRIVATE_ALIGN`] does not compile.
    ///
    /// The state is shared by every process and written through shared references, so its
    /// fields are atomics (or types made of atomics: [`SharedStr`](crate::SharedStr),
    /// arrays), as every driver state of this workspace is; each driver views the area as
    /// its one type only.
    ///
    /// [`shared_state!`]: crate::shared_state
    #[inline(always)]
    pub fn driver_state<T: SharedPlain>(&self) -> &T {
        const {
            assert!(std::mem::size_of::<T>() <= PRIVATE_BYTES, "the driver state does not fit the port slot");
            assert!(std::mem::align_of::<T>() <= PRIVATE_ALIGN, "the driver state is aligned beyond the port slot");
        }
        // SAFETY: the area is PRIVATE_BYTES long and 8-byte aligned (an array of AtomicU64
        // in a repr(C) struct), T fits it and needs no more alignment (checked above). T is
        // SharedPlain: no process-local address inside, valid for all-zero and for any bytes
        // another process wrote. The words behind it are atomics (UnsafeCell), and a driver
        // state's fields are atomics too (see above), so writes through this shared
        // reference, or by other processes, are interior mutation, not aliasing violations.
        unsafe { &*(self.private.as_ptr() as *const T) }
    }

    /// Zeroes the driver's shared state (before a driver probes the port, so that every
    /// driver starts from its all-zero "nothing set up" state). Only while no data path or
    /// control of the port uses the state.
    pub fn clear_driver_state(&self) {
        for word in &self.private {
            word.store(0, Ordering::Relaxed);
        }
    }
}

/// The group's port table.
#[derive(Clone, Copy)]
pub struct PortTable {
    slots: &'static [PortSlot],
}

impl PortTable {
    /// Creates the table (primary).
    pub fn create(mem: &Memory) -> Result<PortTable, EalError> {
        let mz = mem.memzone_reserve(TABLE, (std::mem::size_of::<PortSlot>() * MAX_PORTS) as u64, 64)?;
        Self::at(mz.addr())
    }

    /// Finds the table (secondary).
    pub fn lookup(mem: &Memory) -> Result<PortTable, EalError> {
        let mz = mem.memzone_lookup(TABLE).ok_or(EalError::NotFound { kind: "memzone", name: TABLE.into() })?;
        let want = (std::mem::size_of::<PortSlot>() * MAX_PORTS) as u64;
        if mz.len() != want {
            return Err(EalError::InvalidArgument(format!(
                "the primary's port table is {} bytes, this build's is {want}: the primary runs another build; \
                 start every process of the group from the same build",
                mz.len()
            )));
        }
        Self::at(mz.addr())
    }

    fn at(addr: u64) -> Result<PortTable, EalError> {
        let slots = shm::shared_slice::<PortSlot>(addr, MAX_PORTS)
            .ok_or_else(|| EalError::InvalidArgument("misaligned port table".into()))?;
        Ok(PortTable { slots })
    }

    /// The slot of port `id`.
    pub fn slot(&self, id: u16) -> Option<&'static PortSlot> {
        self.slots.get(id as usize)
    }

    /// Takes a free slot; returns its port id. A slot an earlier (detached) port used is
    /// zeroed first and its generation bumped, so the new port starts from nothing.
    pub fn allocate(&self) -> Option<u16> {
        for (i, s) in self.slots.iter().enumerate() {
            if s.in_use.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                let generation = s.generation.load(Ordering::Relaxed).wrapping_add(1);
                // SAFETY: the compare-exchange above made this call the slot's only owner
                // (`in_use` stays 1 throughout, so no other allocate takes it), a free slot's
                // earlier port was detached in every process, and other processes take the
                // new port only from the notice sent once it is set up.
                unsafe { crate::slot_reset::zero_except_in_use(s) };
                s.generation.store(generation, Ordering::Relaxed);
                return Some(i as u16);
            }
        }
        None
    }

    /// Gives the slot of port `id` back (after its port was closed and every process let
    /// it go): it reads as unused and [`PortTable::allocate`] may hand it out again.
    pub fn free(&self, id: u16) {
        if let Some(s) = self.slot(id) {
            s.state.store(PortState::Unused as u32, Ordering::Release);
            s.in_use.store(0, Ordering::Release);
        }
    }

    /// Ids of the ports in use.
    pub fn ports(&self) -> Vec<u16> {
        (0..MAX_PORTS as u16).filter(|&i| self.slots[i as usize].in_use.load(Ordering::Acquire) == 1).collect()
    }
}
