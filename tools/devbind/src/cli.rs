//! Command-line parsing for devbind.

use eal::cli::{self, Arg, Cli};
use std::path::PathBuf;

/// The help text, exit codes included.
pub const USAGE: &str = "\
Usage: devbind [OPTIONS] --status
       devbind [OPTIONS] --bind DRIVER DEVICE...
       devbind [OPTIONS] --unbind DEVICE...

Shows PCI network devices and binds them to vfio-pci (or any loaded PCI driver) and back.
DEVICE is a PCI address (0000:02:00.0, or 02:00.0 for domain 0) or a network interface
name (eth0). Nothing is loaded: load the driver first (modprobe vfio-pci).

Options:
  -s, --status            show network devices grouped by the kind of driver they use
                          (after binding or unbinding, when given with -b or -u)
  -b, --bind DRIVER       bind the devices to DRIVER (\"none\" is the same as --unbind)
  -u, --unbind            unbind the devices from their drivers
      --force             also act on devices in use: an interface with a route, or a
                          VFIO group that a process holds open
      --noiommu-mode      with --bind vfio-pci: if the kernel has no IOMMU (a VM without a
                          virtual IOMMU), turn on VFIO's unsafe no-IOMMU mode first (with a
                          warning: the devices can then DMA to any memory)
  -v, --verbose           print every sysfs write
      --sysfs-root PATH   sysfs to use (default /sys, or $BYPASS_SYSFS_ROOT)
      --proc-root PATH    procfs for routes and VFIO users (default /proc, or $BYPASS_PROC_ROOT)
  -h, --help              show this help

Exit codes:
  0  success (including nothing to do)
  1  usage error; nothing was changed
  2  a device was not found; nothing was changed
  3  a device was left alone because it is in use (or routes could not be read)
     and --force was not given
  4  a bind or unbind failed (the message gives the sysfs error), or sysfs is unreadable
When several devices are given, each is attempted and the highest code is returned.
";

/// What to do to the devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Bind to this driver.
    Bind(String),
    /// Unbind from the current driver.
    Unbind,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Print the status (after the action, if any).
    pub status: bool,
    /// Bind or unbind, if asked.
    pub action: Option<Action>,
    /// Act on active interfaces too.
    pub force: bool,
    /// Turn on VFIO's no-IOMMU mode first when the kernel has no IOMMU.
    pub noiommu_mode: bool,
    /// Print every sysfs write.
    pub verbose: bool,
    /// The sysfs root.
    pub sysfs_root: PathBuf,
    /// The procfs root.
    pub proc_root: PathBuf,
    /// Device arguments as given.
    pub devices: Vec<String>,
}

/// Either help was asked for, or there is something to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// `-h`/`--help`.
    Help,
    /// Run with these options.
    Run(Options),
}

/// Parses the arguments (without the program name); `env` looks up environment variables.
/// The error is a one-line message for the user.
pub fn parse<I, F>(args: I, env: F) -> Result<Parsed, String>
where
    I: IntoIterator<Item = String>,
    F: Fn(&str) -> Option<String>,
{
    let mut status = false;
    let mut bind: Option<String> = None;
    let mut unbind = false;
    let mut force = false;
    let mut noiommu_mode = false;
    let mut verbose = false;
    let mut sysfs_root: Option<String> = None;
    let mut proc_root: Option<String> = None;
    let mut devices = Vec::new();

    // dpdk-devbind's spellings: `-b vfio-pci`, `-bvfio-pci`, `--bind=vfio-pci`, `-su`;
    // devices may come before or after the options, and `--` ends the options.
    let mut cli = Cli::new(args);
    let value = |cli: &mut Cli, name: &str, what: &str| -> Result<String, String> {
        match cli.value(name) {
            Ok(v) if !v.is_empty() => Ok(v),
            _ => Err(format!("{name} needs {what}")),
        }
    };
    while let Some(arg) = cli.next_arg()? {
        match arg {
            Arg::Value(d) => devices.push(d.to_string_lossy().into_owned()),
            Arg::Short('h') | Arg::Long("help") => return Ok(Parsed::Help),
            Arg::Short('s') | Arg::Long("status") => status = true,
            Arg::Short('u') | Arg::Long("unbind") => unbind = true,
            Arg::Long("force") => force = true,
            Arg::Long("noiommu-mode") => noiommu_mode = true,
            Arg::Short('v') | Arg::Long("verbose") => verbose = true,
            Arg::Short('b') | Arg::Long("bind") => {
                let drv = value(&mut cli, "--bind", "a driver name (e.g. -b vfio-pci)")?;
                if bind.replace(drv).is_some() {
                    return Err("--bind given twice".into());
                }
            }
            Arg::Long("sysfs-root") => sysfs_root = Some(value(&mut cli, "--sysfs-root", "a path")?),
            Arg::Long("proc-root") => proc_root = Some(value(&mut cli, "--proc-root", "a path")?),
            other => return Err(cli::unknown(other)),
        }
    }

    let action = match (bind, unbind) {
        (Some(_), true) => return Err("--bind and --unbind cannot be used together".into()),
        (Some(d), false) if d == "none" => Some(Action::Unbind),
        (Some(d), false) => {
            check_driver_name(&d)?;
            Some(Action::Bind(d))
        }
        (None, true) => Some(Action::Unbind),
        (None, false) => None,
    };
    match (&action, devices.is_empty()) {
        (None, false) => return Err(format!("device {} given without --bind or --unbind", devices[0])),
        (None, true) if !status => return Err("nothing to do: give --status, --bind or --unbind".into()),
        (Some(_), true) => return Err("no device given: name PCI addresses or interfaces".into()),
        _ => {}
    }
    if noiommu_mode && !matches!(&action, Some(Action::Bind(d)) if d == "vfio-pci") {
        return Err("--noiommu-mode goes with --bind vfio-pci".into());
    }
    let root = |flag: Option<String>, var: &str, default: &str| -> PathBuf {
        flag.or_else(|| env(var).filter(|v| !v.is_empty())).unwrap_or_else(|| default.to_string()).into()
    };
    Ok(Parsed::Run(Options {
        status,
        action,
        force,
        noiommu_mode,
        verbose,
        sysfs_root: root(sysfs_root, "BYPASS_SYSFS_ROOT", "/sys"),
        proc_root: root(proc_root, "BYPASS_PROC_ROOT", "/proc"),
        devices,
    }))
}

