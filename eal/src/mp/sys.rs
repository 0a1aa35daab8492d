//! The one place of `eal::mp` that talks to the kernel through `libc`:
//! AF_UNIX datagram sockets with `SCM_RIGHTS`, `ppoll`, an eventfd and
//! `pidfd_open`. Everything above this file is safe Rust.

use std::ffi::OsStr;
use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most fds a received datagram may carry before we call it malformed. The
/// control buffer holds more than the protocol limit so that an oversized
/// batch is seen (and closed) instead of silently truncated.
pub(crate) const RECV_MAX_FDS: usize = 16;

/// Bytes of `sun_path`, including the terminating NUL of a path address.
const SUN_PATH_LEN: usize = 108;

/// Address of a datagram socket: a file in the runtime dir, an abstract name
/// (the per-requester reply sockets) or nothing (an unbound sender).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SockAddr {
    Path(PathBuf),
    Abstract(Vec<u8>),
    Unnamed,
}

impl SockAddr {
    /// Longest path a socket address can hold.
    pub(crate) const MAX_PATH: usize = SUN_PATH_LEN - 1;

    fn to_raw(&self) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
        // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
        let mut sa: libc::sockaddr_un = unsafe { mem::zeroed() };
        sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let base = mem::size_of::<libc::sa_family_t>();
        let (bytes, lead): (&[u8], usize) = match self {
            SockAddr::Path(p) => (p.as_os_str().as_bytes(), 0),
            SockAddr::Abstract(name) => (name.as_slice(), 1),
            SockAddr::Unnamed => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "peer has no address (unbound socket)"))
            }
        };
        if bytes.len() + lead > Self::MAX_PATH || (lead == 0 && bytes.contains(&0)) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "socket address too long or contains NUL"));
        }
        for (i, b) in bytes.iter().enumerate() {
            sa.sun_path[lead + i] = *b as libc::c_char;
        }
        let len = match self {
            // path addresses carry their NUL; abstract ones are length-delimited
            SockAddr::Path(_) => base + bytes.len() + 1,
            _ => base + 1 + bytes.len(),
        };
        Ok((sa, len as libc::socklen_t))
    }

    fn from_raw(sa: &libc::sockaddr_un, len: libc::socklen_t) -> SockAddr {
        let base = mem::size_of::<libc::sa_family_t>();
        let len = (len as usize).min(mem::size_of::<libc::sockaddr_un>());
        if len <= base {
            return SockAddr::Unnamed;
        }
        let path: Vec<u8> = sa.sun_path[..len - base].iter().map(|c| *c as u8).collect();
        if path[0] == 0 {
            SockAddr::Abstract(path[1..].to_vec())
        } else {
            let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
            SockAddr::Path(PathBuf::from(OsStr::from_bytes(&path[..end])))
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

/// An AF_UNIX SOCK_DGRAM socket, close-on-exec.
#[derive(Debug)]
pub(crate) struct Sock {
    fd: OwnedFd,
    /// A socket file to remove when the socket closes (reply sockets).
    unlink_on_drop: Option<std::path::PathBuf>,
}

impl Drop for Sock {
    fn drop(&mut self) {
        if let Some(p) = self.unlink_on_drop.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Control buffer with the alignment a `cmsghdr` needs.
#[repr(C, align(8))]
struct CmsgBuf([u8; 128]);

const _: () = {
    // 16 fds of 4 bytes plus the cmsghdr (16 bytes) must fit.
    assert!(RECV_MAX_FDS * 4 + 16 <= 128);
};

impl Sock {
    fn new() -> io::Result<Sock> {
        // SAFETY: plain syscall with constant arguments; the result is checked.
        let fd = cvt(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: fd was just returned by socket() and is owned by nobody else.
        Ok(Sock { fd: unsafe { OwnedFd::from_raw_fd(fd) }, unlink_on_drop: None })
    }

    /// Creates a socket bound to `path` (which must not exist).
    pub(crate) fn bind_path(path: &Path) -> io::Result<Sock> {
        let sock = Sock::new()?;
        let (sa, len) = SockAddr::Path(path.to_path_buf()).to_raw()?;
        // SAFETY: sa is a valid sockaddr_un of `len` bytes living across the call.
        cvt(unsafe { libc::bind(sock.fd.as_raw_fd(), &sa as *const libc::sockaddr_un as *const libc::sockaddr, len) })?;
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
        // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
        let mut sa: libc::sockaddr_un = unsafe { mem::zeroed() };
        sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let len = mem::size_of::<libc::sa_family_t>() as libc::socklen_t;
        // SAFETY: binding with only the family asks Linux to autobind an
        // abstract name; sa outlives the call and len is within it.
        cvt(unsafe { libc::bind(sock.fd.as_raw_fd(), &sa as *const libc::sockaddr_un as *const libc::sockaddr, len) })?;
        Ok(sock)
    }

    /// Sends one datagram with `fds` attached, never blocking (EAGAIN when the
    /// receiver's queue is full).
    pub(crate) fn send_to(&self, to: &SockAddr, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        let (mut sa, salen) = to.to_raw()?;
        let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
        let mut cbuf = CmsgBuf([0; 128]);
        // SAFETY: msghdr is plain old data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = &mut sa as *mut libc::sockaddr_un as *mut libc::c_void;
        msg.msg_namelen = salen;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            if fds.len() > RECV_MAX_FDS {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many fds"));
            }
            let payload = mem::size_of_val(fds) as u32;
            // SAFETY: CMSG_SPACE is a pure size computation.
            let space = unsafe { libc::CMSG_SPACE(payload) } as usize;
            msg.msg_control = cbuf.0.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = space as _;
            // SAFETY: msg_control points at an aligned buffer of at least
            // `space` bytes (checked by the const assertion above), so the first
            // header and its data (fds.len() raw fds) lie inside it; BorrowedFd is
            // repr(transparent) over RawFd.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(payload) as _;
                let data_ptr = libc::CMSG_DATA(cmsg) as *mut RawFd;
                for (i, fd) in fds.iter().enumerate() {
                    data_ptr.add(i).write_unaligned(fd.as_raw_fd());
                }
            }
        }
        loop {
            // SAFETY: msg and everything it points to (sa, iov, data, cbuf) live
            // across the call; the kernel only reads them.
            let r = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
            match cvt_size(r) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes one datagram into `buf`, without blocking when `nonblock`.
    /// Received fds are close-on-exec and owned by the result.
    pub(crate) fn recv(&self, buf: &mut [u8], nonblock: bool) -> io::Result<Received> {
        // SAFETY: sockaddr_un and msghdr are plain old data; zero is valid.
        let mut sa: libc::sockaddr_un = unsafe { mem::zeroed() };
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
        let mut cbuf = CmsgBuf([0; 128]);
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = &mut sa as *mut libc::sockaddr_un as *mut libc::c_void;
        msg.msg_namelen = mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.0.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = cbuf.0.len() as _;
        let flags = libc::MSG_CMSG_CLOEXEC | if nonblock { libc::MSG_DONTWAIT } else { 0 };
        let len = loop {
            // SAFETY: msg points at sa, iov (-> buf) and cbuf, all writable and
            // alive across the call, with their true sizes.
            let r = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, flags) };
            match cvt_size(r) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let mut fds = Vec::new();
        // SAFETY: after a successful recvmsg the kernel has written well-formed
        // control messages into cbuf and set msg_controllen; CMSG_FIRSTHDR /
        // CMSG_NXTHDR stay within it. Each SCM_RIGHTS fd was just installed in
        // this process and is owned by no one else, so wrapping it is sound.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(cmsg) as *const RawFd;
                    let bytes = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                    for i in 0..bytes / mem::size_of::<RawFd>() {
                        fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok(Received {
            len: len.min(buf.len()),
            truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
            ctrunc: msg.msg_flags & libc::MSG_CTRUNC != 0,
            fds,
            from: SockAddr::from_raw(&sa, msg.msg_namelen),
        })
    }
}

impl AsFd for Sock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Waits until one of `fds` is readable or `timeout` passes (`None`: forever).
/// Returns, for each fd, whether it is readable (or hung up / in error).
pub(crate) fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|fd| libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: pfds is a valid array of pfds.len() pollfd; tsp is null or points
    // at a timespec alive across the call; no signal mask is passed.
    let r = unsafe { libc::ppoll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, tsp, std::ptr::null()) };
    match cvt(r) {
        Ok(_) => Ok(pfds.iter().map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0).collect()),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(vec![false; pfds.len()]),
        Err(e) => Err(e),
    }
}

/// A non-blocking eventfd used to wake the IPC thread.
#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: plain syscall; the result is checked.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: fd was just created and is owned by nobody else.
        Ok(EventFd { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Makes the eventfd readable.
    pub(crate) fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd. A failure
        // (counter saturated) still leaves it readable, which is all we need.
        let _ = unsafe {
            libc::write(self.fd.as_raw_fd(), &one as *const u64 as *const libc::c_void, mem::size_of::<u64>())
        };
    }

    /// Resets the eventfd to not readable.
    pub(crate) fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking
        // eventfd; EAGAIN just means it was not signalled.
        let _ =
            unsafe { libc::read(self.fd.as_raw_fd(), &mut v as *mut u64 as *mut libc::c_void, mem::size_of::<u64>()) };
    }
}

impl AsFd for EventFd {
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
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: r is a new fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// Whether a process with this pid exists (fallback when pidfds are missing).
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence; no pointers involved.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
