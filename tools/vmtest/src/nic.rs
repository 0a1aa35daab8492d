//! Guest NICs: the models QEMU emulates, how each is wired (a hub shared
//! with other NICs, or a unix stream socket to a host peer), and parsing of
//! the command-line form `model:netdev[,mac=..][,hub=N|,stream][,slot=N]`.

use crate::error::{Error, Result};

/// A NIC model QEMU can emulate for the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NicModel {
    /// Intel 82540EM (8086:100e), INTx only.
    E1000,
    /// Intel 82574L (8086:10d3), MSI/MSI-X.
    E1000e,
    /// Intel 82576 (8086:10c9), MSI-X.
    Igb,
    /// virtio-net modern only (1af4:1041), behind the IOMMU (`iommu_platform=on`).
    VirtioModern,
    /// virtio-net legacy only (1af4:1000), I/O-port BAR0.
    VirtioLegacy,
    /// virtio-net transitional (1af4:1000), both interfaces.
    VirtioTransitional,
}

impl NicModel {
    /// Parses the command-line name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "e1000" => NicModel::E1000,
            "e1000e" => NicModel::E1000e,
            "igb" => NicModel::Igb,
            "virtio-modern" | "virtio" => NicModel::VirtioModern,
            "virtio-legacy" => NicModel::VirtioLegacy,
            "virtio-transitional" => NicModel::VirtioTransitional,
            _ => return None,
        })
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            NicModel::E1000 => "e1000",
            NicModel::E1000e => "e1000e",
            NicModel::Igb => "igb",
            NicModel::VirtioModern => "virtio-modern",
            NicModel::VirtioLegacy => "virtio-legacy",
            NicModel::VirtioTransitional => "virtio-transitional",
        }
    }

    /// `(vendor, device)` PCI IDs the guest sees.
    pub fn pci_ids(self) -> (u16, u16) {
        match self {
            NicModel::E1000 => (0x8086, 0x100e),
            NicModel::E1000e => (0x8086, 0x10d3),
            NicModel::Igb => (0x8086, 0x10c9),
            NicModel::VirtioModern => (0x1af4, 0x1041),
            NicModel::VirtioLegacy | NicModel::VirtioTransitional => (0x1af4, 0x1000),
        }
    }

    /// The QEMU `-device` driver and its model-specific properties.
    fn device_args(self) -> &'static str {
        match self {
            NicModel::E1000 => "e1000",
            NicModel::E1000e => "e1000e",
            NicModel::Igb => "igb",
            NicModel::VirtioModern => "virtio-net-pci,disable-legacy=on,iommu_platform=on",
            NicModel::VirtioLegacy => "virtio-net-pci,disable-modern=on",
            NicModel::VirtioTransitional => "virtio-net-pci",
        }
    }
}

/// What a NIC's netdev is connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A QEMU hub: every NIC on hub N sees every other's frames.
    Hub(u32),
    /// A unix stream socket served by QEMU for a host [`crate::Peer`].
    Stream,
    /// A host TAP interface `ifname` that QEMU creates with `queues` queues (root on the
    /// host; multiqueue virtio-net needs a multiqueue backend). The host side talks to it
    /// through the interface (e.g. an AF_PACKET socket).
    Tap {
        /// Host interface name (at most 15 bytes).
        ifname: String,
        /// Queues (one per virtio-net queue pair).
        queues: u16,
        /// Frames cross with a virtio-net header (QEMU's default): a NIC model's TSO
        /// packets then reach the host as one large GSO frame. Off (`vnet_hdr=off`), QEMU
        /// segments them itself and the host interface counts every wire frame.
        vnet_hdr: bool,
    },
}

/// One guest NIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// The model.
    pub model: NicModel,
    /// The netdev id (for `set_link` and the peer socket name).
    pub netdev: String,
    /// MAC address, e.g. `52:54:00:12:34:56` (QEMU picks one if `None`).
    pub mac: Option<String>,
    /// Wiring.
    pub backend: Backend,
    /// PCI slot on bus 0 (the guest address is `0000:00:<slot>.0`).
    pub slot: u8,
    /// Extra `-device` properties, e.g. `mq=on,vectors=6`.
    pub props: Option<String>,
}

/// The first slot assigned to NICs without an explicit one.
pub const FIRST_SLOT: u8 = 3;

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn valid_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

impl Nic {
    /// A NIC on its own hub (numbered after the slot), QEMU-chosen MAC.
    pub fn new(model: NicModel, netdev: &str) -> Self {
        Nic { model, netdev: netdev.to_string(), mac: None, backend: Backend::Hub(0), slot: 0, props: None }
    }

    /// Sets the MAC address.
    pub fn mac(mut self, mac: &str) -> Self {
        self.mac = Some(mac.to_string());
        self
    }

    /// Puts the NIC on hub `n`.
    pub fn hub(mut self, n: u32) -> Self {
        self.backend = Backend::Hub(n);
        self
    }

    /// Connects the NIC to a host peer over a unix stream socket.
    pub fn stream(mut self) -> Self {
        self.backend = Backend::Stream;
        self
    }

