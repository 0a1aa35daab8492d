//! The EAL's PCI allow/block list (`-a/--allow`, `-b/--block`).

use super::address::PciAddr;
use super::devargs::Devargs;
use super::error::PciError;

/// Which PCI devices the EAL may probe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PciFilter {
    /// Every device (no list given).
    #[default]
    All,
    /// Only these devices, each with its driver arguments.
    Allow(Vec<Devargs>),
    /// Every device but these.
    Block(Vec<PciAddr>),
}

impl PciFilter {
    /// The filter for the lists given on the command line: `All` if both are empty,
    /// [`PciError::AllowAndBlock`] if both are not.
    pub fn from_lists(allow: Vec<Devargs>, block: Vec<PciAddr>) -> Result<Self, PciError> {
        match (allow.is_empty(), block.is_empty()) {
            (true, true) => Ok(PciFilter::All),
            (false, true) => Ok(PciFilter::Allow(allow)),
            (true, false) => Ok(PciFilter::Block(block)),
            (false, false) => Err(PciError::AllowAndBlock),
        }
    }

    /// Whether the device at `addr` may be probed.
    pub fn selects(&self, addr: PciAddr) -> bool {
        match self {
            PciFilter::All => true,
            PciFilter::Allow(list) => list.iter().any(|d| d.addr() == addr),
            PciFilter::Block(list) => !list.contains(&addr),
        }
    }

    /// The driver arguments given for `addr` in an allow list (the first entry if it is
    /// listed twice); `None` for other filters or unlisted devices.
    pub fn devargs(&self, addr: PciAddr) -> Option<&Devargs> {
        match self {
            PciFilter::Allow(list) => list.iter().find(|d| d.addr() == addr),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> PciAddr {
        s.parse().unwrap()
    }

    #[test]
    fn all_selects_everything() {
        assert!(PciFilter::default().selects(a("00:03.0")));
        assert!(PciFilter::All.devargs(a("00:03.0")).is_none());
    }

    #[test]
    fn allow_selects_only_listed_devices_and_gives_their_args() {
        let f = PciFilter::from_lists(vec!["0000:00:03.0,rxq=2".parse().unwrap(), "00:04.0".parse().unwrap()], vec![])
            .unwrap();
        assert!(f.selects(a("0000:00:03.0")));
        assert!(f.selects(a("0000:00:04.0")));
        assert!(!f.selects(a("0000:00:05.0")));
        assert_eq!(f.devargs(a("00:03.0")).unwrap().get("rxq"), Some("2"));
        assert!(f.devargs(a("00:05.0")).is_none());
    }

    #[test]
    fn block_selects_all_but_listed_devices() {
        let f = PciFilter::from_lists(vec![], vec![a("00:03.0")]).unwrap();
        assert!(!f.selects(a("00:03.0")));
        assert!(f.selects(a("00:04.0")));
        assert!(f.devargs(a("00:04.0")).is_none());
    }

    #[test]
    fn allow_and_block_together_is_an_error() {
        let e = PciFilter::from_lists(vec!["00:03.0".parse().unwrap()], vec![a("00:04.0")]);
        assert!(matches!(e, Err(PciError::AllowAndBlock)));
        assert_eq!(PciFilter::from_lists(vec![], vec![]).unwrap(), PciFilter::All);
    }
}
