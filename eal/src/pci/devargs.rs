//! Device arguments: `BDF,key=val,key2=val2` as given to `-a/--allow`.

use std::fmt;
use std::str::FromStr;

use super::address::PciAddr;
use super::error::PciError;

/// A PCI address with the driver arguments given for it, in the order given.
///
/// A key without `=` has the empty value; keys may repeat (see [`Devargs::get_all`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Devargs {
    addr: PciAddr,
    args: Vec<(String, String)>,
}

impl Devargs {
    /// Arguments for `addr` with no key/value pairs.
    pub fn new(addr: PciAddr) -> Self {
        Devargs { addr, args: Vec::new() }
    }

    /// The device these arguments are for.
    pub fn addr(&self) -> PciAddr {
        self.addr
    }

    /// All key/value pairs in the order given.
    pub fn args(&self) -> &[(String, String)] {
        &self.args
    }

    /// The value of the first `key`, if any (the empty string for a bare `key`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.args.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value given for `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.args.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl FromStr for Devargs {
    type Err = PciError;

    fn from_str(s: &str) -> Result<Self, PciError> {
        let bad = |reason: String| PciError::BadDevargs { input: s.to_string(), reason };
        let mut parts = s.split(',');
        let addr: PciAddr = parts.next().unwrap_or_default().parse().map_err(|e| bad(format!("{e}")))?;
        let mut args = Vec::new();
        for part in parts {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            if key.is_empty() {
                return Err(bad(format!("empty key in {part:?}")));
            }
            if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                return Err(bad(format!("key {key:?} has characters other than letters, digits, '_' and '-'")));
            }
            args.push((key.to_string(), value.to_string()));
        }
        Ok(Devargs { addr, args })
    }
}

impl fmt::Display for Devargs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.addr)?;
        for (k, v) in &self.args {
            if v.is_empty() {
                write!(f, ",{k}")?;
            } else {
                write!(f, ",{k}={v}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_address_alone() {
        let d: Devargs = "02:00.0".parse().unwrap();
        assert_eq!(d.addr().to_string(), "0000:02:00.0");
        assert!(d.args().is_empty());
        assert_eq!(d, Devargs::new(d.addr()));
    }

    #[test]
    fn parses_keys_values_and_bare_keys_in_order() {
        let d: Devargs = "0000:02:00.0,rxq=4,txq=2,legacy,rxq=8".parse().unwrap();
        assert_eq!(d.get("rxq"), Some("4"));
        assert_eq!(d.get("txq"), Some("2"));
        assert_eq!(d.get("legacy"), Some(""));
        assert_eq!(d.get("nope"), None);
        assert_eq!(d.get_all("rxq").collect::<Vec<_>>(), ["4", "8"]);
        assert_eq!(d.to_string(), "0000:02:00.0,rxq=4,txq=2,legacy,rxq=8");
    }

    #[test]
    fn value_may_hold_equals_sign() {
        let d: Devargs = "0000:02:00.0,mac=a=b".parse().unwrap();
        assert_eq!(d.get("mac"), Some("a=b"));
    }

    #[test]
    fn rejects_bad_address_and_empty_keys() {
        assert!("eth0,rxq=1".parse::<Devargs>().is_err());
        assert!("0000:02:00.0,".parse::<Devargs>().is_err());
        assert!("0000:02:00.0,=3".parse::<Devargs>().is_err());
        assert!("0000:02:00.0,a b=3".parse::<Devargs>().is_err());
        let e = "0000:02:00.0,,x=1".parse::<Devargs>().unwrap_err().to_string();
        assert!(e.contains("empty key"), "{e}");
    }
}
