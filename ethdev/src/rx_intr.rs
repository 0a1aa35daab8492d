//! RX interrupts, as DPDK's `rte_eth_dev_rx_intr_enable` / `_disable` /
//! `rte_eth_dev_rx_intr_ctl_q` with `rte_epoll_wait`, but in whichever process polls the
//! queue (a secondary too; DPDK gives secondaries none).
//!
//! A driver that has them advertises [`capa::RX_INTR`](crate::capa::RX_INTR) and gives, in
//! each process, an [`RxIntrSource`] per RX queue: a file descriptor that becomes readable when
//! the queue has received while its interrupt was armed. The polling loop
//! ([`RxInterruptWaiter`]) goes: poll while busy; after some empty polls arm
//! ([`Port::rx_intr_enable`]), poll once more (a frame that came between the last empty poll
//! and the arming raised no interrupt), sleep in [`RxInterruptWaiter::wait`], disarm
//! ([`Port::rx_intr_disable`]) and poll again. While a queue's interrupt is off the data
//! path does no interrupt work at all: [`Port::rx_burst`] never looks at it.

use crate::error::EthError;
use crate::port::Port;
use eal::bus::Epoll;
use eal::vfio::EventFd;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

/// One RX queue of one port's data path in this process: (data path address, port, queue).
type QueueKey = (usize, u16, u16);

thread_local! {
    /// The RX queues this thread has steered (or tried to steer) to its CPU, with that CPU:
    /// arming them again steers nothing.
    static STEERED: std::cell::RefCell<Vec<(QueueKey, usize)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What the default driver methods say: the driver has no RX interrupts.
pub(crate) const RX_INTR_UNSUPPORTED: &str =
    "RX interrupts are not supported by this driver (DevInfo lacks capa::RX_INTR); poll the queue instead";

/// The descriptor a process sleeps on for one RX queue.
#[derive(Debug, Clone)]
pub enum RxIntrSource {
    /// A counter the device signals (a VFIO interrupt eventfd): read to reset after waking.
    Counter(Arc<EventFd>),
    /// A descriptor readable while the queue holds frames (a TAP queue): never read by the
    /// waiter, the next burst empties it.
    Readable(Arc<OwnedFd>),
}

impl RxIntrSource {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            RxIntrSource::Counter(e) => e.as_fd(),
            RxIntrSource::Readable(f) => f.as_fd(),
        }
    }

    /// Resets what woke the waiter (counters only).
    fn reset(&self) {
        if let RxIntrSource::Counter(e) = self {
            e.drain();
        }
    }
}

/// The errors of the default driver methods carry no port id: give them the port's.
fn with_port(port: u16, e: EthError) -> EthError {
    match e {
        EthError::Unsupported { port: u16::MAX, what } => EthError::Unsupported { port, what },
        EthError::Device { port: u16::MAX, msg } => EthError::Device { port, msg },
        e => e,
    }
}

impl Port {
    fn rx_intr_queue_check(&self, q: u16) -> Result<(), EthError> {
        let nb = self.nb_rx_queues();
        if q >= nb {
            return Err(EthError::QueueOutOfRange { port: self.id(), dir: "rx", queue: q, nb });
        }
        Ok(())
    }

    /// Arms RX queue `q`'s interrupt: the queue's [`RxIntrSource`] becomes readable on the
    /// next frame it receives (as `rte_eth_dev_rx_intr_enable`). Errors: the queue does not
    /// exist, or the driver has no RX interrupts ([`EthError::Unsupported`]).
    ///
    /// When the calling thread is pinned to one CPU (an lcore), the queue's interrupt is
    /// first steered there ([`Port::rx_intr_steer`]), so that the thread that will sleep on
    /// it is woken on its own CPU: once per thread and queue (and again should the thread
    /// move to another CPU), so later arms cost nothing more. Steering that cannot be done
    /// (not root, an interrupt the primary relays, a driver without a vector per queue) is
    /// a debug line, not an error: the interrupt still wakes the thread, from another CPU.
    pub fn rx_intr_enable(&self, q: u16) -> Result<(), EthError> {
        self.rx_intr_queue_check(q)?;
        self.steer_to_caller(q);
        self.data().rx_intr_ctl(q, true).map_err(|e| with_port(self.id(), e))
    }

