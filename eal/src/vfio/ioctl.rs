//! The raw `ioctl(2)` calls of the VFIO layer: the only place that talks to
//! the kernel through pointers. Each wrapper returns the call's non-negative
//! result or the `errno` as an `io::Error`.

use super::abi::AbiStruct;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The call's result, or `errno` as an `io::Error` (through nix's `Errno`).
fn check(ret: libc::c_int) -> io::Result<i32> {
    Ok(nix::errno::Errno::result(ret)?)
}

/// An ioctl that takes no argument.
pub(crate) fn ioctl_none(fd: BorrowedFd<'_>, req: u64) -> io::Result<i32> {
    // SAFETY: the request takes no argument, so the kernel reads and writes no
    // user memory; `fd` is a live descriptor for the duration of the borrow.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req as _) })
}

/// An ioctl whose argument is a plain integer (not a pointer).
pub(crate) fn ioctl_val(fd: BorrowedFd<'_>, req: u64, arg: libc::c_ulong) -> io::Result<i32> {
    // SAFETY: the argument is passed by value; the requests this is used with
    // (CHECK_EXTENSION, SET_IOMMU) read it as a number, never as a pointer.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg) })
}

/// An ioctl that reads and/or writes one `repr(C)` ABI structure in place.
pub(crate) fn ioctl_struct<T: AbiStruct>(fd: BorrowedFd<'_>, req: u64, arg: &mut T) -> io::Result<i32> {
    // SAFETY: `arg` is a valid, exclusively borrowed `repr(C)` plain-data
    // structure whose `argsz` field tells the kernel its size, so the kernel
    // never writes past it; any bit pattern the kernel writes is a valid `T`.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg as *mut T) })
}

/// An ioctl that reads an `i32` through a pointer (`VFIO_GROUP_SET_CONTAINER`).
pub(crate) fn ioctl_int_ptr(fd: BorrowedFd<'_>, req: u64, value: i32) -> io::Result<i32> {
    let v = value;
    // SAFETY: the kernel reads one `int` from the pointer, which points at a
    // live local variable for the duration of the call.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req as _, &v as *const i32) })
}

/// An ioctl that takes a variable-length structure given as 32-bit words
/// whose first word is the total size in bytes (`VFIO_DEVICE_SET_IRQS`).
pub(crate) fn ioctl_words(fd: BorrowedFd<'_>, req: u64, words: &mut [u32]) -> io::Result<i32> {
    if words.first().map(|&n| n as usize) != Some(std::mem::size_of_val(words)) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "argsz does not match the buffer"));
    }
    // SAFETY: the buffer is live, 4-byte aligned and exactly `argsz` bytes
    // long (checked above), so the kernel stays inside it.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req as _, words.as_mut_ptr()) })
}

/// An ioctl that takes a C string and returns a new file descriptor
/// (`VFIO_GROUP_GET_DEVICE_FD`).
pub(crate) fn ioctl_cstr_fd(fd: BorrowedFd<'_>, req: u64, name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a NUL-terminated string that outlives the call; the
    // kernel only reads it.
    let ret = check(unsafe { libc::ioctl(fd.as_raw_fd(), req as _, name.as_ptr()) })?;
    // SAFETY: on success the kernel returned a new descriptor that nothing
    // else owns; wrapping it makes it closed exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsFd;

    #[test]
    fn ioctl_on_non_vfio_fd_reports_errno() {
        let f = File::open("/dev/null").unwrap();
        let err = ioctl_none(f.as_fd(), super::super::abi::VFIO_GET_API_VERSION).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
    }

    #[test]
    fn ioctl_words_rejects_bad_argsz() {
        let f = File::open("/dev/null").unwrap();
        let mut w = vec![99u32, 0, 0, 0, 0];
        let err = ioctl_words(f.as_fd(), 0, &mut w).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
