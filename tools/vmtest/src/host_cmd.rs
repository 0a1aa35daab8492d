//! Running host programs (apt-get, dpkg-deb, gzip) with errors that say
//! what failed and what to install.

use crate::error::{Error, Result};
use std::process::{Command, Output};

/// Runs `cmd` to completion; returns its output if it exited 0, else an
/// error carrying the tail of its stderr. `hint` says what provides it.
pub fn run(cmd: &mut Command, hint: &'static str) -> Result<Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().map_err(|source| Error::Spawn { program: program.clone(), source, hint })?;
    if out.status.success() {
        return Ok(out);
    }
    let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    Err(Error::CommandFailed {
        command: format!("{program} {}", args.join(" ")),
        status: out.status.to_string(),
        stderr: tail(&String::from_utf8_lossy(&out.stderr), 10),
    })
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 3), "");
    }

    #[test]
    fn failing_command_reports_stderr() {
        let err = run(Command::new("sh").args(["-c", "echo oops >&2; exit 3"]), "").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("oops") && msg.contains("exit status: 3"), "{msg}");
    }

    #[test]
    fn missing_program_names_the_hint() {
        let err = run(&mut Command::new("/nonexistent/prog"), "install prog").unwrap_err();
        assert!(err.to_string().contains("install prog"), "{err}");
    }
}
