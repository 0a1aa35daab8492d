//! `devbind`: show PCI network devices and bind them to vfio-pci and back.
//!
//! dpdk-devbind's interface (`--status`, `--bind`, `--unbind`, `--force`), reading sysfs and
//! procfs directly (roots overridable for tests), with exit codes a script can rely on and
//! a warning when an IOMMU group stays unviable. See `devbind --help`.

mod actions;
mod cli;
mod exit;
mod ids;
mod noiommu;
mod resolve;
mod routes;
mod status;
mod users;

use std::process::ExitCode;

use eal::pci::Sysfs;

use crate::actions::Ctx;
use crate::cli::{Action, Options, Parsed};
use crate::exit::Exit;

fn main() -> ExitCode {
    let mut args = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => return usage_error(&format!("argument {a:?} is not valid UTF-8")),
        }
    }
    let opts = match cli::parse(args, |k| std::env::var(k).ok()) {
        Ok(Parsed::Help) => {
            print!("{}", cli::USAGE);
            return Exit::Success.into();
        }
        Ok(Parsed::Run(o)) => o,
        Err(msg) => return usage_error(&msg),
    };
    init_logging();
    run(&opts).into()
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("devbind: {msg}\nRun `devbind --help` for usage.");
    Exit::Usage.into()
}

/// Logs from the PCI layer go to stderr when RUST_LOG asks for them.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(eal::logging::stderr_wants_colour())
        .try_init();
}

fn run(opts: &Options) -> Exit {
    let sysfs = Sysfs::new(&opts.sysfs_root);
    let devices = match sysfs.scan() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("devbind: {e}");
            return Exit::Failed;
        }
    };
    let (routes, route_errors) = routes::read_routes(&opts.proc_root);
    for e in &route_errors {
        eprintln!("warning: {e}; interfaces cannot be checked for routes");
    }
    let mut worst = Exit::Success;
    if let Some(action) = &opts.action {
        let targets = match resolve::resolve(&devices, &opts.devices) {
            Ok(t) => t,
            Err(msg) => {
                eprintln!("devbind: {msg}");
                return Exit::NotFound;
            }
        };
        if opts.noiommu_mode {
            match noiommu::enable(&sysfs) {
                Ok(noiommu::NoIommuOutcome::Enabled) => eprintln!("{}", noiommu::WARNING),
                Ok(noiommu::NoIommuOutcome::AlreadyOn) => eprintln!("VFIO no-IOMMU mode is already on"),
                Ok(noiommu::NoIommuOutcome::HasIommu) => {
                    eprintln!("the kernel has an IOMMU: VFIO's no-IOMMU mode is not needed and stays off")
                }
                Err(e) => {
                    eprintln!("devbind: --noiommu-mode: {e}");
                    return Exit::Failed;
                }
            }
        }
        if !route_errors.is_empty() && !opts.force {
            eprintln!("devbind: not changing any device while routes are unknown; give --force to go on anyway");
            return Exit::Refused;
        }
        let ctx = Ctx {
            sysfs: &sysfs,
            routes: &routes,
            proc_root: &opts.proc_root,
            force: opts.force,
            verbose: opts.verbose,
        };
        worst = match action {
            Action::Bind(driver) => ctx.bind_all(driver, &targets),
            Action::Unbind => ctx.unbind_all(&targets),
        };
    }
    if opts.status {
        let devices = if opts.action.is_some() {
            match sysfs.scan() {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("devbind: {e}");
                    return Exit::Failed;
                }
            }
        } else {
            devices
        };
        if opts.action.is_some() {
            println!();
        }
        print!("{}", status::render(&devices, &routes));
    }
    worst
}
