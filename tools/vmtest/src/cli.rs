//! Parsing of the `vmtest` command line.

use crate::error::{Error, Result};
use crate::guest::GuestConfig;
use crate::nic::Nic;
use eal::cli::{unknown, Arg, Cli as Reader};
use std::time::Duration;

/// Usage text.
pub const USAGE: &str = "\
usage: vmtest run [options] [-- guest command words...]
       vmtest assets
options of run:
  --nic MODEL:ID[,mac=M][,hub=N|,stream][,slot=N]
        models: e1000 e1000e igb virtio-modern virtio-legacy virtio-transitional
  --bin PATH       static binary to put in the guest's /bin (repeatable)
  --cmd 'SHELL'    a guest command (repeatable; each gets its own exit code)
  --hugepages N    2 MiB hugepages to reserve (default 64)
  --mem MIB        guest memory (default 1024)
  --timeout SECS   limit for the whole boot (default 180)
  --net-modules    also load the kernel's virtio-net driver
  --generic-kernel boot Debian's generic kernel (has e1000) and load its NIC drivers
  --append TEXT    extra kernel command-line text
  --no-iommu       no virtual IOMMU: VFIO in its unsafe no-IOMMU mode
  --machine M      q35 (default) or pc
  -v, --verbose    copy the guest console to stderr as it runs
Exit status: the first non-zero exit code of the guest commands, else 0;
125 if the guest could not be run or did not finish.";

/// A parsed command line.
#[derive(Debug)]
pub enum Cli {
    /// Boot a guest and run commands.
    Run(Box<GuestConfig>),
    /// Fetch the assets into the cache.
    Assets,
    /// Print usage.
    Help,
}

