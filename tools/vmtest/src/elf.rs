//! Finding the static test binaries to put in the guest, and checking that
//! they really are static (the guest has no dynamic loader or libc).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The target triple static guest binaries are built for.
pub const GUEST_TARGET: &str = "x86_64-unknown-linux-gnu";

const PT_INTERP: u32 = 3;

/// Whether `bytes` is an x86-64 ELF executable without a program
/// interpreter (static, or static-pie as `+crt-static` builds it).
pub fn is_static_elf(bytes: &[u8]) -> bool {
    let u16_at = |o: usize| bytes.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| bytes.get(o..o + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let u64_at = |o: usize| bytes.get(o..o + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    if bytes.get(..4) != Some(b"\x7fELF") || bytes.get(4) != Some(&2) || u16_at(0x12) != Some(62) {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..usize::from(phnum)).all(|i| {
        let at = usize::try_from(phoff).unwrap_or(usize::MAX).saturating_add(i * usize::from(phentsize));
        matches!(u32_at(at), Some(t) if t != PT_INTERP)
    })
}

/// Fails with [`Error::NotStatic`] unless `path` is a static x86-64 executable.
pub fn check_static(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    if is_static_elf(&bytes) {
        Ok(())
    } else {
        Err(Error::NotStatic { path: path.display().to_string() })
    }
}

/// Directories where a static debug build of the guest target may be:
/// `$VMTEST_BIN_DIR`, `$CARGO_TARGET_DIR/<triple>/debug`, and
/// `<dir>/<triple>/debug` for every ancestor of the running executable.
pub fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("VMTEST_BIN_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d).join(GUEST_TARGET).join("debug"));
    }
    if let Ok(exe) = std::env::current_exe() {
        for a in exe.ancestors().skip(1) {
            if a.file_name().is_some_and(|n| n == GUEST_TARGET) {
                dirs.push(a.join("debug"));
            }
            dirs.push(a.join(GUEST_TARGET).join("debug"));
        }
    }
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// Finds the static guest binary `name` (see [`candidate_dirs`]).
pub fn find_static_bin(name: &str) -> Result<PathBuf> {
    let dirs = candidate_dirs();
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "static guest binary '{name}' not found (looked in {}); build it first: \
                 RUSTFLAGS='-C target-feature=+crt-static' cargo build --target {GUEST_TARGET} -p vmtest --bin {name}",
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf_with(types: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 0x40 + 56 * types.len()];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[0x12] = 62;
        b[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for (i, t) in types.iter().enumerate() {
            b[0x40 + 56 * i..0x44 + 56 * i].copy_from_slice(&t.to_le_bytes());
        }
        b
    }

    #[test]
    fn static_and_dynamic_elves() {
        assert!(is_static_elf(&elf_with(&[6, 1, 2])), "static-pie: PT_DYNAMIC but no PT_INTERP");
        assert!(!is_static_elf(&elf_with(&[6, 3, 1])), "PT_INTERP means dynamic");
        assert!(!is_static_elf(b"#!/bin/sh\n"));
        let mut truncated = elf_with(&[1, 1]);
        truncated.truncate(0x50);
        assert!(!is_static_elf(&truncated));
    }

    #[test]
    fn host_shell_is_dynamic() {
        let err = check_static(Path::new("/bin/sh")).unwrap_err();
        assert!(err.to_string().contains("crt-static"), "{err}");
    }

    #[test]
    fn missing_binary_says_how_to_build() {
        let err = find_static_bin("no-such-binary-xyz").unwrap_err();
        assert!(err.to_string().contains("cargo build --target x86_64-unknown-linux-gnu"), "{err}");
    }
}
