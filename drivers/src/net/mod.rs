//! Network PMDs: `null`, `ring` and `tap` (virtual, no hardware needed) and the hardware
//! PMDs.

pub mod common;
pub mod e1000;
pub mod igb;
pub mod intel;
pub mod ixgbe;
pub mod null;
pub mod ring;
pub mod tap;
pub mod virtio;
pub mod virtual_port;

/// A locally administered MAC address for virtual port `port`.
pub fn virtual_mac(port: u16) -> [u8; 6] {
    [0x02, 0x00, 0x00, 0x00, (port >> 8) as u8, port as u8]
}