/// Quotes a word for the guest's shell if it needs it.
pub fn shell_quote(w: &str) -> String {
    let plain = !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// Parses `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Cli> {
    let bad = |m: String| Error::InvalidArgument(format!("{m}\n{USAGE}"));
    let Some((sub, rest)) = args.split_first() else {
        return Ok(Cli::Help);
    };
    match sub.as_str() {
        "assets" if rest.is_empty() => return Ok(Cli::Assets),
        "help" | "-h" | "--help" => return Ok(Cli::Help),
        "run" => {}
        other => return Err(bad(format!("unknown subcommand or argument '{other}'"))),
    }
    let mut cfg = GuestConfig::default();
    // `--mem 512` and `--mem=512`, `-v`; `--` ends the options and starts a guest command.
    let mut cli = Reader::new(rest.iter().cloned());
    let number = |cli: &mut Reader, name: &str, what: &str| -> Result<u32> {
        let v = cli.value(name).map_err(bad)?;
        v.parse().map_err(|_| bad(format!("{name} takes {what}, not '{v}'")))
    };
    loop {
        if let Some(words) = cli.rest_after_double_dash() {
            let words: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
            if !words.is_empty() {
                cfg.commands.push(words.join(" "));
            }
            break;
        }
        let Some(arg) = cli.next_arg().map_err(bad)? else { break };
        match arg {
            Arg::Long("nic") => cfg.nics.push(Nic::parse(&cli.value("--nic").map_err(bad)?)?),
            Arg::Long("bin") => cfg.binaries.push(cli.value("--bin").map_err(bad)?.into()),
            Arg::Long("cmd") => cfg.commands.push(cli.value("--cmd").map_err(bad)?),
            Arg::Long("hugepages") => cfg.hugepages = number(&mut cli, "--hugepages", "a number")?,
            Arg::Long("mem") => cfg.memory_mb = number(&mut cli, "--mem", "a number")?,
            Arg::Long("timeout") => {
                cfg.timeout = Duration::from_secs(u64::from(number(&mut cli, "--timeout", "seconds")?))
            }
            Arg::Long("net-modules") => cfg.net_modules = true,
            Arg::Long("generic-kernel") => cfg = cfg.generic_kernel(),
            Arg::Long("append") => cfg.extra_append = cli.value("--append").map_err(bad)?,
            Arg::Long("no-iommu") => cfg.iommu = crate::qemu::GuestIommu::None,
            Arg::Long("machine") => {
                cfg.machine = match cli.value("--machine").map_err(bad)?.as_str() {
                    "q35" => crate::qemu::Machine::Q35,
                    "pc" => crate::qemu::Machine::Pc,
                    m => return Err(bad(format!("--machine takes q35 or pc, not '{m}'"))),
                }
            }
            Arg::Short('v') | Arg::Long("verbose") => cfg.echo_console = true,
            other => return Err(bad(unknown(other))),
        }
    }
    if cfg.commands.is_empty() {
        return Err(bad("no guest command: give --cmd or -- command".into()));
    }
    Ok(Cli::Run(Box::new(cfg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_run_with_nics_bins_and_trailing_command() {
        let cli = parse(&args(&[
            "run",
            "--nic",
            "e1000:n1,mac=52:54:00:12:34:56",
            "--nic",
            "virtio-modern:n2",
            "--bin",
            "/x/probe",
            "--timeout",
            "60",
            "--",
            "probe",
            "--flag",
            "a b",
        ]))
        .unwrap();
        let Cli::Run(cfg) = cli else { panic!("not run") };
        assert_eq!(cfg.nics.len(), 2);
        assert_eq!(cfg.binaries, vec![std::path::PathBuf::from("/x/probe")]);
        assert_eq!(cfg.commands, vec!["probe --flag 'a b'".to_string()]);
        assert_eq!(cfg.timeout, Duration::from_secs(60));
    }

    #[test]
    fn errors_are_explained() {
        for bad in [
            &["run"][..],
            &["run", "--nic"],
            &["run", "--bogus", "x"],
            &["frobnicate"],
            &["run", "--mem", "lots", "--cmd", "x"],
        ] {
            let err = parse(&args(bad)).unwrap_err();
            assert!(err.to_string().contains("usage: vmtest"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn both_spellings_of_values() {
        for a in [
            &["run", "--mem=512", "--hugepages=32", "--timeout=60", "--cmd=true"][..],
            &["run", "--mem", "512", "--hugepages", "32", "--timeout", "60", "--cmd", "true"],
        ] {
            let Cli::Run(cfg) = parse(&args(a)).unwrap() else { panic!("not run") };
            assert_eq!((cfg.memory_mb, cfg.hugepages, cfg.timeout), (512, 32, Duration::from_secs(60)), "{a:?}");
            assert_eq!(cfg.commands, vec!["true".to_string()]);
        }
        let Cli::Run(cfg) = parse(&args(&["run", "-v", "--cmd", "-x", "--", "--"])).unwrap() else { panic!() };
        assert!(cfg.echo_console);
        assert_eq!(cfg.commands, vec!["-x".to_string(), "--".to_string()], "a value may start with '-'");
        let msg = |a: &[&str]| parse(&args(a)).unwrap_err().to_string();
        assert!(msg(&["run", "--mem=lots", "--cmd", "x"]).contains("--mem takes a number, not 'lots'"));
        assert!(msg(&["run", "--timeout"]).contains("option '--timeout' needs a value"));
        assert!(msg(&["run", "--net-modules=1", "--cmd", "x"]).contains("takes no value"));
        assert!(msg(&["run", "stray", "--cmd", "x"]).contains("unexpected argument 'stray'"));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("plain-word_1"), "plain-word_1");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn no_iommu_and_machine() {
        let Cli::Run(cfg) = parse(&args(&["run", "--no-iommu", "--machine", "pc", "--cmd", "true"])).unwrap() else {
            panic!("run expected");
        };
        assert_eq!((cfg.iommu, cfg.machine), (crate::qemu::GuestIommu::None, crate::qemu::Machine::Pc));
        let Cli::Run(cfg) = parse(&args(&["run", "--cmd", "true"])).unwrap() else {
            panic!("run expected");
        };
        assert_eq!((cfg.iommu, cfg.machine), (crate::qemu::GuestIommu::Intel, crate::qemu::Machine::Q35));
        let e = parse(&args(&["run", "--machine", "isapc", "--cmd", "true"])).unwrap_err().to_string();
        assert!(e.contains("q35 or pc"), "{e}");
    }

    #[test]
    fn assets_and_help() {
        assert!(matches!(parse(&args(&["assets"])).unwrap(), Cli::Assets));
        assert!(matches!(parse(&[]).unwrap(), Cli::Help));
    }
}
