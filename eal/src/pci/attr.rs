//! Reading and writing single sysfs attribute files and links.

use std::fs;
use std::io::{self, ErrorKind};
use std::path::Path;

use super::error::PciError;

/// The trimmed text of `path`, or `None` if it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>, PciError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PciError::io("read", path, e)),
    }
}

/// The trimmed text of `path`, which must exist.
pub(crate) fn read(path: &Path) -> Result<String, PciError> {
    fs::read_to_string(path).map(|s| s.trim().to_string()).map_err(|e| PciError::io("read", path, e))
}

/// A `0x`-prefixed (or bare) hex number as sysfs prints ids and classes.
pub(crate) fn parse_hex(path: &Path, what: &'static str, text: &str) -> Result<u32, PciError> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    u32::from_str_radix(digits, 16).map_err(|_| PciError::Parse {
        path: path.to_path_buf(),
        what,
        content: text.to_string(),
    })
}

/// A hex id of 16 bits from `path`, which must exist.
pub(crate) fn read_id(path: &Path, what: &'static str) -> Result<u16, PciError> {
    let text = read(path)?;
    let v = parse_hex(path, what, &text)?;
    u16::try_from(v).map_err(|_| PciError::Parse { path: path.to_path_buf(), what, content: text })
}

/// A hex id of 16 bits from `path`, or `None` if the file does not exist.
pub(crate) fn read_id_opt(path: &Path, what: &'static str) -> Result<Option<u16>, PciError> {
    if !path.exists() {
        return Ok(None);
    }
    read_id(path, what).map(Some)
}

/// The last component of the target of the symlink `path`, or `None` if there is no link.
pub(crate) fn link_name(path: &Path) -> Result<Option<String>, PciError> {
    match fs::read_link(path) {
        Ok(target) => Ok(target.file_name().map(|n| n.to_string_lossy().into_owned())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PciError::io("readlink", path, e)),
    }
}

/// The sorted names of the entries of directory `path`; empty if it does not exist.
pub(crate) fn list_dir(path: &Path) -> Result<Vec<String>, PciError> {
    let entries = match fs::read_dir(path) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PciError::io("list", path, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| PciError::io("list", path, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Writes `value` to the attribute `path` in one `write` call, as sysfs wants.
pub(crate) fn write(path: &Path, value: &str) -> Result<(), io::Error> {
    fs::write(path, value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_with_and_without_prefix() {
        let p = Path::new("x");
        assert_eq!(parse_hex(p, "id", "0x8086").unwrap(), 0x8086);
        assert_eq!(parse_hex(p, "id", "020000").unwrap(), 0x020000);
        assert!(parse_hex(p, "id", "0x").is_err());
        assert!(parse_hex(p, "id", "eth").is_err());
    }
}
