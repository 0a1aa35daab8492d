//! The one place of `eal::mp` that talks to the kernel, through `nix`:
//! AF_UNIX datagram sockets with `SCM_RIGHTS`, `ppoll`, an eventfd, a
//! timerfd, process liveness and `pidfd_open` (the only raw syscall left: nix has no wrapper).
//! Everything above this file is safe Rust and sees `io::Error`s.

use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::socket::{
    bind, connect, recvmsg, sendmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType, SockaddrLike, UnixAddr,
};
use nix::sys::time::{TimeSpec, TimeVal};
use nix::sys::timer::Expiration;
use nix::sys::timerfd::{ClockId, TimerFd, TimerFlags, TimerSetTimeFlags};

/// Most fds a received datagram may carry before we call it malformed.
pub(crate) const RECV_MAX_FDS: usize = 16;

/// The kernel's limit of fds in one datagram (`SCM_MAX_FD`). The control
/// buffer holds that many so that a batch over the protocol limit is always
/// received whole (and closed) instead of being cut with `MSG_CTRUNC`.
const SCM_MAX_FD: usize = 253;

/// Bytes of `sun_path`, including the terminating NUL of a path address.
const SUN_PATH_LEN: usize = 108;

/// Address of a datagram socket: a file in the runtime dir, an abstract name
/// (a test's autobound sender) or nothing (an unbound sender).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SockAddr {
    Path(PathBuf),
    Abstract(Vec<u8>),
    Unnamed,
}

impl SockAddr {
    /// Longest path a socket address can hold.
    pub(crate) const MAX_PATH: usize = SUN_PATH_LEN - 1;

    fn to_unix(&self) -> io::Result<UnixAddr> {
        let bad = || io::Error::new(io::ErrorKind::InvalidInput, "socket address too long or contains NUL");
        match self {
            SockAddr::Path(p) => {
                if p.as_os_str().len() > Self::MAX_PATH {
                    return Err(bad());
                }
                UnixAddr::new(p.as_path()).map_err(|_| bad())
            }
            SockAddr::Abstract(name) => {
                if name.len() + 1 > Self::MAX_PATH {
                    return Err(bad());
                }
                UnixAddr::new_abstract(name).map_err(|_| bad())
            }
            SockAddr::Unnamed => {
                Err(io::Error::new(io::ErrorKind::InvalidInput, "peer has no address (unbound socket)"))
            }
        }
    }

    fn from_unix(a: Option<&UnixAddr>) -> SockAddr {
        let Some(a) = a else {
            return SockAddr::Unnamed;
        };
        // An unbound sender comes with an address length of 0, on which
        // nix's accessors assert: look at the length first.
        if (a.len() as usize) <= std::mem::size_of::<libc::sa_family_t>() {
            return SockAddr::Unnamed;
        }
        if let Some(p) = a.path() {
            SockAddr::Path(p.to_path_buf())
        } else if let Some(name) = a.as_abstract() {
            SockAddr::Abstract(name.to_vec())
        } else {
            SockAddr::Unnamed
        }
    }
}

/// One datagram taken off a socket.
pub(crate) struct Received {
    pub len: usize,
    /// The datagram was longer than the buffer (MSG_TRUNC).
    pub truncated: bool,
    /// Some control data (fds) did not fit (MSG_CTRUNC); those were closed by the kernel.
    pub ctrunc: bool,
    /// The fds that came with it, now owned by this process.
    pub fds: Vec<OwnedFd>,
    pub from: SockAddr,
}

/// Whether a send error means the receiver's queue is full (try later).
pub(crate) fn is_busy(e: &io::Error) -> bool {
    matches!(errno_of(e), Some(Errno::EAGAIN) | Some(Errno::ENOBUFS))
}

/// Whether a send error means nobody is bound there any more.
pub(crate) fn is_dead_peer(e: &io::Error) -> bool {
    matches!(errno_of(e), Some(Errno::ECONNREFUSED) | Some(Errno::ENOENT) | Some(Errno::ENOTSOCK))
}

/// Whether a send error means the socket file is there but nobody is bound
/// to it (its owner died without unlinking it).
pub(crate) fn is_refused(e: &io::Error) -> bool {
    errno_of(e) == Some(Errno::ECONNREFUSED)
}

/// Whether an error means the process does not exist.
pub(crate) fn is_no_such_process(e: &io::Error) -> bool {
    errno_of(e) == Some(Errno::ESRCH)
}

fn errno_of(e: &io::Error) -> Option<Errno> {
    e.raw_os_error().map(Errno::from_raw)
}

