//! A minimal epoll instance: the interrupt thread's only system interface, and what
//! ethdev's RX-interrupt waiter sleeps in (DPDK's `rte_epoll_wait`), on `nix` (no `unsafe`
//! here).

use nix::sys::epoll::{Epoll as NixEpoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::io;
use std::os::fd::BorrowedFd;

/// An epoll fd (close-on-exec).
#[derive(Debug)]
pub struct Epoll {
    ep: NixEpoll,
}

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    pub fn new() -> io::Result<Epoll> {
        Ok(Epoll { ep: NixEpoll::new(EpollCreateFlags::EPOLL_CLOEXEC)? })
    }

    /// Watches `fd` for input; events carry `token`.
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        Ok(self.ep.add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token))?)
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(self.ep.delete(fd)?)
    }

    /// Waits (no timeout) for events; returns the tokens of the ready fds. EINTR gives an
    /// empty list.
    pub fn wait(&self, out: &mut Vec<u64>) -> io::Result<()> {
        self.wait_for(out, EpollTimeout::NONE)
    }

    /// Waits up to `timeout` (rounded up to whole milliseconds, at most about 24 days) for
    /// events; returns the tokens of the ready fds, none on timeout or EINTR.
    pub fn wait_timeout(&self, out: &mut Vec<u64>, timeout: std::time::Duration) -> io::Result<()> {
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        self.wait_for(out, EpollTimeout::try_from(ms).unwrap_or(EpollTimeout::NONE))
    }

    fn wait_for(&self, out: &mut Vec<u64>, timeout: EpollTimeout) -> io::Result<()> {
        const MAX: usize = 16;
        let mut evs = [EpollEvent::empty(); MAX];
        out.clear();
        match self.ep.wait(&mut evs, timeout) {
            Ok(n) => {
                out.extend(evs[..n].iter().map(|e| e.data()));
                Ok(())
            }
            Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
