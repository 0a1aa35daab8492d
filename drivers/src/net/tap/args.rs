//! Devargs of `net_tap`, as DPDK's: `iface=NAME` (default `dtap%d`: the kernel picks the
//! first free `dtapN`) and `mac=xx:xx:xx:xx:xx:xx`, `mac=fixed` (`02:64:74:61:70:<port>`, i.e.
//! "dtap") or, by default, a random locally administered address.

use super::errors::MacParseError;
use super::tun;
use ethdev::{EthError, VdevArgs};
use std::io::Read;

/// Accepted keys.
pub const KEYS: &[&str] = &["iface", "mac"];
/// Default interface name template.
pub const DEFAULT_IFACE: &str = "dtap%d";

/// How the MAC address is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacChoice {
    /// A random locally administered unicast address.
    Random,
    /// `02:64:74:61:70:<port>`.
    Fixed,
    /// This address.
    Given([u8; 6]),
}

/// Parsed devargs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapArgs {
    /// Interface name (may hold a `%d` template).
    pub iface: String,
    /// MAC address choice.
    pub mac: MacChoice,
}

impl TapArgs {
    /// Parses and checks `args`; unknown keys are refused.
    pub fn parse(args: &VdevArgs) -> Result<TapArgs, EthError> {
        args.check_keys(KEYS)?;
        let bad = |why: String| EthError::BadDevargs { args: args.raw.clone(), why };
        let iface = args.get("iface").unwrap_or(DEFAULT_IFACE).to_string();
        tun::check_name(&iface).map_err(|e| bad(format!("iface={iface}: {e}")))?;
        let mac = match args.get("mac") {
            None => MacChoice::Random,
            Some("fixed") => MacChoice::Fixed,
            Some(s) => MacChoice::Given(parse_mac(s).map_err(|why| bad(format!("mac={s}: {why}")))?),
        };
        Ok(TapArgs { iface, mac })
    }

    /// The address to give port `port`.
    pub fn mac_for(&self, port: u16) -> [u8; 6] {
        match self.mac {
            MacChoice::Given(m) => m,
            MacChoice::Fixed => [0x02, b'd', b't', b'a', b'p', port as u8],
            MacChoice::Random => random_mac(),
        }
    }
}

/// Parses `xx:xx:xx:xx:xx:xx`; the address must be unicast and non-zero.
pub fn parse_mac(s: &str) -> Result<[u8; 6], MacParseError> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(MacParseError::NotSixBytes);
    }
    let mut m = [0u8; 6];
    for (b, p) in m.iter_mut().zip(&parts) {
        let not_hex = || MacParseError::NotHexByte(p.to_string());
        if p.is_empty() || p.len() > 2 {
            return Err(not_hex());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| not_hex())?;
    }
    if m[0] & 1 != 0 || m == [0; 6] {
        return Err(MacParseError::NotUnicast);
    }
    Ok(m)
}

/// A random locally administered unicast address.
pub fn random_mac() -> [u8; 6] {
    let mut m = [0u8; 6];
    let from_urandom = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut m)).is_ok();
    if !from_urandom {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        m.copy_from_slice(&h.finish().to_le_bytes()[..6]);
    }
    m[0] = (m[0] & 0xfe) | 0x02;
    m
}

/// `xx:xx:xx:xx:xx:xx`.
pub fn fmt_mac(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<TapArgs, EthError> {
        TapArgs::parse(&VdevArgs::parse(s).unwrap())
    }

    #[test]
    fn defaults_and_values() {
        let a = parse("net_tap0").unwrap();
        assert_eq!(a, TapArgs { iface: DEFAULT_IFACE.into(), mac: MacChoice::Random });
        let m = a.mac_for(0);
        assert_eq!(m[0] & 3, 2, "locally administered unicast");
        let a = parse("net_tap1,iface=foo,mac=fixed").unwrap();
        assert_eq!(a.iface, "foo");
        assert_eq!(a.mac_for(3), [0x02, 0x64, 0x74, 0x61, 0x70, 3]);
        let a = parse("net_tap1,mac=02:AB:cd:0:1:ff").unwrap();
        assert_eq!(a.mac_for(0), [2, 0xab, 0xcd, 0, 1, 0xff]);
        assert_eq!(fmt_mac([2, 0xab, 0xcd, 0, 1, 0xff]), "02:ab:cd:00:01:ff");
    }

    #[test]
    fn bad_values_are_refused_with_reasons() {
        let e = parse("net_tap0,ifname=x").unwrap_err().to_string();
        assert!(e.contains("unknown key 'ifname'") && e.contains("iface, mac"), "{e}");
        assert!(parse("net_tap0,iface=").unwrap_err().to_string().contains("not a valid interface name"));
        assert!(parse("net_tap0,iface=waytoolonginterfacename").is_err());
        assert!(parse("net_tap0,mac=01:00:00:00:00:01").unwrap_err().to_string().contains("unicast"));
        assert!(parse("net_tap0,mac=00:00:00:00:00:00").is_err());
        assert!(parse("net_tap0,mac=02:00:00:00:00").unwrap_err().to_string().contains("six hex bytes"));
        assert!(parse("net_tap0,mac=02:00:00:00:00:zz").unwrap_err().to_string().contains("'zz'"));
        assert!(parse("net_tap0,mac=02:00:00:00:00:123").is_err());
    }
}
