//! CPU affinity system calls (on `nix`).

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use std::io;

/// The CPUs this process may run on (falls back to 0..available_parallelism).
pub fn available_cpus() -> Vec<usize> {
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false)).collect(),
        Err(_) => {
            let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            (0..n).collect()
        }
    }
}

/// The one CPU the calling thread may run on, if it is pinned to exactly one (an lcore
/// thread of `-l 2`, or one pinned by [`pin_current_thread`]); `None` when it may run on
/// several or the kernel does not say. One system call, no allocation.
pub fn pinned_cpu() -> Option<usize> {
    let set = sched_getaffinity(Pid::from_raw(0)).ok()?;
    let mut cpus = (0..CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false));
    match (cpus.next(), cpus.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// Pins the calling thread to `cpus` (CPUs beyond the set's size are ignored).
pub fn pin_current_thread(cpus: &[usize]) -> io::Result<()> {
    let mut set = CpuSet::new();
    for &c in cpus {
        // Only fails for an index beyond CpuSet::count().
        let _ = set.set(c);
    }
    Ok(sched_setaffinity(Pid::from_raw(0), &set)?)
}

/// The CPUs of this process's control threads (empty: not set, inherit).
static CONTROL_CPUS: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

/// Sets the CPUs the control threads started from now on run on (`Eal::init`, from
/// `EalArgs::control_cpus`).
pub(crate) fn set_control_cpus(cpus: &[usize]) {
    *CONTROL_CPUS.lock().unwrap_or_else(|e| e.into_inner()) = cpus.to_vec();
}

/// The CPUs control threads run on (empty when no EAL set them).
pub fn control_cpus() -> Vec<usize> {
    CONTROL_CPUS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Called first thing by a control thread (IPC, interrupts, telemetry, and the drivers'
/// and ethdev's housekeeping threads: TAP link watchers, hotplug workers): moves it to the
/// control CPUs, off the CPUs of the forwarding lcores, as DPDK's control threads. A
/// thread inherits the CPUs of the thread that starts it, which may be a forwarding lcore.
pub fn enter_control_thread() {
    let cpus = control_cpus();
    if !cpus.is_empty() {
        if let Err(e) = pin_current_thread(&cpus) {
            tracing::warn!("cannot move a control thread to cpus {cpus:?}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_cpu_names_the_one_cpu_of_a_pinned_thread_only() {
        let cpus = available_cpus();
        let last = *cpus.last().expect("some CPU");
        let one = std::thread::spawn(move || {
            pin_current_thread(&[last]).unwrap();
            pinned_cpu()
        });
        assert_eq!(one.join().unwrap(), Some(last));
        if cpus.len() >= 2 {
            let two = std::thread::spawn(move || {
                pin_current_thread(&cpus[..2]).unwrap();
                pinned_cpu()
            });
            assert_eq!(two.join().unwrap(), None, "a thread on two CPUs is not pinned to one");
        }
    }
}
