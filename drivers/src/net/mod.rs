//! Network PMDs: `null` and `ring` (virtual, no hardware needed).

pub mod e1000;
pub mod null;
pub mod ring;
pub mod tap;

/// A locally administered MAC address for virtual port `port`.
pub fn virtual_mac(port: u16) -> [u8; 6] {
    [0x02, 0x00, 0x00, 0x00, (port >> 8) as u8, port as u8]
}
