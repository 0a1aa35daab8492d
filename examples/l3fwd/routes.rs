//! l3fwd's routes: the defaults (IPv4 as DPDK: 198.18.N.0/24 to port N for LPM, the 5-tuple
//! 198.18.N.1 -> 198.18.N.0, UDP 9 -> 9 to port N for EM; IPv6 likewise with 2001:200:0:N::/64
//! and 2001:200:0:N::1 -> 2001:200:0:N::) and DPDK's rule files, one format for both families:
//!
//! ```text
//! # comment
//! R198.18.0.0/24 0                          (LPM: prefix/depth port)
//! R2001:200::/48 1
//! R198.18.0.0 198.18.0.1 9 9 0x11 0         (EM: dst ip, src ip, dst port, src port, proto, port)
//! R2001:200:: 2001:200::1 9 9 0x11 0
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Number of default routes per family (DPDK's l3fwd has 16).
pub const DEFAULT_ROUTES: u8 = 16;

/// An address family of the rule files.
pub trait Family: FromStr + Copy + std::fmt::Display + std::fmt::Debug + PartialEq {
    /// Address length in bits (the largest depth).
    const BITS: u8;
    /// Address length in bytes.
    const LEN: usize;
    /// How the family's addresses are written, for error messages.
    const EXAMPLE: &'static str;
    /// The address in network order.
    fn bytes(&self) -> Vec<u8>;
    /// The `n`th default network (`n`: 0..16) and a host in it.
    fn default_net(n: u8) -> (Self, Self);
}

impl Family for Ipv4Addr {
    const BITS: u8 = 32;
    const LEN: usize = 4;
    const EXAMPLE: &'static str = "an IPv4 address (such as 198.18.0.0)";
    fn bytes(&self) -> Vec<u8> {
        self.octets().to_vec()
    }
    fn default_net(n: u8) -> (Self, Self) {
        (Ipv4Addr::new(198, 18, n, 0), Ipv4Addr::new(198, 18, n, 1))
    }
}

impl Family for Ipv6Addr {
    const BITS: u8 = 128;
    const LEN: usize = 16;
    const EXAMPLE: &'static str = "an IPv6 address (such as 2001:200::)";
    fn bytes(&self) -> Vec<u8> {
        self.octets().to_vec()
    }
    fn default_net(n: u8) -> (Self, Self) {
        let net = Ipv6Addr::new(0x2001, 0x200, 0, u16::from(n), 0, 0, 0, 0);
        (net, Ipv6Addr::new(0x2001, 0x200, 0, u16::from(n), 0, 0, 0, 1))
    }
}

/// An LPM route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LpmRoute<A> {
    /// The prefix.
    pub ip: A,
    /// Prefix length in bits.
    pub depth: u8,
    /// Output port.
    pub port: u16,
}

/// An exact-match route on the 5-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmRoute<A> {
    /// Destination address.
    pub dst: A,
    /// Source address.
    pub src: A,
    /// Destination L4 port.
    pub dst_port: u16,
    /// Source L4 port.
    pub src_port: u16,
    /// IP protocol (next header).
    pub proto: u8,
    /// Output port.
    pub port: u16,
}

/// Key length of the IPv4 EM table: dst ip, src ip, dst port, src port, proto.
pub const EM_KEY_LEN: usize = 13;
/// Key length of the IPv6 EM table.
pub const EM6_KEY_LEN: usize = 37;

/// The EM key of a 5-tuple: addresses and ports in network order, as in the packet.
/// `dst` and `src` have the same length, `(N - 5) / 2` bytes.
pub fn em_key<const N: usize>(dst: &[u8], src: &[u8], dst_port: u16, src_port: u16, proto: u8) -> [u8; N] {
    let a = dst.len();
    let mut k = [0u8; N];
    k[..a].copy_from_slice(dst);
    k[a..2 * a].copy_from_slice(src);
    k[2 * a..2 * a + 2].copy_from_slice(&dst_port.to_be_bytes());
    k[2 * a + 2..2 * a + 4].copy_from_slice(&src_port.to_be_bytes());
    k[2 * a + 4] = proto;
    k
}

