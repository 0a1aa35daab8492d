//! Which secondaries a broadcast should have reached: the pids in the names of the IPC
//! sockets in the group's runtime directory (`mp_socket_<pid>_<n>`), alive ones only.

use super::wire::Answer;
use std::path::Path;

/// Pids of the live secondaries of the group whose runtime directory is `dir`.
pub(crate) fn secondaries(dir: &Path) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name();
                    name.to_str()?.strip_prefix("mp_socket_")?.split('_').next()?.parse::<u32>().ok()
                })
                .filter(|&pid| pid != std::process::id() && eal::process::pid_alive(pid))
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// What went wrong in the answers to a broadcast, as one sentence naming the pids, or None
/// when every process that got the request said yes. `expected` were the live secondaries
/// before the broadcast; `missing` tells that fewer answers came than requests went out.
pub(crate) fn problems(answers: &[Answer], expected: &[u32], missing: bool) -> Option<String> {
    let mut why: Vec<String> =
        answers.iter().filter_map(|a| a.refused.as_ref().map(|r| format!("pid {}: {r}", a.pid))).collect();
    if missing {
        let silent: Vec<String> = expected
            .iter()
            .filter(|&&pid| eal::process::pid_alive(pid) && !answers.iter().any(|a| a.pid == pid))
            .map(|pid| pid.to_string())
            .collect();
        if silent.is_empty() {
            why.push("a secondary did not answer in time".into());
        } else {
            why.push(format!("no answer in time from pid {}", silent.join(", pid ")));
        }
    }
    (!why.is_empty()).then(|| why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refusers_and_the_silent() {
        let me = std::process::id();
        let ok = Answer { pid: 1, refused: None };
        assert_eq!(problems(std::slice::from_ref(&ok), &[], false), None);
        let busy = Answer { pid: 77, refused: Some("holds port 2".into()) };
        assert_eq!(problems(&[ok.clone(), busy], &[], false).unwrap(), "pid 77: holds port 2");
        // This test process is alive and did not answer.
        assert_eq!(problems(&[ok], &[me], true).unwrap(), format!("no answer in time from pid {me}"));
    }
}
