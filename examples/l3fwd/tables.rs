//! l3fwd's route tables, in shared memory: for `--lookup lpm` an IPv4 [`Lpm`] and an IPv6
//! [`Lpm6`], for `--lookup em` two [`HashTable`]s keyed by the IPv4 and IPv6 5-tuples. The
//! primary creates and fills them; secondaries find them by name. A route added while
//! running ([`Tables::add_rule`]) is seen by every process at once, since they all read
//! the same memory.

use crate::pkt::{self, Ip};
use crate::routes::{self, EmRoute, Family, LpmRoute, EM6_KEY_LEN, EM_KEY_LEN};
use eal::Eal;
use std::net::{Ipv4Addr, Ipv6Addr};
use table::{HashParams, HashTable, Lpm, Lpm6, Lpm6Params, LpmParams};

const LPM_NAME: &str = "l3fwd_lpm_v4";
const LPM6_NAME: &str = "l3fwd_lpm_v6";
const EM_NAME: &str = "l3fwd_em_v4";
const EM6_NAME: &str = "l3fwd_em_v6";

/// How frames are routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Longest prefix match on the destination address.
    Lpm,
    /// Exact match on the 5-tuple.
    Em,
}

/// The route tables of both families.
#[derive(Clone)]
pub enum Tables {
    /// Longest prefix match.
    Lpm {
        /// IPv4 routes.
        v4: Lpm,
        /// IPv6 routes.
        v6: Lpm6,
    },
    /// Exact match.
    Em {
        /// IPv4 5-tuples.
        v4: HashTable,
        /// IPv6 5-tuples.
        v6: HashTable,
    },
}

/// Rule files (`--rule_ipv4`, `--rule_ipv6`), already read; `None` means the defaults.
pub struct RuleFiles {
    /// IPv4 rules.
    pub v4: Option<String>,
    /// IPv6 rules.
    pub v6: Option<String>,
}

impl RuleFiles {
    /// Reads the files named by the options.
    pub fn read(v4: Option<&str>, v6: Option<&str>) -> Result<RuleFiles, String> {
        let read = |opt: &str, f: Option<&str>| -> Result<Option<String>, String> {
            f.map(|f| std::fs::read_to_string(f).map_err(|e| format!("{opt} {f}: cannot read: {e}"))).transpose()
        };
        Ok(RuleFiles { v4: read("--rule_ipv4", v4)?, v6: read("--rule_ipv6", v6)? })
    }
}

fn lpm_routes<A: Family>(text: &Option<String>, opt: &str) -> Result<Vec<LpmRoute<A>>, String> {
    text.as_deref()
        .map_or_else(|| Ok(routes::default_lpm()), |t| routes::parse_lpm(t).map_err(|e| format!("{opt}: {e}")))
}

fn em_routes<A: Family>(text: &Option<String>, opt: &str) -> Result<Vec<EmRoute<A>>, String> {
    text.as_deref().map_or_else(|| Ok(routes::default_em()), |t| routes::parse_em(t).map_err(|e| format!("{opt}: {e}")))
}

fn em_table(eal: &Eal, name: &str, key_len: usize, n: usize) -> Result<HashTable, String> {
    let entries = (n as u32 * 2).max(1024);
    HashTable::create(&eal.memory(), name, &HashParams { entries, key_len, ..Default::default() })
        .map_err(|e| format!("EM table: {e}"))
}

impl Tables {
    /// Creates the tables (primary) and adds the routes to `enabled` ports.
    pub fn build(eal: &Eal, lookup: Lookup, files: &RuleFiles, enabled: &[u16]) -> Result<Tables, String> {
        let on = |p: u16| enabled.contains(&p);
        let mem = eal.memory();
        let t = match lookup {
            Lookup::Lpm => {
                let r4: Vec<LpmRoute<Ipv4Addr>> = lpm_routes(&files.v4, "--rule_ipv4")?;
                let r6: Vec<LpmRoute<Ipv6Addr>> = lpm_routes(&files.v6, "--rule_ipv6")?;
                let max_rules = (r4.len() as u32).max(1024);
                let v4 = Lpm::create(&mem, LPM_NAME, &LpmParams { max_rules, tbl8_groups: 256.max(max_rules / 4) })
                    .map_err(|e| format!("LPM table: {e} (give the EAL more memory with -m)"))?;
                let max_rules = (r6.len() as u32).max(1024);
                let v6 = Lpm6::create(&mem, LPM6_NAME, &Lpm6Params { max_rules, groups: 4096.max(max_rules * 6) })
                    .map_err(|e| format!("LPM6 table: {e} (give the EAL more memory with -m)"))?;
                let t = Tables::Lpm { v4, v6 };
                for r in r4.iter().filter(|r| on(r.port)) {
                    t.add_lpm4(r)?;
                }
                for r in r6.iter().filter(|r| on(r.port)) {
                    t.add_lpm6(r)?;
                }
                t
            }
            Lookup::Em => {
                let r4: Vec<EmRoute<Ipv4Addr>> = em_routes(&files.v4, "--rule_ipv4")?;
                let r6: Vec<EmRoute<Ipv6Addr>> = em_routes(&files.v6, "--rule_ipv6")?;
                let t = Tables::Em {
                    v4: em_table(eal, EM_NAME, EM_KEY_LEN, r4.len())?,
                    v6: em_table(eal, EM6_NAME, EM6_KEY_LEN, r6.len())?,
                };
                for r in r4.iter().filter(|r| on(r.port)) {
                    t.add_em(r)?;
                }
                for r in r6.iter().filter(|r| on(r.port)) {
                    t.add_em(r)?;
                }
                t
            }
        };
        Ok(t)
    }

