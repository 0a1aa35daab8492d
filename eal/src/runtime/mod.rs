//! The runtime directory of a process group (`/var/run/bypass/<prefix>/` for root, else
//! `$XDG_RUNTIME_DIR/bypass/<prefix>/`, else `$TMPDIR/bypass-<uid>/<prefix>/`): the `config`
//! file whose lock marks the live primary, and the IPC sockets.
//!
//! Another local user must not be able to make a primary write or delete files it does not
//! own. So the base directory and the group directory are created with mode 0700 or, when
//! they exist, checked to be the current user's and not writable by others; the group
//! directory is then held open and every file in it is opened relative to it without
//! following symlinks; and cleanup removes only the names Bypass itself creates there.

mod lock;

pub use lock::{lock_holder_exists, try_lock_exclusive};

use crate::error::EalError;
use nix::errno::Errno;
use nix::fcntl::{open, openat, OFlag};
use nix::sys::stat::{fstat, mkdirat, FileStat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Name of the shared config file in the runtime directory.
pub const CONFIG_FILE: &str = "config";
/// Name of the primary's telemetry socket, in the group directory and in DPDK's runtime
/// directory of the same prefix (see [`crate::telemetry`]).
pub const TELEMETRY_SOCKET: &str = "dpdk_telemetry.v2";
/// Environment variable that replaces the base directory (the group directory is
/// `$BYPASS_RUNTIME_DIR/<prefix>`); the tests use it as a sandbox.
pub const RUNTIME_DIR_ENV: &str = "BYPASS_RUNTIME_DIR";

/// The base directory under which each group has its directory, following DPDK's rules
/// (root vs. user), unless [`RUNTIME_DIR_ENV`] is set.
pub fn base_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(RUNTIME_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/run/bypass");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(x) if !x.is_empty() => PathBuf::from(x).join("bypass"),
        _ => std::env::temp_dir().join(format!("bypass-{}", nix::unistd::geteuid())),
    }
}

/// The runtime directory for `prefix`.
pub fn dir_for(prefix: &str) -> PathBuf {
    base_dir().join(prefix)
}

/// Whether `name` is a file Bypass creates in a group directory: `config`, the IPC sockets
/// `mp_socket`, `mp_socket_<pid>_<n>`, `mp_reply_<pid>_<n>`, and the TAP driver's fd
/// endpoints `net_tap<port>`. Cleanup removes these and nothing else.
pub fn is_bypass_file(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let two_numbers = |s: &str| s.split_once('_').is_some_and(|(a, b)| digits(a) && digits(b));
    name == CONFIG_FILE
        || name == "mp_socket"
        || name.strip_prefix("mp_socket_").is_some_and(two_numbers)
        || name.strip_prefix("mp_reply_").is_some_and(two_numbers)
        || name.strip_prefix("net_tap").is_some_and(digits)
        || name == TELEMETRY_SOCKET
}

/// Why a directory may not be used, from its status: `None` when it is safe.
///
/// A group directory must belong to the current user and not be writable by group or
/// others. A base directory may also be a sticky directory owned by root or by us (like
/// `/tmp`), where nobody else can rename or remove our entries.
fn unsafe_reason(st: &FileStat, euid: u32, base: bool) -> Option<String> {
    let mode = st.st_mode;
    if mode & libc::S_IFMT != libc::S_IFDIR {
        return Some("it is not a directory".into());
    }
    let sticky = mode & libc::S_ISVTX != 0;
    let owner_ok = st.st_uid == euid || (base && sticky && st.st_uid == 0);
    if !owner_ok {
        return Some(format!("it belongs to uid {}, not to this process's uid {euid}", st.st_uid));
    }
    if mode & 0o022 != 0 && !(base && sticky) {
        return Some(format!("group or others may write to it (mode {:04o})", mode & 0o7777));
    }
    None
}

fn unsafe_dir(path: &Path, st: &FileStat, why: String, fix: &str) -> EalError {
    EalError::UnsafeRuntimeDir {
        path: path.to_path_buf(),
        owner: st.st_uid,
        mode: st.st_mode & 0o7777,
        why,
        fix: fix.to_string(),
    }
}

