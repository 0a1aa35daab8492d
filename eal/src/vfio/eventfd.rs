//! A minimal eventfd: the kernel signals interrupts by adding to its counter.

use super::error::{Result, VfioError};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// An eventfd (close-on-exec, non-blocking).
#[derive(Debug)]
pub struct EventFd {
    file: File,
}

impl EventFd {
    /// Creates an eventfd with counter 0.
    pub fn new() -> Result<Self> {
        // SAFETY: eventfd takes no pointers; it returns a new fd or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(VfioError::EventFd(std::io::Error::last_os_error()));
        }
        // SAFETY: `fd` is a new descriptor owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { file: File::from(owned) })
    }

    /// Reads and resets the counter; `Ok(None)` if it was 0.
    pub fn try_read(&self) -> Result<Option<u64>> {
        let mut b = [0u8; 8];
        match (&self.file).read_exact(&mut b) {
            Ok(()) => Ok(Some(u64::from_ne_bytes(b))),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(source) => Err(VfioError::EventFdIo { op: "read", source }),
        }
    }

    /// Adds `n` to the counter (wakes a waiter).
    pub fn write(&self, n: u64) -> Result<()> {
        (&self.file).write_all(&n.to_ne_bytes()).map_err(|source| VfioError::EventFdIo { op: "write", source })
    }

    /// Waits up to `timeout` for the counter to become non-zero, then reads
    /// it; `Ok(None)` on timeout.
    pub fn wait(&self, timeout: Duration) -> Result<Option<u64>> {
        let mut pfd = libc::pollfd { fd: self.file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        loop {
            // SAFETY: `pfd` is one valid pollfd living across the call.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(VfioError::EventFdIo { op: "poll", source: e });
            }
            return if rc == 0 { Ok(None) } else { self.try_read() };
        }
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_adds_and_resets() {
        let e = EventFd::new().unwrap();
        assert_eq!(e.try_read().unwrap(), None);
        e.write(2).unwrap();
        e.write(3).unwrap();
        assert_eq!(e.try_read().unwrap(), Some(5));
        assert_eq!(e.try_read().unwrap(), None);
    }

    #[test]
    fn wait_times_out_then_sees_a_signal() {
        let e = EventFd::new().unwrap();
        assert_eq!(e.wait(Duration::from_millis(10)).unwrap(), None);
        e.write(1).unwrap();
        assert_eq!(e.wait(Duration::from_millis(10)).unwrap(), Some(1));
    }
}
