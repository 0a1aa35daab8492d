//! Device interrupts in the primary: one thread waits on an epoll set of eventfds (one per
//! armed vector, signalled by VFIO) and runs the handler a driver registered for each.
//! Secondaries have no interrupt thread: they learn of link changes over IPC.

use super::epoll::Epoll;
use super::error::BusError;
use crate::vfio::EventFd;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;

/// A driver's interrupt handler; it gets the eventfd counter (interrupts since the last
/// call, at least 1). It runs on the interrupt thread: keep it short and never block.
pub type IrqHandler = Box<dyn Fn(u64) + Send + Sync>;

const WAKE: u64 = 0;

struct Entry {
    efd: Arc<EventFd>,
    handler: IrqHandler,
}

struct Inner {
    epoll: Epoll,
    wake: EventFd,
    entries: Mutex<HashMap<u64, Arc<Entry>>>,
    next: AtomicU64,
    stop: AtomicBool,
    dispatched: AtomicU64,
}

impl Inner {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The primary's interrupt thread and its handlers.
pub struct Interrupts {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupts").field("handlers", &self.inner.entries().len()).finish()
    }
}

/// A registered handler; dropping it stops delivery and closes its eventfd.
pub struct IrqRegistration {
    inner: Weak<Inner>,
    token: u64,
    raw: RawFd,
}

impl std::fmt::Debug for IrqRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IrqRegistration(fd {})", self.raw)
    }
}

impl Drop for IrqRegistration {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            // Leave the epoll set while the fd is still open (the entry holds it).
            let entry = inner.entries().remove(&self.token);
            if let Some(entry) = entry {
                let _ = inner.epoll.delete(entry.efd.as_fd());
            }
        }
    }
}

impl Interrupts {
    /// Starts the interrupt thread (`bypass-intr`).
    pub fn start() -> Result<Interrupts, BusError> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source| BusError::Interrupt { what, source }
        };
        let epoll = Epoll::new().map_err(io("creating the epoll set"))?;
        let wake = EventFd::new().map_err(|e| BusError::vfio("creating the interrupt thread's wake-up eventfd", e))?;
        epoll.add(wake.as_fd(), WAKE).map_err(io("watching the wake-up eventfd"))?;
        let inner = Arc::new(Inner {
            epoll,
            wake,
            entries: Mutex::new(HashMap::new()),
            next: AtomicU64::new(WAKE + 1),
            stop: AtomicBool::new(false),
            dispatched: AtomicU64::new(0),
        });
        let t = inner.clone();
        let h = std::thread::Builder::new()
            .name("bypass-intr".into())
            .spawn(move || {
                crate::lcore::enter_control_thread();
                run(&t)
            })
            .map_err(io("spawning the interrupt thread"))?;
        Ok(Interrupts { inner, thread: Mutex::new(Some(h)) })
    }

    /// Runs `handler` on the interrupt thread each time `efd` is signalled, until the
    /// returned registration is dropped.
    pub fn register(&self, efd: Arc<EventFd>, handler: IrqHandler) -> Result<IrqRegistration, BusError> {
        let token = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let raw = efd.as_raw_fd();
        let entry = Arc::new(Entry { efd, handler });
        self.inner.entries().insert(token, entry.clone());
        if let Err(source) = self.inner.epoll.add(entry.efd.as_fd(), token) {
            self.inner.entries().remove(&token);
            return Err(BusError::Interrupt { what: "watching a vector's eventfd".into(), source });
        }
        Ok(IrqRegistration { inner: Arc::downgrade(&self.inner), token, raw })
    }

    /// Handler runs so far (all vectors).
    pub fn dispatched(&self) -> u64 {
        self.inner.dispatched.load(Ordering::Relaxed)
    }

    /// Stops the thread (handlers registered later are never run). Idempotent.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Release);
        let _ = self.inner.wake.write(1);
        if let Some(h) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(inner: &Inner) {
    let mut ready = Vec::new();
    while !inner.stop.load(Ordering::Acquire) {
        if let Err(e) = inner.epoll.wait(&mut ready) {
            tracing::error!("the interrupt thread stops: epoll_wait failed: {e}");
            return;
        }
        for &token in &ready {
            if token == WAKE {
                let _ = inner.wake.try_read();
                continue;
            }
            let Some(entry) = inner.entries().get(&token).cloned() else { continue };
            match entry.efd.try_read() {
                Ok(Some(n)) => {
                    inner.dispatched.fetch_add(1, Ordering::Relaxed);
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (entry.handler)(n)));
                    if r.is_err() {
                        tracing::error!("an interrupt handler panicked; the interrupt thread goes on");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("reading an interrupt eventfd: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn efd_pair() -> (Arc<EventFd>, Arc<EventFd>) {
        let a = Arc::new(EventFd::new().unwrap());
        (a.clone(), a)
    }

    #[test]
    fn handlers_run_per_vector_with_counts_and_stop_on_drop() {
        let intr = Interrupts::start().unwrap();
        let (tx, rx) = mpsc::channel();
        let (a, a_sig) = efd_pair();
        let (b, b_sig) = efd_pair();
        let ta = tx.clone();
        let ra = intr.register(a, Box::new(move |n| ta.send(("a", n)).unwrap())).unwrap();
        let rb = intr.register(b, Box::new(move |n| tx.send(("b", n)).unwrap())).unwrap();
        a_sig.write(3).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(2)).unwrap(), ("a", 3));
        b_sig.write(1).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(2)).unwrap(), ("b", 1));
        assert_eq!(intr.dispatched(), 2);
        drop(ra);
        a_sig.write(1).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "dropped registration still fired");
        b_sig.write(2).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(2)).unwrap(), ("b", 2));
        drop(rb);
        intr.stop();
        intr.stop();
    }

    #[test]
    fn a_panicking_handler_does_not_kill_the_thread() {
        let intr = Interrupts::start().unwrap();
        let (tx, rx) = mpsc::channel();
        let (a, a_sig) = efd_pair();
        let (b, b_sig) = efd_pair();
        let _ra = intr.register(a, Box::new(|_| panic!("handler bug"))).unwrap();
        let _rb = intr.register(b, Box::new(move |n| tx.send(n).unwrap())).unwrap();
        a_sig.write(1).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        b_sig.write(5).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(2)).unwrap(), 5);
    }
}
