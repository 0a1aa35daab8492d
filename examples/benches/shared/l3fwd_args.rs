//! The l3fwd command lines that the l3fwd tests (`tests/tests/l3fwd.rs`) and the
//! `l3fwd_null` bench both run, kept in one place (included by path from each).

/// EAL options of two `net_null` ports that make IPv4/UDP frames: each port's frames carry
/// the flow of l3fwd's default LPM route and exact-match entry of the other port, so every
/// frame is routed there.
pub const NULL_PORTS: [&str; 4] = [
    "--vdev",
    "net_null0,ipv4-dst=198.18.1.0,ipv4-src=198.18.1.1",
    "--vdev",
    "net_null1,ipv4-dst=198.18.0.0,ipv4-src=198.18.0.1",
];

/// l3fwd's own options (after `--`): ports 0 and 1, both forwarded by lcore 1, looked up
/// with `lookup` (`lpm` or `em`).
pub fn both_ports_on_lcore_1(lookup: &str) -> [&str; 6] {
    ["-p", "0x3", "--config", "(0,0,1),(1,0,1)", "--lookup", lookup]
}
