//! A raw client of the telemetry socket (DPDK's telemetry v2 protocol over
//! `SOCK_SEQPACKET`), for the tests that query a running primary.

use serde_json::Value;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(60);

/// A raw SEQPACKET client of the telemetry socket.
pub struct Client {
    fd: OwnedFd,
    /// The greeting the server sent on connect.
    pub hello: Value,
}

impl Client {
    /// Connects and reads the greeting.
    pub fn connect(path: &Path) -> std::io::Result<Client> {
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: socket has no memory preconditions.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by socket and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_un is plain data; zero is a valid value.
        let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        a.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in a.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
            *d = *s as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        // SAFETY: `a` is a valid sockaddr_un of `len` bytes.
        if unsafe { libc::connect(fd.as_raw_fd(), (&a as *const libc::sockaddr_un).cast(), len) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let tv = libc::timeval { tv_sec: 10, tv_usec: 0 };
        // SAFETY: tv is a valid timeval of the size given.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        let mut c = Client { fd, hello: Value::Null };
        c.hello = c.recv();
        Ok(c)
    }

    /// Sends one message as it is.
    pub fn send_raw(&self, msg: &[u8]) {
        // SAFETY: msg is a valid buffer of msg.len() bytes.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), libc::MSG_NOSIGNAL) };
        assert_eq!(n, msg.len() as isize, "send: {}", std::io::Error::last_os_error());
    }

    /// Receives one reply, as JSON.
    pub fn recv(&self) -> Value {
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: buf is a valid writable buffer of buf.len() bytes.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        assert!(n > 0, "no reply: {}", std::io::Error::last_os_error());
        let text = std::str::from_utf8(&buf[..n as usize]).expect("UTF-8 reply");
        serde_json::from_str(text).unwrap_or_else(|e| panic!("reply {text:?} is not JSON: {e}"))
    }

    /// Sends `msg` and returns the reply.
    pub fn ask_raw(&self, msg: &[u8]) -> Value {
        self.send_raw(msg);
        self.recv()
    }

    /// Sends `cmd` and returns the data of the reply, checking it is keyed by the command.
    pub fn ask(&self, cmd: &str) -> Value {
        let r = self.ask_raw(cmd.as_bytes());
        let key = cmd.split(',').next().unwrap();
        let o = r.as_object().unwrap_or_else(|| panic!("{cmd}: reply {r} is not an object"));
        assert_eq!(o.len(), 1, "{cmd}: one key in {r}");
        o.get(key).unwrap_or_else(|| panic!("{cmd}: reply {r} is not keyed by {key}")).clone()
    }
}

/// Connects to the socket at `path`, retrying for up to a minute while it does not exist yet.
pub fn connect_retry(path: &Path) -> Client {
    let end = Instant::now() + T;
    loop {
        match Client::connect(path) {
            Ok(c) => return c,
            Err(e) if Instant::now() > end => panic!("cannot connect to {}: {e}", path.display()),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
