//! PCI addresses: `DDDD:BB:DD.F` (domain, bus, device, function).

use std::fmt;
use std::str::FromStr;

use super::error::PciError;

/// A PCI address. Device is below 32 and function below 8, always.
///
/// Parses the full form `0000:02:00.0` and the short form `02:00.0` (domain 0),
/// hex digits in either case; displays the full lower-case form sysfs uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PciAddr {
    domain: u32,
    bus: u8,
    device: u8,
    function: u8,
}

impl PciAddr {
    /// The address `domain:bus:device.function`; `None` if device > 31 or function > 7.
    pub const fn new(domain: u32, bus: u8, device: u8, function: u8) -> Option<Self> {
        if device > 0x1f || function > 7 {
            return None;
        }
        Some(PciAddr { domain, bus, device, function })
    }

    /// The PCI domain (segment).
    pub const fn domain(&self) -> u32 {
        self.domain
    }

    /// The bus number.
    pub const fn bus(&self) -> u8 {
        self.bus
    }

    /// The device (slot) number, 0..=31.
    pub const fn device(&self) -> u8 {
        self.device
    }

    /// The function number, 0..=7.
    pub const fn function(&self) -> u8 {
        self.function
    }

    /// Whether `s` looks like a PCI address (full or short form) and parses as one.
    pub fn is_addr(s: &str) -> bool {
        s.parse::<PciAddr>().is_ok()
    }
}

/// Parses 1..=max_digits hex digits, nothing else.
fn hex_field(s: &str, max_digits: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

impl FromStr for PciAddr {
    type Err = PciError;

    fn from_str(s: &str) -> Result<Self, PciError> {
        let bad = |reason| PciError::BadAddress { input: s.to_string(), reason };
        let (head, function) = s.rsplit_once('.').ok_or_else(|| bad("no '.' before the function"))?;
        let function = hex_field(function, 1).ok_or_else(|| bad("the function is not one hex digit"))?;
        let parts: Vec<&str> = head.split(':').collect();
        let (domain, bus, device) = match parts.as_slice() {
            [d, b, s] => (hex_field(d, 8).ok_or_else(|| bad("the domain is not 1 to 8 hex digits"))?, *b, *s),
            [b, s] => (0, *b, *s),
            _ => return Err(bad("expected 1 or 2 ':' separators")),
        };
        let bus = hex_field(bus, 2).ok_or_else(|| bad("the bus is not 1 or 2 hex digits"))?;
        let device = hex_field(device, 2).ok_or_else(|| bad("the device is not 1 or 2 hex digits"))?;
        if device > 0x1f {
            return Err(bad("the device number is above 1f"));
        }
        if function > 7 {
            return Err(bad("the function number is above 7"));
        }
        Ok(PciAddr { domain, bus: bus as u8, device: device as u8, function: function as u8 })
    }
}

impl fmt::Display for PciAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:02x}:{:02x}.{:x}", self.domain, self.bus, self.device, self.function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_form() {
        let a: PciAddr = "0000:02:1f.7".parse().unwrap();
        assert_eq!((a.domain(), a.bus(), a.device(), a.function()), (0, 2, 0x1f, 7));
        assert_eq!(a.to_string(), "0000:02:1f.7");
    }

    #[test]
    fn parses_short_form_as_domain_zero() {
        let a: PciAddr = "02:00.0".parse().unwrap();
        assert_eq!(a, PciAddr::new(0, 2, 0, 0).unwrap());
        assert_eq!(a.to_string(), "0000:02:00.0");
    }

    #[test]
    fn accepts_upper_case_and_wide_domains() {
        let a: PciAddr = "10000:AF:0A.1".parse().unwrap();
        assert_eq!(a.to_string(), "10000:af:0a.1");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "eth0",
            "02:00",
            "0000:02:00",
            "0000:02:00.8",
            "0000:02:20.0",
            "0000:002:00.0",
            "0000:02:00.0 ",
            "x000:02:00.0",
            "1:2:3:4.0",
            "0000:02:00.",
            ":02:00.0",
            "+2:00.0",
        ] {
            assert!(bad.parse::<PciAddr>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn new_rejects_out_of_range_fields() {
        assert!(PciAddr::new(0, 0, 32, 0).is_none());
        assert!(PciAddr::new(0, 0, 0, 8).is_none());
        assert!(PciAddr::new(0, 0xff, 31, 7).is_some());
    }

    #[test]
    fn orders_by_domain_bus_device_function() {
        let mut v: Vec<PciAddr> = ["0001:00:00.0", "0000:03:00.0", "0000:00:04.1", "0000:00:04.0"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        v.sort();
        let s: Vec<String> = v.iter().map(|a| a.to_string()).collect();
        assert_eq!(s, ["0000:00:04.0", "0000:00:04.1", "0000:03:00.0", "0001:00:00.0"]);
    }
}