    /// Steers queue `q`'s interrupt to the calling thread's CPU if the thread is pinned to
    /// one and has not steered it there yet (see [`Port::rx_intr_enable`]).
    fn steer_to_caller(&self, q: u16) {
        let Some(cpu) = eal::lcore::pinned_cpu() else { return };
        // The data path's address tells a port re-attached under the same id apart.
        let key: QueueKey = (Arc::as_ptr(self.data()) as *const () as usize, self.id(), q);
        let fresh = STEERED.with_borrow_mut(|done| match done.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) if *c == cpu => false,
            Some((_, c)) => {
                *c = cpu;
                true
            }
            None => {
                done.push((key, cpu));
                true
            }
        });
        if fresh {
            match self.rx_intr_steer(q, cpu) {
                Ok(()) => tracing::debug!(port = self.id(), q, cpu, "rx interrupt steered to the poller's CPU"),
                Err(e) => tracing::debug!(port = self.id(), q, cpu, "rx interrupt left where it is: {e}"),
            }
        }
    }

    /// Disarms RX queue `q`'s interrupt (as `rte_eth_dev_rx_intr_disable`); polling needs
    /// none.
    pub fn rx_intr_disable(&self, q: u16) -> Result<(), EthError> {
        self.rx_intr_queue_check(q)?;
        self.data().rx_intr_ctl(q, false).map_err(|e| with_port(self.id(), e))
    }

    /// Has RX queue `q`'s interrupt taken on CPU `cpu`, the CPU of the thread that sleeps on
    /// it: the wake-up then stays on that CPU (no cross-CPU wake-up, which in a VM is another
    /// vCPU to schedule). System-wide and needs root. [`Port::rx_intr_enable`] does it for a
    /// caller pinned to one CPU; this is for a poller that is not. Errors: as [`Port::rx_intr_enable`],
    /// or the queue's interrupt is a cause the primary relays (INTx), or the OS refused.
    pub fn rx_intr_steer(&self, q: u16, cpu: usize) -> Result<(), EthError> {
        self.rx_intr_queue_check(q)?;
        self.data().rx_intr_steer(q, cpu).map_err(|e| with_port(self.id(), e))
    }

    /// The descriptor this process sleeps on for RX queue `q` (a secondary's comes from the
    /// primary over IPC the first time). Errors as [`Port::rx_intr_enable`].
    pub fn rx_intr_source(&self, q: u16) -> Result<RxIntrSource, EthError> {
        self.rx_intr_queue_check(q)?;
        self.data().rx_intr_source(q).map_err(|e| with_port(self.id(), e))
    }
}

struct Watched {
    port: u16,
    queue: u16,
    src: RxIntrSource,
}

/// An epoll set of RX queues that one polling thread sleeps on (DPDK's per-thread epoll
/// with `rte_eth_dev_rx_intr_ctl_q(.., RTE_EPOLL_PER_THREAD, RTE_INTR_EVENT_ADD, ..)`).
pub struct RxInterruptWaiter {
    epoll: Epoll,
    watched: Vec<Option<Watched>>,
    ready: Vec<u64>,
}

impl std::fmt::Debug for RxInterruptWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q: Vec<_> = self.queues();
        f.debug_struct("RxInterruptWaiter").field("queues", &q).finish()
    }
}

impl RxInterruptWaiter {
    /// An empty set.
    pub fn new() -> Result<RxInterruptWaiter, EthError> {
        let epoll = Epoll::new().map_err(|source| EthError::RxIntrWait { what: "creating the epoll set", source })?;
        Ok(RxInterruptWaiter { epoll, watched: Vec::new(), ready: Vec::new() })
    }

