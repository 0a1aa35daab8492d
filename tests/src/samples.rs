//! Starting DPDK-style sample groups the way several test files need them.

use crate::{example_bin, Proc};
use std::time::Duration;

/// A running `client_server_mp` group: the server (primary) and its clients (secondaries),
/// each of which has printed that it is ready.
pub struct ClientServer {
    /// The server process; it exits on an empty line on its stdin.
    pub server: Proc,
    /// Client `i` runs on lcore `i + 1`; each exits on an empty line.
    pub clients: Vec<Proc>,
}

/// Starts `client_server_mp` under file prefix `p` (no hugepages): a server on lcore 0 over
/// two `net_ring` ports whose rings are named `rings` (port 0 rx, tx; port 1 rx, tx), and
/// `n` clients, waiting up to `t` for each to say it is ready.
pub fn client_server_mp(p: &str, rings: [&str; 4], n: usize, t: Duration) -> ClientServer {
    let bin = example_bin("client_server_mp");
    let port0 = format!("net_ring0,rx={},tx={}", rings[0], rings[1]);
    let port1 = format!("net_ring1,rx={},tx={}", rings[2], rings[3]);
    let nclients = n.to_string();
    let server_args = [
        "server",
        "--file-prefix",
        p,
        "--no-huge",
        "-m",
        "96",
        "--lcores",
        "0@0",
        "--vdev",
        &port0,
        "--vdev",
        &port1,
        "--",
        "-p",
        "3",
        "-n",
        &nclients,
    ];
    let mut server = Proc::spawn(&bin, &server_args);
    server.expect("APP: server ready", t);
    let clients = (0..n)
        .map(|i| {
            let lcore = format!("{}@{}", i + 1, i % 2);
            let id = i.to_string();
            let args = [
                "client",
                "--file-prefix",
                p,
                "--no-huge",
                "--lcores",
                &lcore,
                "--proc-type",
                "secondary",
                "--",
                "-n",
                &id,
            ];
            let mut c = Proc::spawn(&bin, &args);
            c.expect(&format!("APP: client {i} ready"), t);
            c
        })
        .collect();
    ClientServer { server, clients }
}
