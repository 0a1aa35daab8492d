//! A host-side frame peer for a NIC wired with `-netdev stream`: each frame
//! on the socket is a 4-byte big-endian length then the raw Ethernet frame
//! (no FCS).

use crate::error::{Error, Result};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Largest frame accepted (a jumbo frame plus headroom).
pub const MAX_FRAME: usize = 65536;

/// Longest a send may wait for QEMU to take the bytes: QEMU stops reading the socket while
/// the guest NIC cannot receive (its ring full, the guest program not polling), and a test
/// must then fail, not hang.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection to one NIC's stream netdev.
#[derive(Debug)]
pub struct Peer {
    stream: UnixStream,
    path: PathBuf,
    pending: Vec<u8>,
}

/// Encodes one frame as it travels on the socket.
pub fn encode_frame(frame: &[u8]) -> Result<Vec<u8>> {
    if frame.is_empty() || frame.len() > MAX_FRAME {
        return Err(Error::Frame(format!("length {} not in 1..={MAX_FRAME}", frame.len())));
    }
    let mut out = Vec::with_capacity(4 + frame.len());
    out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
    out.extend_from_slice(frame);
    Ok(out)
}

/// Takes one complete frame off the front of `buf`, if it holds one.
pub fn decode_frame(buf: &mut Vec<u8>) -> Result<Option<Vec<u8>>> {
    let Some(len) = buf.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
        return Ok(None);
    };
    if len > MAX_FRAME {
        return Err(Error::Frame(format!("peer announced a {len}-byte frame")));
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    let frame = buf[4..4 + len].to_vec();
    buf.drain(..4 + len);
    Ok(Some(frame))
}

impl Peer {
    /// Connects to the socket QEMU serves, retrying until `timeout` while it
    /// does not exist yet.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self> {
        let deadline = Instant::now() + timeout;
        loop {
            match UnixStream::connect(path) {
                Ok(stream) => {
                    let peer = Peer { stream, path: path.to_path_buf(), pending: Vec::new() };
                    peer.stream.set_write_timeout(Some(SEND_TIMEOUT)).map_err(|e| peer.sock_err(e))?;
                    return Ok(peer);
                }
                Err(e)
                    if Instant::now() < deadline
                        && matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(source) => return Err(Error::Socket { what: "peer", path: path.display().to_string(), source }),
            }
        }
    }

    fn sock_err(&self, source: std::io::Error) -> Error {
        Error::Socket { what: "peer", path: self.path.display().to_string(), source }
    }

    /// Sends one Ethernet frame to the guest NIC; an error when QEMU has taken no bytes for
    /// [`SEND_TIMEOUT`] (the guest stopped receiving).
    pub fn send(&mut self, frame: &[u8]) -> Result<()> {
        let bytes = encode_frame(frame)?;
        self.stream.write_all(&bytes).map_err(|e| {
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                Error::Frame(format!(
                    "QEMU took no bytes of a frame for {} s on {}: the guest NIC stopped receiving \
                     (its ring full and the guest program not polling)",
                    SEND_TIMEOUT.as_secs(),
                    self.path.display()
                ))
            } else {
                self.sock_err(e)
            }
        })
    }

    /// Receives the next frame from the guest NIC; `Ok(None)` on timeout.
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = decode_frame(&mut self.pending)? {
                return Ok(Some(f));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left)).map_err(|e| self.sock_err(e))?;
            let mut buf = [0u8; 16384];
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(self.sock_err(ErrorKind::UnexpectedEof.into())),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) => return Err(self.sock_err(e)),
            }
        }
    }

    /// Receives frames until one satisfies `pred` (others are dropped);
    /// `Ok(None)` on timeout.
    pub fn recv_matching(&mut self, timeout: Duration, mut pred: impl FnMut(&[u8]) -> bool) -> Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left)? {
                Some(f) if pred(&f) => return Ok(Some(f)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn frames_are_length_prefixed_big_endian() {
        let enc = encode_frame(&[0xaa; 300]).unwrap();
        assert_eq!(&enc[..4], &[0, 0, 1, 44]);
        let mut buf = enc.clone();
        buf.extend_from_slice(&enc[..10]);
        assert_eq!(decode_frame(&mut buf).unwrap().unwrap().len(), 300);
        assert_eq!(decode_frame(&mut buf).unwrap(), None, "partial frame waits");
        assert_eq!(buf.len(), 10);
        assert!(encode_frame(&[]).is_err());
        let mut huge = vec![0xff, 0xff, 0xff, 0xff];
        assert!(decode_frame(&mut huge).is_err());
    }

    #[test]
    fn send_and_receive_over_a_socket() {
        let dir = std::env::temp_dir().join(format!("vmtest-peer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let echo = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut b = [0u8; 64];
            let n = s.read(&mut b).unwrap();
            // Echo back in two pieces to exercise reassembly.
            s.write_all(&b[..3]).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s.write_all(&b[3..n]).unwrap();
        });
        let mut p = Peer::connect(&path, Duration::from_secs(2)).unwrap();
        p.send(b"0123456789abcdef").unwrap();
        let got = p.recv(Duration::from_secs(5)).unwrap();
        assert_eq!(got.as_deref(), Some(&b"0123456789abcdef"[..]));
        echo.join().unwrap();
        assert!(p.recv(Duration::from_millis(50)).is_err(), "closed peer is an error");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn connect_times_out_on_missing_socket() {
        let t = Instant::now();
        let err = Peer::connect(Path::new("/nonexistent/x.sock"), Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, Error::Socket { what: "peer", .. }));
        assert!(t.elapsed() >= Duration::from_millis(200));
    }
}
