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
        .open(path)
        .map_err(|e| EalError::io(format!("creating the heap file {}", path.display()), e))?;
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

/// Maps an existing heap file (a secondary's view of the primary's heap).
pub fn map_existing(path: &Path, len: u64, window: VaRange, addr: u64) -> Result<(), EalError> {
    let file = File::options()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| EalError::io(format!("opening the primary's heap file {}", path.display()), e))?;
    shm::map_file_at(window, addr, len, &file, 0, false)
        .map_err(|e| EalError::io(format!("mapping the primary's heap file {}", path.display()), e))
}
