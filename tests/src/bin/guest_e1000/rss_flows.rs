//! The e1000e RSS flow frames both sides agree on (see [`crate::flow_frames`]): the flow
//! picks the source address (the 82574 hashes IPv4 addresses and TCP ports, never UDP
//! ports). Shared by the guest program and the host-side test (which includes this file by
//! path, next to the shared `frames` and `flow_frames` modules at its crate root).

use crate::flow_frames::FlowFrames;

/// Destination IPv4 address of every flow frame.
pub const DST_IP: [u8; 4] = [10, 0, 0, 2];

/// Source IPv4 address of flow `flow`.
pub fn src_ip(flow: u16) -> [u8; 4] {
    let [hi, lo] = flow.to_be_bytes();
    [10, 1, hi, lo]
}

/// The same UDP ports for every flow.
fn ports(_flow: u16) -> (u16, u16) {
    (5000, 6000)
}

/// The flow frames.
pub const FLOWS: FlowFrames = FlowFrames { magic: *b"EMRS", src_ip, dst_ip: DST_IP, ports, fill: (7, 3) };
