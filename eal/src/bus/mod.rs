//! The EAL's PCI bus: which devices this process group drives, opened through VFIO.
//!
//! In the primary ([`PciBus`] built by `Eal::init`): scan sysfs (unless `--no-pci`), apply
//! `-a`/`-b`, take the devices bound to vfio-pci, check their IOMMU groups, open the
//! container (type1v2) and groups, map the whole heap for DMA (IOVA = VA, or the physical
//! address with `--iova-mode pa`; no-IOMMU groups get the no-IOMMU type, no mapping and
//! IOVA = physical address, see `noiommu`), open each device, map its BARs, record it in the shared
//! device table, serve the container and group fds to secondaries over IPC and run the
//! interrupt thread. In a secondary: get the fds from the primary, open its own device fds
//! and map the same BARs. Drivers get the devices from [`PciBus::devices`].

mod device;
mod device_open;
mod dma;
pub mod epoll;
mod error;
mod fd_share;
mod interrupts;
mod irq_affinity;
mod needs;
mod noiommu;
mod pci_probe;
mod run_time;
mod vector_fds;
mod vfio_setup;

pub use device::{pack_addr, unpack_addr, ArmedIrqs, BusDevice, Vector, BARS};
pub use dma::{contiguous_runs, physical_pages, PA_TABLE_MEMZONE};
pub use epoll::Epoll;
pub use error::BusError;
pub use fd_share::{FD_SHARE_TIMEOUT, VFIO_SYNC_ACTION};
pub use interrupts::{Interrupts, IrqHandler, IrqRegistration};
pub use needs::{declare_pci_driver, iommu_bypassed_by, PciDriverNeeds};
pub use noiommu::group_kind;
pub use pci_probe::{check_viable, parse_filter, select, Selected};

pub(crate) use dma::pa_iova;

use crate::args::{EalArgs, IovaMode};
use crate::memory::Memory;
use crate::mp::Mp;
use crate::pci::{Devargs, GroupKind, PciFilter, Sysfs};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use vfio_setup::VfioState;

/// The PCI devices of this process and the VFIO objects behind them. A clone is a handle
/// of the same bus (ethdev keeps one to attach and detach PCI ports at run time).
#[derive(Clone)]
pub struct PciBus {
    state: Arc<BusState>,
}

/// What a bus is, shared by its handles.
pub(crate) struct BusState {
    primary: bool,
    /// `--no-pci`: the bus takes no device, at start or later.
    no_pci: bool,
    mem: Memory,
    mp: Mp,
    filter: PciFilter,
    sysfs: Sysfs,
    inner: Mutex<BusInner>,
}

/// The bus's changing part: the devices open and the VFIO objects.
pub(crate) struct BusInner {
    devices: Vec<Arc<BusDevice>>,
    vfio: Option<Arc<VfioState>>,
    intr: Option<Arc<Interrupts>>,
    /// The primary serves [`VFIO_SYNC_ACTION`].
    serving: bool,
    shut: bool,
}

impl BusState {
    fn lock(&self) -> MutexGuard<'_, BusInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::fmt::Debug for PciBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PciBus").field("primary", &self.state.primary).field("devices", &self.devices()).finish()
    }
}

impl PciBus {
    /// A bus with no devices.
    fn empty(primary: bool, no_pci: bool, mem: Memory, mp: &Mp, filter: PciFilter, sysfs: Sysfs) -> PciBus {
        let inner = BusInner { devices: Vec::new(), vfio: None, intr: None, serving: false, shut: false };
        let state = BusState { primary, no_pci, mem, mp: mp.clone(), filter, sysfs, inner: Mutex::new(inner) };
        PciBus { state: Arc::new(state) }
    }

    /// Primary: probes the bus as `args` say, using the sysfs tree at `sysfs`.
    pub(crate) fn probe_primary(args: &EalArgs, mem: Memory, mp: &Mp, sysfs: &Sysfs) -> Result<PciBus, BusError> {
        let (filter, selected) = if args.no_pci {
            tracing::debug!("--no-pci: the PCI bus is not scanned");
            (PciFilter::All, Vec::new())
        } else {
            let filter = parse_filter(&args.allow, &args.block)?;
            let selected = select(sysfs, &filter)?;
            (filter, selected)
        };
        let bus = PciBus::empty(true, args.no_pci, mem, mp, filter.clone(), sysfs.clone());
        choose_iova(args, &bus.state.mem, &selected)?;
        if selected.is_empty() {
            tracing::debug!("no PCI device bound to vfio-pci");
            return Ok(bus);
        }
        let intr = Arc::new(Interrupts::start()?);
        let mut inner = bus.state.lock();
        inner.intr = Some(intr.clone());
        let (state, devices) = vfio_setup::open_primary(selected, &filter, &bus.state.mem, &intr)?;
        inner.vfio = Some(state.clone());
        inner.devices = devices;
        fd_share::serve(mp, state)?;
        inner.serving = true;
        tracing::info!(devices = inner.devices.len(), "PCI bus probed");
        drop(inner);
        Ok(bus)
    }

    /// Secondary: attaches to the devices the primary recorded (those `args`' filter selects).
    pub(crate) fn attach_secondary(args: &EalArgs, mem: Memory, mp: &Mp) -> Result<PciBus, BusError> {
        if args.no_pci {
            return Ok(PciBus::empty(false, true, mem, mp, PciFilter::All, Sysfs::default()));
        }
        let filter = parse_filter(&args.allow, &args.block)?;
        let bus = PciBus::empty(false, false, mem, mp, filter.clone(), Sysfs::default());
        let kind = noiommu::group_kind(mem.config());
        let (state, devices) = vfio_setup::attach_secondary(&mem, mp, &filter, kind)?;
        let mut inner = bus.state.lock();
        inner.vfio = state;
        inner.devices = devices;
        drop(inner);
        Ok(bus)
    }

