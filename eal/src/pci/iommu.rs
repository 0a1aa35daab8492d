//! IOMMU groups and their viability for VFIO.
//!
//! VFIO hands out a group only when every device in it is bound to a VFIO driver or
//! `pci-stub`, or to no driver; bridges (config header type other than 0) are accepted
//! whatever their driver.

use std::path::Path;

use super::address::PciAddr;
use super::attr;
use super::class::PciClass;
use super::device::is_vfio_friendly_driver;
use super::error::PciError;
use super::sysfs::{read_header_type, read_iommu_group, Sysfs};

/// One device of an IOMMU group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMember {
    /// Its name in the group's `devices` directory (a PCI address for PCI devices).
    pub name: String,
    /// Its PCI address, for PCI devices.
    pub addr: Option<PciAddr>,
    /// The driver bound to it, if any.
    pub driver: Option<String>,
    /// Whether it is a bridge (header type other than 0, or by class when unreadable).
    pub is_bridge: bool,
}

impl GroupMember {
    /// Whether this member keeps the group from being used by VFIO: bound to a driver that
    /// is neither a VFIO driver nor `pci-stub`, and not a bridge.
    pub fn blocks_viability(&self) -> bool {
        match &self.driver {
            None => false,
            Some(d) => !is_vfio_friendly_driver(d) && !self.is_bridge,
        }
    }
}

/// The name the kernel gives the IOMMU groups VFIO makes in its unsafe no-IOMMU mode
/// (`kernel/iommu_groups/<n>/name`).
pub const NOIOMMU_GROUP_NAME: &str = "vfio-noiommu";

/// What isolates the devices of an IOMMU group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupKind {
    /// A real (or virtual) IOMMU: the group node is `/dev/vfio/<n>`, devices see IOVAs
    /// that the container maps.
    Iommu,
    /// VFIO's unsafe no-IOMMU mode (`vfio enable_unsafe_noiommu_mode=1`): a group VFIO made
    /// up for a device with no IOMMU, node `/dev/vfio/noiommu-<n>`; there is no DMA
    /// mapping and the device reaches all memory by physical address.
    NoIommu,
}

impl GroupKind {
    /// The group's device node.
    pub fn node_path(self, number: u32) -> String {
        match self {
            GroupKind::Iommu => format!("/dev/vfio/{number}"),
            GroupKind::NoIommu => format!("/dev/vfio/noiommu-{number}"),
        }
    }

    /// The kind a group `name` attribute (`None` when absent) stands for.
    pub fn from_group_name(name: Option<&str>) -> GroupKind {
        match name {
            Some(n) if n.trim() == NOIOMMU_GROUP_NAME => GroupKind::NoIommu,
            _ => GroupKind::Iommu,
        }
    }

    /// A short name for logs and `devbind --status`: `iommu` or `noiommu`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Iommu => "iommu",
            GroupKind::NoIommu => "noiommu",
        }
    }
}

impl std::fmt::Display for GroupKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IOMMU group and all its devices, sorted by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IommuGroup {
    /// The group number (`/dev/vfio/<number>`, or `/dev/vfio/noiommu-<number>`).
    pub number: u32,
    /// Whether the group is a real IOMMU group or one of VFIO's no-IOMMU mode.
    pub kind: GroupKind,
    /// Every device of the group.
    pub members: Vec<GroupMember>,
}

impl IommuGroup {
    /// Whether VFIO would accept the group now.
    pub fn is_viable(&self) -> bool {
        self.members.iter().all(|m| !m.blocks_viability())
    }

    /// The members that keep the group from being viable.
    pub fn blockers(&self) -> Vec<&GroupMember> {
        self.members.iter().filter(|m| m.blocks_viability()).collect()
    }

    /// The members other than `addr`.
    pub fn others(&self, addr: PciAddr) -> Vec<&GroupMember> {
        self.members.iter().filter(|m| m.addr != Some(addr)).collect()
    }
}

impl Sysfs {
    /// IOMMU group `number` with its devices (`kernel/iommu_groups/<n>/devices/*`).
    pub fn iommu_group(&self, number: u32) -> Result<IommuGroup, PciError> {
        let dir = self.iommu_group_devices_dir(number);
        if !dir.is_dir() {
            return Err(PciError::io(
                "list",
                &dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such IOMMU group"),
            ));
        }
        let mut members = Vec::new();
        for name in attr::list_dir(&dir)? {
            members.push(read_member(&dir.join(&name), name)?);
        }
        Ok(IommuGroup { number, kind: self.iommu_group_kind(number)?, members })
    }

    /// Whether group `number` is a no-IOMMU group: its `name` attribute (present only on
    /// named groups) says `vfio-noiommu`.
    pub fn iommu_group_kind(&self, number: u32) -> Result<GroupKind, PciError> {
        let path = self.root().join("kernel/iommu_groups").join(number.to_string()).join("name");
        Ok(GroupKind::from_group_name(attr::read_opt(&path)?.as_deref()))
    }

    /// The IOMMU group of `addr`, or `None` if the device is not behind an IOMMU.
    pub fn iommu_group_of(&self, addr: PciAddr) -> Result<Option<IommuGroup>, PciError> {
        let dir = self.device_dir(addr);
        if !dir.is_dir() {
            return Err(PciError::NotFound { addr, path: dir });
        }
        match read_iommu_group(&dir)? {
            None => Ok(None),
            Some(n) => self.iommu_group(n).map(Some),
        }
    }
}

fn read_member(dir: &Path, name: String) -> Result<GroupMember, PciError> {
    let addr = name.parse::<PciAddr>().ok();
    let class =
        attr::read_opt(&dir.join("class"))?.and_then(|t| attr::parse_hex(dir, "a class code", &t).ok()).map(PciClass);
    let is_bridge = match (addr, read_header_type(&dir.join("config"))) {
        (Some(_), Some(h)) => h != 0,
        _ => class.is_some_and(|c| c.is_pci_bridge()),
    };
    Ok(GroupMember { driver: attr::link_name(&dir.join("driver"))?, addr, name, is_bridge })
}
