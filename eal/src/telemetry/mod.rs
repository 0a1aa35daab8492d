//! Telemetry: a Unix `SOCK_SEQPACKET` socket speaking DPDK's telemetry v2 protocol, so that
//! an operator (or DPDK's own `dpdk-telemetry.py -f <prefix>`) can look inside a running group.
//!
//! The protocol, as DPDK 22.11 has it: on connect the server sends
//! `{"version":"...","pid":N,"max_output_len":16384}`; then each message from the client is
//! one command, `"/cmd"` or `"/cmd,params"`, and each reply one JSON object
//! `{"/cmd":<data>}`. An unknown command, or one whose handler fails (a bad parameter), is
//! answered `{"/cmd":null}` as DPDK does. A message that is not a command at all (longer than
//! [`MAX_INPUT_LEN`] bytes, not UTF-8, not starting with `/`) is answered
//! `{"error":"<why and the fix>"}`; no command name starts without `/`, so that key never
//! clashes with one.
//!
//! Commands are registered at run time in a process-wide registry ([`register`]): the EAL
//! registers `/`, `/info`, `/help`, `/eal/*`, `/mempool/*`, `/ring/list` and `/mp/peers`;
//! `ethdev` registers `/ethdev/*`; applications may add their own.
//!
//! Only the primary serves the socket. It is bound as `dpdk_telemetry.v2` in the group's
//! runtime directory and in DPDK's runtime directory of the same prefix
//! (`/var/run/dpdk/<prefix>/` for root, `$XDG_RUNTIME_DIR/dpdk/<prefix>/` or
//! `/tmp/dpdk/<prefix>/` otherwise), which is created 0700 and checked like the group
//! directory (see [`crate::runtime`]). Both are removed at clean exit.

mod builtin;
mod server;

pub use builtin::{register_eal_commands, unregister_eal_commands, EAL_COMMANDS};
/// The JSON library the handlers build their data with.
pub use serde_json;
pub use server::Telemetry;

use crate::error::EalError;
use crate::memory::Memory;
use crate::runtime::RuntimeDir;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Longest command name plus one, as DPDK (`MAX_CMD_LEN`): names are at most 55 bytes.
pub const MAX_CMD_LEN: usize = 56;
/// Longest help text plus one (DPDK's `RTE_TEL_MAX_STRING_LEN`).
pub const MAX_HELP_LEN: usize = 128;
/// Largest reply, in bytes (DPDK's `MAX_OUTPUT_LEN`); announced to clients on connect.
pub const MAX_OUTPUT_LEN: usize = 16 * 1024;
/// Largest command message, in bytes (DPDK reads into a 1024-byte buffer).
pub const MAX_INPUT_LEN: usize = 1023;

/// A command handler: given the command and its parameters (the text after the first
/// comma, `None` when there is none), returns the reply's data, or why it cannot (the client
/// then gets `null`, as from DPDK, and the reason is logged).
pub type Handler = dyn Fn(&str, Option<&str>) -> Result<Value, String> + Send + Sync + 'static;

struct Command {
    help: String,
    handler: Arc<Handler>,
}

static REGISTRY: RwLock<BTreeMap<String, Command>> = RwLock::new(BTreeMap::new());

fn registry_read() -> std::sync::RwLockReadGuard<'static, BTreeMap<String, Command>> {
    REGISTRY.read().unwrap_or_else(|e| e.into_inner())
}

fn registry_write() -> std::sync::RwLockWriteGuard<'static, BTreeMap<String, Command>> {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner())
}

fn check_command(cmd: &str, help: &str) -> Result<(), EalError> {
    let ok_chars = cmd.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'_' || b == b'-');
    if !cmd.starts_with('/') || !ok_chars || cmd.len() >= MAX_CMD_LEN {
        return Err(EalError::InvalidArgument(format!(
            "telemetry command {cmd:?}: a command starts with '/', has at most {} bytes of letters, digits, '/', '_' and '-'",
            MAX_CMD_LEN - 1
        )));
    }
    if help.len() >= MAX_HELP_LEN {
        return Err(EalError::InvalidArgument(format!(
            "help text of telemetry command {cmd} is {} bytes: at most {} are allowed",
            help.len(),
            MAX_HELP_LEN - 1
        )));
    }
    Ok(())
}

/// Registers command `cmd` (as DPDK's `rte_telemetry_register_cmd`) with its `help` text.
/// Fails with a clear error when the name or help is invalid, or when `cmd` is taken.
pub fn register(
    cmd: &str,
    help: &str,
    handler: impl Fn(&str, Option<&str>) -> Result<Value, String> + Send + Sync + 'static,
) -> Result<(), EalError> {
    check_command(cmd, help)?;
    let mut r = registry_write();
    if r.contains_key(cmd) {
        return Err(EalError::InvalidArgument(format!(
            "telemetry command {cmd} is already registered: pick another name, or unregister it first"
        )));
    }
    r.insert(cmd.to_string(), Command { help: help.to_string(), handler: Arc::new(handler) });
    Ok(())
}