    /// The devices open in this process, in shared-table order.
    pub fn devices(&self) -> Vec<Arc<BusDevice>> {
        let mut v = self.state.lock().devices.clone();
        v.sort_by_key(|d| d.index);
        v
    }

    /// The device of shared device table entry `index`, if open in this process.
    pub fn device(&self, index: u32) -> Option<Arc<BusDevice>> {
        self.state.lock().devices.iter().find(|d| d.index == index).cloned()
    }

    /// The primary's interrupt thread (None in secondaries and without devices).
    pub fn interrupts(&self) -> Option<Arc<Interrupts>> {
        self.state.lock().intr.clone()
    }

    /// True when the group runs with IOVA = physical address.
    pub fn iova_pa(&self) -> bool {
        self.state.mem.config().iova_pa.load(Ordering::Acquire) == 1
    }

    /// Primary: opens the PCI device `devargs` names while the group runs, as at start
    /// (VFIO group in the container, DMA mappings, BARs, a shared device table entry every
    /// secondary can take with [`PciBus::attach_device`]). Fails naming the fix for a device
    /// that does not exist, is not bound to vfio-pci, is on the block list, is open already
    /// (here, or its group in another program), or needs physical addresses in a group
    /// started with virtual ones; with `--no-pci`. A device named on the allow list or not,
    /// an explicit attach is its own allowance.
    pub fn open_device(&self, devargs: &Devargs) -> Result<Arc<BusDevice>, BusError> {
        if !self.state.primary {
            return Err(BusError::PrimaryOnly("opening a PCI device"));
        }
        if self.state.no_pci {
            return Err(BusError::NoPci { addr: devargs.addr() });
        }
        run_time::open(&self.state, devargs)
    }

    /// Secondary: takes the device of shared device table entry `index` that the primary
    /// opened (its own device fd and BAR mappings, the group fd from the primary); None when
    /// this process's `-a`/`-b`/`--no-pci` leave it out.
    pub fn attach_device(&self, index: u32) -> Result<Option<Arc<BusDevice>>, BusError> {
        if self.state.no_pci || self.state.lock().shut {
            return Ok(None);
        }
        if self.state.primary {
            return Ok(self.device(index));
        }
        run_time::attach(&self.state, index)
    }

    /// Closes the device of table entry `index` in this process (after its port was closed):
    /// the device fd and BAR mappings once the driver dropped them, the group fd when no
    /// other device uses it, and in the primary its table entry and, with its last group,
    /// the container's DMA mappings. False when the device is not open here.
    pub fn close_device(&self, index: u32) -> bool {
        run_time::close(&self.state, index)
    }

    /// Releases everything: the IPC action, the interrupt thread, this process's device
    /// fds and BAR mappings (once drivers drop theirs), and in the primary the DMA
    /// mappings and the shared device table. Idempotent.
    pub(crate) fn shutdown(&self) {
        let mut inner = self.state.lock();
        inner.shut = true;
        if std::mem::take(&mut inner.serving) {
            let _ = self.state.mp.unregister(VFIO_SYNC_ACTION);
        }
        if let Some(intr) = inner.intr.take() {
            intr.stop();
        }
        inner.devices.clear();
        if let Some(state) = inner.vfio.take() {
            if self.state.primary {
                state.unmap_all();
                for slot in self.state.mem.config().devices.iter() {
                    slot.in_use.store(0, Ordering::Release);
                }
            }
        }
    }
}

/// Decides the group's IOVA mode before any device is opened: physical addresses for
/// no-IOMMU groups (checked first: `--iova-mode va` and non-root refused), with `--iova-mode
/// pa`, or, unset, when a driver declared a selected device as bypassing the IOMMU (see
/// `needs`); else virtual addresses.
fn choose_iova(args: &EalArgs, mem: &Memory, selected: &[Selected]) -> Result<(), BusError> {
    let kind = noiommu::kind_of(selected)?;
    noiommu::record_group_kind(mem.config(), kind);
    if kind == GroupKind::NoIommu {
        noiommu::check_primary(selected, args.iova_mode, nix::unistd::geteuid().is_root())?;
        noiommu::warn_unsafe(selected);
        return dma::enable_pa_mode(mem).map_err(|e| {
            BusError::IovaPa(format!(
                "VFIO no-IOMMU mode gives devices physical addresses, and reading them failed: {e}"
            ))
        });
    }
    match args.iova_mode {
        Some(IovaMode::Pa) => dma::enable_pa_mode(mem),
        Some(IovaMode::Va) => Ok(()),
        None => {
            let bypass = selected.iter().find_map(|s| Some((s, iommu_bypassed_by(s.dev.vendor, s.dev.device)?)));
            let Some((s, driver)) = bypass else {
                return Ok(());
            };
            let (addr, ids) = (s.dev.addr, s.dev.ids());
            tracing::info!(%addr, %ids, driver, "the device bypasses the IOMMU: IOVA as PA");
            dma::enable_pa_mode(mem).map_err(|e| {
                BusError::IovaPa(format!(
                    "{addr} ({ids}) bypasses the IOMMU (driver {driver} says so), so the group needs IOVA = physical address, and that failed: {e}"
                ))
            })
        }
    }
}

impl Drop for BusState {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(intr) = inner.intr.take() {
            intr.stop();
        }
    }
}