fn dir_err(path: &Path, e: Errno) -> EalError {
    EalError::RuntimeDir { path: path.to_path_buf(), source: std::io::Error::from(e) }
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY.union(OFlag::O_DIRECTORY).union(OFlag::O_NOFOLLOW).union(OFlag::O_CLOEXEC);

/// An open, checked group directory. Files in it are reached through the directory's file
/// descriptor, so renaming or replacing a path component cannot redirect them.
#[derive(Debug)]
pub struct RuntimeDir {
    path: PathBuf,
    name: String,
    base: OwnedFd,
    fd: OwnedFd,
    created: bool,
}

impl RuntimeDir {
    /// Opens the group directory of `prefix` (a name already checked by
    /// [`crate::args::check_file_prefix`]), creating the base and the group directory with
    /// mode 0700 when `create` is set. Existing directories are checked (see the module
    /// doc); an unsafe one is refused with an error naming its path, owner, mode and the fix.
    /// Without `create`, a missing group directory is an `Io` error of kind `NotFound`.
    pub fn open(prefix: &str, create: bool) -> Result<RuntimeDir, EalError> {
        Self::open_in(&base_dir(), prefix, create)
    }

    /// As [`RuntimeDir::open`], under the base directory `base_path` instead of
    /// [`base_dir`] (the telemetry socket's DPDK-compatible directory uses the same checks).
    pub fn open_in(base_path: &Path, prefix: &str, create: bool) -> Result<RuntimeDir, EalError> {
        crate::args::check_file_prefix(prefix)?;
        let euid = nix::unistd::geteuid().as_raw();
        let base_path = base_path.to_path_buf();
        if create && std::fs::symlink_metadata(&base_path).is_err() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&base_path)
                .map_err(|source| EalError::RuntimeDir { path: base_path.clone(), source })?;
        }
        let base = match open(&base_path, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
                return Err(EalError::UnsafeRuntimeDir {
                    path: base_path.clone(),
                    owner: std::fs::symlink_metadata(&base_path)
                        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
                        .unwrap_or(u32::MAX),
                    mode: 0,
                    why: "it is a symbolic link or not a directory".into(),
                    fix: base_fix(),
                })
            }
            Err(Errno::ENOENT) if !create => {
                return Err(EalError::io(
                    format!("opening {}", base_path.display()),
                    std::io::Error::from(Errno::ENOENT),
                ))
            }
            Err(e) => return Err(dir_err(&base_path, e)),
        };
        let st = fstat(&base).map_err(|e| dir_err(&base_path, e))?;
        if let Some(why) = unsafe_reason(&st, euid, true) {
            return Err(unsafe_dir(&base_path, &st, why, &base_fix()));
        }
        let path = base_path.join(prefix);
        let mut created = false;
        if create {
            match mkdirat(&base, prefix, Mode::from_bits_truncate(0o700)) {
                Ok(()) => created = true,
                Err(Errno::EEXIST) => {}
                Err(e) => return Err(dir_err(&path, e)),
            }
        }
        let group_fix = format!(
            "Bypass creates it itself with mode 0700: if it is not yours, remove it (rm -r {}) or use another --file-prefix",
            path.display()
        );
        let fd = match openat(&base, prefix, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if !create => {
                return Err(EalError::io(format!("opening {}", path.display()), std::io::Error::from(Errno::ENOENT)))
            }
            Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
                return Err(EalError::UnsafeRuntimeDir {
                    path: path.clone(),
                    owner: std::fs::symlink_metadata(&path)
                        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
                        .unwrap_or(u32::MAX),
                    mode: 0,
                    why: "it is a symbolic link or not a directory".into(),
                    fix: group_fix,
                })
            }
            Err(e) => return Err(dir_err(&path, e)),
        };
        let st = fstat(&fd).map_err(|e| dir_err(&path, e))?;
        if let Some(why) = unsafe_reason(&st, euid, false) {
            return Err(unsafe_dir(&path, &st, why, &group_fix));
        }
        Ok(RuntimeDir { path, name: prefix.to_string(), base, fd, created })
    }

    /// The directory's path (for messages and for code that binds sockets by path).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path to the directory through this process's open descriptor of it
    /// (`/proc/self/fd/<fd>`): a name bound or opened under it lands in this very directory
    /// even if a component of [`RuntimeDir::path`] was replaced since it was checked.
    pub fn fd_path(&self) -> PathBuf {
        let p = PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()));
        if p.exists() {
            p
        } else {
            self.path.clone()
        }
    }

    /// The status of entry `name` of the directory, not following a symlink (None when it
    /// does not exist or cannot be read).
    pub fn stat_entry(&self, name: &str) -> Option<FileStat> {
        nix::sys::stat::fstatat(&self.fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).ok()
    }

    /// True when [`RuntimeDir::open`] created the directory.
    pub fn created(&self) -> bool {
        self.created
    }

    /// Opens the config file read-write without following a symlink, creating it (mode
    /// 0600) when `create` is set. A config that is not a regular file of ours is refused.
    pub fn open_config(&self, create: bool) -> Result<File, EalError> {
        let path = self.path.join(CONFIG_FILE);
        let mut flags = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
        if create {
            flags |= OFlag::O_CREAT;
        }
        let fd = openat(&self.fd, CONFIG_FILE, flags, Mode::from_bits_truncate(0o600)).map_err(|e| match e {
            Errno::ELOOP => EalError::UnsafeRuntimeFile {
                path: path.clone(),
                why: "it is a symbolic link".into(),
                fix: format!("remove it (rm {}); Bypass creates it itself", path.display()),
            },
            e => EalError::RuntimeDir { path: path.clone(), source: std::io::Error::from(e) },
        })?;
        let st = fstat(&fd).map_err(|e| dir_err(&path, e))?;
        let euid = nix::unistd::geteuid().as_raw();
        if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_uid != euid {
            return Err(EalError::UnsafeRuntimeFile {
                path: path.clone(),
                why: format!("it is not a regular file of uid {euid} (owner uid {}, mode {:o})", st.st_uid, st.st_mode),
                fix: format!("remove it (rm {}); Bypass creates it itself", path.display()),
            });
        }
        Ok(File::from(fd))
    }

    /// Removes `name` from the directory if it is one of Bypass's file names (see
    /// [`is_bypass_file`]). Returns true when something was removed.
    pub fn remove(&self, name: &str) -> bool {
        is_bypass_file(name) && unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir).is_ok()
    }

    /// Removes what a crashed group left: Bypass's sockets and endpoints, never the config
    /// and never a file of another name. Returns the names removed.
    pub fn clean_stale(&self) -> Vec<String> {
        let mut removed = Vec::new();
        // List the directory we hold open (through /proc, where there is one).
        let via_fd = PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()));
        let Ok(rd) = std::fs::read_dir(&via_fd).or_else(|_| std::fs::read_dir(&self.path)) else {
            return removed;
        };
        for e in rd.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name != CONFIG_FILE && self.remove(&name) {
                removed.push(name);
            }
        }
        removed
    }

    /// Removes the directory itself if it is empty (a directory that still holds a file
    /// Bypass did not create stays, with that file).
    pub fn remove_if_empty(&self) {
        let _ = unlinkat(self.base.as_fd(), self.name.as_str(), UnlinkatFlags::RemoveDir);
    }
}

