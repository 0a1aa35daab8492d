//! testpmd's statistics displays.

use crate::fwd::{Stream, StreamCounters};
use ethdev::{Ethdev, Stats};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Remembers the last snapshot of each port to compute rates.
#[derive(Default)]
pub struct RateTracker {
    last: HashMap<u16, (Instant, u64, u64, u64, u64)>,
}

/// Rates of one port over the last period.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    /// RX packets per second.
    pub rx_pps: u64,
    /// TX packets per second.
    pub tx_pps: u64,
    /// RX bits per second.
    pub rx_bps: u64,
    /// TX bits per second.
    pub tx_bps: u64,
}

impl RateTracker {
    /// Rates since the previous call for `port` (zero on the first).
    pub fn rates(&mut self, port: u16, s: &Stats) -> Rates {
        let now = Instant::now();
        let cur = (now, s.ipackets, s.opackets, s.ibytes, s.obytes);
        let r = match self.last.get(&port) {
            Some(&(t, ip, op, ib, ob)) => {
                let dt = (now - t).as_secs_f64().max(1e-9);
                Rates {
                    rx_pps: ((s.ipackets.saturating_sub(ip)) as f64 / dt) as u64,
                    tx_pps: ((s.opackets.saturating_sub(op)) as f64 / dt) as u64,
                    rx_bps: ((s.ibytes.saturating_sub(ib)) as f64 * 8.0 / dt) as u64,
                    tx_bps: ((s.obytes.saturating_sub(ob)) as f64 * 8.0 / dt) as u64,
                }
            }
            None => Rates::default(),
        };
        self.last.insert(port, cur);
        r
    }
}

/// Prints DPDK testpmd's "NIC statistics" block for every port, then one line with each
/// port's and the total Mpps.
pub fn show_port_stats(eth: &Ethdev, ports: &[u16], rates: &mut RateTracker) {
    let mut summary = Vec::new();
    let (mut trx, mut ttx) = (0u64, 0u64);
    for &p in ports {
        let s = match eth.control(p) {
            Ok(c) => c.stats_get(),
            Err(_) => match eth.port(p) {
                Ok(port) => port.stats(),
                Err(_) => continue,
            },
        };
        let r = rates.rates(p, &s);
        println!("\n  ######################## NIC statistics for port {p:<2} ########################");
        for line in s.nic_stats_lines() {
            println!("{line}");
        }
        println!("\n  Throughput (since last show)");
        println!("  Rx-pps: {:>12}          Rx-bps: {:>12}", r.rx_pps, r.rx_bps);
        println!("  Tx-pps: {:>12}          Tx-bps: {:>12}", r.tx_pps, r.tx_bps);
        println!("  ############################################################################");
        summary.push(format!("port {p} rx {:.2} tx {:.2}", r.rx_pps as f64 / 1e6, r.tx_pps as f64 / 1e6));
        trx += r.rx_pps;
        ttx += r.tx_pps;
    }
    println!("  Mpps: {} | total rx {:.2} tx {:.2}", summary.join(" | "), trx as f64 / 1e6, ttx as f64 / 1e6);
}

/// Prints the forward statistics of the streams, per RX port and accumulated.
pub fn show_fwd_stats(streams: &[(Stream, Arc<StreamCounters>)], csum: bool) {
    let mut ports: Vec<u16> = streams.iter().map(|(s, _)| s.rx_port).collect();
    ports.sort_unstable();
    ports.dedup();
    let (mut trx, mut ttx, mut tdrop) = (0u64, 0u64, 0u64);
    for p in ports {
        let (mut rx, mut tx, mut drop) = (0, 0, 0);
        let mut k = crate::csum::CsumCounts::default();
        for (s, c) in streams.iter().filter(|(s, _)| s.rx_port == p) {
            let _ = s;
            rx += c.rx.load(Ordering::Relaxed);
            tx += c.tx.load(Ordering::Relaxed);
            drop += c.dropped.load(Ordering::Relaxed);
            k.add(&c.csum.lock().unwrap_or_else(|p| p.into_inner()));
        }
        println!("\n  ---------------------- Forward statistics for port {p:<2} ----------------------");
        println!("  RX-packets: {rx:<14} TX-packets: {tx:<14} TX-dropped: {drop}");
        if csum {
            println!("  RX-bad IP checksum: {:<14} RX-bad L4 checksum: {}", k.rx_bad_ip, k.rx_bad_l4);
            println!(
                "  RX-L4 checksum good: {:<12} RX-L4 checksum none: {:<12} RX-L4 checksum unknown: {}",
                k.rx_good_l4, k.rx_none_l4, k.rx_unknown_l4
            );
            println!("  TX-TSO packets: {}", k.tx_tso);
            println!("  RX-VLAN stripped: {}", k.rx_vlan_stripped);
            match &k.tx_refused_reason {
                Some(why) => println!("  TX-prepare refused: {} (last: {why})", k.tx_refused),
                None => println!("  TX-prepare refused: 0"),
            }
        }
        trx += rx;
        ttx += tx;
        tdrop += drop;
    }
    println!("\n  +++++++++++++++ Accumulated forward statistics for all ports +++++++++++++++");
    println!("  RX-packets: {trx:<14} TX-packets: {ttx:<14} TX-dropped: {tdrop}");
    println!("  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++");
}

