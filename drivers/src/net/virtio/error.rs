//! What can go wrong driving a virtio-net device: each variant names the problem and, where
//! there is one, what to do about it.

use super::net::Features;
use super::pci::DeviceStatus;
use eal::bus::BusError;
use eal::vfio::VfioError;
use std::time::Duration;

/// An error of the virtio transport, the feature negotiation, the queues or the control
/// queue.
#[derive(Debug, thiserror::Error)]
pub enum VirtioError {
    /// A VFIO call (config space, a region, interrupts) failed.
    #[error("{what}: {source}")]
    Vfio {
        /// What was being done.
        what: &'static str,
        /// The VFIO error.
        #[source]
        source: VfioError,
    },
    /// Arming the interrupt vectors failed.
    #[error("arming the MSI-X vectors: {0}")]
    ArmIrqs(#[source] BusError),
    /// A virtio structure does not fit in its BAR.
    #[error("BAR{bar} is {len} bytes, the structure ends at {end:#x}: the device's capabilities are inconsistent")]
    BarTooSmall {
        /// BAR index.
        bar: u8,
        /// BAR length.
        len: u64,
        /// End of the structure in the BAR.
        end: u64,
    },
    /// A register offset outside its structure (a driver bug).
    #[error("offset {off:#x} outside the {len}-byte structure in BAR{bar}")]
    OutsideStructure {
        /// Offset asked for.
        off: u64,
        /// Structure length.
        len: u64,
        /// BAR index.
        bar: u8,
    },
    /// An access to a mapped BAR failed (outside the mapping).
    #[error("{access} at BAR{bar} offset {addr:#x} failed")]
    Mmio {
        /// The access (`read8`, `write16`, ...).
        access: &'static str,
        /// BAR index.
        bar: u8,
        /// Offset in the BAR.
        addr: u64,
    },
    /// The notification BAR is not mapped in this process.
    #[error("the notification BAR{bar} is not mapped in this process: is the device bound to vfio-pci?")]
    NotifyBarUnmapped {
        /// BAR index.
        bar: u64,
    },
    /// A modern-only device lacks its virtio capabilities.
    #[error("a modern-only virtio device without its capabilities ({found})")]
    MissingCapabilities {
        /// Which capabilities were found.
        found: String,
    },
    /// BAR0 of a legacy device is not an I/O-port virtio BAR.
    #[error("legacy virtio BAR0 is {len} bytes: not an I/O-port virtio BAR")]
    NotLegacyBar {
        /// BAR0 length.
        len: u64,
    },
    /// `device_status` did not read back 0 after a reset.
    #[error("device_status did not read 0 within {0:?} of a reset: the device is stuck; reset it (unbind and rebind, or restart the VM)")]
    ResetTimeout(Duration),
    /// A legacy queue's size is fixed by the device.
    #[error("legacy queue {q} has {num} entries, not {size}")]
    LegacyQueueSize {
        /// Queue index.
        q: u16,
        /// The device's size.
        num: u16,
        /// The size asked for.
        size: u16,
    },
    /// The rings of a legacy queue are not laid out as the legacy interface requires.
    #[error("queue {q}: rings not in the legacy layout")]
    LegacyLayout {
        /// Queue index.
        q: u16,
    },
    /// A legacy queue's ring is above what QUEUE_PFN can address.
    #[error("queue {q}: ring address {addr:#x} above 16 TiB, which the legacy interface cannot address")]
    RingTooHigh {
        /// Queue index.
        q: u16,
        /// Ring device address.
        addr: u64,
    },
    /// The transport code recorded in the port's shared state is unknown.
    #[error("unknown virtio transport code {0} in the port's shared state: the primary runs another build")]
    UnknownTransport(u64),
    /// The modern interface lacks VIRTIO_F_VERSION_1.
    #[error("the device does not offer VIRTIO_F_VERSION_1 on its modern interface: it is not a virtio 1.x device")]
    NoVersion1,
    /// A legacy interface without VIRTIO_F_ANY_LAYOUT: the driver puts the net header and
    /// the frame in one buffer, which such a device does not accept.
    #[error("the device's legacy interface does not offer VIRTIO_F_ANY_LAYOUT, and this driver puts the net header and the frame in one descriptor; give the device its modern interface (QEMU: drop disable-modern=on)")]
    NoAnyLayout,
    /// The device bypasses the IOMMU and the group does not run with IOVA = PA.
    #[error("the device {why}: it bypasses the IOMMU and needs IOVA = physical address; run with --iova-mode pa (for QEMU: or give a modern device iommu_platform=on,disable-legacy=on)")]
    NeedsIovaPa {
        /// Why the device bypasses the IOMMU.
        why: &'static str,
    },
    /// The device cleared FEATURES_OK.
    #[error("the device refused the features {names} ({:#x}): device_status {:#x} after FEATURES_OK", .features.bits(), .status.bits())]
    FeaturesRefused {
        /// Feature names.
        names: String,
        /// Feature bits.
        features: Features,
        /// `device_status` read back.
        status: DeviceStatus,
    },
    /// The device refused the configuration-change vector.
    #[error("the device refused MSI-X vector 0 for configuration changes (reads back NO_VECTOR)")]
    ConfigVectorRefused,
    /// The device did not take DRIVER_OK.
    #[error("the device did not take DRIVER_OK: device_status {:#x}", .0.bits())]
    DriverOkRefused(DeviceStatus),
    /// The control queue's memory is gone.
    #[error("the control queue memory is missing: configure the port again")]
    CtrlQueueMissing,
    /// The RX queue's mempool cannot be found.
    #[error("RX queue {q}: {source}")]
    RxPool {
        /// Queue index.
        q: usize,
        /// Why the pool cannot be used.
        #[source]
        source: eal::EalError,
    },
    /// The mempool ran out while filling an RX queue.
    #[error("mempool '{pool}' ran out filling an RX queue of {size} descriptors: make the pool larger than the rings")]
    PoolExhausted {
        /// Pool name.
        pool: String,
        /// Queue size.
        size: u16,
    },
    /// Control command data of a length the driver does not support.
    #[error("control command data of {0} bytes does not fit the control queue")]
    CtrlDataLen(usize),
    /// The device did not answer a control command.
    #[error("control command class {class} cmd {cmd}: no answer from the device within {timeout:?}")]
    CtrlTimeout {
        /// Command class.
        class: u8,
        /// Command.
        cmd: u8,
        /// How long the driver waited.
        timeout: Duration,
    },
    /// The device answered a control command with an error.
    #[error("control command class {class} cmd {cmd}: the device answered {ack} (error)")]
    CtrlRefused {
        /// Command class.
        class: u8,
        /// Command.
        cmd: u8,
        /// The acknowledgement byte.
        ack: u8,
    },
    /// A control command at start failed.
    #[error("{what}: {source}")]
    StartCommand {
        /// The command and its purpose.
        what: String,
        /// Why it failed.
        #[source]
        source: Box<VirtioError>,
    },
}

/// Text of a virtio error, for callers that report errors as strings (the QEMU guest test
/// program).
impl From<VirtioError> for String {
    fn from(e: VirtioError) -> String {
        e.to_string()
    }
}

impl VirtioError {
    /// A failed VFIO call while doing `what`.
    pub fn vfio(what: &'static str) -> impl Fn(VfioError) -> VirtioError + Copy {
        move |source| VirtioError::Vfio { what, source }
    }
}
