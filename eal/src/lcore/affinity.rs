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
