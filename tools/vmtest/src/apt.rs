//! Looking up and downloading Debian packages with apt (no installation).

use crate::error::{Error, Result};
use crate::host_cmd::run;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The metapackage whose dependency names the current cloud kernel.
pub const KERNEL_META: &str = "linux-image-cloud-amd64";
/// The suite the kernel is taken from.
pub const KERNEL_SUITE: &str = "bookworm-backports";

const APT_HINT: &str = "this needs Debian's apt tools (run tools/vmtest/setup-host.sh)";

/// Picks the versioned kernel package out of `apt-cache depends` output
/// (`Depends: linux-image-6.12.95+deb12-cloud-amd64`).
pub fn parse_kernel_depends(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let dep = l.trim().strip_prefix("Depends:")?.trim();
        let dep = dep.trim_start_matches('<').trim_end_matches('>');
        (dep.starts_with("linux-image-") && dep.ends_with("-cloud-amd64") && dep != KERNEL_META)
            .then(|| dep.to_string())
    })
}

/// The versioned kernel image package in bookworm-backports, e.g.
/// `linux-image-6.12.95+deb12-cloud-amd64`; `VMTEST_KERNEL_PACKAGE` overrides.
pub fn kernel_package() -> Result<String> {
    if let Ok(p) = std::env::var("VMTEST_KERNEL_PACKAGE") {
        if !p.is_empty() {
            return Ok(p);
        }
    }
    let out = run(Command::new("apt-cache").args(["depends", "-t", KERNEL_SUITE, KERNEL_META]), APT_HINT)
        .map_err(|e| Error::KernelPackage(e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let pkg = parse_kernel_depends(&text)
        .ok_or_else(|| Error::KernelPackage(format!("no versioned dependency in: {}", text.trim())))?;
    check_not_stable(&pkg)?;
    Ok(pkg)
}

/// The generic kernel image package of the same version as the cloud one
/// (`linux-image-6.12.95+deb12-amd64` for `linux-image-6.12.95+deb12-cloud-amd64`): it has
/// the drivers of real and emulated NICs (`e1000`, ...) that the cloud kernel leaves out.
pub fn generic_package(cloud: &str) -> String {
    match cloud.strip_suffix("-cloud-amd64") {
        Some(stem) => format!("{stem}-amd64"),
        None => cloud.to_string(),
    }
}

/// Without backports in the apt lists, `-t bookworm-backports` silently
/// answers with bookworm's own 6.1 kernel (`linux-image-6.1.0-N-cloud-amd64`),
/// which is not the verified guest kernel: refuse it.
pub fn check_not_stable(pkg: &str) -> Result<()> {
    if pkg.starts_with("linux-image-6.1.0-") {
        return Err(Error::KernelPackage(format!(
            "apt offers {pkg} from bookworm only: bookworm-backports is not in the apt lists"
        )));
    }
    Ok(())
}

/// Downloads `packages` (from `suite` if given) into `dir`; returns the
/// `.deb` paths in the order asked.
pub fn download(dir: &Path, suite: Option<&str>, packages: &[&str]) -> Result<Vec<PathBuf>> {
    let mut cmd = Command::new("apt-get");
    cmd.current_dir(dir).args(["-q", "-o", "APT::Sandbox::User=root", "download"]);
    if let Some(s) = suite {
        cmd.args(["-t", s]);
    }
    cmd.args(packages);
    run(&mut cmd, APT_HINT)?;
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("reading", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    packages
        .iter()
        .map(|name| {
            let prefix = format!("{}_", name.split('=').next().unwrap_or(name));
            entries
                .iter()
                .find(|p| p.file_name().is_some_and(|f| f.to_string_lossy().starts_with(&prefix)))
                .cloned()
                .ok_or_else(|| Error::MissingInPackage {
                    what: format!("{name}_*.deb"),
                    package: format!("apt-get download output in {}", dir.display()),
                })
        })
        .collect()
}

/// Unpacks a `.deb`'s files into `dest` with `dpkg-deb -x`.
pub fn extract(deb: &Path, dest: &Path) -> Result<()> {
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(dest), "dpkg-deb comes with dpkg on Debian")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_versioned_kernel() {
        let out = "linux-image-cloud-amd64\n  Depends: linux-image-6.12.95+deb12-cloud-amd64\n";
        assert_eq!(parse_kernel_depends(out).as_deref(), Some("linux-image-6.12.95+deb12-cloud-amd64"));
    }

    #[test]
    fn ignores_other_dependencies() {
        let out = "linux-image-cloud-amd64\n  Depends: initramfs-tools\n  Recommends: x\n";
        assert_eq!(parse_kernel_depends(out), None);
        assert_eq!(parse_kernel_depends(""), None);
    }

    #[test]
    fn the_generic_kernel_has_the_cloud_kernels_version() {
        assert_eq!(generic_package("linux-image-6.12.95+deb12-cloud-amd64"), "linux-image-6.12.95+deb12-amd64");
        assert_eq!(generic_package("linux-image-6.12.95+deb12-amd64"), "linux-image-6.12.95+deb12-amd64");
    }

    #[test]
    fn refuses_the_stable_kernel() {
        assert!(check_not_stable("linux-image-6.1.0-41-cloud-amd64").is_err());
        assert!(check_not_stable("linux-image-6.12.95+deb12-cloud-amd64").is_ok());
    }
}
