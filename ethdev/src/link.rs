//! Link state, packed into one word so that it and its sequence number change atomically.

use std::sync::atomic::{AtomicU64, Ordering};

/// Link status of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link {
    /// True when the link is up.
    pub up: bool,
    /// Speed in Mb/s (0 when unknown or down).
    pub speed_mbps: u32,
    /// True for full duplex.
    pub full_duplex: bool,
    /// True when autonegotiated.
    pub autoneg: bool,
}

impl Link {
    /// An up link at `speed_mbps`, full duplex.
    pub fn up(speed_mbps: u32) -> Link {
        Link { up: true, speed_mbps, full_duplex: true, autoneg: true }
    }
    /// A down link.
    pub fn down() -> Link {
        Link::default()
    }

    fn pack(self) -> u32 {
        (self.speed_mbps.min(0x0fff_ffff) << 3)
            | (u32::from(self.autoneg) << 2)
            | (u32::from(self.full_duplex) << 1)
            | u32::from(self.up)
    }

    fn unpack(v: u32) -> Link {
        Link { up: v & 1 != 0, full_duplex: v & 2 != 0, autoneg: v & 4 != 0, speed_mbps: v >> 3 }
    }

    /// The pair (link, sequence) packed in a u64 (for IPC messages).
    pub fn encode(self, seq: u32) -> u64 {
        (u64::from(seq) << 32) | u64::from(self.pack())
    }

    /// Inverse of [`Link::encode`].
    pub fn decode(v: u64) -> (Link, u32) {
        (Link::unpack(v as u32), (v >> 32) as u32)
    }
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.up {
            write!(f, "Link up at {} Mbps {}", self.speed_mbps, if self.full_duplex { "FDX" } else { "HDX" })
        } else {
            write!(f, "Link down")
        }
    }
}

/// A port's link state in shared memory: the link and a sequence number bumped on every
/// change, in one atomic word.
#[repr(C)]
pub struct SharedLink(AtomicU64);

// SAFETY: one atomic; zero is "down, sequence 0".
unsafe impl eal::shm::SharedPlain for SharedLink {}

impl SharedLink {
    /// The current link and its sequence number.
    pub fn get(&self) -> (Link, u32) {
        Link::decode(self.0.load(Ordering::Acquire))
    }

    /// Records `link`; returns the new sequence number, or None when nothing changed.
    pub fn set(&self, link: Link) -> Option<u32> {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let (old, seq) = Link::decode(cur);
            if old == link && seq != 0 {
                return None;
            }
            let next = link.encode(seq.wrapping_add(1).max(1));
            match self.0.compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(seq.wrapping_add(1).max(1)),
                Err(v) => cur = v,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trip_and_sequence() {
        for l in
            [Link::up(10_000), Link::down(), Link { up: true, speed_mbps: 1000, full_duplex: false, autoneg: false }]
        {
            assert_eq!(Link::decode(l.encode(7)), (l, 7));
        }
        let s = SharedLink(AtomicU64::new(0));
        assert_eq!(s.set(Link::down()), Some(1), "the first report always counts");
        assert_eq!(s.set(Link::down()), None);
        assert_eq!(s.set(Link::up(1000)), Some(2));
        assert_eq!(s.get(), (Link::up(1000), 2));
        assert_eq!(format!("{}", Link::up(1000)), "Link up at 1000 Mbps FDX");
    }
}
