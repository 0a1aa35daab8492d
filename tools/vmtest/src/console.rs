//! The guest's serial console: the markers `/init` prints and the parsing
//! of a console log into per-command results.

/// Printed once modules are loaded and mounts are done.
pub const READY: &str = "@@VMTEST:READY@@";
/// Printed after the last command, before power-off.
pub const DONE: &str = "@@VMTEST:DONE@@";
const BEGIN_PREFIX: &str = "@@VMTEST:BEGIN:";
const END_PREFIX: &str = "@@VMTEST:END:";
const SETUP_FAILED_PREFIX: &str = "@@VMTEST:SETUP-FAILED:";
const CLOSE: &str = "@@";

/// The marker printed before command `i` runs.
pub fn begin_marker(i: usize) -> String {
    format!("{BEGIN_PREFIX}{i}{CLOSE}")
}

/// The shell text that prints the end marker of command `i` with `$rc`.
pub fn end_marker_shell(i: usize) -> String {
    format!("{END_PREFIX}{i}:$rc{CLOSE}")
}

/// The shell text that reports a failed setup step named by `$1`.
pub fn setup_failed_shell() -> String {
    format!("{SETUP_FAILED_PREFIX}$1{CLOSE}")
}

/// The result of one guest command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// Position in the command list.
    pub index: usize,
    /// The command as given.
    pub command: String,
    /// What it printed (stdout and stderr, in order), `\r` removed.
    pub output: String,
    /// Its exit code; `None` if the guest never reported one.
    pub exit_code: Option<i32>,
}

impl CommandResult {
    /// Whether it ran and exited 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Normalises raw serial bytes: drops `\r` and invalid UTF-8.
pub fn clean(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).replace('\r', "")
}

/// Splits a console log into the results of `commands`.
pub fn parse_results(log: &str, commands: &[String]) -> Vec<CommandResult> {
    commands
        .iter()
        .enumerate()
        .map(|(index, command)| {
            let (output, exit_code) = parse_one(log, index);
            CommandResult { index, command: command.clone(), output, exit_code }
        })
        .collect()
}

fn parse_one(log: &str, i: usize) -> (String, Option<i32>) {
    let begin = begin_marker(i);
    let Some(b) = log.find(&begin) else {
        return (String::new(), None);
    };
    let body_start = b + begin.len();
    let rest = &log[body_start..];
    let end = format!("{END_PREFIX}{i}:");
    let Some(e) = rest.find(&end) else {
        return (strip_first_newline(rest).to_string(), None);
    };
    let code_text = &rest[e + end.len()..];
    let code = code_text.find(CLOSE).and_then(|c| code_text[..c].trim().parse::<i32>().ok());
    (strip_first_newline(&rest[..e]).to_string(), code)
}

fn strip_first_newline(s: &str) -> &str {
    s.strip_prefix('\n').unwrap_or(s)
}

/// Setup steps `/init` reported as failed (module loads, mounts).
pub fn setup_failures(log: &str) -> Vec<String> {
    log.match_indices(SETUP_FAILED_PREFIX)
        .filter_map(|(at, _)| {
            let rest = &log[at + SETUP_FAILED_PREFIX.len()..];
            rest.find(CLOSE).map(|c| rest[..c].to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("cmd{i}")).collect()
    }

    #[test]
    fn parses_outputs_and_codes() {
        let log = "boot noise\n@@VMTEST:READY@@\n@@VMTEST:BEGIN:0@@\nhello\nworld\n@@VMTEST:END:0:0@@\n\
                   @@VMTEST:BEGIN:1@@\nno newline@@VMTEST:END:1:42@@\n@@VMTEST:DONE@@\n";
        let r = parse_results(log, &cmds(2));
        assert_eq!(r[0].output, "hello\nworld\n");
        assert_eq!(r[0].exit_code, Some(0));
        assert!(r[0].success());
        assert_eq!(r[1].output, "no newline");
        assert_eq!(r[1].exit_code, Some(42));
        assert!(!r[1].success());
    }

    #[test]
    fn unfinished_command_has_no_code() {
        let log = "@@VMTEST:BEGIN:0@@\npartial out";
        let r = parse_results(log, &cmds(2));
        assert_eq!(r[0].output, "partial out");
        assert_eq!(r[0].exit_code, None);
        assert_eq!(r[1].output, "");
        assert_eq!(r[1].exit_code, None);
    }

    #[test]
    fn index_10_is_not_confused_with_1() {
        let log = "@@VMTEST:BEGIN:1@@\none\n@@VMTEST:END:1:1@@\n@@VMTEST:BEGIN:10@@\nten\n@@VMTEST:END:10:10@@\n";
        let r = parse_results(log, &cmds(11));
        assert_eq!((r[1].output.as_str(), r[1].exit_code), ("one\n", Some(1)));
        assert_eq!((r[10].output.as_str(), r[10].exit_code), ("ten\n", Some(10)));
    }

    #[test]
    fn clean_drops_carriage_returns() {
        assert_eq!(clean(b"a\r\nb\xff\r\n"), "a\nb\u{fffd}\n");
    }

    #[test]
    fn finds_setup_failures() {
        let log = "x @@VMTEST:SETUP-FAILED:insmod vfio.ko@@\n@@VMTEST:SETUP-FAILED:mount hugetlbfs@@";
        assert_eq!(setup_failures(log), vec!["insmod vfio.ko", "mount hugetlbfs"]);
        assert!(setup_failures("clean").is_empty());
    }
}
