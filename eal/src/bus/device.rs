//! A PCI device the bus opened, as a driver sees it in this process: its address and ids,
//! its entry in the shared device table, its own VFIO device fd and BAR mappings, and (in
//! the primary) interrupt arming.

use super::error::BusError;
use super::interrupts::{Interrupts, IrqHandler, IrqRegistration};
use crate::config::DeviceSlot;
use crate::pci::{Devargs, PciAddr};
use crate::vfio::{self, EventFd, IrqIndex, MmioRegion};
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Number of standard BARs.
pub const BARS: usize = 6;

/// One device of the bus, valid in the process that opened or attached it.
pub struct BusDevice {
    pub(crate) addr: PciAddr,
    pub(crate) ids: (u16, u16),
    pub(crate) index: u32,
    pub(crate) group: u32,
    pub(crate) vfio: Arc<vfio::Device>,
    pub(crate) bars: [Option<Arc<MmioRegion>>; BARS],
    pub(crate) bar_len: [u64; BARS],
    pub(crate) devargs: Option<Devargs>,
    pub(crate) intr: Option<Arc<Interrupts>>,
    pub(crate) slot: &'static DeviceSlot,
    /// A secondary's IPC endpoint, to ask the primary for polled vectors' eventfds.
    pub(crate) mp: Option<crate::mp::Mp>,
}

/// What one interrupt vector is armed for ([`BusDevice::arm_irq_vectors`]).
pub enum Vector {
    /// The primary's interrupt thread runs the handler (link and other causes).
    Handler(IrqHandler),
    /// No thread of the primary watches it: the process polling a queue sleeps on its
    /// eventfd ([`BusDevice::vector_eventfd`]), a secondary included.
    Polled,
}

impl std::fmt::Debug for BusDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusDevice")
            .field("addr", &self.addr.to_string())
            .field("ids", &format_args!("{:04x}:{:04x}", self.ids.0, self.ids.1))
            .field("index", &self.index)
            .field("group", &self.group)
            .field("bar_len", &self.bar_len)
            .finish()
    }
}

/// Packs a PCI address as the shared device table stores it: domain<<16 | bus<<8 | dev<<3 | fn.
pub fn pack_addr(a: PciAddr) -> u32 {
    (a.domain() << 16) | (u32::from(a.bus()) << 8) | (u32::from(a.device()) << 3) | u32::from(a.function())
}

/// Inverse of [`pack_addr`].
pub fn unpack_addr(v: u32) -> Option<PciAddr> {
    PciAddr::new(v >> 16, (v >> 8) as u8, ((v >> 3) & 0x1f) as u8, (v & 7) as u8)
}

impl BusDevice {
    /// The PCI address.
    pub fn addr(&self) -> PciAddr {
        self.addr
    }
    /// `(vendor, device)` ids.
    pub fn ids(&self) -> (u16, u16) {
        self.ids
    }
    /// Index of the device in the shared device table (the port slot's `device_slot`).
    pub fn table_index(&self) -> u32 {
        self.index
    }
    /// The IOMMU group.
    pub fn iommu_group(&self) -> u32 {
        self.group
    }
    /// This process's VFIO device fd (config space, region read/write, reset, interrupts).
    pub fn vfio(&self) -> &Arc<vfio::Device> {
        &self.vfio
    }
    /// The mapping of memory BAR `i`, if it is a memory BAR that could be mapped. I/O-port
    /// BARs have none: use [`vfio::Device::read_region`] on [`BusDevice::vfio`].
    pub fn bar(&self, i: usize) -> Option<&Arc<MmioRegion>> {
        self.bars.get(i).and_then(|b| b.as_ref())
    }
    /// Size of BAR `i` in bytes (0 when absent).
    pub fn bar_len(&self, i: usize) -> u64 {
        self.bar_len.get(i).copied().unwrap_or(0)
    }
    /// The `-a` device arguments given for it (primary).
    pub fn devargs(&self) -> Option<&Devargs> {
        self.devargs.as_ref()
    }
    /// True in the primary (the process that may configure the device).
    pub fn is_primary(&self) -> bool {
        self.intr.is_some()
    }
    /// The driver name and port id recorded in the shared device table.
    pub fn driver(&self) -> (String, u32) {
        (self.slot.driver.get(), self.slot.port_id.load(Ordering::Acquire))
    }

    /// Records which driver took the device and the port it became (primary).
    pub fn record_driver(&self, driver: &str, port: u32) {
        self.slot.driver.set(driver);
        self.slot.port_id.store(port, Ordering::Release);
    }

    /// Primary only: gives vectors `0..handlers.len()` of `index` one eventfd each
    /// (`VFIO_DEVICE_SET_IRQS`) and runs `handlers[i]` on the interrupt thread when vector
    /// `i` fires. For INTx the handler must unmask (`vfio().unmask_intx()`) when done.
    /// Dropping the result disables the vectors.
    pub fn arm_irqs(&self, index: IrqIndex, handlers: Vec<IrqHandler>) -> Result<ArmedIrqs, BusError> {
        self.arm_irq_vectors(index, handlers.into_iter().map(Vector::Handler).collect())
    }