/// Prints `show port info`.
pub fn show_port_info(eth: &Ethdev, p: u16) {
    let Ok(port) = eth.port(p) else {
        println!("Invalid port {p}");
        return;
    };
    println!("\n********************* Infos for port {p:<2} *********************");
    println!("MAC address: {}", examples_common::fmt_mac(port.mac()));
    println!("Device name: {}", port.name());
    println!("Driver name: {}", port.driver_name());
    let (link, seq) = port.link();
    println!("Link status: {}", if link.up { "up" } else { "down" });
    println!("Link speed: {} Mbps (event #{seq})", link.speed_mbps);
    println!("Promiscuous mode: {}", if port.promiscuous() { "enabled" } else { "disabled" });
    if let Ok(c) = eth.control(p) {
        println!("Allmulticast mode: {}", if c.allmulticast() { "enabled" } else { "disabled" });
    }
    println!("MTU: {}", port.mtu());
    println!("Current number of RX queues: {}", port.nb_rx_queues());
    println!("Current number of TX queues: {}", port.nb_tx_queues());
    println!("Rx offloads configured: {}", port.rx_offloads().names());
    println!("Tx offloads configured: {}", port.tx_limits().offloads.names());
    if let Ok(c) = eth.control(p) {
        let i = c.info();
        println!("Maximum configurable length of RX packet: {}", i.max_rx_pktlen());
        println!("Max possible MTU: {}", i.max_mtu);
        println!(
            "Scattered RX: {}",
            if port.rx_offloads().contains(ethdev::RxOffloads::SCATTER) { "on" } else { "off" }
        );
        let l = port.mac_lists();
        println!("Maximum number of MAC addresses: {}", i.max_mac_addrs);
        println!("Maximum number of multicast addresses: {}", i.max_mc_addrs);
        println!("Number of MAC addresses: {} (own + {} added)", 1 + l.unicast.len(), l.unicast.len());
        println!("Number of multicast addresses: {}", l.multicast.len());
        println!("Max possible RX queues: {}", i.max_rx_queues);
        println!("Max possible TX queues: {}", i.max_tx_queues);
        println!("Rx offloading capabilities: {}", i.rx_offload_capa.names());
        println!("Tx offloading capabilities: {}", i.tx_offload_capa.names());
        if i.reta_size > 0 {
            println!("Redirection table size: {}", i.reta_size);
            println!("Supported RSS offload flow types: {}", rss_types(i.rss_hash_types));
        }
    }
}

/// Names of the `ethdev::rss::hash` bits in `hf`, DPDK style.
fn rss_types(hf: u64) -> String {
    use ethdev::rss::hash;
    let names = [
        (hash::IPV4, "ipv4"),
        (hash::TCP_IPV4, "ipv4-tcp"),
        (hash::UDP_IPV4, "ipv4-udp"),
        (hash::IPV6, "ipv6"),
        (hash::TCP_IPV6, "ipv6-tcp"),
        (hash::UDP_IPV6, "ipv6-udp"),
    ];
    names.iter().filter(|(b, _)| hf & b != 0).map(|(_, n)| *n).collect::<Vec<_>>().join(" ")
}

/// Prints DPDK testpmd's "NIC extended statistics" block for `port`: the generic counters
/// (any process), then the driver's own (primary).
pub fn show_port_xstats(eth: &Ethdev, port: u16) {
    let Ok(p) = eth.port(port) else {
        println!("Invalid port {port}");
        return;
    };
    if let Ok(c) = eth.control(port) {
        c.stats_get();
    }
    println!("###### NIC extended statistics for port {port:<2}");
    for (k, v) in p.xstats() {
        println!("{k}: {v}");
    }
}
