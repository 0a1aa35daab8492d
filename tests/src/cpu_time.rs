//! CPU time of a process, from `/proc/<pid>/stat` (fields 14 and 15, `utime` + `stime`, in
//! clock ticks of `_SC_CLK_TCK`, 100 per second on Linux): what the RX-interrupt tests
//! use to show that a process sleeps.

use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux build).
pub const TICKS_PER_SEC: u64 = 100;

/// User plus system CPU time of `pid` so far, in clock ticks; `None` if the process is gone
/// or the file is not as expected.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The share of one core `pid` used over `window` (0.0 to 1.0 per core), measured now.
pub fn cpu_share(pid: u32, window: Duration) -> Option<f64> {
    let t0 = Instant::now();
    let a = cpu_ticks(pid)?;
    std::thread::sleep(window);
    let b = cpu_ticks(pid)?;
    let secs = t0.elapsed().as_secs_f64();
    Some((b.saturating_sub(a)) as f64 / TICKS_PER_SEC as f64 / secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_thread_shows_and_a_sleeping_process_does_not() {
        let me = std::process::id();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let spin = std::thread::spawn(move || while !s.load(std::sync::atomic::Ordering::Relaxed) {});
        let busy = cpu_share(me, Duration::from_millis(500)).unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        spin.join().unwrap();
        assert!(busy > 0.3, "a spinning thread used {busy}");
        let mut child = std::process::Command::new("sleep").arg("2").spawn().unwrap();
        let idle = cpu_share(child.id(), Duration::from_millis(500)).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(idle < 0.05, "sleep(1) used {idle}");
        assert_eq!(cpu_ticks(u32::MAX), None);
    }
}
