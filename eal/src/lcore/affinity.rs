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
