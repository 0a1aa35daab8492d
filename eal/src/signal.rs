//! Ctrl-C and SIGTERM as a flag that applications poll, so they can stop forwarding and
//! exit through their normal clean-up path (ports stopped, mbufs back in their pools, files
//! removed).

use std::sync::atomic::{AtomicBool, Ordering};

static QUIT: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    // Async-signal-safe: a single atomic store.
    QUIT.store(true, Ordering::SeqCst);
}

/// Installs handlers for SIGINT and SIGTERM that set the quit flag.
pub fn install_quit_handler() -> std::io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain data; zeroed is a valid empty mask and no flags.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as *const () as usize;
        // SAFETY: installs a handler that only performs an atomic store, which is
        // async-signal-safe; the old action is not needed.
        let rc = unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// True once SIGINT or SIGTERM arrived (or [`request_quit`] was called).
pub fn quit_requested() -> bool {
    QUIT.load(Ordering::Relaxed)
}

/// Sets the quit flag from the program itself (e.g. the `quit` command or a time limit).
pub fn request_quit() {
    QUIT.store(true, Ordering::SeqCst);
}