/// Registers `cmd`, replacing a command of that name (for the EAL's and ethdev's own
/// commands, which a process that initialises again registers again).
pub fn register_or_replace(
    cmd: &str,
    help: &str,
    handler: impl Fn(&str, Option<&str>) -> Result<Value, String> + Send + Sync + 'static,
) -> Result<(), EalError> {
    check_command(cmd, help)?;
    registry_write().insert(cmd.to_string(), Command { help: help.to_string(), handler: Arc::new(handler) });
    Ok(())
}

/// Removes command `cmd`; returns true when it was registered.
pub fn unregister(cmd: &str) -> bool {
    registry_write().remove(cmd).is_some()
}

/// The registered commands, sorted (the reply to `/`).
pub fn commands() -> Vec<String> {
    registry_read().keys().cloned().collect()
}

/// The help text of `cmd`, if registered.
pub fn help(cmd: &str) -> Option<String> {
    registry_read().get(cmd).map(|c| c.help.clone())
}

/// The version string announced to clients (`"Bypass <version>"`).
pub fn version() -> String {
    format!("Bypass {}", env!("CARGO_PKG_VERSION"))
}

/// The JSON object sent to a client when it connects (and the data of `/info`).
pub fn info() -> Value {
    serde_json::json!({"version": version(), "pid": std::process::id(), "max_output_len": MAX_OUTPUT_LEN})
}

fn reply(key: &str, data: Value) -> String {
    let mut m = serde_json::Map::new();
    m.insert(key.to_string(), data);
    Value::Object(m).to_string()
}

fn error_reply(why: String) -> String {
    reply("error", Value::String(why))
}

fn oversized_reply(len: usize) -> String {
    error_reply(format!(
        "message of {len} bytes refused: a command and its parameters take at most {MAX_INPUT_LEN} bytes; send one command per message, e.g. /ethdev/stats,0"
    ))
}

/// The reply to one message `msg` received from a client. Never panics: a handler that
/// panics is answered `null`.
pub fn handle_message(msg: &[u8]) -> String {
    if msg.len() > MAX_INPUT_LEN {
        return oversized_reply(msg.len());
    }
    let Ok(text) = std::str::from_utf8(msg) else {
        return error_reply("message is not UTF-8 text: send a command such as /ethdev/list; / lists them".into());
    };
    // Like DPDK's strtok: leading separators are skipped; a trailing newline is not part of
    // the command (clients typing by hand send one).
    let text = text.trim_start_matches(',').trim_end_matches(['\n', '\r']);
    let (cmd, params) = match text.split_once(',') {
        Some((c, p)) => (c, (!p.is_empty()).then_some(p)),
        None => (text, None),
    };
    if !cmd.starts_with('/') || cmd.chars().any(char::is_control) {
        let shown: String = cmd.chars().take(MAX_CMD_LEN).flat_map(char::escape_debug).collect();
        return error_reply(format!(
            "\"{shown}\" is not a command: commands start with '/'; send / for the list, /help,<command> for one's help"
        ));
    }
    let key: String = cmd.chars().take(MAX_CMD_LEN).collect();
    let handler = if cmd.len() < MAX_CMD_LEN { registry_read().get(cmd).map(|c| c.handler.clone()) } else { None };
    let Some(handler) = handler else {
        tracing::debug!("telemetry: unknown command {key:?}");
        return reply(&key, Value::Null);
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(cmd, params)));
    let data = match r {
        Ok(Ok(v)) => v,
        Ok(Err(why)) => {
            tracing::debug!("telemetry: {cmd} {params:?}: {why}");
            Value::Null
        }
        Err(_) => {
            tracing::warn!("telemetry: the handler of {cmd} panicked");
            Value::Null
        }
    };
    let out = reply(&key, data);
    if out.len() > MAX_OUTPUT_LEN {
        tracing::warn!("telemetry: the reply to {cmd} is {} bytes, over the limit of {MAX_OUTPUT_LEN}", out.len());
        return reply(&key, Value::Null);
    }
    out
}

/// The port-style parameter of a command: a number, decimal (`"0"`) or hexadecimal
/// (`"0x1"`), as DPDK's handlers take it; what follows a further comma is ignored.
pub fn parse_id_param(params: Option<&str>) -> Result<u64, String> {
    let p = params.ok_or("a parameter is required, e.g. ,0")?;
    let first: &str = p.split(',').next().unwrap_or("").trim();
    let n = match first.strip_prefix("0x").or_else(|| first.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => first.parse::<u64>(),
    };
    n.map_err(|_| format!("parameter {p:?} is not a number"))
}

/// DPDK's base runtime directory, where `dpdk-telemetry.py` looks: `/var/run/dpdk` for root,
/// else `$XDG_RUNTIME_DIR/dpdk`, else `/tmp/dpdk`.
pub fn dpdk_base_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/run/dpdk");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(x) if !x.is_empty() => PathBuf::from(x).join("dpdk"),
        _ => PathBuf::from("/tmp/dpdk"),
    }
}