    /// Watches RX queue `q` of `port`. Errors: the queue does not exist, the driver has no
    /// RX interrupts, or the queue is watched already.
    pub fn add(&mut self, port: &Port, q: u16) -> Result<(), EthError> {
        if self.queues().contains(&(port.id(), q)) {
            return Err(EthError::Unsupported {
                port: port.id(),
                what: format!("rx queue {q} is in this RX interrupt waiter already (add each queue once)"),
            });
        }
        let src = port.rx_intr_source(q)?;
        let token = self.watched.iter().position(|w| w.is_none()).unwrap_or(self.watched.len());
        self.epoll
            .add(src.fd(), token as u64)
            .map_err(|source| EthError::RxIntrWait { what: "watching a queue's descriptor", source })?;
        let w = Some(Watched { port: port.id(), queue: q, src });
        if token == self.watched.len() {
            self.watched.push(w);
        } else {
            self.watched[token] = w;
        }
        Ok(())
    }

    /// Stops watching RX queue `q` of port `port`; false if it was not watched.
    pub fn remove(&mut self, port: u16, q: u16) -> bool {
        for slot in &mut self.watched {
            if slot.as_ref().is_some_and(|w| w.port == port && w.queue == q) {
                if let Some(w) = slot.take() {
                    let _ = self.epoll.delete(w.src.fd());
                }
                return true;
            }
        }
        false
    }

    /// The watched `(port, queue)` pairs.
    pub fn queues(&self) -> Vec<(u16, u16)> {
        self.watched.iter().flatten().map(|w| (w.port, w.queue)).collect()
    }

    /// Discards the interrupt signals already counted on the watched queues. Called after
    /// arming and before the last poll, it drops a stale signal (a device that signals
    /// again after the wake-up, such as QEMU's 82574L, or a frame that came while the queue
    /// was polled) that would otherwise end the next sleep at once with nothing to receive;
    /// a frame that raised it is still found by that last poll.
    pub fn discard_pending(&self) {
        for w in self.watched.iter().flatten() {
            w.src.reset();
        }
    }

    /// Sleeps until a watched queue interrupts or `timeout` passes; returns the queues that
    /// interrupted (none on timeout), their interrupt counters reset.
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<(u16, u16)>, EthError> {
        self.epoll
            .wait_timeout(&mut self.ready, timeout)
            .map_err(|source| EthError::RxIntrWait { what: "epoll_wait", source })?;
        let mut out = Vec::with_capacity(self.ready.len());
        for &t in &self.ready {
            if let Some(Some(w)) = self.watched.get(t as usize) {
                w.src.reset();
                out.push((w.port, w.queue));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discarded_signals_do_not_end_the_next_sleep() {
        let e = Arc::new(EventFd::new().unwrap());
        let mut w = RxInterruptWaiter::new().unwrap();
        let src = RxIntrSource::Counter(e.clone());
        w.epoll.add(src.fd(), 0).unwrap();
        w.watched.push(Some(Watched { port: 3, queue: 1, src }));
        e.write(1).unwrap();
        w.discard_pending();
        assert!(w.wait(Duration::from_millis(20)).unwrap().is_empty(), "a discarded signal woke the waiter");
        e.write(1).unwrap();
        assert_eq!(w.wait(Duration::from_secs(5)).unwrap(), vec![(3, 1)], "a new signal must wake it");
    }

    #[test]
    fn counter_sources_reset_and_readable_ones_are_not_read() {
        let e = Arc::new(EventFd::new().unwrap());
        let c = RxIntrSource::Counter(e.clone());
        e.write(3).unwrap();
        c.reset();
        assert_eq!(e.try_read().unwrap(), None, "the counter was not reset");
        assert!(matches!(
            with_port(4, EthError::Unsupported { port: u16::MAX, what: "x".into() }),
            EthError::Unsupported { port: 4, .. }
        ));
    }
}
