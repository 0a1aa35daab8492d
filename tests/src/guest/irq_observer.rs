//! A guest-side witness of a queue's RX interrupt: a thread blocked in an edge-triggered
//! epoll on the very eventfd the poller sleeps on, pinned to another CPU, which timestamps
//! each signal (`CLOCK_MONOTONIC`, as `Instant`). Matching those stamps with the times the
//! poller had each frame in hand gives the delay from "the interrupt reached user space in
//! the guest" to "the poller holds the frame" (its wake-up, disarm and `rx_burst`), measured
//! inside the guest instead of bounded by a host round trip. The witness's own wake-up is
//! not in the figure (it wakes as the poller does), and a signal the poller drains before the
//! witness looks is missed (counted: only matched frames are samples).

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The witness thread and what it saw.
pub struct IrqObserver {
    stamps: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl IrqObserver {
    /// Starts watching `fd` (an interrupt eventfd; never read here) on CPU `cpu`.
    pub fn start(fd: BorrowedFd<'_>, cpu: usize) -> std::io::Result<IrqObserver> {
        let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        ep.add(fd.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, 0))?;
        let stamps = Arc::new(Mutex::new(Vec::with_capacity(4096)));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (stamps.clone(), stop.clone());
        let thread = std::thread::Builder::new().name("irq-witness".into()).spawn(move || {
            let mut set = nix::sched::CpuSet::new();
            if set.set(cpu).is_ok() {
                let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
            }
            let mut ev = [EpollEvent::empty(); 1];
            while !sp.load(Ordering::Relaxed) {
                if let Ok(n) = ep.wait(&mut ev, EpollTimeout::from(100u16)) {
                    if n > 0 {
                        let t = Instant::now();
                        st.lock().unwrap_or_else(|p| p.into_inner()).push(t);
                    }
                }
            }
        })?;
        Ok(IrqObserver { stamps, stop, thread: Some(thread) })
    }

    /// Stops the thread; the stamps, in order.
    pub fn finish(mut self) -> Vec<Instant> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.stamps.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// For each frame time of `rx` (in order), the delay since the latest stamp after the
/// previous frame's time and not after its own; frames with no such stamp (received while
/// the poller was polling, or a missed signal) give none.
pub fn delays(stamps: &[Instant], rx: &[Instant]) -> Vec<Duration> {
    let mut out = Vec::new();
    let mut prev: Option<Instant> = None;
    for &t in rx {
        let s = stamps.iter().rev().find(|&&s| s <= t && prev.is_none_or(|p| s > p));
        if let Some(&s) = s {
            out.push(t - s);
        }
        prev = Some(t);
    }
    out
}

/// `samples=K p50=..us p99=..us max=..us` of `d` (sorted here).
pub fn summary(d: &mut [Duration]) -> String {
    if d.is_empty() {
        return "samples=0".into();
    }
    d.sort_unstable();
    let us = |x: Duration| x.as_micros();
    format!(
        "samples={} p50={}us p99={}us max={}us",
        d.len(),
        us(d[d.len() / 2]),
        us(d[(d.len() * 99 / 100).min(d.len() - 1)]),
        us(d[d.len() - 1])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_take_the_stamp_just_before_them() {
        let t0 = Instant::now();
        let at = |us: u64| t0 + Duration::from_micros(us);
        let stamps = [at(100), at(150), at(1000)];
        let rx = [at(200), at(500), at(1300)];
        // 200 follows 150; 500 had no new stamp (polled); 1300 follows 1000.
        assert_eq!(delays(&stamps, &rx), vec![Duration::from_micros(50), Duration::from_micros(300)]);
        let mut d = delays(&stamps, &rx);
        assert!(summary(&mut d).starts_with("samples=2 p50=300us"));
    }

    #[test]
    fn a_signal_is_stamped_by_the_witness() {
        let e = eal::vfio::EventFd::new().unwrap();
        let o = IrqObserver::start(e.as_fd(), 0).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        e.write(1).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(e.try_read().unwrap(), Some(1), "the witness never reads the counter");
        e.write(1).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(o.finish().len(), 2);
    }
}
