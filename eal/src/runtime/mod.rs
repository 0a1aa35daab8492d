//! The runtime directory of a process group (`/var/run/bypass/<prefix>/` for root, else
//! `$XDG_RUNTIME_DIR/bypass/<prefix>/`): the `config` file whose lock marks the live
//! primary, and the IPC sockets.

mod lock;

pub use lock::{lock_holder_exists, try_lock_exclusive};

use crate::error::EalError;
use std::path::{Path, PathBuf};

/// Name of the shared config file in the runtime directory.
pub const CONFIG_FILE: &str = "config";

/// The runtime directory for `prefix`, following DPDK's rules (root vs. user).
pub fn dir_for(prefix: &str) -> PathBuf {
    if let Some(d) = std::env::var_os("BYPASS_RUNTIME_DIR") {
        return PathBuf::from(d).join(prefix);
    }
    let root = is_root();
    if root {
        return PathBuf::from("/var/run/bypass").join(prefix);
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(x) if !x.is_empty() => PathBuf::from(x).join("bypass").join(prefix),
        _ => std::env::temp_dir().join(format!("bypass-{}", uid())).join(prefix),
    }
}

fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX)
}

fn is_root() -> bool {
    uid() == 0
}

/// Creates the runtime directory (and parents) if needed.
pub fn create(dir: &Path) -> Result<(), EalError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| EalError::RuntimeDir { path: dir.to_path_buf(), source })
}

/// Removes everything in `dir` except the config file: what a crashed group left behind.
/// Returns the names removed.
pub fn clean_stale(dir: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == CONFIG_FILE {
                continue;
            }
            if std::fs::remove_file(e.path()).is_ok() {
                removed.push(name);
            }
        }
    }
    removed
}
