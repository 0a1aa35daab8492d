//! Capture filters: a small subset of the pcap filter language (`host`, `port`, protocol
//! names, `src`/`dst`, `and`/`or`/`not`, parentheses), compiled into a postfix program of
//! plain words that lives in shared memory and is evaluated in the process that polls the
//! queue, before a frame is copied.
//!
//! ```
//! use ethdev::capture::Filter;
//! let f = Filter::parse("udp and (dst port 53 or host 198.18.0.1)").unwrap();
//! assert!(!f.is_empty());
//! assert!(Filter::parse("port 70000").unwrap_err().to_string().contains("0..=65535"));
//! ```

use std::net::Ipv4Addr;

/// At most this many operations in a compiled filter.
pub const MAX_OPS: usize = 32;

/// Why a filter expression was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    /// A word the language does not have, or one in the wrong place.
    #[error("capture filter: unexpected '{found}' (expected {expected})")]
    Unexpected {
        /// What was found (or "end of expression").
        found: String,
        /// What would have fit.
        expected: &'static str,
    },
    /// A value out of range or malformed.
    #[error("capture filter: bad {what} '{value}': {fix}")]
    BadValue {
        /// What the value is for ("port", "host").
        what: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        fix: &'static str,
    },
    /// More than [`MAX_OPS`] operations.
    #[error("capture filter: too long (more than {MAX_OPS} operations); simplify it")]
    TooLong,
}

/// Which address or port of a packet a primitive looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Side {
    Either = 0,
    Src = 1,
    Dst = 2,
}

/// Protocols a filter can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Proto {
    Ip = 1,
    Ip6 = 2,
    Arp = 3,
    Tcp = 4,
    Udp = 5,
    Icmp = 6,
    Icmp6 = 7,
}

impl Proto {
    fn from_word(w: &str) -> Option<Proto> {
        Some(match w {
            "ip" => Proto::Ip,
            "ip6" => Proto::Ip6,
            "arp" => Proto::Arp,
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "icmp" => Proto::Icmp,
            "icmp6" => Proto::Icmp6,
            _ => return None,
        })
    }
    fn from_u8(v: u8) -> Option<Proto> {
        [Proto::Ip, Proto::Ip6, Proto::Arp, Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Icmp6]
            .into_iter()
            .find(|p| *p as u8 == v)
    }
}

/// One operation of the postfix program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    And,
    Or,
    Not,
    Host(Side, Ipv4Addr),
    Port(Side, u16),
    Proto(Proto),
}

impl Op {
    /// Encoding: opcode in bits 0-7, side in 8-15, value in 32-63.
    fn word(self) -> u64 {
        let (code, side, val): (u64, Side, u64) = match self {
            Op::And => (1, Side::Either, 0),
            Op::Or => (2, Side::Either, 0),
            Op::Not => (3, Side::Either, 0),
            Op::Host(s, a) => (4, s, u32::from(a) as u64),
            Op::Port(s, p) => (5, s, p as u64),
            Op::Proto(p) => (6, Side::Either, p as u64),
        };
        code | (side as u64) << 8 | val << 32
    }
    fn from_word(w: u64) -> Option<Op> {
        let side = match (w >> 8) as u8 {
            0 => Side::Either,
            1 => Side::Src,
            2 => Side::Dst,
            _ => return None,
        };
        let val = (w >> 32) as u32;
        Some(match w as u8 {
            1 => Op::And,
            2 => Op::Or,
            3 => Op::Not,
            4 => Op::Host(side, Ipv4Addr::from(val)),
            5 => Op::Port(side, u16::try_from(val).ok()?),
            6 => Op::Proto(Proto::from_u8(val as u8)?),
            _ => return None,
        })
    }
}

/// A compiled capture filter; empty matches every frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    ops: Vec<Op>,
}

