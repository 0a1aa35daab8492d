//! Link-status events: local callbacks, and the primary's broadcast to the secondaries
//! over IPC (action `eth_lsc`), whose callbacks then run in the order of the events.

use crate::link::Link;
use crate::port_table::PortSlot;
use eal::mp::{Mp, MpMessage};
use std::sync::{Arc, Mutex};

/// IPC action carrying link events from the primary to the secondaries.
pub const LSC_ACTION: &str = "eth_lsc";

/// A link-status callback: (port, link, sequence number).
pub type LinkCallback = dyn Fn(u16, Link, u32) + Send + Sync;

/// Where link events go in one process.
pub struct EventHub {
    callbacks: Mutex<Vec<(Option<u16>, Arc<LinkCallback>)>>,
    /// The primary's IPC endpoint, to broadcast events (None in secondaries).
    broadcast: Option<Mp>,
}

impl EventHub {
    pub(crate) fn new(broadcast: Option<Mp>) -> EventHub {
        EventHub { callbacks: Mutex::new(Vec::new()), broadcast }
    }

    pub(crate) fn add(&self, port: Option<u16>, cb: Arc<LinkCallback>) {
        self.callbacks.lock().unwrap_or_else(|e| e.into_inner()).push((port, cb));
    }

    /// Runs the callbacks registered for `port` (or for all ports).
    pub(crate) fn run(&self, port: u16, link: Link, seq: u32) {
        let cbs: Vec<_> = self
            .callbacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(p, _)| p.is_none_or(|p| p == port))
            .map(|(_, cb)| cb.clone())
            .collect();
        for cb in cbs {
            cb(port, link, seq);
        }
    }

    /// Records a link report from a driver and fans the change out.
    pub(crate) fn report(&self, port: u16, slot: &PortSlot, link: Link) {
        let Some(seq) = slot.link.set(link) else { return };
        tracing::info!(port, %link, seq, "link changed");
        self.run(port, link, seq);
        if let Some(mp) = &self.broadcast {
            let msg = MpMessage { name: LSC_ACTION.into(), param: encode(port, link, seq), fds: Vec::new() };
            if let Err(e) = mp.send(&msg) {
                tracing::warn!(port, "cannot broadcast the link event: {e}");
            }
        }
    }
}

/// The wire form of an event: port (u16 LE), then link and sequence (u64 LE).
pub fn encode(port: u16, link: Link, seq: u32) -> Vec<u8> {
    let mut v = port.to_le_bytes().to_vec();
    v.extend_from_slice(&link.encode(seq).to_le_bytes());
    v
}

/// Inverse of [`encode`]; None for a malformed parameter.
pub fn decode(p: &[u8]) -> Option<(u16, Link, u32)> {
    if p.len() != 10 {
        return None;
    }
    let port = u16::from_le_bytes([p[0], p[1]]);
    let (link, seq) = Link::decode(u64::from_le_bytes(p[2..10].try_into().ok()?));
    Some((port, link, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip() {
        let p = encode(3, Link::up(1000), 9);
        assert_eq!(decode(&p), Some((3, Link::up(1000), 9)));
        assert_eq!(decode(&p[..9]), None);
    }
}
