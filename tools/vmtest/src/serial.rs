//! A live capture of QEMU's serial output: a reader thread appends to a
//! shared buffer that callers can snapshot or wait on.

use crate::console::{clean, READY};
use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    raw: Vec<u8>,
    closed: bool,
    ready_at: Option<Instant>,
}

/// The shared console buffer.
#[derive(Clone, Default)]
pub struct SerialLog {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl SerialLog {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a thread copying `src` into the log (and to stderr if `echo`)
    /// until end of file.
    pub fn capture<R: Read + Send + 'static>(&self, mut src: R, echo: bool) -> JoinHandle<()> {
        let log = self.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = match src.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if echo {
                    let _ = std::io::stderr().write_all(&buf[..n]);
                }
                log.append(&buf[..n]);
            }
            log.lock().closed = true;
            log.inner.1.notify_all();
        })
    }

    /// Appends bytes (as the reader thread does).
    pub fn append(&self, bytes: &[u8]) {
        let mut st = self.lock();
        let from = st.raw.len().saturating_sub(READY.len());
        st.raw.extend_from_slice(bytes);
        if st.ready_at.is_none() && st.raw[from..].windows(READY.len()).any(|w| w == READY.as_bytes()) {
            st.ready_at = Some(Instant::now());
        }
        drop(st);
        self.inner.1.notify_all();
    }

    /// The log so far, `\r` removed.
    pub fn text(&self) -> String {
        clean(&self.lock().raw)
    }

    /// When the guest's `/init` reported ready, if it has.
    pub fn ready_at(&self) -> Option<Instant> {
        self.lock().ready_at
    }

    /// Waits until the log contains `pattern`; false on timeout or when the
    /// source closed without it.
    pub fn wait_for(&self, pattern: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if clean(&st.raw).contains(pattern) {
                return true;
            }
            let now = Instant::now();
            if st.closed || now >= deadline {
                return false;
            }
            st = self.inner.1.wait_timeout(st, deadline - now).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_sees_text_from_the_reader_thread() {
        let log = SerialLog::default();
        let (r, mut w) = std::os::unix::net::UnixStream::pair().unwrap();
        let t = log.capture(r, false);
        assert!(!log.wait_for("hello", Duration::from_millis(20)));
        w.write_all(b"boot\r\n@@VMTEST:READY@@\r\nhello").unwrap();
        assert!(log.wait_for("hello", Duration::from_secs(5)));
        assert!(log.ready_at().is_some());
        drop(w);
        t.join().unwrap();
        assert_eq!(log.text(), "boot\n@@VMTEST:READY@@\nhello");
        assert!(!log.wait_for("never", Duration::from_secs(5)), "closed source stops the wait");
    }

    #[test]
    fn ready_marker_split_across_chunks_is_seen() {
        let log = SerialLog::default();
        log.append(b"xx@@VMTEST:RE");
        assert!(log.ready_at().is_none());
        log.append(b"ADY@@\n");
        assert!(log.ready_at().is_some());
    }
}
