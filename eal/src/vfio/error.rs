//! The VFIO layer's error type: one variant per failing call, each message
//! naming what failed and what to do about it.

use std::io;
use thiserror::Error;

/// Result of a VFIO call.
pub type Result<T> = std::result::Result<T, VfioError>;

/// What went wrong in a VFIO call.
#[derive(Debug, Error)]
pub enum VfioError {
    /// `/dev/vfio/vfio` could not be opened.
    #[error("cannot open the VFIO container /dev/vfio/vfio: {0}; load the vfio and vfio-pci modules (modprobe vfio-pci) and run as root")]
    OpenContainer(#[source] io::Error),
    /// `VFIO_GET_API_VERSION` failed (the fd is not a VFIO container).
    #[error("VFIO_GET_API_VERSION failed: {0}; the descriptor is not a VFIO container (was the right fd passed?)")]
    GetApiVersion(#[source] io::Error),
    /// The kernel speaks another VFIO API version.
    #[error("VFIO API version {got} is not the supported version {want}; use a kernel with the standard VFIO API")]
    ApiVersion {
        /// Version the kernel reported.
        got: i32,
        /// Version this code speaks.
        want: i32,
    },
    /// `VFIO_CHECK_EXTENSION` failed.
    #[error("VFIO_CHECK_EXTENSION({ext}) failed: {source}; the descriptor must be an open VFIO container")]
    CheckExtension {
        /// Extension asked about.
        ext: u32,
        /// The OS error.
        source: io::Error,
    },
    /// The container does not offer an IOMMU type.
    #[error("the VFIO container does not support IOMMU type {ext}; type1v2 (3) needs an IOMMU enabled (intel_iommu=on / amd_iommu=on on the kernel command line)")]
    ExtensionUnsupported {
        /// IOMMU type asked for.
        ext: u32,
    },
    /// `VFIO_SET_IOMMU` failed.
    #[error("VFIO_SET_IOMMU(type {iommu_type}) failed: {source}; attach a viable group to the container first; EPERM means no interrupt remapping (add intremap=on, or load vfio_iommu_type1 with allow_unsafe_interrupts=1)")]
    SetIommu {
        /// IOMMU type asked for.
        iommu_type: u32,
        /// The OS error.
        source: io::Error,
    },
    /// `VFIO_IOMMU_GET_INFO` failed.
    #[error("VFIO_IOMMU_GET_INFO failed: {0}; set the IOMMU type (set_iommu) before asking for its info")]
    IommuGetInfo(#[source] io::Error),
    /// `VFIO_IOMMU_MAP_DMA` failed.
    #[error("VFIO_IOMMU_MAP_DMA of {size:#x} bytes at vaddr {vaddr:#x} to IOVA {iova:#x} failed: {source}; the range must be page-aligned, not already mapped, and within the locked-memory limit (ulimit -l)")]
    MapDma {
        /// Process virtual address.
        vaddr: u64,
        /// Device-visible address.
        iova: u64,
        /// Length in bytes.
        size: u64,
        /// The OS error.
        source: io::Error,
    },
    /// `VFIO_IOMMU_UNMAP_DMA` failed.
    #[error("VFIO_IOMMU_UNMAP_DMA of {size:#x} bytes at IOVA {iova:#x} failed: {source}; unmap exactly a range that was mapped")]
    UnmapDma {
        /// Device-visible address.
        iova: u64,
        /// Length in bytes.
        size: u64,
        /// The OS error.
        source: io::Error,
    },
    /// `/dev/vfio/<group>` (or `/dev/vfio/noiommu-<group>`) could not be opened.
    #[error("cannot open VFIO group {path}: {source}; {hint}")]
    OpenGroup {
        /// IOMMU group number.
        group: u32,
        /// The group's node.
        path: String,
        /// The OS error.
        source: io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// `VFIO_GROUP_GET_STATUS` failed.
    #[error("VFIO_GROUP_GET_STATUS on group {group} failed: {source}; the descriptor is not a VFIO group")]
    GroupGetStatus {
        /// IOMMU group number.
        group: u32,
        /// The OS error.
        source: io::Error,
    },
    /// A group has a device not bound to vfio-pci.
    #[error("VFIO group {group} is not viable: all devices of the group must be bound to vfio-pci (or to no driver); see /sys/kernel/iommu_groups/{group}/devices")]
    GroupNotViable {
        /// IOMMU group number.
        group: u32,
    },
    /// `VFIO_GROUP_SET_CONTAINER` failed.
    #[error("VFIO_GROUP_SET_CONTAINER on group {group} failed: {source}; a group joins one container only, and containers sharing groups must use the same IOMMU type")]
    GroupSetContainer {
        /// IOMMU group number.
        group: u32,
        /// The OS error.
        source: io::Error,
    },
    /// `VFIO_GROUP_UNSET_CONTAINER` failed.
    #[error("VFIO_GROUP_UNSET_CONTAINER on group {group} failed: {source}; close every device fd of the group first")]
    GroupUnsetContainer {
        /// IOMMU group number.
        group: u32,
        /// The OS error.
        source: io::Error,
    },
    /// A device name is not a PCI address.
    #[error("'{0}' is not a PCI address; write it as domain:bus:slot.function, e.g. 0000:00:03.0")]
    InvalidPciAddress(String),
    /// `VFIO_GROUP_GET_DEVICE_FD` failed.
    #[error("VFIO_GROUP_GET_DEVICE_FD for {device} in group {group} failed: {source}; the device must be in this group and bound to vfio-pci, and the group must be attached to a container with its IOMMU set")]
    GroupGetDeviceFd {
        /// PCI address asked for.
        device: String,
        /// IOMMU group number.
        group: u32,
        /// The OS error.
        source: io::Error,
    },
    /// The device's IOMMU group could not be found in sysfs.
    #[error("cannot read the IOMMU group of {device} ({path}): {source}; is the IOMMU enabled (intel_iommu=on) and does the device exist?")]
    IommuGroupLookup {
        /// PCI address.
        device: String,
        /// The sysfs link read.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// `VFIO_DEVICE_GET_INFO` failed.
    #[error("VFIO_DEVICE_GET_INFO on {device} failed: {source}; the descriptor must be a VFIO device fd from VFIO_GROUP_GET_DEVICE_FD")]
    DeviceGetInfo {
        /// PCI address.
        device: String,
        /// The OS error.
        source: io::Error,
    },
    /// `VFIO_DEVICE_GET_REGION_INFO` failed.
    #[error("VFIO_DEVICE_GET_REGION_INFO for region {index} of {device} failed: {source}; regions are 0-5 (BARs), 6 (ROM), 7 (config)")]
    DeviceGetRegionInfo {
        /// PCI address.
        device: String,
        /// Region index.
        index: u32,
        /// The OS error.
        source: io::Error,
    },
    /// The region has size 0 (BAR not implemented).
    #[error("region {index} of {device} is empty: the device does not implement that BAR")]
    RegionEmpty {
        /// PCI address.
        device: String,
        /// Region index.
        index: u32,
    },
    /// The region cannot be mapped (I/O-port BAR or not allowed).
    #[error("region {index} of {device} cannot be mmapped{kind}; access it with read_region/write_region (pread/pwrite on the device fd)")]
    RegionNotMmappable {
        /// PCI address.
        device: String,
        /// Region index.
        index: u32,
        /// " (it is an I/O-port BAR)" or "".
        kind: &'static str,
    },
    /// `mmap` of a region failed.
    #[error("mmap of region {index} of {device} ({size:#x} bytes at offset {offset:#x}) failed: {source}; check the address-space limit (ulimit -v) and that the BAR is a memory BAR")]
    MmapRegion {
        /// PCI address.
        device: String,
        /// Region index.
        index: u32,
        /// Region size.
        size: u64,
        /// Region offset in the device fd.
        offset: u64,
        /// The OS error.
        source: io::Error,
    },
    /// An access falls outside a region.
    #[error("access of {len} bytes at {offset:#x} is outside region {index} of {device} (size {size:#x})")]
    RegionOutOfBounds {
        /// PCI address.
        device: String,
        /// Region index.
        index: u32,
        /// Offset inside the region.
        offset: u64,
        /// Access length.
        len: usize,
        /// Region size.
        size: u64,
    },
    /// `pread` of a region failed or was short.
    #[error("read of {len} bytes at {offset:#x} of region {index} of {device} failed: {source}; the region must be readable (region_info flags) and the access 1, 2 or 4 bytes wide for I/O ports")]
    RegionRead {
        /// PCI address.
        device: String,
        /// Region index.
        index: u32,
        /// Offset inside the region.
        offset: u64,
        /// Access length.
        len: usize,
        /// The OS error.
        source: io::Error,
    },
    /// `pwrite` of a region failed or was short.
    #[error("write of {len} bytes at {offset:#x} of region {index} of {device} failed: {source}; the region must be writable (region_info flags) and the access 1, 2 or 4 bytes wide for I/O ports")]
    RegionWrite {
        /// PCI address.
        device: String,
        /// Region index.
        index: u32,
        /// Offset inside the region.
        offset: u64,
        /// Access length.
        len: usize,
        /// The OS error.
        source: io::Error,
    },
    /// `VFIO_DEVICE_GET_IRQ_INFO` failed.
    #[error("VFIO_DEVICE_GET_IRQ_INFO for irq index {index} of {device} failed: {source}; indexes are 0 INTx, 1 MSI, 2 MSI-X, 3 ERR, 4 REQ")]
    DeviceGetIrqInfo {
        /// PCI address.
        device: String,
        /// IRQ index.
        index: u32,
        /// The OS error.
        source: io::Error,
    },
    /// More vectors were asked for than the device has.
    #[error("irq index {index} of {device} has {available} vectors; {asked} were asked for starting at {start}")]
    IrqCount {
        /// PCI address.
        device: String,
        /// IRQ index.
        index: u32,
        /// First vector.
        start: u32,
        /// Vectors asked for.
        asked: usize,
        /// Vectors the device has.
        available: u32,
    },
    /// `VFIO_DEVICE_SET_IRQS` failed.
    #[error("VFIO_DEVICE_SET_IRQS ({action}) on irq index {index} of {device} failed: {source}; the device must support that interrupt type (check irq_info) and only one of INTx/MSI/MSI-X can be enabled at once")]
    DeviceSetIrqs {
        /// PCI address.
        device: String,
        /// IRQ index.
        index: u32,
        /// What was asked.
        action: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// `VFIO_DEVICE_RESET` failed.
    #[error(
        "VFIO_DEVICE_RESET on {device} failed: {source}; the device may offer no reset method (device info flag RESET)"
    )]
    DeviceReset {
        /// PCI address.
        device: String,
        /// The OS error.
        source: io::Error,
    },
    /// `eventfd(2)` failed.
    #[error("eventfd creation failed: {0}; check the open-file limit (ulimit -n)")]
    EventFd(#[source] io::Error),
    /// Reading or writing an eventfd failed.
    #[error("eventfd {op} failed: {source}; the eventfd may have been closed")]
    EventFdIo {
        /// "read", "write" or "poll".
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// `/proc/self/pagemap` could not be read.
    #[error("cannot read /proc/self/pagemap for vaddr {vaddr:#x}: {source}; /proc must be mounted")]
    Pagemap {
        /// Address looked up.
        vaddr: u64,
        /// The OS error.
        source: io::Error,
    },
    /// The page is not in memory.
    #[error("page at vaddr {vaddr:#x} is not present in memory; touch (and mlock) it before asking for its physical address")]
    PageNotPresent {
        /// Address looked up.
        vaddr: u64,
    },
    /// The kernel hid the frame number.
    #[error("/proc/self/pagemap hides frame numbers from this process (vaddr {vaddr:#x}); physical addresses need CAP_SYS_ADMIN: run as root or use --iova-mode va")]
    PfnHidden {
        /// Address looked up.
        vaddr: u64,
    },
}
