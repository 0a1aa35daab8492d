//! The log subscriber the EAL installs: `tracing` to stderr, coloured only for a person
//! at a terminal.

use std::io::IsTerminal;

/// Whether log lines get ANSI colours: only when stderr is a terminal and `NO_COLOR` is
/// unset or empty (<https://no-color.org>). A file or pipe gets plain text.
pub fn stderr_wants_colour() -> bool {
    colour_decision(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

/// The rule of [`stderr_wants_colour`], given whether stderr is a terminal and the value of
/// `NO_COLOR`.
pub fn colour_decision(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the subscriber (once per process; later calls do nothing). `level` is a
/// `tracing` filter from `--log-level`; without it `RUST_LOG` applies, else `warn`.
pub fn init(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(stderr_wants_colour())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_decision(true, None));
        assert!(colour_decision(true, Some(OsStr::new(""))));
        assert!(!colour_decision(true, Some(OsStr::new("1"))));
        assert!(!colour_decision(false, None));
        assert!(!colour_decision(false, Some(OsStr::new("1"))));
    }
}
