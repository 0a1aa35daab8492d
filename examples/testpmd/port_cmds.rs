//! `port stop|start all|N`, as DPDK's testpmd: stops or starts ports (their queues keep
//! their setup; the port's settings, filters and address lists are programmed again at
//! start). Forwarding must be stopped first.

use ethdev::Ethdev;

/// Stops (`start == false`) or starts `ports`.
pub fn port_stop_start(eth: &Ethdev, ports: &[u16], start: bool) {
    println!("{} ports...", if start { "Starting" } else { "Stopping" });
    for &p in ports {
        let r = eth.control(p).and_then(|c| if start { c.start() } else { c.stop() });
        match r {
            Ok(()) if start => match eth.port(p) {
                Ok(port) => println!("Port {p}: {}", examples_common::fmt_mac(port.mac())),
                Err(e) => println!("Fail to start port {p}: {e}"),
            },
            Ok(()) => {}
            Err(e) => println!("Fail to {} port {p}: {e}", if start { "start" } else { "stop" }),
        }
    }
    println!("Done");
}
