//! A minimal epoll instance: the interrupt thread's only system interface, on `nix`
//! (no `unsafe` here).

use nix::sys::epoll::{Epoll as NixEpoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::io;
use std::os::fd::BorrowedFd;

/// An epoll fd (close-on-exec).
#[derive(Debug)]
pub(crate) struct Epoll {
    ep: NixEpoll,
}

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    pub(crate) fn new() -> io::Result<Epoll> {
        Ok(Epoll { ep: NixEpoll::new(EpollCreateFlags::EPOLL_CLOEXEC)? })
    }

    /// Watches `fd` for input; events carry `token`.
    pub(crate) fn add(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        Ok(self.ep.add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token))?)
    }

    /// Stops watching `fd`.
    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(self.ep.delete(fd)?)
    }

    /// Waits (no timeout) for events; returns the tokens of the ready fds. EINTR gives an
    /// empty list.
    pub(crate) fn wait(&self, out: &mut Vec<u64>) -> io::Result<()> {
        const MAX: usize = 16;
        let mut evs = [EpollEvent::empty(); MAX];
        out.clear();
        match self.ep.wait(&mut evs, EpollTimeout::NONE) {
            Ok(n) => {
                out.extend(evs[..n].iter().map(|e| e.data()));
                Ok(())
            }
            Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