impl Filter {
    /// Compiles `expr`; an empty or all-blank expression matches everything.
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        let toks = tokens(expr);
        let mut p = Parser { toks, at: 0, out: Vec::new() };
        if p.toks.is_empty() {
            return Ok(Filter::default());
        }
        p.expr()?;
        if let Some(t) = p.toks.get(p.at) {
            return Err(FilterError::Unexpected { found: t.clone(), expected: "'and', 'or' or the end" });
        }
        if p.out.len() > MAX_OPS {
            return Err(FilterError::TooLong);
        }
        Ok(Filter { ops: p.out })
    }

    /// A filter that keeps no frame (`not ip and ip`).
    pub fn nothing() -> Filter {
        Filter { ops: vec![Op::Proto(Proto::Ip), Op::Not, Op::Proto(Proto::Ip), Op::And] }
    }

    /// True when the filter matches every frame.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The program as plain words (at most [`MAX_OPS`]), for shared memory.
    pub fn to_words(&self) -> Vec<u64> {
        self.ops.iter().map(|o| o.word()).collect()
    }

    /// The program back from words; `None` if a word is not an operation or the program
    /// does not leave exactly one result (shared memory is not trusted blindly).
    pub fn from_words(words: &[u64]) -> Option<Filter> {
        let ops: Vec<Op> = words.iter().map(|&w| Op::from_word(w)).collect::<Option<_>>()?;
        let mut depth = 0i32;
        for op in &ops {
            depth += match op {
                Op::And | Op::Or => -1,
                Op::Not => 0,
                _ => 1,
            };
            if depth < 1 {
                return None;
            }
        }
        (ops.is_empty() || depth == 1).then_some(Filter { ops })
    }

    /// True when `frame` (an Ethernet frame) passes the filter.
    pub fn matches(&self, frame: &[u8]) -> bool {
        if self.ops.is_empty() {
            return true;
        }
        let h = Headers::parse(frame);
        let mut stack = [false; MAX_OPS];
        let mut n = 0usize;
        for op in &self.ops {
            match op {
                Op::And | Op::Or => {
                    // from_words / parse guarantee two operands.
                    let (a, b) = (stack[n - 2], stack[n - 1]);
                    n -= 1;
                    stack[n - 1] = if *op == Op::And { a && b } else { a || b };
                }
                Op::Not => stack[n - 1] = !stack[n - 1],
                prim => {
                    stack[n] = h.test(prim);
                    n += 1;
                }
            }
        }
        n == 1 && stack[0]
    }
}

