//! Jumbo frames and scattered receive: the frame a port must receive for its MTU, and the
//! check that a port whose frames do not fit one receive buffer has
//! [`RxOffloads::SCATTER`] (DPDK's `RTE_ETH_RX_OFFLOAD_SCATTER`).

use crate::error::EthError;
use crate::offload::RxOffloads;

/// Bytes the Ethernet header and one VLAN tag add to the MTU in a received frame (the FCS
/// is stripped by every driver, so it takes no buffer room).
pub const FRAME_OVERHEAD: u32 = 14 + 4;

/// The longest frame, as stored in receive buffers, of a port with MTU `mtu`.
pub fn rx_frame_len(mtu: u16) -> u32 {
    u32::from(mtu) + FRAME_OVERHEAD
}

/// Fails unless a port with MTU `mtu` and RX offloads `offloads` can receive its longest
/// frame into buffers of `buf_len` bytes: either it fits one buffer, or the port has
/// [`RxOffloads::SCATTER`] (frames then arrive as chained mbufs). `buffer` names what
/// limits the buffer (a pool, a device's buffer size) in the error message.
pub fn check_scatter(port: u16, mtu: u16, offloads: RxOffloads, buf_len: u32, buffer: &str) -> Result<(), EthError> {
    let frame = rx_frame_len(mtu);
    if frame <= buf_len || offloads.contains(RxOffloads::SCATTER) {
        return Ok(());
    }
    Err(EthError::Unsupported {
        port,
        what: format!(
            "MTU {mtu} means frames of up to {frame} bytes, longer than the {buf_len}-byte receive buffers of \
             {buffer}: enable RxOffloads::SCATTER in PortConf::rx_offloads (frames then arrive as chained mbufs), \
             or lower the MTU to {} or less",
            buf_len.saturating_sub(FRAME_OVERHEAD)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_longer_than_a_buffer_needs_scatter() {
        assert_eq!(rx_frame_len(1500), 1518);
        assert!(check_scatter(0, 2030, RxOffloads::empty(), 2048, "x").is_ok(), "2048 bytes fit");
        let e = check_scatter(3, 2031, RxOffloads::empty(), 2048, "mempool 'p'").unwrap_err().to_string();
        assert!(e.contains("port 3") && e.contains("SCATTER") && e.contains("2049") && e.contains("2030"), "{e}");
        assert!(check_scatter(3, 9000, RxOffloads::SCATTER, 2048, "x").is_ok());
    }
}
