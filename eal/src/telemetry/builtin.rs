//! The EAL's own telemetry commands: `/eal/params`, `/eal/app_params`, `/mempool/list`,
//! `/mempool/info,<name>`, `/ring/list` and Bypass's `/mp/peers`.

use super::{register_or_replace, unregister};
use crate::memory::Memory;
use crate::mempool::Mempool;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The commands [`register_eal_commands`] registers.
pub const EAL_COMMANDS: &[&str] =
    &["/eal/params", "/eal/app_params", "/mempool/list", "/mempool/info", "/ring/list", "/mp/peers"];

/// Registers the EAL's commands for a group: `argv` is the process's whole command line
/// (`argv[0]` first), `mem` the group's memory, `dir` its runtime directory (for the IPC
/// peers). Returns the names registered (unregister them when the EAL goes).
pub fn register_eal_commands(argv: &[String], mem: Memory, dir: PathBuf) -> &'static [&'static str] {
    // As DPDK: the EAL's arguments are argv up to "--" (argv[0] included), the
    // application's those after it.
    let split = argv.iter().position(|a| a == "--");
    let eal: Vec<String> = argv[..split.unwrap_or(argv.len())].to_vec();
    let app: Vec<String> = split.map(|i| argv[i + 1..].to_vec()).unwrap_or_default();
    let _ = register_or_replace(
        "/eal/params",
        "Returns EAL commandline parameters used. Takes no parameters",
        move |_, _| Ok(Value::from(eal.clone())),
    );
    let _ = register_or_replace(
        "/eal/app_params",
        "Returns app commandline parameters used. Takes no parameters",
        move |_, _| Ok(Value::from(app.clone())),
    );
    let _ =
        register_or_replace("/mempool/list", "Returns list of available mempools. Takes no parameters", move |_, _| {
            Ok(Value::from(names(mem, "MP_")))
        });
    let _ = register_or_replace("/mempool/info", "Returns mempool info. Parameters: pool_name", move |_, p| {
        mempool_info(mem, p.ok_or("a mempool name is required, e.g. /mempool/info,mb_pool_0")?)
    });
    let _ = register_or_replace("/ring/list", "Returns list of available rings. Takes no parameters", move |_, _| {
        Ok(Value::from(names(mem, "RG_")))
    });
    let _ = register_or_replace(
        "/mp/peers",
        "Returns the processes of the group: the primary and the secondaries' IPC sockets. Takes no parameters",
        move |_, _| Ok(mp_peers(mem, &dir)),
    );
    EAL_COMMANDS
}

/// Removes the EAL's commands.
pub fn unregister_eal_commands() {
    for c in EAL_COMMANDS {
        unregister(c);
    }
}

fn names(mem: Memory, prefix: &str) -> Vec<String> {
    mem.memzones().iter().filter_map(|m| m.name().strip_prefix(prefix).map(str::to_owned)).collect()
}

fn mempool_info(mem: Memory, name: &str) -> Result<Value, String> {
    let mz_name = format!("MP_{name}");
    let mz = mem.memzone_lookup(&mz_name).ok_or_else(|| format!("no mempool named {name:?}"))?;
    let mp = Mempool::lookup(&mem, name).map_err(|e| e.to_string())?;
    let pool_id = names(mem, "MP_").iter().position(|n| n == name).unwrap_or(0);
    Ok(json!({
        "name": mp.name(),
        "pool_id": pool_id,
        "flags": 0,
        "socket_id": 0,
        "size": mp.size(),
        "cache_size": mp.cache_size(),
        "elt_size": mp.elt_size(),
        "header_size": 0,
        "trailer_size": 0,
        "private_data_size": 0,
        "ops_index": 0,
        "populated_size": mp.size(),
        "mz_name": mz_name,
        "mz_len": mz.len(),
        "mz_hugepage_sz": mem.page_size(),
        "mz_socket_id": 0,
        "mz_flags": 0,
    }))
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks that the process exists; no signal is sent.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

fn mp_peers(mem: Memory, dir: &std::path::Path) -> Value {
    let primary = mem.config().primary_pid.load(std::sync::atomic::Ordering::Relaxed);
    let mut secondaries = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut found: Vec<(u32, String)> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter_map(|n| {
                let pid = n.strip_prefix("mp_socket_")?.split('_').next()?.parse::<u32>().ok()?;
                Some((pid, n))
            })
            .collect();
        found.sort();
        for (pid, socket) in found {
            secondaries.push(json!({"pid": pid, "socket": socket, "alive": alive(pid)}));
        }
    }
    json!({
        "primary": {"pid": primary, "socket": "mp_socket", "alive": alive(primary)},
        "secondaries": secondaries,
    })
}
