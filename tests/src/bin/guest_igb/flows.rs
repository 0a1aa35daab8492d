//! The igb flow frames both sides agree on (see [`crate::flow_frames`]): UDP ports differ
//! per flow, the addresses are the same. Shared by the guest program and the host-side
//! tests (which include this file by path, next to the shared `frames` and `flow_frames`
//! modules at their crate root).

use crate::flow_frames::FlowFrames;

/// Source IPv4 address of flow frames.
pub const SRC_IP: [u8; 4] = [10, 0, 0, 1];
/// Destination IPv4 address of flow frames.
pub const DST_IP: [u8; 4] = [10, 0, 0, 2];

/// UDP source and destination ports of flow `flow`.
pub fn flow_ports(flow: u16) -> (u16, u16) {
    (1024 + flow, 4000 + flow.wrapping_mul(7))
}

/// The same source address for every flow.
fn src_ip(_flow: u16) -> [u8; 4] {
    SRC_IP
}

/// The flow frames.
pub const FLOWS: FlowFrames = FlowFrames { magic: *b"IGBF", src_ip, dst_ip: DST_IP, ports: flow_ports, fill: (13, 5) };