/// A driver name is one sysfs directory name.
fn check_driver_name(d: &str) -> Result<(), String> {
    let ok = !d.is_empty()
        && !d.starts_with('.')
        && !d.starts_with('-')
        && d.chars().all(|c| c.is_ascii_graphic() && c != '/');
    if ok {
        Ok(())
    } else {
        Err(format!("{d:?} is not a driver name (e.g. vfio-pci)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        run_env(args, &[])
    }

    fn run_env(args: &[&str], vars: &[(&str, &str)]) -> Result<Options, String> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let env = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match parse(args.iter().map(|s| s.to_string()), env)? {
            Parsed::Run(o) => Ok(o),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn noiommu_mode_goes_with_bind_vfio_pci() {
        let o = run(&["--noiommu-mode", "-b", "vfio-pci", "00:03.0"]).unwrap();
        assert!(o.noiommu_mode);
        for bad in [
            &["--noiommu-mode", "-s"][..],
            &["--noiommu-mode", "-b", "e1000", "00:03.0"],
            &["--noiommu-mode", "-u", "00:03.0"],
        ] {
            let e = run(bad).unwrap_err();
            assert!(e.contains("--bind vfio-pci"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn status_alone_with_defaults() {
        let o = run(&["-s"]).unwrap();
        assert!(o.status && o.action.is_none() && !o.force);
        assert_eq!(o.sysfs_root, PathBuf::from("/sys"));
        assert_eq!(o.proc_root, PathBuf::from("/proc"));
    }

    #[test]
    fn bind_forms() {
        for args in [
            &["--bind", "vfio-pci", "eth0"][..],
            &["--bind=vfio-pci", "eth0"],
            &["-b", "vfio-pci", "eth0"],
            &["-bvfio-pci", "eth0"],
            &["eth0", "-b", "vfio-pci"],
        ] {
            let o = run(args).unwrap();
            assert_eq!(o.action, Some(Action::Bind("vfio-pci".into())), "{args:?}");
            assert_eq!(o.devices, ["eth0"]);
        }
        assert_eq!(run(&["-b", "none", "02:00.0"]).unwrap().action, Some(Action::Unbind));
    }

    #[test]
    fn dpdk_devbind_spellings() {
        let o = run(&["-su", "--sysfs-root=/y", "--proc-root", "/p", "02:00.0", "eth1"]).unwrap();
        assert!(o.status && o.action == Some(Action::Unbind), "clustered -su");
        assert_eq!((o.sysfs_root, o.proc_root), (PathBuf::from("/y"), PathBuf::from("/p")));
        assert_eq!(o.devices, ["02:00.0", "eth1"]);
        let o = run(&["-vb=vfio-pci", "--force", "eth0"]).unwrap();
        assert!(o.verbose && o.force);
        assert_eq!(o.action, Some(Action::Bind("vfio-pci".into())));
    }

    #[test]
    fn roots_from_flags_then_env() {
        let o = run_env(&["-s"], &[("BYPASS_SYSFS_ROOT", "/x/sys"), ("BYPASS_PROC_ROOT", "/x/proc")]).unwrap();
        assert_eq!(o.sysfs_root, PathBuf::from("/x/sys"));
        assert_eq!(o.proc_root, PathBuf::from("/x/proc"));
        let o = run_env(&["-s", "--sysfs-root", "/y"], &[("BYPASS_SYSFS_ROOT", "/x/sys")]).unwrap();
        assert_eq!(o.sysfs_root, PathBuf::from("/y"));
    }

    #[test]
    fn usage_errors() {
        for (args, needle) in [
            (&[][..], "nothing to do"),
            (&["-b"], "needs a driver"),
            (&["-b", "vfio-pci"], "no device"),
            (&["-u"], "no device"),
            (&["-b", "vfio-pci", "-u", "eth0"], "together"),
            (&["eth0"], "without --bind"),
            (&["--frobnicate"], "unknown option"),
            (&["-b", "../x", "eth0"], "not a driver name"),
            (&["--force=yes", "-s"], "takes no value"),
            (&["--sysfs-root"], "needs a path"),
            (&["--bind="], "--bind needs a driver name"),
            (&["-s", "-b", "x", "-b", "y", "eth0"], "--bind given twice"),
            (&["-s", "--verbose=2"], "option '--verbose' takes no value"),
            (&["-sx"], "unknown option '-x'"),
        ] {
            let e = run(args).unwrap_err();
            assert!(e.contains(needle), "{args:?}: {e}");
        }
    }

    #[test]
    fn help_wins() {
        let p = parse(["-b".to_string(), "x".into(), "--help".into()], |_| None).unwrap();
        assert_eq!(p, Parsed::Help);
    }

    #[test]
    fn double_dash_ends_options() {
        let o = run(&["-u", "--", "-weird"]).unwrap();
        assert_eq!(o.devices, ["-weird"]);
    }
}
