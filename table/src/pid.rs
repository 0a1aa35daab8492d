//! This process's pid, cached: `getpid` is a system call, and a table writer marks its lock
//! with its pid on every update. A forked child forgets the parent's pid (a `pthread_atfork`
//! handler clears the cache), so its locks carry its own.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

static PID: AtomicU32 = AtomicU32::new(0);
static FORGET_ON_FORK: Once = Once::new();

extern "C" fn forget() {
    PID.store(0, Ordering::Relaxed);
}

/// This process's pid.
#[inline]
pub fn current() -> u32 {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    FORGET_ON_FORK.call_once(|| {
        // SAFETY: `forget` is a plain `extern "C"` function that only stores to an atomic,
        // which is what a fork handler may do; the other two handlers are absent.
        unsafe { libc::pthread_atfork(None, None, Some(forget)) };
    });
    let pid = std::process::id();
    PID.store(pid, Ordering::Relaxed);
    pid
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_this_process() {
        assert_eq!(super::current(), std::process::id());
        assert_eq!(super::current(), std::process::id());
    }
}
