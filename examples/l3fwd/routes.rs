//! l3fwd's routes: DPDK's defaults (198.18.N.0/24 to port N for LPM; the 5-tuple
//! 198.18.N.1 -> 198.18.N.0, UDP 9 -> 9 to port N for EM) and DPDK's rule files:
//!
//! ```text
//! # comment
//! R198.18.0.0/24 0                          (LPM: prefix/depth port)
//! R198.18.0.0 198.18.0.1 9 9 0x11 0         (EM: dst ip, src ip, dst port, src port, proto, port)
//! ```

use std::net::Ipv4Addr;

/// Number of default routes (DPDK's l3fwd has 16).
pub const DEFAULT_ROUTES: u8 = 16;

/// An LPM route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LpmRoute {
    pub ip: u32,
    pub depth: u8,
    pub port: u16,
}

/// An exact-match route on the 5-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmRoute {
    pub dst: u32,
    pub src: u32,
    pub dst_port: u16,
    pub src_port: u16,
    pub proto: u8,
    pub port: u16,
}

/// Key length of the EM table: dst ip, src ip, dst port, src port, proto.
pub const EM_KEY_LEN: usize = 13;

/// The EM key of a 5-tuple (network order fields, as they are in the packet).
pub fn em_key(dst: u32, src: u32, dst_port: u16, src_port: u16, proto: u8) -> [u8; EM_KEY_LEN] {
    let mut k = [0u8; EM_KEY_LEN];
    k[0..4].copy_from_slice(&dst.to_be_bytes());
    k[4..8].copy_from_slice(&src.to_be_bytes());
    k[8..10].copy_from_slice(&dst_port.to_be_bytes());
    k[10..12].copy_from_slice(&src_port.to_be_bytes());
    k[12] = proto;
    k
}

/// DPDK's default LPM routes.
pub fn default_lpm() -> Vec<LpmRoute> {
    (0..DEFAULT_ROUTES)
        .map(|n| LpmRoute { ip: u32::from(Ipv4Addr::new(198, 18, n, 0)), depth: 24, port: n as u16 })
        .collect()
}

/// DPDK's default EM routes.
pub fn default_em() -> Vec<EmRoute> {
    (0..DEFAULT_ROUTES)
        .map(|n| EmRoute {
            dst: u32::from(Ipv4Addr::new(198, 18, n, 0)),
            src: u32::from(Ipv4Addr::new(198, 18, n, 1)),
            dst_port: 9,
            src_port: 9,
            proto: 17,
            port: n as u16,
        })
        .collect()
}

fn ip(s: &str, line: usize) -> Result<u32, String> {
    s.parse::<Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| format!("line {line}: '{s}' is not an IPv4 address (such as 198.18.0.0)"))
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

/// Parses LPM rules: `R<ip>/<depth> <port>`.
pub fn parse_lpm(text: &str) -> Result<Vec<LpmRoute>, String> {
    rule_lines(text)?
        .into_iter()
        .map(|(n, f)| {
            if f.len() != 2 {
                return Err(format!("line {n}: an LPM rule is 'R<ip>/<depth> <port>', e.g. 'R198.18.0.0/24 0'"));
            }
            let (a, d) = f[0]
                .split_once('/')
                .ok_or_else(|| format!("line {n}: '{}' lacks '/<depth>' (e.g. 198.18.0.0/24)", f[0]))?;
            let depth: u8 = num(d, "depth", n)?;
            if !(1..=32).contains(&depth) {
                return Err(format!("line {n}: depth {depth} must be 1 to 32"));
            }
            Ok(LpmRoute { ip: ip(a, n)?, depth, port: num(f[1], "port", n)? })
        })
        .collect()
}

/// Parses EM rules: `R<dst ip> <src ip> <dst port> <src port> <proto> <port>`.
pub fn parse_em(text: &str) -> Result<Vec<EmRoute>, String> {
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
        let r = parse_lpm("# routes\n\nR198.18.0.0/24 0\n  R10.0.0.0/8 3\n").unwrap();
        assert_eq!(
            r,
            vec![LpmRoute { ip: 0xC612_0000, depth: 24, port: 0 }, LpmRoute { ip: 0x0A00_0000, depth: 8, port: 3 }]
        );
        assert!(parse_lpm("R1.2.3.4 0").unwrap_err().contains("lacks '/<depth>'"));
        assert!(parse_lpm("R1.2.3/8 0").unwrap_err().contains("not an IPv4 address"));
        assert!(parse_lpm("R1.2.3.0/33 0").unwrap_err().contains("depth 33 must be 1 to 32"));
        assert!(parse_lpm("\nX1.2.3.0/8 0").unwrap_err().starts_with("line 2:"));
        assert!(parse_lpm("R1.2.3.0/8").unwrap_err().contains("R<ip>/<depth> <port>"));
        assert!(parse_lpm("R1.2.3.0/8 99999").unwrap_err().contains("invalid port"));
    }

    #[test]
    fn em_rules() {
        let r = parse_em("R198.18.0.0 198.18.0.1 9 10 0x11 1\n").unwrap();
        assert_eq!(
            r,
            vec![EmRoute { dst: 0xC612_0000, src: 0xC612_0001, dst_port: 9, src_port: 10, proto: 17, port: 1 }]
        );
        assert!(parse_em("R198.18.0.0 198.18.0.1 9 10 0x11").unwrap_err().contains("e.g."));
        assert!(parse_em("R198.18.0.0 198.18.0.1 9 10 300 1").unwrap_err().contains("invalid protocol"));
    }

    #[test]
    fn defaults_as_dpdk() {
        assert_eq!(default_lpm().len(), 16);
        assert_eq!(default_lpm()[3], LpmRoute { ip: u32::from(Ipv4Addr::new(198, 18, 3, 0)), depth: 24, port: 3 });
        assert_eq!(default_em()[1].src, u32::from(Ipv4Addr::new(198, 18, 1, 1)));
    }
}