    /// Connects the NIC to a host TAP interface `ifname` with `queues` queues.
    pub fn tap(mut self, ifname: &str, queues: u16) -> Self {
        self.backend = Backend::Tap { ifname: ifname.to_string(), queues: queues.max(1), vnet_hdr: true };
        self
    }

    /// Turns the virtio-net header of a TAP backend off (see [`Backend::Tap`]); nothing
    /// for other backends.
    pub fn no_vnet_hdr(mut self) -> Self {
        if let Backend::Tap { vnet_hdr, .. } = &mut self.backend {
            *vnet_hdr = false;
        }
        self
    }

    /// Adds `-device` properties (comma-separated `key=value`), e.g. `mq=on,vectors=6`.
    pub fn props(mut self, props: &str) -> Self {
        self.props = Some(props.to_string());
        self
    }

    /// Parses `model:netdev[,mac=M][,hub=N][,stream][,slot=S]`.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::InvalidArgument(format!("bad --nic '{spec}': {why}; form: model:netdev[,mac=52:54:00:12:34:56][,hub=N|,stream][,slot=N], models e1000 e1000e igb virtio-modern virtio-legacy virtio-transitional"))
        };
        let mut parts = spec.split(',');
        let head = parts.next().unwrap_or_default();
        let (model, netdev) = head.split_once(':').ok_or_else(|| bad("missing ':netdev'"))?;
        let model = NicModel::parse(model).ok_or_else(|| bad("unknown model"))?;
        let mut nic = Nic::new(model, netdev);
        for opt in parts {
            match opt.split_once('=') {
                Some(("mac", m)) => nic.mac = Some(m.to_string()),
                Some(("hub", n)) => nic.backend = Backend::Hub(n.parse().map_err(|_| bad("hub is a number"))?),
                Some(("slot", n)) => nic.slot = parse_slot(n).ok_or_else(|| bad("slot is 1-31 (hex with 0x)"))?,
                None if opt == "stream" => nic.backend = Backend::Stream,
                _ => return Err(bad(&format!("unknown option '{opt}'"))),
            }
        }
        nic.validate().map_err(|e| bad(&e))?;
        Ok(nic)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if !valid_id(&self.netdev) {
            return Err("netdev id must start with a letter and hold only letters, digits, '-' or '_'".into());
        }
        if let Some(m) = &self.mac {
            if !valid_mac(m) {
                return Err(format!("bad mac '{m}'"));
            }
        }
        if let Backend::Tap { ifname, .. } = &self.backend {
            if ifname.is_empty() || ifname.len() > 15 || !ifname.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("bad tap interface name '{ifname}' (1-15 letters or digits)"));
            }
        }
        if let Some(p) = &self.props {
            if p.split(',').any(|kv| !kv.contains('=') || kv.starts_with("netdev=") || kv.starts_with("addr=")) {
                return Err(format!("bad device properties '{p}' (key=value list, not netdev or addr)"));
            }
        }
        Ok(())
    }

    /// The guest PCI address, e.g. `0000:00:03.0`.
    pub fn pci_address(&self) -> String {
        format!("0000:00:{:02x}.0", self.slot)
    }

    /// QEMU arguments for this NIC; `socket` is the peer socket path for a
    /// stream backend; `hub_default` is used for `Hub(0)`.
    pub fn qemu_args(&self, socket: &str, hub_default: u32) -> Vec<String> {
        let netdev = match &self.backend {
            Backend::Hub(n) => {
                let hub = if *n == 0 { hub_default } else { *n };
                format!("hubport,id={},hubid={hub}", self.netdev)
            }
            Backend::Stream => format!("stream,id={},server=on,addr.type=unix,addr.path={socket}", self.netdev),
            Backend::Tap { ifname, queues, vnet_hdr } => {
                let vh = if *vnet_hdr { "" } else { ",vnet_hdr=off" };
                format!("tap,id={},ifname={ifname},script=no,downscript=no,queues={queues},vhost=off{vh}", self.netdev)
            }
        };
        let mut device = format!("{},netdev={},addr={:#x},romfile=", self.model.device_args(), self.netdev, self.slot);
        if let Some(m) = &self.mac {
            device.push_str(&format!(",mac={m}"));
        }
        if let Some(p) = &self.props {
            device.push(',');
            device.push_str(p);
        }
        vec!["-netdev".into(), netdev, "-device".into(), device]
    }
}

fn parse_slot(s: &str) -> Option<u8> {
    let n = match s.strip_prefix("0x") {
        Some(h) => u8::from_str_radix(h, 16).ok()?,
        None => s.parse().ok()?,
    };
    (1..0x20).contains(&n).then_some(n)
}

