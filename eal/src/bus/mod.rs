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
mod dma;
pub mod epoll;
mod error;
mod fd_share;
mod interrupts;
mod needs;
mod noiommu;
mod pci_probe;
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
use crate::pci::{GroupKind, PciFilter, Sysfs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use vfio_setup::VfioState;

/// The PCI devices of this process and the VFIO objects behind them.
pub struct PciBus {
    primary: bool,
    devices: Vec<Arc<BusDevice>>,
    vfio: Option<Arc<VfioState>>,
    intr: Option<Arc<Interrupts>>,
    mp: Option<Mp>,
    mem: Memory,
}

impl std::fmt::Debug for PciBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PciBus").field("primary", &self.primary).field("devices", &self.devices).finish()
    }
}

impl PciBus {
    /// A bus with no devices.
    fn empty(primary: bool, mem: Memory) -> PciBus {
        PciBus { primary, devices: Vec::new(), vfio: None, intr: None, mp: None, mem }
    }

    /// Primary: probes the bus as `args` say, using the sysfs tree at `sysfs`.
    pub(crate) fn probe_primary(args: &EalArgs, mem: Memory, mp: &Mp, sysfs: &Sysfs) -> Result<PciBus, BusError> {
        let mut bus = PciBus::empty(true, mem);
        let (filter, selected) = if args.no_pci {
            tracing::debug!("--no-pci: the PCI bus is not scanned");
            (PciFilter::All, Vec::new())
        } else {
            let filter = parse_filter(&args.allow, &args.block)?;
            let selected = select(sysfs, &filter)?;
            (filter, selected)
        };
        choose_iova(args, &bus.mem, &selected)?;
        if selected.is_empty() {
            tracing::debug!("no PCI device bound to vfio-pci");
            return Ok(bus);
        }
        let intr = Arc::new(Interrupts::start()?);
        bus.intr = Some(intr.clone());
        let (state, devices) = vfio_setup::open_primary(selected, &filter, &bus.mem, &intr)?;
        bus.vfio = Some(state.clone());
        bus.devices = devices;
        fd_share::serve(mp, state)?;
        bus.mp = Some(mp.clone());
        tracing::info!(devices = bus.devices.len(), "PCI bus probed");
        Ok(bus)
    }

    /// Secondary: attaches to the devices the primary recorded (those `args`' filter selects).
    pub(crate) fn attach_secondary(args: &EalArgs, mem: Memory, mp: &Mp) -> Result<PciBus, BusError> {
        let mut bus = PciBus::empty(false, mem);
        if args.no_pci {
            return Ok(bus);
        }
        let filter = parse_filter(&args.allow, &args.block)?;
        let kind = noiommu::group_kind(mem.config());
        let (state, devices) = vfio_setup::attach_secondary(&mem, mp, &filter, kind)?;
        bus.vfio = state;
        bus.devices = devices;
        Ok(bus)
    }

    /// The devices, in shared-table order.
    pub fn devices(&self) -> &[Arc<BusDevice>] {
        &self.devices
    }

    /// The primary's interrupt thread (None in secondaries and without devices).
    pub fn interrupts(&self) -> Option<&Arc<Interrupts>> {
        self.intr.as_ref()
    }

    /// True when the group runs with IOVA = physical address.
    pub fn iova_pa(&self) -> bool {
        self.mem.config().iova_pa.load(Ordering::Acquire) == 1
    }

    /// Releases everything: the IPC action, the interrupt thread, this process's device
    /// fds and BAR mappings (once drivers drop theirs), and in the primary the DMA
    /// mappings and the shared device table. Idempotent.
    pub(crate) fn shutdown(&mut self) {
        if let Some(mp) = self.mp.take() {
            let _ = mp.unregister(VFIO_SYNC_ACTION);
        }
        if let Some(intr) = self.intr.take() {
            intr.stop();
        }
        self.devices.clear();
        if let Some(state) = self.vfio.take() {
            if self.primary {
                state.unmap_all();
                for slot in self.mem.config().devices.iter() {
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

impl Drop for PciBus {
    fn drop(&mut self) {
        self.shutdown();
    }
}
