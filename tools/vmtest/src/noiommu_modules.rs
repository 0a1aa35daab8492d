//! VFIO modules with no-IOMMU support for the guest kernel, built once and cached.
//!
//! Debian builds its kernels without `CONFIG_VFIO_NOIOMMU`, so the stock `vfio.ko` has no
//! `enable_unsafe_noiommu_mode` parameter and vfio-pci cannot bind a device in a machine
//! without an IOMMU. The harness rebuilds the VFIO modules (`vfio`, `vfio_iommu_type1`,
//! `vfio-pci-core`, `vfio-pci`) from Debian's `linux-source-<series>` of the guest kernel's
//! exact version, against the installed `linux-headers-<version>` (same configuration, same
//! symbol versions), with `CONFIG_VFIO_NOIOMMU` set. The result is cached next to the
//! kernel; only `vfio.ko` differs in function from Debian's, the others are rebuilt so that
//! the four agree on their symbol versions.

use crate::apt;
use crate::error::{Error, Result};
use crate::host_cmd::run;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The rebuilt modules, in load order, as paths under `drivers/vfio/` of the source tree
/// (`irqbypass`, which does not change, comes from the kernel package).
pub const NOIOMMU_MODULES: &[&str] = &["vfio", "vfio_iommu_type1", "pci/vfio-pci-core", "pci/vfio-pci"];
/// The `vfio.ko` parameter that turns the mode on.
pub const NOIOMMU_PARAM: &str = "enable_unsafe_noiommu_mode=1";
const STAMP: &str = ".complete";
const HEADERS_HINT: &str =
    "the no-IOMMU guest needs gcc, make and linux-headers-<guest kernel version>: run tools/vmtest/setup-host.sh";

/// The kernel release of a kernel image package: `6.12.95+deb12-cloud-amd64` for
/// `linux-image-6.12.95+deb12-cloud-amd64`.
pub fn kernel_release(image_package: &str) -> Option<&str> {
    image_package.strip_prefix("linux-image-").filter(|r| !r.is_empty())
}

/// The source series of a kernel release: `6.12` for `6.12.95+deb12-cloud-amd64`.
pub fn source_series(release: &str) -> Option<String> {
    let mut parts = release.split(['.', '-', '+']);
    let (major, minor) = (parts.next()?, parts.next()?);
    (major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok()).then(|| format!("{major}.{minor}"))
}

/// The headers directory kbuild needs for `release`.
pub fn headers_dir(release: &str) -> PathBuf {
    PathBuf::from(format!("/usr/src/linux-headers-{release}"))
}

/// The module files of a finished build in `dir`, in load order.
pub fn module_paths(dir: &Path) -> Vec<PathBuf> {
    NOIOMMU_MODULES.iter().map(|m| dir.join(format!("{}.ko", m.rsplit('/').next().unwrap_or(m)))).collect()
}

/// The no-IOMMU modules for the kernel of `image_package`, built into `dir` unless a
/// complete build is there. The caller serialises builds (the asset fetch lock).
pub fn ensure(dir: &Path, image_package: &str) -> Result<Vec<PathBuf>> {
    if dir.join(STAMP).exists() {
        return Ok(module_paths(dir));
    }
    let bad = |what: &str| Error::InvalidArgument(format!("{what} of kernel package {image_package}"));
    let release = kernel_release(image_package).ok_or_else(|| bad("no release"))?;
    let series = source_series(release).ok_or_else(|| bad("no source series"))?;
    let headers = headers_dir(release);
    if !headers.join("Makefile").exists() {
        return Err(Error::Spawn {
            program: format!("make -C {}", headers.display()),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "kernel headers not installed"),
            hint: HEADERS_HINT,
        });
    }
    // The source of exactly the headers' version (the version of the kernel image).
    let out = run(
        Command::new("dpkg-query").args(["-W", "-f=${Version}", &format!("linux-headers-{release}")]),
        HEADERS_HINT,
    )?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
    let built = build_in(&tmp, &headers, &series, &version);
    let result = built.and_then(|mods| {
        fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        for (src, dst) in mods.iter().zip(module_paths(dir)) {
            fs::copy(src, &dst).map_err(|e| Error::io("copying", src, e))?;
        }
        fs::write(dir.join(STAMP), format!("{image_package} {version}")).map_err(|e| Error::io("writing", dir, e))
    });
    let _ = fs::remove_dir_all(&tmp);
    result.map(|_| module_paths(dir))
}

/// Downloads the source, unpacks `drivers/vfio` and builds it with no-IOMMU support.
fn build_in(tmp: &Path, headers: &Path, series: &str, version: &str) -> Result<Vec<PathBuf>> {
    let pkg = format!("linux-source-{series}");
    let debs = apt::download(tmp, None, &[&format!("{pkg}={version}")])?;
    let root = tmp.join("root");
    apt::extract(&debs[0], &root)?;
    let tarball = root.join(format!("usr/src/{pkg}.tar.xz"));
    let member = format!("{pkg}/drivers/vfio");
    run(
        Command::new("tar").arg("-xf").arg(&tarball).arg("-C").arg(tmp).arg(&member),
        "tar and xz-utils unpack the kernel source",
    )?;
    let _ = fs::remove_dir_all(&root);
    let src = tmp.join(&member);
    run(
        Command::new("make").arg("-C").arg(headers).arg(format!("M={}", src.display())).args([
            "CONFIG_VFIO_NOIOMMU=y",
            "KCFLAGS=-DCONFIG_VFIO_NOIOMMU=1",
            "modules",
            "-j2",
        ]),
        HEADERS_HINT,
    )?;
    let mods: Vec<PathBuf> = NOIOMMU_MODULES.iter().map(|m| src.join(format!("{m}.ko"))).collect();
    if let Some(missing) = mods.iter().find(|m| !m.exists()) {
        return Err(Error::MissingInPackage {
            what: missing.display().to_string(),
            package: "the module build".into(),
        });
    }
    let vfio = fs::read(&mods[0]).map_err(|e| Error::io("reading", &mods[0], e))?;
    let param = NOIOMMU_PARAM.split('=').next().unwrap_or(NOIOMMU_PARAM);
    if !vfio.windows(param.len()).any(|w| w == param.as_bytes()) {
        return Err(Error::MissingInPackage {
            what: format!("parameter {param}"),
            package: "the rebuilt vfio.ko".into(),
        });
    }
    Ok(mods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_and_series_from_the_package() {
        let r = kernel_release("linux-image-6.12.95+deb12-cloud-amd64").unwrap();
        assert_eq!(r, "6.12.95+deb12-cloud-amd64");
        assert_eq!(source_series(r).as_deref(), Some("6.12"));
        assert_eq!(kernel_release("busybox"), None);
        assert_eq!(source_series("x.y"), None);
        assert_eq!(headers_dir(r), Path::new("/usr/src/linux-headers-6.12.95+deb12-cloud-amd64"));
    }

    #[test]
    fn module_files_keep_load_order() {
        let names: Vec<String> =
            module_paths(Path::new("/c")).iter().map(|p| p.file_name().unwrap().to_string_lossy().into()).collect();
        assert_eq!(names, ["vfio.ko", "vfio_iommu_type1.ko", "vfio-pci-core.ko", "vfio-pci.ko"]);
    }
}