impl<A: Family> EmRoute<A> {
    /// This route's key in the EM table.
    pub fn key(&self) -> Vec<u8> {
        let (d, s) = (self.dst.bytes(), self.src.bytes());
        let mut k = Vec::with_capacity(2 * A::LEN + 5);
        k.extend_from_slice(&d);
        k.extend_from_slice(&s);
        k.extend_from_slice(&self.dst_port.to_be_bytes());
        k.extend_from_slice(&self.src_port.to_be_bytes());
        k.push(self.proto);
        k
    }
}

/// The default LPM routes of family `A`: network N (/24 or /64) to port N.
pub fn default_lpm<A: Family>() -> Vec<LpmRoute<A>> {
    let depth = if A::BITS == 32 { 24 } else { 64 };
    (0..DEFAULT_ROUTES).map(|n| LpmRoute { ip: A::default_net(n).0, depth, port: u16::from(n) }).collect()
}

/// The default EM routes of family `A`: host 1 of network N to address 0 of network N,
/// UDP 9 -> 9, to port N.
pub fn default_em<A: Family>() -> Vec<EmRoute<A>> {
    (0..DEFAULT_ROUTES)
        .map(|n| {
            let (dst, src) = A::default_net(n);
            EmRoute { dst, src, dst_port: 9, src_port: 9, proto: 17, port: u16::from(n) }
        })
        .collect()
}

fn ip<A: Family>(s: &str, line: usize) -> Result<A, String> {
    s.parse::<A>().map_err(|_| format!("line {line}: '{s}' is not {}", A::EXAMPLE))
}

fn num<T: TryFrom<u64>>(s: &str, what: &str, line: usize) -> Result<T, String> {
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse::<u64>().ok()
    };
    v.and_then(|v| T::try_from(v).ok()).ok_or_else(|| format!("line {line}: invalid {what} '{s}'"))
}

/// The rule lines of a file: (line number, fields after the leading `R`).
fn rule_lines(text: &str) -> Result<Vec<(usize, Vec<&str>)>, String> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some(rest) = t.strip_prefix('R') else {
            return Err(format!("line {n}: a rule starts with 'R' (routes) or '#' (comments): '{t}'"));
        };
        out.push((n, rest.split_whitespace().collect()));
    }
    Ok(out)
}

/// Parses one LPM prefix `ip/depth` (a rule file's first field, or a route added at run time).
pub fn parse_prefix<A: Family>(s: &str, n: usize) -> Result<(A, u8), String> {
    let (a, d) = s.split_once('/').ok_or_else(|| format!("line {n}: '{s}' lacks '/<depth>'"))?;
    let depth: u8 = num(d, "depth", n)?;
    if !(1..=A::BITS).contains(&depth) {
        return Err(format!("line {n}: depth {depth} must be 1 to {}", A::BITS));
    }
    Ok((ip(a, n)?, depth))
}

/// Parses LPM rules: `R<ip>/<depth> <port>`.
pub fn parse_lpm<A: Family>(text: &str) -> Result<Vec<LpmRoute<A>>, String> {
    rule_lines(text)?
        .into_iter()
        .map(|(n, f)| {
            if f.len() != 2 {
                return Err(format!(
                    "line {n}: an LPM rule is 'R<ip>/<depth> <port>', e.g. 'R198.18.0.0/24 0' or 'R2001:200::/48 0'"
                ));
            }
            let (ip, depth) = parse_prefix::<A>(f[0], n)?;
            Ok(LpmRoute { ip, depth, port: num(f[1], "port", n)? })
        })
        .collect()
}

