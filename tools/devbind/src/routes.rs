//! Which network interfaces have routes, from `/proc/net/route` and `/proc/net/ipv6_route`.
//!
//! An interface with a route is "active": the host uses it, and taking its device away
//! would cut the host off that network. IPv6 link-local (fe80::/10) and multicast
//! (ff00::/8) routes do not count: the kernel adds them to every interface that is up.

use std::fs;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_REJECT: u32 = 0x0200;

/// One route through an interface, described as `ip route` would (`10.0.2.0/24`,
/// `default via 10.0.2.2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The interface.
    pub iface: String,
    /// Destination (and gateway).
    pub desc: String,
}

/// All routes of both families under `proc_root`. A file that cannot be read is reported
/// in the error list and contributes no routes.
pub fn read_routes(proc_root: &Path) -> (Vec<Route>, Vec<String>) {
    let mut routes = Vec::new();
    let mut errors = Vec::new();
    for (file, parse) in [("net/route", parse_ipv4 as fn(&str) -> Vec<Route>), ("net/ipv6_route", parse_ipv6)] {
        let path = proc_root.join(file);
        match fs::read_to_string(&path) {
            Ok(text) => routes.extend(parse(&text)),
            // A kernel without IPv6 has no ipv6_route: nothing to report.
            Err(e) if e.kind() == ErrorKind::NotFound && file == "net/ipv6_route" => {}
            Err(e) => errors.push(format!("cannot read {}: {e}", path.display())),
        }
    }
    (routes, errors)
}

/// The first route through `iface`, if any.
pub fn route_of<'a>(routes: &'a [Route], iface: &str) -> Option<&'a Route> {
    routes.iter().find(|r| r.iface == iface)
}

/// Parses `/proc/net/route`: a header, then tab-separated `Iface Destination Gateway Flags
/// RefCnt Use Metric Mask ...` with addresses as hex of the host-order u32.
pub fn parse_ipv4(text: &str) -> Vec<Route> {
    let mut routes = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || f[0] == "Iface" {
            continue;
        }
        let hex = |s: &str| u32::from_str_radix(s, 16).ok();
        let (Some(dest), Some(gw), Some(flags), Some(mask)) = (hex(f[1]), hex(f[2]), hex(f[3]), hex(f[7])) else {
            continue;
        };
        if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 || f[0] == "lo" {
            continue;
        }
        let ip = |v: u32| Ipv4Addr::from(v.to_ne_bytes());
        let plen = mask.count_ones();
        let mut desc = if plen == 0 { "default".to_string() } else { format!("{}/{plen}", ip(dest)) };
        if flags & RTF_GATEWAY != 0 {
            desc.push_str(&format!(" via {}", ip(gw)));
        }
        routes.push(Route { iface: f[0].to_string(), desc });
    }
    routes
}

/// Parses `/proc/net/ipv6_route`: `dest plen src splen nexthop metric refcnt use flags dev`,
/// addresses as 32 hex digits, lengths and flags hex.
pub fn parse_ipv6(text: &str) -> Vec<Route> {
    let mut routes = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Some(dest), Some(plen), Some(gw), Some(flags)) =
            (ipv6(f[0]), u8::from_str_radix(f[1], 16).ok(), ipv6(f[4]), u32::from_str_radix(f[8], 16).ok())
        else {
            continue;
        };
        let iface = f[9];
        let seg0 = dest.segments()[0];
        let link_local = seg0 & 0xffc0 == 0xfe80;
        let multicast = seg0 & 0xff00 == 0xff00;
        if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 || iface == "lo" || link_local || multicast {
            continue;
        }
        let mut desc = if plen == 0 { "default".to_string() } else { format!("{dest}/{plen}") };
        if !gw.is_unspecified() {
            desc.push_str(&format!(" via {gw}"));
        }
        routes.push(Route { iface: iface.to_string(), desc });
    }
    routes
}

fn ipv6(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0202000A\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0002000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
eth1\t0000A8C0\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0
lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0
";

    #[test]
    fn ipv4_routes_with_gateways_and_prefixes() {
        let r = parse_ipv4(ROUTE);
        let got: Vec<(&str, &str)> = r.iter().map(|r| (r.iface.as_str(), r.desc.as_str())).collect();
        assert_eq!(got, [("eth0", "default via 10.0.2.2"), ("eth0", "10.0.2.0/24")]);
        assert_eq!(route_of(&r, "eth0").unwrap().desc, "default via 10.0.2.2");
        assert!(route_of(&r, "eth1").is_none(), "a route that is not up does not count");
    }

    const ROUTE6: &str = "\
20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth2
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth3
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth3
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth4
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";

    #[test]
    fn ipv6_routes_skip_link_local_multicast_and_lo() {
        let r = parse_ipv6(ROUTE6);
        let got: Vec<(&str, &str)> = r.iter().map(|r| (r.iface.as_str(), r.desc.as_str())).collect();
        assert_eq!(got, [("eth2", "2001:db8::/64"), ("eth4", "default via fe80::1")]);
    }

    #[test]
    fn garbage_lines_are_ignored() {
        assert!(parse_ipv4("eth0 zz 0 0 0 0 0 0\nshort\n").is_empty());
        assert!(parse_ipv6("xyz 40 a b c d e f g h\n").is_empty());
    }
}
