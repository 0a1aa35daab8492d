//! Open-file-description locks on the config file. Unlike classic `fcntl` locks they belong
//! to the open file, so no other open/close of the same file in the process can drop them.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

fn flock(kind: libc::c_short) -> libc::flock {
    // SAFETY: flock is plain data; zero is a valid starting value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0; // the whole file
    fl
}

/// Tries to take the write lock without waiting. `Ok(false)` when another open file holds it.
pub fn try_lock_exclusive(f: &File) -> io::Result<bool> {
    let fl = flock(libc::F_WRLCK as libc::c_short);
    // SAFETY: F_OFD_SETLK takes a pointer to a flock we own, on a valid fd.
    let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_OFD_SETLK, &fl) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(e),
    }
}

/// True when some other open file holds a lock that conflicts with a write lock.
pub fn lock_holder_exists(f: &File) -> io::Result<bool> {
    let mut fl = flock(libc::F_WRLCK as libc::c_short);
    // SAFETY: F_OFD_GETLK fills the flock we own, on a valid fd.
    let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}