fn tokens(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let punct = match c {
            '(' | ')' | '!' => Some(c.to_string()),
            '&' if next == Some('&') => Some("&&".into()),
            '|' if next == Some('|') => Some("||".into()),
            _ => None,
        };
        if c.is_whitespace() || punct.is_some() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if let Some(p) = punct {
                if p.len() == 2 {
                    chars.next();
                }
                out.push(p);
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

struct Parser {
    toks: Vec<String>,
    at: usize,
    out: Vec<Op>,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.at).map(String::as_str)
    }
    fn next(&mut self, expected: &'static str) -> Result<String, FilterError> {
        let t = self
            .toks
            .get(self.at)
            .cloned()
            .ok_or(FilterError::Unexpected { found: "end of expression".into(), expected })?;
        self.at += 1;
        Ok(t)
    }
    fn push(&mut self, op: Op) -> Result<(), FilterError> {
        if self.out.len() >= MAX_OPS {
            return Err(FilterError::TooLong);
        }
        self.out.push(op);
        Ok(())
    }
    fn expr(&mut self) -> Result<(), FilterError> {
        self.term()?;
        while matches!(self.peek(), Some("or" | "||")) {
            self.at += 1;
            self.term()?;
            self.push(Op::Or)?;
        }
        Ok(())
    }
    fn term(&mut self) -> Result<(), FilterError> {
        self.factor()?;
        while matches!(self.peek(), Some("and" | "&&")) {
            self.at += 1;
            self.factor()?;
            self.push(Op::And)?;
        }
        Ok(())
    }
    fn factor(&mut self) -> Result<(), FilterError> {
        const WHAT: &str = "a primitive: host, port, src, dst, ip, ip6, arp, tcp, udp, icmp, icmp6, not or '('";
        let t = self.next(WHAT)?;
        match t.as_str() {
            "not" | "!" => {
                self.factor()?;
                self.push(Op::Not)
            }
            "(" => {
                self.expr()?;
                match self.next("')'")?.as_str() {
                    ")" => Ok(()),
                    other => Err(FilterError::Unexpected { found: other.into(), expected: "')'" }),
                }
            }
            "src" | "dst" => {
                let side = if t == "src" { Side::Src } else { Side::Dst };
                self.qualified(side)
            }
            "host" | "port" => {
                self.at -= 1;
                self.qualified(Side::Either)
            }
            w => match Proto::from_word(w) {
                Some(p) => {
                    self.push(Op::Proto(p))?;
                    // `tcp port 80`, `udp src port 53`: the protocol qualifies the port.
                    if matches!(self.peek(), Some("port" | "src" | "dst")) && matches!(p, Proto::Tcp | Proto::Udp) {
                        let side = match self.peek() {
                            Some("src") => Some(Side::Src),
                            Some("dst") => Some(Side::Dst),
                            _ => None,
                        };
                        if let Some(s) = side {
                            self.at += 1;
                            if self.peek() != Some("port") {
                                return Err(FilterError::Unexpected {
                                    found: self.peek().unwrap_or("end of expression").into(),
                                    expected: "'port' after a protocol and src/dst",
                                });
                            }
                            self.qualified(s)?;
                        } else {
                            self.qualified(Side::Either)?;
                        }
                        self.push(Op::And)?;
                    }
                    Ok(())
                }
                None => Err(FilterError::Unexpected { found: w.into(), expected: WHAT }),
            },
        }
    }
    fn qualified(&mut self, side: Side) -> Result<(), FilterError> {
        match self.next("'host' or 'port'")?.as_str() {
            "host" => {
                let v = self.next("an IPv4 address")?;
                let a: Ipv4Addr = v.parse().map_err(|_| FilterError::BadValue {
                    what: "host",
                    value: v.clone(),
                    fix: "an IPv4 address such as 198.18.0.1",
                })?;
                self.push(Op::Host(side, a))
            }
            "port" => {
                let v = self.next("a port number")?;
                let p: u16 = v.parse().map_err(|_| FilterError::BadValue {
                    what: "port",
                    value: v.clone(),
                    fix: "a number in 0..=65535",
                })?;
                self.push(Op::Port(side, p))
            }
            other => Err(FilterError::Unexpected { found: other.into(), expected: "'host' or 'port'" }),
        }
    }
}

/// What a filter looks at in a frame.
#[derive(Default)]
struct Headers {
    ethertype: u16,
    /// IPv4 (or ARP sender/target) addresses.
    v4: Option<(u32, u32)>,
    /// IP protocol number (IPv4 protocol or IPv6 next header).
    l4: Option<u8>,
    ports: Option<(u16, u16)>,
}

