//! The EAL's one eventfd: the kernel signals VFIO interrupts by adding to its counter, and the
//! interrupt and IPC threads are woken through one. Built on `nix`.

use super::error::{Result, VfioError};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd as NixEventFd};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

/// An eventfd (close-on-exec, non-blocking).
#[derive(Debug)]
pub struct EventFd {
    fd: NixEventFd,
}

impl EventFd {
    /// Creates an eventfd with counter 0.
    pub fn new() -> Result<Self> {
        let fd = NixEventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|e| VfioError::EventFd(e.into()))?;
        Ok(Self { fd })
    }

    /// Adopts an eventfd received from another process (`SCM_RIGHTS`): checked to be an
    /// eventfd (`/proc/self/fd/<n>` names `anon_inode:[eventfd]`), refused otherwise. It
    /// shares the sender's open file, so its flags (non-blocking) are the sender's.
    pub fn adopt(fd: OwnedFd) -> Result<Self> {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(VfioError::EventFd)?;
        if link.as_os_str() != "anon_inode:[eventfd]" {
            return Err(VfioError::EventFd(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the descriptor received is {} and not an eventfd", link.display()),
            )));
        }
        // SAFETY: the fd was just checked to be an eventfd (the kernel's own name for its
        // inode), which is all `from_owned_fd` requires; we own it.
        let fd = unsafe { NixEventFd::from_owned_fd(fd) };
        Ok(Self { fd })
    }

    /// Reads and resets the counter; `Ok(None)` if it was 0.
    pub fn try_read(&self) -> Result<Option<u64>> {
        match self.fd.read() {
            Ok(n) => Ok(Some(n)),
            Err(Errno::EAGAIN) => Ok(None),
            Err(e) => Err(VfioError::EventFdIo { op: "read", source: e.into() }),
        }
    }

    /// Adds `n` to the counter (wakes a waiter).
    pub fn write(&self, n: u64) -> Result<()> {
        self.fd.write(n).map(drop).map_err(|e| VfioError::EventFdIo { op: "write", source: e.into() })
    }

    /// Makes the eventfd readable (wakes a thread polling it). A failure (the counter
    /// saturated) still leaves it readable, which is all a wake-up needs.
    pub fn signal(&self) {
        let _ = self.fd.write(1);
    }

    /// Makes the eventfd not readable again; a no-op if it was not signalled.
    pub fn drain(&self) {
        let _ = self.fd.read();
    }

    /// Waits up to `timeout` for the counter to become non-zero, then reads
    /// it; `Ok(None)` on timeout.
    pub fn wait(&self, timeout: Duration) -> Result<Option<u64>> {
        let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        loop {
            let mut pfd = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut pfd, ms) {
                Ok(0) => return Ok(None),
                Ok(_) => return self.try_read(),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(VfioError::EventFdIo { op: "poll", source: e.into() }),
            }
        }
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
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
    fn adopted_copies_share_the_counter_and_other_fds_are_refused() {
        let e = EventFd::new().unwrap();
        let copy = EventFd::adopt(e.as_fd().try_clone_to_owned().unwrap()).unwrap();
        e.write(2).unwrap();
        assert_eq!(copy.try_read().unwrap(), Some(2));
        let f: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
        let err = EventFd::adopt(f).unwrap_err().to_string();
        assert!(err.contains("/dev/null") && err.contains("not an eventfd"), "{err}");
    }

    #[test]
    fn wait_times_out_then_sees_a_signal() {
        let e = EventFd::new().unwrap();
        assert_eq!(e.wait(Duration::from_millis(10)).unwrap(), None);
        e.write(1).unwrap();
        assert_eq!(e.wait(Duration::from_millis(10)).unwrap(), Some(1));
    }
}
