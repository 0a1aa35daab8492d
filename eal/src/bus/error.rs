//! Errors of the PCI bus: each names the device or group at fault and the fix.

use crate::pci::{PciAddr, PciError};
use crate::vfio::VfioError;

/// What probing, attaching or arming a PCI device can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// An `-a`/`-b` argument did not parse, or both lists were given.
    #[error("PCI allow/block list: {0}")]
    Filter(#[source] PciError),
    /// Reading sysfs failed.
    #[error("scanning the PCI bus: {0}")]
    Sysfs(#[source] PciError),
    /// A device on the allow list does not exist.
    #[error("PCI device {addr} is on the allow list (-a) but does not exist; list the devices with `tools/devbind --status`")]
    AllowedNotFound {
        /// The address given.
        addr: PciAddr,
    },
    /// A device on the allow list is not bound to vfio-pci.
    #[error("PCI device {addr} ({what}) is on the allow list (-a) but is {bound}, not to vfio-pci; bind it with `tools/devbind --bind vfio-pci {addr}`")]
    AllowedNotBound {
        /// The device.
        addr: PciAddr,
        /// Its `vendor:device` ids.
        what: String,
        /// "bound to `<driver>`" or "not bound to any driver".
        bound: String,
    },
    /// A secondary's allow list names a device the primary did not probe.
    #[error("PCI device {addr} is on this secondary's allow list (-a) but the primary did not probe it; give secondaries the same -a/-b lists as the primary")]
    NotInPrimary {
        /// The device.
        addr: PciAddr,
    },
    /// A vfio-pci device has no IOMMU group.
    #[error("PCI device {addr} is bound to vfio-pci but has no IOMMU group; enable the IOMMU (intel_iommu=on or amd_iommu=on on the kernel command line), or in a VM without a virtual IOMMU rebind it after `tools/devbind --noiommu-mode`")]
    NoIommuGroup {
        /// The device.
        addr: PciAddr,
    },
    /// Another device of the group is bound to a host driver.
    #[error("IOMMU group {group} of PCI device {addr} is not viable: {blockers}; every device of a group must be bound to vfio-pci or unbound: run `tools/devbind --bind vfio-pci <BDF>` for each of them")]
    GroupNotViable {
        /// The group.
        group: u32,
        /// The device we wanted.
        addr: PciAddr,
        /// The devices in the way, with their drivers.
        blockers: String,
    },
    /// Devices of no-IOMMU groups and of IOMMU groups were selected together.
    #[error("PCI device {noiommu} is in a VFIO no-IOMMU group and {iommu} in an IOMMU group; one process group drives devices of one kind only: choose them with -a <BDF>")]
    MixedGroupKinds {
        /// A device of a no-IOMMU group.
        noiommu: PciAddr,
        /// A device of an IOMMU group.
        iommu: PciAddr,
    },
    /// `--iova-mode va` with a device in a no-IOMMU group.
    #[error("--iova-mode va cannot work with PCI device {addr}: it is in VFIO no-IOMMU group {group} (/dev/vfio/noiommu-{group}), where no IOMMU translates device addresses, so the device must be given physical addresses; drop --iova-mode va (IOVA = PA is chosen automatically) or pass --iova-mode pa, or give the machine an IOMMU (a VM: a virtual IOMMU such as QEMU's -device intel-iommu, and intel_iommu=on) to use IOVA = VA")]
    NoIommuIovaVa {
        /// The device.
        addr: PciAddr,
        /// Its no-IOMMU group.
        group: u32,
    },
    /// A no-IOMMU group used by a process that is not root.
    #[error("PCI device {addr} is in VFIO no-IOMMU group {group}: driving it needs root, since the kernel lets only CAP_SYS_RAWIO open the group and the device needs physical addresses, which /proc/self/pagemap shows to CAP_SYS_ADMIN only; run as root (sudo), or give the machine an IOMMU (a VM: a virtual IOMMU) to run without root")]
    NoIommuNeedsRoot {
        /// The device.
        addr: PciAddr,
        /// Its no-IOMMU group.
        group: u32,
    },
    /// A secondary of a no-IOMMU group that is not root.
    #[error("the primary drives its PCI devices in VFIO no-IOMMU mode, where the kernel lets only root (CAP_SYS_RAWIO) open a device; run this secondary as root too, or start it with --no-pci")]
    NoIommuSecondaryNeedsRoot,
    /// More devices than the shared device table holds.
    #[error("{found} PCI devices are bound to vfio-pci, the shared device table holds {max}; choose the devices with -a <BDF>")]
    TooManyDevices {
        /// Devices selected.
        found: usize,
        /// Table size.
        max: usize,
    },
    /// A VFIO call failed.
    #[error("{what}: {source}")]
    Vfio {
        /// What was being done, naming the device or group.
        what: String,
        /// The VFIO error (its message has the fix).
        #[source]
        source: VfioError,
    },
    /// A secondary could not get the VFIO fds from the primary.
    #[error("getting the VFIO {what} from the primary over IPC failed: {reason}; check that the primary is alive and built from the same sources")]
    FdShare {
        /// "container fd" or "group N fd".
        what: String,
        /// Why.
        reason: String,
    },
    /// IOVA-as-PA mode could not translate the memory.
    #[error("IOVA as physical address (--iova-mode pa): {0}")]
    IovaPa(String),
    /// Interrupt setup failed.
    #[error("interrupts: {what}: {source}")]
    Interrupt {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A run-time attach of a device on the block list.
    #[error("PCI device {addr} is on the block list (-b) of this group, so it is not attached; start the primary without `-b {addr}` to use it")]
    Blocked {
        /// The device.
        addr: PciAddr,
    },
    /// A run-time attach of a device that does not exist.
    #[error("there is no PCI device {addr}; list the devices and their drivers with `tools/devbind --status`")]
    AttachNotFound {
        /// The address given.
        addr: PciAddr,
    },
    /// A run-time attach of a device not bound to vfio-pci.
    #[error("PCI device {addr} ({what}) is {bound}, not to vfio-pci; bind it with `tools/devbind --bind vfio-pci {addr}`, then attach it again")]
    AttachNotBound {
        /// The device.
        addr: PciAddr,
        /// Its `vendor:device` ids.
        what: String,
        /// "bound to `<driver>`" or "not bound to any driver".
        bound: String,
    },
    /// A run-time attach of a device that needs IOVA = PA into a group running IOVA = VA.
    #[error("PCI device {addr} cannot be attached: {why}, and this group runs with IOVA = virtual address (its mbufs' addresses were chosen at start); start the primary with --iova-mode pa to attach it at run time")]
    AttachNeedsPa {
        /// The device.
        addr: PciAddr,
        /// Why it needs physical addresses.
        why: String,
    },
    /// A run-time attach of a device whose group kind differs from the container's.
    #[error("PCI device {addr} is in a group of kind {kind}, but the group's container holds groups of the other kind (group {other}); one process group drives devices of one kind only")]
    AttachMixedKinds {
        /// The device.
        addr: PciAddr,
        /// Its group's kind.
        kind: crate::pci::GroupKind,
        /// A group already in the container.
        other: u32,
    },
    /// A run-time attach of a device whose VFIO group another process holds.
    #[error("PCI device {addr}: its VFIO group {group} is open in another process (another Bypass or DPDK group, or a VM); stop that program or pick another device")]
    GroupInUse {
        /// The device.
        addr: PciAddr,
        /// Its group.
        group: u32,
    },
    /// A run-time attach of a device this group has open already.
    #[error("PCI device {addr} is attached already; detach its port first")]
    AlreadyOpen {
        /// The device.
        addr: PciAddr,
    },
    /// No free entry in the shared device table.
    #[error(
        "cannot attach PCI device {addr}: the shared device table is full ({max} devices); detach a PCI port first"
    )]
    DeviceTableFull {
        /// The device.
        addr: PciAddr,
        /// Table size.
        max: usize,
    },
    /// A secondary was told of a device table entry that is not in use.
    #[error("device table entry {index} holds no device (the primary removed it meanwhile?)")]
    NoSuchDevice {
        /// The entry.
        index: u32,
    },
    /// A run-time attach of a PCI device in a group started with `--no-pci`.
    #[error("cannot attach PCI device {addr}: the primary was started with --no-pci; start it without --no-pci to use PCI devices")]
    NoPci {
        /// The device.
        addr: PciAddr,
    },
    /// A device was asked of a bus that was shut down.
    #[error("the PCI bus of this process is shut down (the EAL is being cleaned up)")]
    ShutDown,
    /// An operation reserved to the primary process was tried in a secondary.
    #[error("{0} is done by the primary process only; a secondary never touches device interrupts or configuration")]
    PrimaryOnly(&'static str),
}

impl BusError {
    /// A [`BusError::Vfio`] for `what`.
    pub(crate) fn vfio(what: impl Into<String>, source: VfioError) -> BusError {
        BusError::Vfio { what: what.into(), source }
    }
}
