//! The QEMU human monitor (HMP) over its unix socket: link up/down.

use crate::error::{Error, Result};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PROMPT: &str = "(qemu) ";
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to QEMU's HMP monitor.
#[derive(Debug)]
pub struct Monitor {
    stream: UnixStream,
    path: PathBuf,
}

/// Strips terminal escape sequences and `\r` from HMP output.
pub fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // CSI: parameters until a final byte in @..~.
                    for d in chars.by_ref() {
                        if ('@'..='~').contains(&d) {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The reply to `command` in a cleaned HMP transcript: the text after the
/// echoed command line, up to the next prompt.
pub fn reply_text(transcript: &str, command: &str) -> String {
    let body = transcript.strip_suffix(PROMPT).unwrap_or(transcript);
    let body = match body.rfind(command) {
        Some(i) => &body[i + command.len()..],
        None => body,
    };
    body.trim().to_string()
}

impl Monitor {
    /// Connects and reads the greeting, retrying until `timeout` while the
    /// socket does not exist yet.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e)
                    if Instant::now() < deadline
                        && matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(source) => return Err(Error::Socket { what: "monitor", path: path.display().to_string(), source }),
            }
        };
        let mut m = Monitor { stream, path: path.to_path_buf() };
        m.read_to_prompt()?;
        Ok(m)
    }

    fn sock_err(&self, source: std::io::Error) -> Error {
        Error::Socket { what: "monitor", path: self.path.display().to_string(), source }
    }

    fn read_to_prompt(&mut self) -> Result<String> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut raw = Vec::new();
        loop {
            let text = strip_escapes(&String::from_utf8_lossy(&raw));
            if text.ends_with(PROMPT) {
                return Ok(text);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.sock_err(std::io::Error::new(ErrorKind::TimedOut, format!("no prompt; got {text:?}"))));
            }
            self.stream.set_read_timeout(Some(left)).map_err(|e| self.sock_err(e))?;
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(self.sock_err(ErrorKind::UnexpectedEof.into())),
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) => return Err(self.sock_err(e)),
            }
        }
    }

    /// Runs an HMP command and returns its reply text.
    pub fn command(&mut self, command: &str) -> Result<String> {
        if command.contains('\n') {
            return Err(Error::InvalidArgument("monitor command must be one line".into()));
        }
        self.stream.write_all(format!("{command}\n").as_bytes()).map_err(|e| self.sock_err(e))?;
        let transcript = self.read_to_prompt()?;
        Ok(reply_text(&transcript, command))
    }

    /// `set_link <netdev> on|off`: the NIC sees its link come up or go down.
    pub fn set_link(&mut self, netdev: &str, up: bool) -> Result<()> {
        let command = format!("set_link {netdev} {}", if up { "on" } else { "off" });
        let reply = self.command(&command)?;
        if reply.is_empty() {
            Ok(())
        } else {
            Err(Error::Monitor { command, reply })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_csi_sequences() {
        assert_eq!(strip_escapes("a\x1b[K\x1b[Db\r\n"), "ab\n");
        assert_eq!(strip_escapes("(qemu) \x1b[1;31mx"), "(qemu) x");
    }

    #[test]
    fn reply_follows_the_echo() {
        let t = "set_link n1 off\n(qemu) ";
        assert_eq!(reply_text(t, "set_link n1 off"), "");
        let t = "set_link n9 off\nError: could not find net client n9\n(qemu) ";
        assert_eq!(reply_text(t, "set_link n9 off"), "Error: could not find net client n9");
    }
}