    /// A secondary's tables: the primary's, by name.
    pub fn find(eal: &Eal, lookup: Lookup) -> Result<Tables, String> {
        let mem = eal.memory();
        let t = match lookup {
            Lookup::Lpm => Lpm::lookup_by_name(&mem, LPM_NAME)
                .and_then(|v4| Ok(Tables::Lpm { v4, v6: Lpm6::lookup_by_name(&mem, LPM6_NAME)? })),
            Lookup::Em => HashTable::lookup_by_name(&mem, EM_NAME, EM_KEY_LEN, 8)
                .and_then(|v4| Ok(Tables::Em { v4, v6: HashTable::lookup_by_name(&mem, EM6_NAME, EM6_KEY_LEN, 8)? })),
        };
        t.map_err(|e| format!("the primary's table: {e} (start the primary with the same --lookup)"))
    }

    /// The output port of a frame whose header passed [`pkt::check`].
    pub fn route(&self, f: &[u8], ip: Ip) -> Option<u16> {
        let nh = match (self, ip) {
            (Tables::Lpm { v4, .. }, Ip::V4(_)) => v4.lookup(pkt::dst(f)).map(u64::from),
            (Tables::Lpm { v6, .. }, Ip::V6) => v6.lookup(pkt::dst6(f)).map(u64::from),
            (Tables::Em { v4, .. }, Ip::V4(ihl)) => v4.lookup(&pkt::em_key4(f, ihl)).ok().flatten(),
            (Tables::Em { v6, .. }, Ip::V6) => v6.lookup(&pkt::em_key6(f)).ok().flatten(),
        };
        nh.and_then(|v| u16::try_from(v).ok())
    }

    fn add_lpm4(&self, r: &LpmRoute<Ipv4Addr>) -> Result<(), String> {
        let Tables::Lpm { v4, .. } = self else { return Err("this l3fwd routes by exact match (--lookup em)".into()) };
        v4.add(u32::from(r.ip), r.depth, u32::from(r.port))
            .map_err(|e| format!("LPM route {}/{}: {e}", r.ip, r.depth))?;
        println!("LPM: Adding route {} / {} ({})", r.ip, r.depth, r.port);
        Ok(())
    }

    fn add_lpm6(&self, r: &LpmRoute<Ipv6Addr>) -> Result<(), String> {
        let Tables::Lpm { v6, .. } = self else { return Err("this l3fwd routes by exact match (--lookup em)".into()) };
        v6.add(u128::from(r.ip), r.depth, u32::from(r.port))
            .map_err(|e| format!("LPM route {}/{}: {e}", r.ip, r.depth))?;
        println!("LPM: Adding route {} / {} ({})", r.ip, r.depth, r.port);
        Ok(())
    }

    fn add_em<A: Family>(&self, r: &EmRoute<A>) -> Result<(), String> {
        let Tables::Em { v4, v6 } = self else { return Err("this l3fwd routes by prefix (--lookup lpm)".into()) };
        let t = if A::LEN == 4 { v4 } else { v6 };
        t.add(&r.key(), u64::from(r.port)).map_err(|e| format!("EM route: {e}"))?;
        println!("EM: Adding route {} {} {} {} {} ({})", r.dst, r.src, r.dst_port, r.src_port, r.proto, r.port);
        Ok(())
    }

    /// Adds one rule given as a rule-file line without its `R` and with commas for spaces
    /// (`198.18.5.0/24,1`, `2001:db8::/32,0`, `<dst>,<src>,<dst port>,<src port>,<proto>,<port>`),
    /// as the telemetry command `/l3fwd/route_add` does; returns the rule added.
    pub fn add_rule(&self, rule: &str, ports: &[u16]) -> Result<String, String> {
        let line = format!("R{}", rule.replace(',', " "));
        let v6 = rule.split(',').next().is_some_and(|a| a.contains(':'));
        let port = match (self, v6) {
            (Tables::Lpm { .. }, false) => {
                let r = one(routes::parse_lpm::<Ipv4Addr>(&line))?;
                check_port(r.port, ports)?;
                self.add_lpm4(&r)?;
                r.port
            }
            (Tables::Lpm { .. }, true) => {
                let r = one(routes::parse_lpm::<Ipv6Addr>(&line))?;
                check_port(r.port, ports)?;
                self.add_lpm6(&r)?;
                r.port
            }
            (Tables::Em { .. }, false) => {
                let r = one(routes::parse_em::<Ipv4Addr>(&line))?;
                check_port(r.port, ports)?;
                self.add_em(&r)?;
                r.port
            }
            (Tables::Em { .. }, true) => {
                let r = one(routes::parse_em::<Ipv6Addr>(&line))?;
                check_port(r.port, ports)?;
                self.add_em(&r)?;
                r.port
            }
        };
        Ok(format!("{rule} -> port {port}"))
    }
}

fn one<T>(r: Result<Vec<T>, String>) -> Result<T, String> {
    let mut v = r.map_err(|e| e.replace("line 1: ", ""))?;
    if v.len() != 1 {
        return Err("give one rule".into());
    }
    Ok(v.remove(0))
}

fn check_port(port: u16, ports: &[u16]) -> Result<(), String> {
    if ports.contains(&port) {
        Ok(())
    } else {
        Err(format!("port {port} is not forwarding (enabled ports: {ports:?})"))
    }
}