impl Headers {
    fn parse(f: &[u8]) -> Headers {
        let be16 = |o: usize| f.get(o..o + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let be32 = |o: usize| f.get(o..o + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let mut h = Headers::default();
        let mut off = 12;
        let Some(mut et) = be16(off) else { return h };
        // One VLAN tag (802.1Q or QinQ outer) is looked through.
        if et == 0x8100 || et == 0x88a8 {
            off += 4;
            let Some(inner) = be16(off) else { return h };
            et = inner;
        }
        h.ethertype = et;
        let l3 = off + 2;
        let l4 = match et {
            0x0800 => {
                let Some(&vihl) = f.get(l3) else { return h };
                h.v4 = be32(l3 + 12).zip(be32(l3 + 16));
                h.l4 = f.get(l3 + 9).copied();
                let frag = be16(l3 + 6).unwrap_or(0) & 0x1fff;
                (frag == 0).then_some(l3 + 4 * (vihl & 0xf) as usize)
            }
            0x86dd => {
                h.l4 = f.get(l3 + 6).copied();
                Some(l3 + 40)
            }
            0x0806 => {
                h.v4 = be32(l3 + 14).zip(be32(l3 + 24));
                None
            }
            _ => None,
        };
        if let (Some(o), Some(6 | 17)) = (l4, h.l4) {
            h.ports = be16(o).zip(be16(o + 2));
        }
        h
    }

    fn test(&self, op: &Op) -> bool {
        let side = |s: Side, (a, b): (u32, u32), v: u32| match s {
            Side::Either => a == v || b == v,
            Side::Src => a == v,
            Side::Dst => b == v,
        };
        match *op {
            Op::Host(s, a) => self.v4.is_some_and(|p| side(s, p, u32::from(a))),
            Op::Port(s, p) => self.ports.is_some_and(|(a, b)| side(s, (a as u32, b as u32), p as u32)),
            Op::Proto(p) => match p {
                Proto::Ip => self.ethertype == 0x0800,
                Proto::Ip6 => self.ethertype == 0x86dd,
                Proto::Arp => self.ethertype == 0x0806,
                Proto::Tcp => self.l4 == Some(6),
                Proto::Udp => self.l4 == Some(17),
                Proto::Icmp => self.ethertype == 0x0800 && self.l4 == Some(1),
                Proto::Icmp6 => self.ethertype == 0x86dd && self.l4 == Some(58),
            },
            Op::And | Op::Or | Op::Not => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[23] = 17;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f
    }

    #[test]
    fn primitives_and_combinations() {
        let a = udp([198, 18, 0, 1], [198, 18, 1, 1], 1000, 53);
        let m = |e: &str| Filter::parse(e).unwrap().matches(&a);
        assert!(m(""));
        assert!(m("udp") && m("ip") && !m("tcp") && !m("arp") && !m("ip6") && !m("icmp"));
        assert!(m("host 198.18.0.1") && m("src host 198.18.0.1") && !m("dst host 198.18.0.1"));
        assert!(m("port 53") && m("dst port 53") && !m("src port 53") && m("src port 1000"));
        assert!(m("udp port 53") && !m("tcp port 53") && m("udp dst port 53") && !m("udp src port 53"));
        assert!(m("not tcp") && m("! tcp") && !m("not udp"));
        assert!(m("tcp or port 53") && !m("tcp and port 53") && m("udp && (port 1 || port 1000)"));
        assert!(!m("not (udp and host 198.18.1.1)"));
        let mut vlan = a[..12].to_vec();
        vlan.extend_from_slice(&[0x81, 0x00, 0, 5]);
        vlan.extend_from_slice(&a[12..]);
        assert!(Filter::parse("udp port 53").unwrap().matches(&vlan), "one VLAN tag is looked through");
        assert!(!Filter::parse("udp").unwrap().matches(&a[..10]), "a runt matches nothing but the empty filter");
    }

    #[test]
    fn errors_name_the_problem() {
        let e = |s: &str| Filter::parse(s).unwrap_err().to_string();
        assert!(e("host 300.1.1.1").contains("bad host '300.1.1.1'"));
        assert!(e("port x").contains("bad port 'x'"));
        assert!(e("udp and").contains("unexpected 'end of expression'"));
        assert!(e("(udp").contains("expected ')'"));
        assert!(e("bogus").contains("unexpected 'bogus'"));
        assert!(e("udp tcp").contains("expected 'and', 'or' or the end"));
        let long = vec!["udp"; 40].join(" or ");
        assert!(e(&long).contains("too long"));
    }

    #[test]
    fn words_round_trip_and_bad_words_are_refused() {
        let f = Filter::parse("tcp dst port 80 or not host 10.0.0.1").unwrap();
        assert_eq!(Filter::from_words(&f.to_words()), Some(f));
        assert_eq!(Filter::from_words(&[0xff]), None, "unknown opcode");
        assert_eq!(Filter::from_words(&[Op::And.word()]), None, "an operator without operands");
        let p = Op::Proto(Proto::Udp).word();
        assert_eq!(Filter::from_words(&[p, p]), None, "two results");
        assert_eq!(Filter::from_words(&[]), Some(Filter::default()));
        assert!(!Filter::nothing().matches(&[0u8; 60]) && Filter::from_words(&Filter::nothing().to_words()).is_some());
    }
}