/// Parses EM rules: `R<dst ip> <src ip> <dst port> <src port> <proto> <port>`.
pub fn parse_em<A: Family>(text: &str) -> Result<Vec<EmRoute<A>>, String> {
    rule_lines(text)?
        .into_iter()
        .map(|(n, f)| {
            if f.len() != 6 {
                return Err(format!(
                    "line {n}: an EM rule is 'R<dst ip> <src ip> <dst port> <src port> <proto> <port>', \
                     e.g. 'R198.18.0.0 198.18.0.1 9 9 0x11 0'"
                ));
            }
            Ok(EmRoute {
                dst: ip(f[0], n)?,
                src: ip(f[1], n)?,
                dst_port: num(f[2], "destination port", n)?,
                src_port: num(f[3], "source port", n)?,
                proto: num(f[4], "protocol", n)?,
                port: num(f[5], "port", n)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lpm_rules() {
        let r = parse_lpm::<Ipv4Addr>("# routes\n\nR198.18.0.0/24 0\n  R10.0.0.0/8 3\n").unwrap();
        assert_eq!(
            r,
            vec![
                LpmRoute { ip: Ipv4Addr::new(198, 18, 0, 0), depth: 24, port: 0 },
                LpmRoute { ip: Ipv4Addr::new(10, 0, 0, 0), depth: 8, port: 3 }
            ]
        );
        let p4 = parse_lpm::<Ipv4Addr>;
        assert!(p4("R1.2.3.4 0").unwrap_err().contains("lacks '/<depth>'"));
        assert!(p4("R1.2.3/8 0").unwrap_err().contains("not an IPv4 address"));
        assert!(p4("R1.2.3.0/33 0").unwrap_err().contains("depth 33 must be 1 to 32"));
        assert!(p4("\nX1.2.3.0/8 0").unwrap_err().starts_with("line 2:"));
        assert!(p4("R1.2.3.0/8").unwrap_err().contains("R<ip>/<depth> <port>"));
        assert!(p4("R1.2.3.0/8 99999").unwrap_err().contains("invalid port"));
    }

    #[test]
    fn lpm6_rules() {
        let r = parse_lpm::<Ipv6Addr>("R2001:200::/48 0\nR2001:db8:1::/64 5\n").unwrap();
        assert_eq!(r[1], LpmRoute { ip: "2001:db8:1::".parse().unwrap(), depth: 64, port: 5 });
        let p6 = parse_lpm::<Ipv6Addr>;
        assert!(p6("R2001:200::/129 0").unwrap_err().contains("depth 129 must be 1 to 128"));
        assert!(p6("R198.18.0.0/24 0").unwrap_err().contains("not an IPv6 address"));
        assert!(p6("R2001:zz::/48 0").unwrap_err().contains("not an IPv6 address"));
    }

    #[test]
    fn em_rules() {
        let r = parse_em::<Ipv4Addr>("R198.18.0.0 198.18.0.1 9 10 0x11 1\n").unwrap();
        assert_eq!(
            r,
            vec![EmRoute {
                dst: Ipv4Addr::new(198, 18, 0, 0),
                src: Ipv4Addr::new(198, 18, 0, 1),
                dst_port: 9,
                src_port: 10,
                proto: 17,
                port: 1
            }]
        );
        assert_eq!(r[0].key(), em_key::<EM_KEY_LEN>(&[198, 18, 0, 0], &[198, 18, 0, 1], 9, 10, 17).to_vec());
        assert!(parse_em::<Ipv4Addr>("R198.18.0.0 198.18.0.1 9 10 0x11").unwrap_err().contains("e.g."));
        assert!(parse_em::<Ipv4Addr>("R198.18.0.0 198.18.0.1 9 10 300 1").unwrap_err().contains("invalid protocol"));
        let r = parse_em::<Ipv6Addr>("R2001:200:: 2001:200::1 9 9 0x11 0\n").unwrap();
        assert_eq!(r[0].key().len(), EM6_KEY_LEN);
        assert_eq!(r[0].key()[32..], [0, 9, 0, 9, 17]);
    }

    #[test]
    fn defaults() {
        assert_eq!(default_lpm::<Ipv4Addr>().len(), 16);
        assert_eq!(default_lpm::<Ipv4Addr>()[3], LpmRoute { ip: Ipv4Addr::new(198, 18, 3, 0), depth: 24, port: 3 });
        assert_eq!(default_em::<Ipv4Addr>()[1].src, Ipv4Addr::new(198, 18, 1, 1));
        assert_eq!(default_lpm::<Ipv6Addr>()[2].ip, "2001:200:0:2::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(default_em::<Ipv6Addr>()[2].src, "2001:200:0:2::1".parse::<Ipv6Addr>().unwrap());
    }
}