/// Gives slots to NICs without one (from [`FIRST_SLOT`], skipping taken
/// ones) and checks ids and slots are unique.
pub fn assign_slots(nics: &mut [Nic]) -> Result<()> {
    let mut taken: Vec<u8> = nics.iter().map(|n| n.slot).filter(|&s| s != 0).collect();
    let mut next = FIRST_SLOT;
    for nic in nics.iter_mut().filter(|n| n.slot == 0) {
        while taken.contains(&next) {
            next += 1;
        }
        if next >= 0x1f {
            return Err(Error::InvalidArgument("too many NICs for bus 0".into()));
        }
        nic.slot = next;
        taken.push(next);
    }
    for (i, a) in nics.iter().enumerate() {
        nic_unique(a, &nics[i + 1..])?;
        a.validate().map_err(|e| Error::InvalidArgument(format!("NIC {}: {e}", a.netdev)))?;
    }
    Ok(())
}

fn nic_unique(a: &Nic, rest: &[Nic]) -> Result<()> {
    for b in rest {
        if a.netdev == b.netdev {
            return Err(Error::InvalidArgument(format!("two NICs use netdev id '{}'", a.netdev)));
        }
        if a.slot == b.slot {
            return Err(Error::InvalidArgument(format!("two NICs use PCI slot {:#x}", a.slot)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_spec() {
        let n = Nic::parse("e1000:n1,mac=52:54:00:12:34:56,hub=2,slot=0x5").unwrap();
        assert_eq!(n.model, NicModel::E1000);
        assert_eq!(n.netdev, "n1");
        assert_eq!(n.mac.as_deref(), Some("52:54:00:12:34:56"));
        assert_eq!(n.backend, Backend::Hub(2));
        assert_eq!(n.slot, 5);
        assert_eq!(n.pci_address(), "0000:00:05.0");
        let s = Nic::parse("virtio-legacy:s0,stream").unwrap();
        assert_eq!(s.backend, Backend::Stream);
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in
            ["e1000", "rtl8139:n1", "e1000:1n", "e1000:n1,mac=zz", "e1000:n1,hub=x", "e1000:n1,slot=40", "e1000:n1,foo"]
        {
            let err = Nic::parse(bad).unwrap_err();
            assert!(err.to_string().contains("bad --nic"), "{bad}: {err}");
        }
    }

    #[test]
    fn qemu_args_for_models() {
        let mut nics = vec![
            Nic::new(NicModel::E1000, "n1").mac("52:54:00:12:34:56"),
            Nic::new(NicModel::VirtioModern, "s0").stream(),
        ];
        assign_slots(&mut nics).unwrap();
        assert_eq!(
            nics[0].qemu_args("", 9),
            ["-netdev", "hubport,id=n1,hubid=9", "-device", "e1000,netdev=n1,addr=0x3,romfile=,mac=52:54:00:12:34:56"]
        );
        let a = nics[1].qemu_args("/tmp/s0.sock", 1);
        assert_eq!(a[1], "stream,id=s0,server=on,addr.type=unix,addr.path=/tmp/s0.sock");
        assert_eq!(a[3], "virtio-net-pci,disable-legacy=on,iommu_platform=on,netdev=s0,addr=0x4,romfile=");
    }

    #[test]
    fn tap_backend_and_device_properties() {
        let mut nics = vec![Nic::new(NicModel::VirtioModern, "q").tap("bvq0", 2).props("mq=on,vectors=6")];
        assign_slots(&mut nics).unwrap();
        let a = nics[0].qemu_args("", 1);
        assert_eq!(a[1], "tap,id=q,ifname=bvq0,script=no,downscript=no,queues=2,vhost=off");
        let off = Nic::new(NicModel::Igb, "t").tap("bvq1", 1).no_vnet_hdr();
        assert!(off.qemu_args("", 1)[1].ends_with(",vhost=off,vnet_hdr=off"));
        assert_eq!(
            a[3],
            "virtio-net-pci,disable-legacy=on,iommu_platform=on,netdev=q,addr=0x3,romfile=,mq=on,vectors=6"
        );
        assert!(Nic::new(NicModel::VirtioModern, "q").tap("a-very-long-name0", 2).validate().is_err());
        assert!(Nic::new(NicModel::VirtioModern, "q").props("netdev=x").validate().is_err());
        assert!(Nic::new(NicModel::VirtioModern, "q").props("mq").validate().is_err());
    }

    #[test]
    fn slots_skip_taken_and_duplicates_fail() {
        let mut nics = vec![
            Nic::new(NicModel::Igb, "a"),
            Nic { slot: 4, ..Nic::new(NicModel::E1000e, "b") },
            Nic::new(NicModel::Igb, "c"),
        ];
        assign_slots(&mut nics).unwrap();
        assert_eq!(nics.iter().map(|n| n.slot).collect::<Vec<_>>(), vec![3, 4, 5]);
        let mut dup = vec![Nic::new(NicModel::Igb, "a"), Nic::new(NicModel::E1000, "a")];
        assert!(assign_slots(&mut dup).is_err());
    }

    #[test]
    fn pci_ids() {
        assert_eq!(NicModel::E1000.pci_ids(), (0x8086, 0x100e));
        assert_eq!(NicModel::VirtioModern.pci_ids(), (0x1af4, 0x1041));
    }
}
