//! The file that backs the shared heap: a hugetlbfs file, or a plain file in /dev/shm with
//! `--no-huge`. Created by the primary, mapped by everyone at the same address.

use crate::error::EalError;
use crate::memory::hugetlbfs;
use crate::shm::{self, VaRange};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where the heap file of a group lives.
pub fn segment_path(dir: &Path, prefix: &str) -> PathBuf {
    dir.join(format!("bypass_{prefix}_heap"))
}

/// Directory for `--no-huge` heap files.
pub fn no_huge_dir() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

/// Creates the heap file (replacing a stale one), sizes it and maps it at `addr` inside
/// `window`, touching every page so that a shortage shows now and not as a SIGBUS later.
pub fn create_and_map(
    path: &Path,
    len: u64,
    page_size: u64,
    huge: bool,
    window: VaRange,
    addr: u64,
) -> Result<(), EalError> {
    if huge {
        let free = hugetlbfs::free_pages(page_size);
        if free * page_size < len {
            return Err(EalError::NotEnoughHugepages {
                need_mb: len >> 20,
                free_mb: (free * page_size) >> 20,
                page_kb: page_size / 1024,
            });
        }
    }
    let _ = std::fs::remove_file(path);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| heap_create_error(path, e))?;
    file.set_len(len)
        .map_err(|e| EalError::io(format!("sizing the heap file {} to {len} bytes", path.display()), e))?;
    if let Err(e) = shm::map_file_at(window, addr, len, &file, 0, true) {
        let _ = std::fs::remove_file(path);
        if huge && e.raw_os_error() == Some(libc::ENOMEM) {
            let free = hugetlbfs::free_pages(page_size);
            return Err(EalError::NotEnoughHugepages {
                need_mb: len >> 20,
                free_mb: (free * page_size) >> 20,
                page_kb: page_size / 1024,
            });
        }
        return Err(EalError::io(format!("mapping the heap file {}", path.display()), e));
    }
    Ok(())
}

/// Explains a failure to create the heap file; one left by another user (in a shared
/// directory such as /dev/shm) is named with its owner.
fn heap_create_error(path: &Path, e: std::io::Error) -> EalError {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if e.kind() == std::io::ErrorKind::AlreadyExists => EalError::UnsafeRuntimeFile {
            path: path.to_path_buf(),
            why: format!(
                "it exists, belongs to uid {} (mode {:o}) and cannot be removed by this process",
                m.uid(),
                m.mode()
            ),
            fix: "remove it if no group uses it, or use another --file-prefix".into(),
        },
        _ => EalError::io(format!("creating the heap file {}", path.display()), e),
    }
}

/// Maps an existing heap file (a secondary's view of the primary's heap).
pub fn map_existing(path: &Path, len: u64, window: VaRange, addr: u64) -> Result<(), EalError> {
    // Never through a symlink: the path comes from the shared config.
    let file = File::options()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| EalError::io(format!("opening the primary's heap file {}", path.display()), e))?;
    shm::map_file_at(window, addr, len, &file, 0, false)
        .map_err(|e| EalError::io(format!("mapping the primary's heap file {}", path.display()), e))
}
