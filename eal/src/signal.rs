//! Ctrl-C and SIGTERM as a flag that applications poll, so they can stop forwarding and
//! exit through their normal clean-up path (ports stopped, mbufs back in their pools, files
//! removed).

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::sync::atomic::{AtomicBool, Ordering};

static QUIT: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    // Async-signal-safe: a single atomic store.
    QUIT.store(true, Ordering::SeqCst);
}

/// Installs handlers for SIGINT and SIGTERM that set the quit flag.
pub fn install_quit_handler() -> std::io::Result<()> {
    let sa = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: installs a handler that only performs an atomic store, which is
        // async-signal-safe; the old action is not needed.
        unsafe { sigaction(sig, &sa) }?;
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