/// Starts a primary's telemetry: binds the socket in the group directory `dir` and in DPDK's
/// runtime directory of `prefix` (created 0700, checked like `dir`), and registers the EAL's
/// commands (`argv` is the whole command line). Fails with a clear error naming the fix.
pub fn start_primary(prefix: &str, argv: &[String], mem: Memory, dir: &RuntimeDir) -> Result<Telemetry, EalError> {
    let ours = RuntimeDir::open(prefix, false)?;
    let dpdk = RuntimeDir::open_in(&dpdk_base_dir(), prefix, true).map_err(|e| {
        EalError::Telemetry(format!(
            "DPDK's runtime directory, where dpdk-telemetry.py looks for the socket: {e}; or start with --no-telemetry"
        ))
    })?;
    register_eal_commands(argv, mem, dir.path().to_path_buf());
    Telemetry::start(vec![ours, dpdk]).inspect_err(|_| unregister_eal_commands())
}

fn register_core_commands() {
    let _ = register_or_replace("/", "Returns list of available commands, Takes no parameters", |_, _| {
        Ok(Value::from(commands()))
    });
    let _ = register_or_replace("/info", "Returns DPDK Telemetry information. Takes no parameters", |_, _| Ok(info()));
    let _ =
        register_or_replace("/help", "Returns help text for a command. Parameters: string command", |cmd, p| match p {
            None => help(cmd).map(Value::String).ok_or_else(|| "no help".into()),
            Some(c) => {
                let h = help(c).ok_or_else(|| format!("no command {c}"))?;
                let mut m = serde_json::Map::new();
                m.insert(c.to_string(), Value::String(h));
                Ok(Value::Object(m))
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn replies_in_dpdk_shapes() {
        register_core_commands();
        register("/test/echo", "Echoes. Parameters: string", |_, p| Ok(Value::from(p.unwrap_or("")))).unwrap();
        assert!(register("/test/echo", "again", |_, _| Ok(Value::Null)).is_err(), "duplicates are refused");
        assert!(register("nope", "x", |_, _| Ok(Value::Null)).is_err());
        assert!(register(&format!("/{}", "a".repeat(60)), "x", |_, _| Ok(Value::Null)).is_err());
        assert_eq!(parse(&handle_message(b"/test/echo,a,b")), serde_json::json!({"/test/echo": "a,b"}));
        assert_eq!(parse(&handle_message(b"/test/echo\n")), serde_json::json!({"/test/echo": ""}));
        assert_eq!(parse(&handle_message(b"/nothing")), serde_json::json!({"/nothing": null}));
        let l = parse(&handle_message(b"/"));
        let l = l["/"].as_array().unwrap();
        assert!(l.contains(&Value::from("/test/echo")) && l.contains(&Value::from("/help")));
        assert_eq!(
            parse(&handle_message(b"/help,/test/echo")),
            serde_json::json!({"/help": {"/test/echo": "Echoes. Parameters: string"}})
        );
        assert_eq!(parse(&handle_message(b"/help,/none")), serde_json::json!({"/help": null}));
        let i = parse(&handle_message(b"/info"));
        assert_eq!(i["/info"]["max_output_len"], 16384);
        assert_eq!(i["/info"]["pid"], std::process::id());
        assert!(unregister("/test/echo"));
    }

    #[test]
    fn bad_messages_get_clear_errors() {
        let e = parse(&handle_message(&vec![b'/'; 100 * 1024]));
        assert!(e["error"].as_str().unwrap().contains("102400 bytes"), "{e}");
        let e = parse(&handle_message(b"\xff\xfe"));
        assert!(e["error"].as_str().unwrap().contains("UTF-8"), "{e}");
        let e = parse(&handle_message(b"hello \x01"));
        assert!(e["error"].as_str().unwrap().contains("not a command"), "{e}");
        let long = format!("/{}", "x".repeat(200));
        let e = parse(&handle_message(long.as_bytes()));
        let (k, v) = e.as_object().unwrap().iter().next().unwrap();
        assert_eq!((k.len(), v), (MAX_CMD_LEN, &Value::Null));
        register("/test/panics", "Panics", |_, _| panic!("boom")).unwrap();
        assert_eq!(parse(&handle_message(b"/test/panics")), serde_json::json!({"/test/panics": null}));
        unregister("/test/panics");
    }

    #[test]
    fn id_params() {
        assert_eq!(parse_id_param(Some("3")), Ok(3));
        assert_eq!(parse_id_param(Some("3,hide_zero=true")), Ok(3));
        assert_eq!(parse_id_param(Some("0x1f")), Ok(31));
        assert!(parse_id_param(Some("-1")).is_err());
        assert!(parse_id_param(None).is_err());
        assert!(parse_id_param(Some("x")).is_err());
    }
}
