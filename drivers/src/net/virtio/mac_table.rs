//! The device's MAC filter table (`VIRTIO_NET_CTRL_MAC_TABLE_SET`, class 1 command 0, with
//! `VIRTIO_NET_F_CTRL_RX`): two tables, the unicast addresses then the multicast ones,
//! each a `le32` entry count followed by the 6-byte addresses (virtio 1.x, 5.1.6.5.2).
//! The table replaces the previous one whole; the port's own address is not in it (the
//! device always receives it).
//!
//! QEMU's model keeps 64 entries (`MAC_TABLE_ENTRIES`) and lets every unicast or every
//! multicast frame through when a table overflows it; [`MAX_UC`] + [`MAX_MC`] stay within
//! 64 so that the filter stays exact.

use ethdev::MacAddr;

/// Secondary unicast addresses the driver puts in the table.
pub const MAX_UC: usize = 31;
/// Multicast addresses the driver puts in the table.
pub const MAX_MC: usize = 32;

// Both tables, each rounded up to whole words, fit the software words of a 64-entry control
// queue after its three command words (see `CtrlQueue::command_parts`).
const _: () = assert!((4 + 6 * MAX_UC).div_ceil(8) + (4 + 6 * MAX_MC).div_ceil(8) + 3 <= 64);

/// One table: `le32` count, then the addresses.
pub fn encode(list: &[MacAddr]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + 6 * list.len());
    v.extend_from_slice(&(list.len() as u32).to_le_bytes());
    for m in list {
        v.extend_from_slice(m);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_a_le32_count_then_the_addresses() {
        assert_eq!(encode(&[]), vec![0, 0, 0, 0]);
        let t = encode(&[[1, 0, 0x5e, 1, 2, 3], [0x33, 0x33, 0, 0, 0, 1]]);
        assert_eq!(&t[..4], &[2, 0, 0, 0]);
        assert_eq!(&t[4..10], &[1, 0, 0x5e, 1, 2, 3]);
        assert_eq!(t.len(), 16);
    }
}