/// An AF_UNIX SOCK_DGRAM socket, close-on-exec.
#[derive(Debug)]
pub(crate) struct Sock {
    fd: OwnedFd,
    /// A socket file to remove when the socket closes (reply sockets).
    unlink_on_drop: Option<PathBuf>,
    /// The peer this socket is connected to ([`Sock::connect_to`]): datagrams to it go
    /// without an address, so the kernel does not walk its path on every send. Cleared
    /// when the kernel drops the connection (the peer closed).
    peer: Option<SockAddr>,
    /// False once a send found the connection gone.
    connected: std::sync::atomic::AtomicBool,
}

impl Drop for Sock {
    fn drop(&mut self) {
        if let Some(p) = self.unlink_on_drop.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Control buffer with the alignment a `cmsghdr` needs: one header plus
/// [`SCM_MAX_FD`] fds, rounded up.
#[repr(C, align(8))]
struct CmsgBuf([u8; 1040]);

const _: () = {
    // cmsghdr (16 bytes) + 253 fds of 4 bytes, aligned to 8.
    assert!(16 + SCM_MAX_FD * 4 <= 1040);
};

impl Sock {
    fn new() -> io::Result<Sock> {
        let fd = socket(AddressFamily::Unix, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
        Ok(Sock { fd, unlink_on_drop: None, peer: None, connected: std::sync::atomic::AtomicBool::new(false) })
    }

    /// Creates a socket bound to `path` (which must not exist).
    pub(crate) fn bind_path(path: &Path) -> io::Result<Sock> {
        let sock = Sock::new()?;
        let addr = SockAddr::Path(path.to_path_buf()).to_unix()?;
        bind(sock.fd.as_raw_fd(), &addr)?;
        Ok(sock)
    }

    /// Creates a socket bound to the file `path` (replacing a stale one), removed again
    /// when the socket closes. Unlike abstract names, a file reaches across network
    /// namespaces, so processes of one group may live in different namespaces.
    pub(crate) fn bind_temp(path: &Path) -> io::Result<Sock> {
        let _ = std::fs::remove_file(path);
        let mut s = Sock::bind_path(path)?;
        s.unlink_on_drop = Some(path.to_path_buf());
        Ok(s)
    }

    /// Creates a socket bound to a kernel-chosen abstract name, released on close.
    #[cfg(test)]
    pub(crate) fn bind_auto() -> io::Result<Sock> {
        let sock = Sock::new()?;
        // An address of the family alone asks Linux to autobind an abstract name.
        bind(sock.fd.as_raw_fd(), &UnixAddr::new_unnamed())?;
        Ok(sock)
    }

    /// Connects this socket to `to`, whose path the kernel then resolves once instead of on
    /// every send (about 1-2 µs a datagram in a VM). It then takes datagrams from `to`
    /// only: for sockets that hear from one peer (a secondary's reply sockets). Sends to
    /// other addresses still work.
    pub(crate) fn connect_to(&mut self, to: &SockAddr) -> io::Result<()> {
        connect(self.fd.as_raw_fd(), &to.to_unix()?)?;
        self.peer = Some(to.clone());
        self.connected.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Sends one datagram with `fds` attached, never blocking (EAGAIN when the
    /// receiver's queue is full).
    pub(crate) fn send_to(&self, to: &SockAddr, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        self.send(to, data, fds, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL)
    }

    fn send(&self, to: &SockAddr, data: &[u8], fds: &[BorrowedFd<'_>], flags: MsgFlags) -> io::Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.peer.as_ref() == Some(to) && self.connected.load(Relaxed) {
            match self.send_addr(None, data, fds, flags) {
                // The kernel drops a connection whose peer closed (ECONNREFUSED on that
                // send, ENOTCONN after): go by the address from now on.
                Err(e) if matches!(errno_of(&e), Some(Errno::ENOTCONN | Errno::ECONNREFUSED)) => {
                    self.connected.store(false, Relaxed);
                }
                r => return r,
            }
        }
        self.send_addr(Some(&to.to_unix()?), data, fds, flags)
    }

    fn send_addr(
        &self,
        addr: Option<&UnixAddr>,
        data: &[u8],
        fds: &[BorrowedFd<'_>],
        flags: MsgFlags,
    ) -> io::Result<()> {
        if fds.len() > RECV_MAX_FDS {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many fds"));
        }
        let mut raw = [0 as RawFd; RECV_MAX_FDS];
        for (r, f) in raw.iter_mut().zip(fds) {
            *r = f.as_raw_fd();
        }
        let rights = [ControlMessage::ScmRights(&raw[..fds.len()])];
        let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
        let iov = [IoSlice::new(data)];
        loop {
            match sendmsg(self.fd.as_raw_fd(), &iov, cmsgs, flags, addr) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends one datagram like [`Sock::send_to`], but waits up to `timeout`
    /// for room in the receiver's queue: the kernel wakes us when the
    /// receiver takes a datagram, so we are not outrun by senders that
    /// retry faster than we would poll. EAGAIN when the time is up.
    pub(crate) fn send_to_wait(
        &self,
        to: &SockAddr,
        data: &[u8],
        fds: &[BorrowedFd<'_>],
        timeout: Duration,
    ) -> io::Result<()> {
        // A zero SO_SNDTIMEO means "forever": wait at least a microsecond.
        let t = TimeVal::from(libc::timeval {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_usec: timeout.subsec_micros().max(u32::from(timeout.is_zero())) as libc::suseconds_t,
        });
        setsockopt(&self.fd, sockopt::SendTimeout, &t)?;
        self.send(to, data, fds, MsgFlags::MSG_NOSIGNAL)
    }

    /// Takes one datagram into `buf`, without blocking when `nonblock`.
    /// Received fds are close-on-exec and owned by the result.
    pub(crate) fn recv(&self, buf: &mut [u8], nonblock: bool) -> io::Result<Received> {
        let mut cbuf = CmsgBuf([0; 1040]);
        let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
        if nonblock {
            flags |= MsgFlags::MSG_DONTWAIT;
        }
        let mut iov = [IoSliceMut::new(buf)];
        let buf_len = iov[0].len();
        let r = loop {
            match recvmsg::<UnixAddr>(self.fd.as_raw_fd(), &mut iov, Some(&mut cbuf.0[..]), flags) {
                Ok(r) => break r,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let mut fds = Vec::new();
        // With room for SCM_MAX_FD fds the control data is never cut in
        // practice; if it were, nix refuses to walk it (ENOBUFS) and the
        // datagram is reported as ctrunc and dropped.
        if let Ok(cmsgs) = r.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(v) = c {
                    for fd in v {
                        // SAFETY: every fd of an SCM_RIGHTS message was just
                        // installed in this process by recvmsg and is owned by
                        // no one else.
                        fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                    }
                }
            }
        }
        Ok(Received {
            len: r.bytes.min(buf_len),
            truncated: r.flags.contains(MsgFlags::MSG_TRUNC),
            ctrunc: r.flags.contains(MsgFlags::MSG_CTRUNC),
            fds,
            from: SockAddr::from_unix(r.address.as_ref()),
        })
    }
}

impl AsFd for Sock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Whether a datagram socket is bound at `path`: false when the file is
/// missing or nobody listens on it any more (a stale socket of a dead
/// process); true otherwise (including when unsure).
pub(crate) fn socket_is_live(path: &Path) -> bool {
    let Ok(s) = Sock::new() else { return true };
    let Ok(addr) = SockAddr::Path(path.to_path_buf()).to_unix() else { return true };
    !matches!(connect(s.fd.as_raw_fd(), &addr), Err(Errno::ECONNREFUSED) | Err(Errno::ENOENT))
}

/// Waits until one of `fds` is readable or `timeout` passes (`None`: forever).
/// Returns, for each fd, whether it is readable (or hung up / in error).
pub(crate) fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<PollFd<'_>> = fds.iter().map(|fd| PollFd::new(*fd, PollFlags::POLLIN)).collect();
    let ts = timeout.map(TimeSpec::from_duration);
    match ppoll(&mut pfds, ts, None) {
        Ok(_) => Ok(pfds
            .iter()
            .map(|p| {
                p.revents().is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR))
            })
            .collect()),
        Err(Errno::EINTR) => Ok(vec![false; pfds.len()]),
        Err(e) => Err(e.into()),
    }
}

/// A periodic timer fd: readable every `period` until drained.
#[derive(Debug)]
pub(crate) struct Ticker {
    fd: TimerFd,
}

impl Ticker {
    pub(crate) fn new(period: Duration) -> io::Result<Ticker> {
        let fd = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
        fd.set(Expiration::Interval(TimeSpec::from_duration(period)), TimerSetTimeFlags::empty())?;
        Ok(Ticker { fd })
    }

    /// Makes the timer not readable until its next tick.
    pub(crate) fn drain(&self) {
        // EAGAIN just means it had not ticked.
        let _ = self.fd.wait();
    }
}

impl AsFd for Ticker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A pidfd for `pid`: readable once that process has exited.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: pidfd_open(pid, 0) takes no pointers; the result is checked.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    let fd = Errno::result(r)?;
    // SAFETY: fd is a new descriptor returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
