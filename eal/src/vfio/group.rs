//! A VFIO group (`/dev/vfio/<n>`): the unit of isolation the IOMMU gives;
//! it joins a container and hands out device fds.

use super::abi::{self, AbiStruct, GroupStatusAbi};
use super::container::Container;
use super::device::Device;
use super::error::{Result, VfioError};
use super::ioctl;
use super::pci_addr::normalize_pci_address;
use crate::pci::GroupKind;
use std::ffi::CString;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// An open VFIO group.
#[derive(Debug)]
pub struct Group {
    number: u32,
    kind: GroupKind,
    fd: OwnedFd,
}

/// What `VFIO_GROUP_GET_STATUS` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStatus {
    /// Every device of the group is bound to a VFIO driver or unbound.
    pub viable: bool,
    /// The group is attached to a container.
    pub container_set: bool,
}

fn open_hint(err: &io::Error, kind: GroupKind) -> &'static str {
    match (err.raw_os_error(), kind) {
        (Some(libc::EACCES) | Some(libc::EPERM), GroupKind::NoIommu) => {
            "a no-IOMMU group can be opened only by root (CAP_SYS_RAWIO): the device can write to any memory"
        }
        (e, _) => open_hint_any(e),
    }
}

fn open_hint_any(errno: Option<i32>) -> &'static str {
    match errno {
        Some(libc::ENOENT) => "bind a device of that IOMMU group to vfio-pci first (driver_override + drivers_probe)",
        Some(libc::EBUSY) => {
            "the group is already open (in this or another process); a secondary must ask the primary for the group fd"
        }
        Some(libc::EACCES) | Some(libc::EPERM) => "run as root or give this user access to the group node",
        _ => "check that vfio-pci is loaded and the device is bound to it",
    }
}

impl Group {
    /// Opens `/dev/vfio/<number>`, or `/dev/vfio/noiommu-<number>` for a no-IOMMU group.
    pub fn open(number: u32, kind: GroupKind) -> Result<Self> {
        let path = kind.node_path(number);
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(|source| VfioError::OpenGroup {
            group: number,
            path: path.clone(),
            hint: open_hint(&source, kind),
            source,
        })?;
        Self::from_fd(number, kind, file.into())
    }

    /// Adopts a group fd received from another process (over IPC); checks
    /// that it answers `VFIO_GROUP_GET_STATUS`.
    pub fn from_fd(number: u32, kind: GroupKind, fd: OwnedFd) -> Result<Self> {
        let g = Self { number, kind, fd };
        g.status()?;
        Ok(g)
    }

    /// The IOMMU group number.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Whether it is an IOMMU group or a no-IOMMU one.
    pub fn kind(&self) -> GroupKind {
        self.kind
    }

    /// `VFIO_GROUP_GET_STATUS`.
    pub fn status(&self) -> Result<GroupStatus> {
        let mut st = GroupStatusAbi::new_sized();
        ioctl::ioctl_struct(self.fd.as_fd(), abi::VFIO_GROUP_GET_STATUS, &mut st)
            .map_err(|source| VfioError::GroupGetStatus { group: self.number, source })?;
        Ok(GroupStatus {
            viable: st.flags & abi::VFIO_GROUP_FLAGS_VIABLE != 0,
            container_set: st.flags & abi::VFIO_GROUP_FLAGS_CONTAINER_SET != 0,
        })
    }

    /// Fails with [`VfioError::GroupNotViable`] unless every device of the
    /// group is bound to vfio-pci or unbound.
    pub fn check_viable(&self) -> Result<()> {
        if self.status()?.viable {
            Ok(())
        } else {
            Err(VfioError::GroupNotViable { group: self.number })
        }
    }

    /// `VFIO_GROUP_SET_CONTAINER`: attaches the group to `container`
    /// (checks viability first, for a clearer error).
    pub fn set_container(&self, container: &Container) -> Result<()> {
        self.check_viable()?;
        ioctl::ioctl_int_ptr(self.fd.as_fd(), abi::VFIO_GROUP_SET_CONTAINER, container.as_raw_fd())
            .map_err(|source| VfioError::GroupSetContainer { group: self.number, source })?;
        tracing::debug!(group = self.number, "vfio group attached to container");
        Ok(())
    }

    /// `VFIO_GROUP_UNSET_CONTAINER`.
    pub fn unset_container(&self) -> Result<()> {
        ioctl::ioctl_none(self.fd.as_fd(), abi::VFIO_GROUP_UNSET_CONTAINER)
            .map_err(|source| VfioError::GroupUnsetContainer { group: self.number, source })?;
        Ok(())
    }

    /// `VFIO_GROUP_GET_DEVICE_FD` for a PCI address such as `0000:00:03.0`.
    pub fn device(&self, pci_addr: &str) -> Result<Device> {
        let name = normalize_pci_address(pci_addr)?;
        let cname = CString::new(name.clone()).map_err(|_| VfioError::InvalidPciAddress(name.clone()))?;
        let fd = ioctl::ioctl_cstr_fd(self.fd.as_fd(), abi::VFIO_GROUP_GET_DEVICE_FD, &cname)
            .map_err(|source| VfioError::GroupGetDeviceFd { device: name.clone(), group: self.number, source })?;
        tracing::debug!(device = %name, group = self.number, "vfio device fd opened");
        Ok(Device::from_fd(name, fd))
    }

    /// Duplicates the fd, e.g. to send it to a secondary process.
    pub fn try_clone_fd(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }
}

impl AsFd for Group {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Group {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    #[test]
    fn open_missing_group_says_to_bind() {
        let err = Group::open(999_999, GroupKind::Iommu).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, VfioError::OpenGroup { group: 999_999, .. }), "{msg}");
        assert!(msg.contains("vfio-pci"), "{msg}");
    }

    #[test]
    fn from_fd_rejects_a_non_group() {
        let f = File::open("/dev/null").unwrap();
        let err = Group::from_fd(3, GroupKind::Iommu, f.into()).unwrap_err();
        assert!(matches!(err, VfioError::GroupGetStatus { group: 3, .. }), "{err}");
    }

    #[test]
    fn noiommu_groups_have_their_own_node_and_hint() {
        let err = Group::open(999_998, GroupKind::NoIommu).unwrap_err().to_string();
        assert!(err.contains("999998"), "{err}");
        assert_eq!(GroupKind::NoIommu.node_path(4), "/dev/vfio/noiommu-4");
        let denied = io::Error::from_raw_os_error(libc::EACCES);
        assert!(open_hint(&denied, GroupKind::NoIommu).contains("CAP_SYS_RAWIO"));
        assert!(open_hint(&denied, GroupKind::Iommu).contains("run as root"));
    }

    #[test]
    fn not_viable_message_names_the_rule() {
        let msg = VfioError::GroupNotViable { group: 4 }.to_string();
        assert!(msg.contains("all devices of the group must be bound to vfio-pci"), "{msg}");
        assert!(msg.contains("/sys/kernel/iommu_groups/4/devices"), "{msg}");
    }
}
