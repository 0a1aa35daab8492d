//! The telemetry server: listening `SOCK_SEQPACKET` sockets and one thread that serves every
//! client from a single `poll` loop (at most [`MAX_CLIENTS`] at once; a client that does not
//! read its replies is dropped rather than allowed to block the others).

use super::{handle_message, info, MAX_INPUT_LEN};
use crate::error::EalError;
use crate::runtime::{RuntimeDir, TELEMETRY_SOCKET};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// Most clients served at once; one more is told so and closed.
pub const MAX_CLIENTS: usize = 256;
/// Backlog of each listening socket.
const BACKLOG: i32 = 256;

fn sockaddr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain data; zero is a valid value.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let b = path.as_os_str().as_bytes();
    if b.len() >= a.sun_path.len() || b.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("socket path {} is too long (at most {} bytes)", path.display(), a.sun_path.len() - 1),
        ));
    }
    for (d, s) in a.sun_path.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + b.len() + 1;
    Ok((a, len as libc::socklen_t))
}

fn seqpacket_socket(nonblock: bool) -> io::Result<OwnedFd> {
    let flags = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC | if nonblock { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: socket has no memory preconditions.
    let fd = unsafe { libc::socket(libc::AF_UNIX, flags, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind(fd: &OwnedFd, path: &Path) -> io::Result<()> {
    let (a, len) = sockaddr(path)?;
    // SAFETY: `a` is a valid sockaddr_un of `len` bytes; fd is a valid socket.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), (&a as *const libc::sockaddr_un).cast(), len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// True when a process listens on the socket at `path`. The connect does not wait: a
/// listener whose backlog is full (a stuck process) counts as in use.
fn in_use(path: &Path) -> bool {
    let Ok(fd) = seqpacket_socket(true) else { return false };
    let Ok((a, len)) = sockaddr(path) else { return false };
    // SAFETY: `a` is a valid sockaddr_un of `len` bytes; fd is a valid socket.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), (&a as *const libc::sockaddr_un).cast(), len) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
}

/// A listening socket bound in a directory, removed at drop if it is still ours.
struct Listener {
    fd: OwnedFd,
    dir: RuntimeDir,
    ino: u64,
}

impl Listener {
    fn bind_in(dir: RuntimeDir) -> Result<Listener, EalError> {
        match Self::bind_checked(&dir) {
            Ok((fd, ino)) => Ok(Listener { fd, dir, ino }),
            Err(e) => {
                if dir.created() {
                    dir.remove_if_empty();
                }
                Err(e)
            }
        }
    }

    fn bind_checked(dir: &RuntimeDir) -> Result<(OwnedFd, u64), EalError> {
        let shown = dir.path().join(TELEMETRY_SOCKET);
        let via = dir.fd_path().join(TELEMETRY_SOCKET);
        let fail = |what: &str, e: io::Error| EalError::Telemetry(format!("{what} {}: {e}", shown.display()));
        let fd = seqpacket_socket(true).map_err(|e| fail("creating a socket for", e))?;
        if let Err(e) = bind(&fd, &via) {
            if e.raw_os_error() != Some(libc::EADDRINUSE) {
                return Err(fail("binding", e));
            }
            // Looked at without following a symlink before anything connects to it.
            match dir.stat_entry(TELEMETRY_SOCKET) {
                Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFSOCK => {}
                _ => {
                    return Err(EalError::Telemetry(format!(
                        "{} exists and is not a socket; remove it (rm {}) or start with --no-telemetry",
                        shown.display(),
                        shown.display()
                    )))
                }
            }
            if in_use(&via) {
                return Err(EalError::Telemetry(format!(
                    "{} is in use: a live process (DPDK or Bypass) of this --file-prefix serves telemetry there; \
                     stop it, use another --file-prefix, or start with --no-telemetry",
                    shown.display()
                )));
            }
            // A dead process's socket: replace it, as DPDK does.
            dir.remove(TELEMETRY_SOCKET);
            bind(&fd, &via).map_err(|e| fail("binding", e))?;
        }
        let ino = dir.stat_entry(TELEMETRY_SOCKET).map(|st| st.st_ino).unwrap_or(0);
        // SAFETY: fd is a valid, bound socket.
        if unsafe { libc::listen(fd.as_raw_fd(), BACKLOG) } != 0 {
            let e = io::Error::last_os_error();
            dir.remove(TELEMETRY_SOCKET);
            return Err(fail("listening on", e));
        }
        Ok((fd, ino))
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join(TELEMETRY_SOCKET)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Only our own socket: a later process may have replaced it.
        if self.dir.stat_entry(TELEMETRY_SOCKET).is_some_and(|st| st.st_ino == self.ino) {
            self.dir.remove(TELEMETRY_SOCKET);
        }
        self.dir.remove_if_empty();
    }
}

/// The primary's telemetry server. Dropping it stops the thread and removes its sockets.
pub struct Telemetry {
    waker: UnixStream,
    thread: Option<JoinHandle<()>>,
    paths: Vec<PathBuf>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").field("paths", &self.paths).finish()
    }
}

impl Telemetry {
    /// Binds `dpdk_telemetry.v2` in each of `dirs` (checked, open directories) and starts
    /// serving. Fails with a clear error when a socket cannot be bound, e.g. because a live
    /// process serves one there already.
    pub fn start(dirs: Vec<RuntimeDir>) -> Result<Telemetry, EalError> {
        super::register_core_commands();
        let mut listeners = Vec::new();
        for d in dirs {
            listeners.push(Listener::bind_in(d)?);
        }
        let paths: Vec<PathBuf> = listeners.iter().map(Listener::path).collect();
        let (waker, wake_rx) = UnixStream::pair().map_err(|e| EalError::io("creating the telemetry waker", e))?;
        let thread = std::thread::Builder::new()
            .name("bypass-telemetry".into())
            .spawn(move || {
                crate::lcore::enter_control_thread();
                serve(listeners, wake_rx)
            })
            .map_err(|e| EalError::io("spawning the telemetry thread", e))?;
        for p in &paths {
            tracing::info!("telemetry socket: {}", p.display());
        }
        Ok(Telemetry { waker, thread: Some(thread), paths })
    }

    /// The paths of the sockets served.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        let _ = (&self.waker).write_all(&[1]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn send_msg(fd: RawFd, msg: &[u8]) -> bool {
    // SAFETY: msg is a valid buffer of msg.len() bytes; fd is an open socket.
    let n = unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
    n == msg.len() as isize
}

/// Reads one message into `buf`; returns its full length (which may exceed `buf`: the rest
/// was discarded), 0 at end of connection, or None when nothing is there or on error.
fn recv_msg(fd: RawFd, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: buf is a valid writable buffer of buf.len() bytes; fd is an open socket.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC | libc::MSG_DONTWAIT) };
    (n >= 0).then_some(n as usize)
}

fn serve(listeners: Vec<Listener>, mut waker: UnixStream) {
    let mut clients: Vec<OwnedFd> = Vec::new();
    let mut buf = vec![0u8; MAX_INPUT_LEN + 1];
    let hello = info().to_string();
    loop {
        let mut fds: Vec<libc::pollfd> = std::iter::once(waker.as_raw_fd())
            .chain(listeners.iter().map(|l| l.fd.as_raw_fd()))
            .chain(clients.iter().map(|c| c.as_raw_fd()))
            .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
            .collect();
        // SAFETY: fds is a valid array of fds.len() pollfd structures.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if rc < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            tracing::error!("telemetry: poll failed: {}; telemetry stops", io::Error::last_os_error());
            return;
        }
        if fds[0].revents != 0 {
            let _ = waker.read(&mut [0u8; 8]);
            return;
        }
        // Clients first (their indexes shift when new ones are added).
        let base = 1 + listeners.len();
        let mut gone = Vec::new();
        for (i, p) in fds[base..].iter().enumerate() {
            if p.revents == 0 {
                continue;
            }
            let fd = p.fd;
            if p.revents & libc::POLLIN != 0 {
                match recv_msg(fd, &mut buf) {
                    Some(0) => gone.push(i),
                    Some(n) => {
                        let out = if n > MAX_INPUT_LEN { super::oversized_reply(n) } else { handle_message(&buf[..n]) };
                        if !send_msg(fd, out.as_bytes()) {
                            tracing::debug!("telemetry: a client does not read its replies; closing it");
                            gone.push(i);
                        }
                    }
                    None => {
                        let e = io::Error::last_os_error();
                        if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted {
                            gone.push(i);
                        }
                    }
                }
            } else {
                // POLLHUP / POLLERR without data.
                gone.push(i);
            }
        }
        for i in gone.into_iter().rev() {
            clients.swap_remove(i);
        }
        for l in &listeners {
            loop {
                // SAFETY: l.fd is a listening socket; null address pointers are allowed.
                let fd = unsafe {
                    libc::accept4(
                        l.fd.as_raw_fd(),
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                    )
                };
                if fd < 0 {
                    break;
                }
                // SAFETY: fd was just returned by accept4 and is owned by nobody else.
                let c = unsafe { OwnedFd::from_raw_fd(fd) };
                if clients.len() >= MAX_CLIENTS {
                    let msg = super::error_reply(format!(
                        "too many telemetry clients ({MAX_CLIENTS} connected); retry when one has left"
                    ));
                    send_msg(c.as_raw_fd(), msg.as_bytes());
                    continue;
                }
                if send_msg(c.as_raw_fd(), hello.as_bytes()) {
                    clients.push(c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::DirBuilderExt;

    fn base(tag: &str) -> PathBuf {
        let b = std::env::temp_dir().join(format!("bypass-tel-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&b);
        std::fs::DirBuilder::new().mode(0o700).create(&b).unwrap();
        b
    }

    fn client(path: &Path) -> OwnedFd {
        let fd = seqpacket_socket(false).unwrap();
        let (a, len) = sockaddr(path).unwrap();
        // SAFETY: `a` is a valid sockaddr_un of `len` bytes.
        assert_eq!(unsafe { libc::connect(fd.as_raw_fd(), (&a as *const libc::sockaddr_un).cast(), len) }, 0);
        fd
    }

    fn recv(fd: &OwnedFd) -> String {
        let mut b = vec![0u8; super::super::MAX_OUTPUT_LEN + 1];
        // SAFETY: b is a valid writable buffer of b.len() bytes.
        let n = unsafe { libc::recv(fd.as_raw_fd(), b.as_mut_ptr().cast(), b.len(), 0) };
        assert!(n > 0);
        String::from_utf8(b[..n as usize].to_vec()).unwrap()
    }

    #[test]
    fn serves_replaces_stale_refuses_live_and_cleans_up() {
        let b = base("srv");
        let dir = || RuntimeDir::open_in(&b, "grp", true).unwrap();
        let sock = b.join("grp").join(TELEMETRY_SOCKET);
        // A stale socket (nobody listens) is replaced.
        drop(dir());
        {
            let fd = seqpacket_socket(false).unwrap();
            bind(&fd, &sock).unwrap();
        }
        assert!(sock.exists() && !in_use(&sock));
        let t = Telemetry::start(vec![dir()]).unwrap();
        assert_eq!(t.paths(), std::slice::from_ref(&sock));
        let c = client(&sock);
        let hello: serde_json::Value = serde_json::from_str(&recv(&c)).unwrap();
        assert_eq!(hello["pid"], std::process::id());
        assert!(send_msg(c.as_raw_fd(), b"/info"));
        assert!(recv(&c).starts_with("{\"/info\":{\"version\":\"Bypass "));
        // Clients past the bound are told so and closed; the others stay served.
        let many: Vec<OwnedFd> = (1..MAX_CLIENTS).map(|_| client(&sock)).collect();
        for m in &many {
            assert!(recv(m).contains("\"max_output_len\":16384"));
        }
        let extra = client(&sock);
        assert!(recv(&extra).contains("too many telemetry clients"));
        assert!(send_msg(many[0].as_raw_fd(), b"/"));
        assert!(recv(&many[0]).starts_with("{\"/\":["));
        drop(many);
        // A second server on the same directory is refused: the socket is live.
        let e = Telemetry::start(vec![dir()]).unwrap_err().to_string();
        assert!(e.contains("is in use") && e.contains("--no-telemetry"), "{e}");
        drop(t);
        assert!(!sock.exists(), "removed at drop");
        // A file that is not a socket is never removed.
        std::fs::create_dir_all(b.join("grp")).unwrap();
        std::fs::write(&sock, b"x").unwrap();
        let e = Telemetry::start(vec![dir()]).unwrap_err().to_string();
        assert!(e.contains("is not a socket"), "{e}");
        assert_eq!(std::fs::read(&sock).unwrap(), b"x");
        let _ = std::fs::remove_dir_all(&b);
    }
}