    /// Primary only: as [`BusDevice::arm_irqs`], but vector `i` is armed for `vectors[i]`:
    /// a handler on the interrupt thread, or an eventfd that the process polling a queue
    /// sleeps on (published for secondaries, see [`BusDevice::vector_eventfd`]).
    pub fn arm_irq_vectors(&self, index: IrqIndex, vectors: Vec<Vector>) -> Result<ArmedIrqs, BusError> {
        let intr = self.intr.as_ref().ok_or(BusError::PrimaryOnly("arming interrupts"))?;
        let mut efds = Vec::with_capacity(vectors.len());
        let mut regs = Vec::with_capacity(vectors.len());
        let mut polled = Vec::new();
        for (i, v) in vectors.into_iter().enumerate() {
            let efd = Arc::new(EventFd::new().map_err(|e| BusError::vfio("creating an interrupt eventfd", e))?);
            match v {
                Vector::Handler(h) => regs.push(intr.register(efd.clone(), h)?),
                Vector::Polled => polled.push((i as u32, efd.clone())),
            }
            efds.push(efd);
        }
        let fds: Vec<_> = efds.iter().map(|e| e.as_fd()).collect();
        self.vfio
            .enable_irq_eventfds(index, 0, &fds)
            .map_err(|e| BusError::vfio(format!("arming {} {index:?} vector(s) of {}", fds.len(), self.addr), e))?;
        tracing::debug!(addr = %self.addr, ?index, vectors = fds.len(), polled = polled.len(), "interrupts armed");
        for (v, efd) in &polled {
            super::vector_fds::publish(self.index, *v, efd.clone());
        }
        let polled = polled.into_iter().map(|(_, e)| e).collect();
        Ok(ArmedIrqs { dev: self.vfio.clone(), index, _regs: regs, device: self.index, polled })
    }

    /// Points the IRQ of interrupt vector `vector` at CPU `cpu` (system-wide, as
    /// `/proc/irq/<irq>/smp_affinity_list`), so that a thread sleeping on the vector's
    /// eventfd on that CPU is woken there; returns the IRQ number. Errors: the vector has no
    /// IRQ of its own in this kernel (not armed, or a cause a handler relays), or the kernel
    /// refused (it needs root).
    pub fn steer_vector_irq(&self, vector: u32, cpu: usize) -> Result<u32, BusError> {
        super::irq_affinity::steer(&self.addr, vector, cpu)
    }

    /// The eventfd of a [`Vector::Polled`] vector, in this process: the primary's own, or in
    /// a secondary a copy received from the primary over IPC (ask once and keep it).
    pub fn vector_eventfd(&self, vector: u32) -> Result<Arc<EventFd>, BusError> {
        match &self.mp {
            None => super::vector_fds::lookup(self.index, vector).ok_or_else(|| BusError::FdShare {
                what: format!("vector {vector} eventfd of {}", self.addr),
                reason: "the vector is not armed for polling (the driver armed no RX interrupt on it)".into(),
            }),
            Some(mp) => super::fd_share::request_vector(mp, self.index, vector, &self.addr.to_string()).map(Arc::new),
        }
    }
}

/// Armed interrupt vectors of a device; dropping it disables them and stops their handlers.
pub struct ArmedIrqs {
    dev: Arc<vfio::Device>,
    index: IrqIndex,
    _regs: Vec<IrqRegistration>,
    device: u32,
    polled: Vec<Arc<EventFd>>,
}

impl std::fmt::Debug for ArmedIrqs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ArmedIrqs({} {:?} x{})", self.dev.name(), self.index, self._regs.len())
    }
}

impl ArmedIrqs {
    /// Publishes `efd` as the eventfd of `vector` of this device, for a queue whose
    /// interrupt a handler relays (its cause shares a line with others, as on INTx): the
    /// handler signals `efd`, and the process polling the queue, a secondary too, sleeps on
    /// it as on a [`Vector::Polled`] vector. Withdrawn when `self` is dropped.
    pub fn publish_relay(&mut self, vector: u32, efd: Arc<EventFd>) {
        super::vector_fds::publish(self.device, vector, efd.clone());
        self.polled.push(efd);
    }
}

impl Drop for ArmedIrqs {
    fn drop(&mut self) {
        super::vector_fds::withdraw(self.device, &self.polled);
        if let Err(e) = self.dev.disable_irqs(self.index) {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_pack_and_unpack() {
        for s in ["0000:00:03.0", "0001:af:1f.7", "0000:00:00.0"] {
            let a: PciAddr = s.parse().unwrap();
            assert_eq!(unpack_addr(pack_addr(a)), Some(a), "{s}");
        }
        assert_eq!(pack_addr("0000:00:03.0".parse().unwrap()), 0x18);
    }
}
