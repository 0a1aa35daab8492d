//! testpmd's address commands, with DPDK's spellings: `mac_addr add|remove P MAC`
//! (secondary unicast addresses), `mcast_addr add|remove P MAC` (the multicast list, kept
//! whole by the port as DPDK's testpmd keeps its own copy), and `show port P macs|mcast_macs`.

use ethdev::mac_filters::{format_mac, parse_mac};
use ethdev::Ethdev;

/// The port number `w`, or why not (printed).
fn port_of(eth: &Ethdev, w: &str) -> Option<u16> {
    match w.parse::<u16>().ok().filter(|p| eth.port(*p).is_ok()) {
        Some(p) => Some(p),
        None => {
            println!("Invalid port {w}");
            None
        }
    }
}

/// `mac_addr add|remove P MAC`.
pub fn mac_addr(eth: &Ethdev, add: bool, port: &str, mac: &str) {
    let Some(p) = port_of(eth, port) else { return };
    let m = match parse_mac(mac) {
        Ok(m) => m,
        Err(e) => return println!("{e}"),
    };
    let r = eth.control(p).and_then(|c| if add { c.mac_addr_add(m) } else { c.mac_addr_remove(m) });
    if let Err(e) = r {
        println!("mac_addr_cmd error: ({e})");
    }
}

/// `mcast_addr add|remove P MAC`: the port's list with `MAC` added or removed.
pub fn mcast_addr(eth: &Ethdev, add: bool, port: &str, mac: &str) {
    let Some(p) = port_of(eth, port) else { return };
    let m = match parse_mac(mac) {
        Ok(m) => m,
        Err(e) => return println!("{e}"),
    };
    let c = match eth.control(p) {
        Ok(c) => c,
        Err(e) => return println!("mcast_addr: {e}"),
    };
    let mut list = c.mac_lists().multicast;
    match (add, list.iter().position(|x| *x == m)) {
        (true, Some(_)) => return println!("multicast address {} already filtered by port {p}", format_mac(&m)),
        (true, None) => list.push(m),
        (false, Some(i)) => {
            list.remove(i);
        }
        (false, None) => return println!("multicast address {} not filtered by port {p}", format_mac(&m)),
    }
    if let Err(e) = c.set_mc_addr_list(&list) {
        println!("mcast_addr {}: {e}", if add { "add" } else { "remove" });
    }
}

/// `show port P macs` (the port's own address, then the secondary ones) or
/// `show port P mcast_macs`.
pub fn show_macs(eth: &Ethdev, port: &str, multicast: bool) {
    let Some(p) = port_of(eth, port) else { return };
    let Ok(port) = eth.port(p) else { return };
    let l = port.mac_lists();
    let list = if multicast { l.multicast } else { std::iter::once(port.mac()).chain(l.unicast).collect() };
    println!("Number of {}MAC address added: {}", if multicast { "multicast " } else { "" }, list.len());
    for m in &list {
        println!("  {}", format_mac(m));
    }
}
