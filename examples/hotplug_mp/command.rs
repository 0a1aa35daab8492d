//! The commands hotplug_mp reads from stdin, one a line: DPDK's `attach <devargs>`,
//! `detach <port or devargs>`, `list`, `quit`, `help`, plus Bypass's `hold <port>` /
//! `release <port>` (keep a port handle, as an lcore polling it would), `info` (pool,
//! memzones, traffic), `traffic on|off` and `fwd <port> <frames> <ms>` (echo frames on a
//! port in this process).

/// What `detach` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A port id.
    Port(u16),
    /// A device name or devargs (`net_ring3`).
    Device(String),
}

/// One command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Attach a device.
    Attach(String),
    /// Detach a port.
    Detach(Target),
    /// List the ports.
    List,
    /// Keep a handle of a port.
    Hold(u16),
    /// Drop the handle kept with `hold`.
    Release(u16),
    /// Pool, memzones and traffic counters.
    Info,
    /// Start or pause the traffic loop.
    Traffic(bool),
    /// Echo frames on queue 0 of a port: (port, frames, milliseconds).
    Forward(u16, u64, u64),
    /// Show the commands.
    Help,
    /// Exit.
    Quit,
    /// An empty line.
    Nothing,
}

/// The commands, for `help` and for errors.
pub const HELP: &str = "commands: attach <devargs> | detach <port or devargs> | list | hold <port> | release <port> | info | traffic on|off | fwd <port> <frames> <ms> | help | quit";

fn port_id(word: &str, cmd: &str) -> Result<u16, String> {
    word.parse().map_err(|_| format!("bad command '{cmd}': '{word}' is not a port id (0-65535)"))
}

/// Parses one line.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim();
    let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let needs = |what: &str| format!("bad command '{line}': {verb} needs {what}");
    let no_args = |c: Command| {
        if rest.is_empty() {
            Ok(c)
        } else {
            Err(format!("bad command '{line}': {verb} takes no argument"))
        }
    };
    match verb {
        "" => Ok(Command::Nothing),
        "attach" if rest.is_empty() => Err(needs("devargs, e.g. attach net_ring1")),
        "attach" => Ok(Command::Attach(rest.to_string())),
        "detach" if rest.is_empty() => Err(needs("a port id or devargs, e.g. detach 1")),
        "detach" => Ok(Command::Detach(match rest.parse::<u16>() {
            Ok(p) => Target::Port(p),
            Err(_) => Target::Device(rest.to_string()),
        })),
        "hold" if rest.is_empty() => Err(needs("a port id")),
        "hold" => port_id(rest, line).map(Command::Hold),
        "release" if rest.is_empty() => Err(needs("a port id")),
        "release" => port_id(rest, line).map(Command::Release),
        "traffic" => match rest {
            "on" => Ok(Command::Traffic(true)),
            "off" => Ok(Command::Traffic(false)),
            _ => Err(needs("on or off")),
        },
        "fwd" => {
            let w: Vec<&str> = rest.split_whitespace().collect();
            let [p, n, ms] = w[..] else {
                return Err(needs("a port, a frame count and milliseconds, e.g. fwd 1 100 5000"));
            };
            let num = |x: &str| x.parse::<u64>().map_err(|_| format!("bad command '{line}': '{x}' is not a number"));
            Ok(Command::Forward(port_id(p, line)?, num(n)?, num(ms)?))
        }
        "list" => no_args(Command::List),
        "info" => no_args(Command::Info),
        "help" => no_args(Command::Help),
        "quit" | "exit" => no_args(Command::Quit),
        _ => Err(format!("bad command '{line}': {HELP}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dpdk_commands_and_names_mistakes() {
        assert_eq!(parse("attach net_ring1,size=64"), Ok(Command::Attach("net_ring1,size=64".into())));
        assert_eq!(parse(" detach 3 "), Ok(Command::Detach(Target::Port(3))));
        assert_eq!(parse("detach net_null2"), Ok(Command::Detach(Target::Device("net_null2".into()))));
        assert_eq!(parse("list"), Ok(Command::List));
        assert_eq!(parse("quit"), Ok(Command::Quit));
        assert_eq!(parse(""), Ok(Command::Nothing));
        assert_eq!(parse("hold 2"), Ok(Command::Hold(2)));
        assert_eq!(parse("traffic off"), Ok(Command::Traffic(false)));
        assert_eq!(parse("fwd 1 100 5000"), Ok(Command::Forward(1, 100, 5000)));
        assert!(parse("fwd 1 100").unwrap_err().contains("fwd needs a port, a frame count"));
        assert!(parse("fwd 1 x 5").unwrap_err().contains("'x' is not a number"));
        assert!(parse("attach").unwrap_err().contains("attach needs devargs"));
        assert!(parse("hold x").unwrap_err().contains("'x' is not a port id"));
        assert!(parse("list 3").unwrap_err().contains("takes no argument"));
        assert!(parse("bogus").unwrap_err().contains("bad command 'bogus'"));
    }
}
