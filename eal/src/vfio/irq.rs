//! Device interrupts: `VFIO_DEVICE_GET_IRQ_INFO` and `VFIO_DEVICE_SET_IRQS`
//! with eventfds for INTx, MSI and MSI-X, and INTx unmasking.

use super::abi::{self, AbiStruct, IrqInfoAbi};
use super::device::Device;
use super::error::{Result, VfioError};
use super::ioctl;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// A PCI interrupt index of VFIO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqIndex {
    /// Legacy INTx (one vector, level-triggered, auto-masked).
    Intx,
    /// MSI (up to 32 vectors).
    Msi,
    /// MSI-X (up to 2048 vectors).
    Msix,
    /// AER error notification.
    Err,
    /// Device release request from the kernel.
    Req,
}

impl IrqIndex {
    /// The raw VFIO index.
    pub fn raw(self) -> u32 {
        match self {
            IrqIndex::Intx => abi::VFIO_PCI_INTX_IRQ_INDEX,
            IrqIndex::Msi => abi::VFIO_PCI_MSI_IRQ_INDEX,
            IrqIndex::Msix => abi::VFIO_PCI_MSIX_IRQ_INDEX,
            IrqIndex::Err => abi::VFIO_PCI_ERR_IRQ_INDEX,
            IrqIndex::Req => abi::VFIO_PCI_REQ_IRQ_INDEX,
        }
    }
}

/// What `VFIO_DEVICE_GET_IRQ_INFO` reports for one index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrqInfo {
    /// The index asked about.
    pub index: IrqIndex,
    /// Raw flags (`VFIO_IRQ_INFO_*`).
    pub flags: u32,
    /// Number of vectors (0: not supported by the device).
    pub count: u32,
}

impl IrqInfo {
    /// Vectors can signal eventfds.
    pub fn eventfd(&self) -> bool {
        self.flags & abi::VFIO_IRQ_INFO_EVENTFD != 0
    }

    /// The interrupt is masked by the kernel each time it fires (INTx):
    /// call [`Device::unmask_intx`] after servicing it.
    pub fn automasked(&self) -> bool {
        self.flags & abi::VFIO_IRQ_INFO_AUTOMASKED != 0
    }

    /// Vectors can be masked.
    pub fn maskable(&self) -> bool {
        self.flags & abi::VFIO_IRQ_INFO_MASKABLE != 0
    }
}

impl Device {
    /// `VFIO_DEVICE_GET_IRQ_INFO` for `index`.
    pub fn irq_info(&self, index: IrqIndex) -> Result<IrqInfo> {
        let mut info = IrqInfoAbi::new_sized();
        info.index = index.raw();
        ioctl::ioctl_struct(self.as_fd(), abi::VFIO_DEVICE_GET_IRQ_INFO, &mut info).map_err(|source| {
            VfioError::DeviceGetIrqInfo { device: self.name().to_string(), index: index.raw(), source }
        })?;
        Ok(IrqInfo { index, flags: info.flags, count: info.count })
    }

    fn set_irqs(&self, index: IrqIndex, action: &'static str, words: &mut [u32]) -> Result<()> {
        ioctl::ioctl_words(self.as_fd(), abi::VFIO_DEVICE_SET_IRQS, words).map_err(|source| {
            VfioError::DeviceSetIrqs { device: self.name().to_string(), index: index.raw(), action, source }
        })?;
        tracing::debug!(device = %self.name(), ?index, action, "vfio irqs set");
        Ok(())
    }

    /// Attaches one eventfd per vector, vectors `start..start + fds.len()`
    /// of `index`, and enables them. For MSI/MSI-X this enables that mode.
    pub fn enable_irq_eventfds(&self, index: IrqIndex, start: u32, fds: &[BorrowedFd<'_>]) -> Result<()> {
        let info = self.irq_info(index)?;
        let end = u64::from(start) + fds.len() as u64;
        if fds.is_empty() || end > u64::from(info.count) {
            return Err(VfioError::IrqCount {
                device: self.name().to_string(),
                index: index.raw(),
                start,
                asked: fds.len(),
                available: info.count,
            });
        }
        let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let mut words = abi::irq_set_words(
            abi::VFIO_IRQ_SET_DATA_EVENTFD | abi::VFIO_IRQ_SET_ACTION_TRIGGER,
            index.raw(),
            start,
            raw.len() as u32,
            &raw,
        );
        self.set_irqs(index, "enable eventfds", &mut words)
    }

    /// Disables every vector of `index` and detaches their eventfds.
    pub fn disable_irqs(&self, index: IrqIndex) -> Result<()> {
        let mut words =
            abi::irq_set_words(abi::VFIO_IRQ_SET_DATA_NONE | abi::VFIO_IRQ_SET_ACTION_TRIGGER, index.raw(), 0, 0, &[]);
        self.set_irqs(index, "disable", &mut words)
    }

    /// Unmasks INTx after its interrupt was serviced (INTx is auto-masked
    /// each time it fires).
    pub fn unmask_intx(&self) -> Result<()> {
        let mut words = abi::irq_set_words(
            abi::VFIO_IRQ_SET_DATA_NONE | abi::VFIO_IRQ_SET_ACTION_UNMASK,
            abi::VFIO_PCI_INTX_IRQ_INDEX,
            0,
            1,
            &[],
        );
        self.set_irqs(IrqIndex::Intx, "unmask INTx", &mut words)
    }

    /// Masks INTx.
    pub fn mask_intx(&self) -> Result<()> {
        let mut words = abi::irq_set_words(
            abi::VFIO_IRQ_SET_DATA_NONE | abi::VFIO_IRQ_SET_ACTION_MASK,
            abi::VFIO_PCI_INTX_IRQ_INDEX,
            0,
            1,
            &[],
        );
        self.set_irqs(IrqIndex::Intx, "mask INTx", &mut words)
    }
}

/// Convenience for callers holding owned eventfds.
pub fn borrow_all<T: AsFd>(fds: &[T]) -> Vec<BorrowedFd<'_>> {
    fds.iter().map(|f| f.as_fd()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    #[test]
    fn raw_indexes() {
        assert_eq!(IrqIndex::Intx.raw(), 0);
        assert_eq!(IrqIndex::Msi.raw(), 1);
        assert_eq!(IrqIndex::Msix.raw(), 2);
        assert_eq!(IrqIndex::Req.raw(), 4);
    }

    #[test]
    fn irq_calls_on_non_vfio_fd_name_the_call() {
        let d = Device::from_fd("0000:00:06.0".into(), File::open("/dev/null").unwrap().into());
        let err = d.irq_info(IrqIndex::Msix).unwrap_err();
        assert!(matches!(err, VfioError::DeviceGetIrqInfo { index: 2, .. }), "{err}");
        let err = d.unmask_intx().unwrap_err();
        assert!(matches!(err, VfioError::DeviceSetIrqs { index: 0, action: "unmask INTx", .. }), "{err}");
    }

    #[test]
    fn info_flags_decode() {
        let i = IrqInfo { index: IrqIndex::Intx, flags: 0b111, count: 1 };
        assert!(i.eventfd() && i.maskable() && i.automasked());
    }
}
