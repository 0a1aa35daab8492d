//! Attaching a tool (procinfo, dumpcap) to a running group as a secondary on an lcore id no
//! other process of the group uses.

use crate::config::MAX_LCORES;
use crate::{Eal, EalError};

/// How many lcore ids (from the top down) a tool tries before giving up.
const LCORE_TRIES: u32 = 16;

/// Attaches as a secondary with `argv` (EAL options, then `--` and the tool's options).
/// `--proc-type=secondary` is added unless a `--proc-type` is given. Without an lcore option
/// it takes the highest lcore id no other process uses: an attach that finds its lcore taken
/// has already mapped the group's window (which stays mapped for the life of the process),
/// so the next id is tried in a fresh process image, the tool re-executing itself with the
/// id in the environment variable `next_lcore_env`.
pub fn attach_secondary(argv: &[String], next_lcore_env: &str) -> Result<Eal, EalError> {
    let split = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    let (eal_args, app_args) = argv.split_at(split);
    let mut base: Vec<String> = eal_args.to_vec();
    if !base.iter().any(|a| a.starts_with("--proc-type")) {
        base.push("--proc-type=secondary".into());
    }
    let has_lcores = base.iter().any(|a| a == "-c" || a.starts_with("--lcores") || a.starts_with("-l"));
    if has_lcores {
        return Eal::init(&[base, app_args.to_vec()].concat());
    }
    let top = MAX_LCORES as u32 - 1;
    let id =
        std::env::var(next_lcore_env).ok().and_then(|v| v.parse::<u32>().ok()).filter(|&i| i <= top).unwrap_or(top);
    let cpu = crate::lcore::available_cpus().first().copied().unwrap_or(0);
    let mut a = base;
    a.push(format!("--lcores={id}@{cpu}"));
    a.extend_from_slice(app_args);
    match Eal::init(&a) {
        Err(EalError::LcoreInUse { .. }) if id > top - LCORE_TRIES + 1 => {
            use std::os::unix::process::CommandExt;
            let err = std::process::Command::new(
                std::env::current_exe().map_err(|e| EalError::io("finding the tool's own binary", e))?,
            )
            .args(argv.get(1..).unwrap_or_default())
            .env(next_lcore_env, (id - 1).to_string())
            .exec();
            Err(EalError::io("re-executing the tool to try the next lcore id", err))
        }
        r => r,
    }
}

/// A tool's whole life: attaches as [`attach_secondary`] does, runs `run`, and exits. `-h`
/// prints the EAL's usage and `usage`; `run` returning an empty error prints `usage`; any
/// other error is printed as `app: error` (followed by `usage` when `usage_on_error`) and
/// the process exits 1. The EAL is dropped before the exit, so nothing is left behind.
pub fn run_tool(
    app: &str,
    usage: &str,
    next_lcore_env: &str,
    usage_on_error: bool,
    run: impl FnOnce(&Eal) -> Result<(), String>,
) -> ! {
    let argv: Vec<String> = std::env::args().collect();
    let eal = match attach_secondary(&argv, next_lcore_env) {
        Ok(e) => e,
        Err(EalError::HelpRequested) => {
            print!("{}{usage}", crate::args::usage(&argv[0]));
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("{app}: {e}");
            std::process::exit(1);
        }
    };
    let code = match run(&eal) {
        Ok(()) => 0,
        Err(e) if e.is_empty() => {
            print!("{usage}");
            0
        }
        Err(e) if usage_on_error => {
            eprintln!("{app}: {e}\n{usage}");
            1
        }
        Err(e) => {
            eprintln!("{app}: {e}");
            1
        }
    };
    drop(eal);
    std::process::exit(code);
}
