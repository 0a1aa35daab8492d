//! `vmtest`: boot a QEMU guest with NICs and static binaries, run commands,
//! print their output, and exit with their exit code.

use std::process::ExitCode;
use vmtest::cli::{parse, Cli, USAGE};
use vmtest::{Assets, GuestConfig, KernelFlavour};

const HARNESS_FAILURE: u8 = 125;

fn run(cfg: &GuestConfig) -> ExitCode {
    let outcome = match vmtest::run(cfg) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("vmtest: {e}");
            return ExitCode::from(HARNESS_FAILURE);
        }
    };
    for f in &outcome.setup_failures {
        eprintln!("vmtest: guest setup step failed: {f}");
    }
    let many = outcome.results.len() > 1;
    let mut code = 0;
    for r in &outcome.results {
        if many {
            println!("== [{}] {} ==", r.index, r.command);
        }
        print!("{}", r.output);
        let rc = r.exit_code.unwrap_or(i32::from(HARNESS_FAILURE));
        if many || rc != 0 {
            eprintln!("vmtest: [{}] exit code {}", r.index, rc);
        }
        if code == 0 && rc != 0 {
            code = rc;
        }
    }
    let boot = outcome.boot_time.map(|d| format!("{:.1} s", d.as_secs_f64())).unwrap_or_else(|| "?".into());
    eprintln!("vmtest: guest ready after {boot}, powered off after {:.1} s", outcome.total_time.as_secs_f64());
    ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(HARNESS_FAILURE))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Cli::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Cli::Assets) => match Assets::ensure(&vmtest::default_cache_dir()) {
            Ok(a) => {
                println!("{} ({})", a.kernel.display(), a.kernel_package);
                // The generic kernel of the same version, for the guests that re-bind an e1000
                // to its Linux driver (guest_hotplug): fetched once here rather than in a test.
                match Assets::ensure_flavour(&vmtest::default_cache_dir(), KernelFlavour::Generic) {
                    Ok(g) => println!("{} ({})", g.kernel.display(), g.kernel_package),
                    Err(e) => {
                        eprintln!("vmtest: the generic kernel: {e}");
                        return ExitCode::from(HARNESS_FAILURE);
                    }
                }
                // The no-IOMMU guests' VFIO modules, built once here rather than in a test.
                match a.noiommu_vfio_modules() {
                    Ok(m) => {
                        println!(
                            "no-IOMMU VFIO modules: {}",
                            m.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("vmtest: no-IOMMU VFIO modules: {e}");
                        ExitCode::from(HARNESS_FAILURE)
                    }
                }
            }
            Err(e) => {
                eprintln!("vmtest: {e}");
                ExitCode::from(HARNESS_FAILURE)
            }
        },
        Ok(Cli::Run(cfg)) => run(&cfg),
        Err(e) => {
            eprintln!("vmtest: {e}");
            ExitCode::from(2)
        }
    }
}
