//! Device arguments of virtual devices: `net_null0,size=64,copy=1`.

use crate::error::EthError;

/// A parsed `--vdev` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VdevArgs {
    /// The device name (`net_null0`).
    pub name: String,
    /// `key=value` pairs in order (`flag` alone gives an empty value).
    pub kv: Vec<(String, String)>,
    /// The original text.
    pub raw: String,
}

impl VdevArgs {
    /// Parses `name[,key=value...]`.
    pub fn parse(s: &str) -> Result<VdevArgs, EthError> {
        let mut parts = s.split(',');
        let name = parts.next().unwrap_or("").trim().to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(EthError::BadDevargs {
                args: s.into(),
                why: "a device name such as net_null0 comes first".into(),
            });
        }
        let mut kv = Vec::new();
        for p in parts {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            kv.push((k.to_string(), v.to_string()));
        }
        Ok(VdevArgs { name, kv, raw: s.to_string() })
    }

    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The value of `key` parsed as a number, `default` when absent.
    pub fn get_num<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, EthError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| EthError::BadDevargs {
                args: self.raw.clone(),
                why: format!("{key}={v} is not a valid number"),
            }),
        }
    }

    /// Fails on keys not in `known`, naming them and the accepted ones.
    pub fn check_keys(&self, known: &[&str]) -> Result<(), EthError> {
        if let Some((k, _)) = self.kv.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            return Err(EthError::BadDevargs {
                args: self.raw.clone(),
                why: format!("unknown key '{k}' (accepted: {})", known.join(", ")),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let a = VdevArgs::parse("net_null0,size=128,copy").unwrap();
        assert_eq!(a.name, "net_null0");
        assert_eq!(a.get_num("size", 64u32).unwrap(), 128);
        assert_eq!(a.get("copy"), Some(""));
        assert_eq!(a.get_num("missing", 7u32).unwrap(), 7);
        assert!(a.check_keys(&["size"]).unwrap_err().to_string().contains("unknown key 'copy'"));
        assert!(VdevArgs::parse(",size=1").is_err());
        assert!(VdevArgs::parse("net_null0,size=x").unwrap().get_num("size", 0u32).is_err());
    }
}