fn base_fix() -> String {
    format!(
        "use a directory of your own with mode 0700: remove or fix this one, or point {RUNTIME_DIR_ENV} (or XDG_RUNTIME_DIR) elsewhere"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bypass_names_are_ours() {
        for n in ["config", "dpdk_telemetry.v2", "mp_socket", "mp_socket_12_0", "mp_reply_7_3", "net_tap0", "net_tap31"]
        {
            assert!(is_bypass_file(n), "{n}");
        }
        for n in [
            "passwd",
            "mp_socket_",
            "mp_socket_1",
            "mp_socket_1_",
            "mp_socket_a_1",
            "mp_reply_1_2_3",
            "net_tap",
            "net_tapx",
            "config.bak",
            "..",
            ".",
        ] {
            assert!(!is_bypass_file(n), "{n}");
        }
    }

    fn st(uid: u32, mode: u32) -> FileStat {
        // SAFETY: stat is plain data; zero is a valid value.
        let mut s: FileStat = unsafe { std::mem::zeroed() };
        s.st_uid = uid;
        s.st_mode = mode;
        s
    }

    #[test]
    fn directory_checks() {
        let d = libc::S_IFDIR;
        assert!(unsafe_reason(&st(1000, d | 0o700), 1000, false).is_none());
        assert!(unsafe_reason(&st(1000, d | 0o755), 1000, false).is_none());
        assert!(unsafe_reason(&st(1000, d | 0o777), 1000, false).unwrap().contains("mode 0777"));
        assert!(unsafe_reason(&st(65534, d | 0o700), 1000, false).unwrap().contains("uid 65534"));
        assert!(unsafe_reason(&st(0, d | 0o1777), 1000, false).is_some(), "a group dir is never shared");
        assert!(unsafe_reason(&st(0, d | 0o1777), 1000, true).is_none(), "a root sticky base is like /tmp");
        assert!(unsafe_reason(&st(65534, d | 0o1777), 1000, true).is_some());
        assert!(unsafe_reason(&st(1000, libc::S_IFREG | 0o700), 1000, true).unwrap().contains("not a directory"));
    }
}
