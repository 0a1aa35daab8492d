//! Guest assets, fetched once and cached: the Debian cloud kernel (or, for the guests that
//! hand a NIC back to its Linux driver, the generic kernel of the same version, which has
//! `e1000`), the VFIO (and kernel NIC driver) modules decompressed, and a static busybox.

use crate::apt;
use crate::error::{Error, Result};
use crate::host_cmd::run;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// VFIO modules, in load order, as paths under `lib/modules/<ver>/kernel/`.
pub const VFIO_MODULES: &[&str] = &[
    "virt/lib/irqbypass",
    "drivers/vfio/vfio",
    "drivers/vfio/vfio_iommu_type1",
    "drivers/vfio/pci/vfio-pci-core",
    "drivers/vfio/pci/vfio-pci",
];

/// The kernel's own virtio-net driver, in load order (optional in guests).
pub const NET_MODULES: &[&str] = &["net/core/failover", "drivers/net/net_failover", "drivers/net/virtio_net"];

/// The generic kernel's NIC drivers, in load order (optional in guests): virtio-net's, then
/// the 82540EM's `e1000` (no dependencies), which the cloud kernel lacks.
pub const GENERIC_NET_MODULES: &[&str] = &[
    "net/core/failover",
    "drivers/net/net_failover",
    "drivers/net/virtio_net",
    "drivers/net/ethernet/intel/e1000/e1000",
];

/// Which Debian kernel a guest boots (both of bookworm-backports, the same version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelFlavour {
    /// `linux-image-<ver>-cloud-amd64`: small, boots fast, virtio-net is its only NIC driver.
    #[default]
    Cloud,
    /// `linux-image-<ver>-amd64` (a ~106 MB download, cached like the cloud one): also has
    /// the Intel NIC drivers, so a test can re-bind an e1000 to the kernel's `e1000`.
    Generic,
}

impl KernelFlavour {
    /// The kernel NIC driver modules of this flavour (under `kernel/`, load order).
    pub fn net_modules(self) -> &'static [&'static str] {
        match self {
            KernelFlavour::Cloud => NET_MODULES,
            KernelFlavour::Generic => GENERIC_NET_MODULES,
        }
    }

    /// The image package of this flavour for the cloud kernel package `cloud`.
    pub fn package(self, cloud: &str) -> String {
        match self {
            KernelFlavour::Cloud => cloud.to_string(),
            KernelFlavour::Generic => apt::generic_package(cloud),
        }
    }

    /// Whether a cached package directory name is of this flavour.
    fn matches(self, package: &str) -> bool {
        package.ends_with("-cloud-amd64") == (self == KernelFlavour::Cloud)
    }
}

const COMPLETE_STAMP: &str = ".complete";

/// Paths of the cached assets of one kernel version.
#[derive(Debug, Clone)]
pub struct Assets {
    /// The kernel package these came from.
    pub kernel_package: String,
    /// The kernel image (`vmlinuz`).
    pub kernel: PathBuf,
    /// A static busybox.
    pub busybox: PathBuf,
    /// Decompressed VFIO modules, in load order.
    pub vfio_modules: Vec<PathBuf>,
    /// Decompressed kernel NIC driver modules (virtio-net's; the generic kernel's also
    /// `e1000`), in load order.
    pub net_modules: Vec<PathBuf>,
}

impl Assets {
    /// VFIO modules with no-IOMMU support for this kernel (`irqbypass` first), built and
    /// cached on first use (see [`crate::noiommu_modules`]); one build at a time across
    /// processes.
    pub fn noiommu_vfio_modules(&self) -> Result<Vec<PathBuf>> {
        let kdir = self.kernel.parent().unwrap_or(Path::new("."));
        let dir = kdir.join("noiommu");
        let lock_path = kdir.join(".noiommu.lock");
        let lock = fs::File::create(&lock_path).map_err(|e| Error::io("creating", &lock_path, e))?;
        lock.lock().map_err(|e| Error::io("locking", &lock_path, e))?;
        let built = crate::noiommu_modules::ensure(&dir, &self.kernel_package)?;
        let mut mods: Vec<PathBuf> = self.vfio_modules.iter().take(1).cloned().collect();
        mods.extend(built);
        Ok(mods)
    }
}

/// The cache directory: `$VMTEST_CACHE`, else `target/vmtest-assets` of the
/// workspace this crate lives in.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VMTEST_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/vmtest-assets")
}

fn module_file(name: &str) -> String {
    format!("{}.ko", name.rsplit('/').next().unwrap_or(name))
}

impl Assets {
    fn layout(dir: &Path, kernel_package: &str, flavour: KernelFlavour) -> Self {
        let mods = |list: &[&str]| list.iter().map(|m| dir.join("modules").join(module_file(m))).collect();
        Assets {
            kernel_package: kernel_package.to_string(),
            kernel: dir.join("vmlinuz"),
            busybox: dir.join("busybox"),
            vfio_modules: mods(VFIO_MODULES),
            net_modules: mods(flavour.net_modules()),
        }
    }

    /// The cached assets for the current backports cloud kernel, fetching them if
    /// the cache lacks them (see [`Assets::ensure_flavour`]).
    pub fn ensure(cache_dir: &Path) -> Result<Self> {
        Self::ensure_flavour(cache_dir, KernelFlavour::Cloud)
    }

    /// The cached assets for the current backports kernel of `flavour`, fetching them if
    /// the cache lacks them. Safe against concurrent callers, threads or
    /// processes: an exclusive lock on `.fetch.lock` lets one fetch while the
    /// others wait, and the result is renamed into place complete.
    pub fn ensure_flavour(cache_dir: &Path, flavour: KernelFlavour) -> Result<Self> {
        let pkg = match apt::kernel_package() {
            Ok(p) => flavour.package(&p),
            // Without apt lists (offline, fresh container), a cached kernel
            // still serves.
            Err(e) => match newest_cached(cache_dir, flavour) {
                Some(p) => p,
                None => return Err(e),
            },
        };
        let dir = cache_dir.join(&pkg);
        if dir.join(COMPLETE_STAMP).exists() {
            return Ok(Self::layout(&dir, &pkg, flavour));
        }
        fs::create_dir_all(cache_dir).map_err(|e| Error::io("creating", cache_dir, e))?;
        // One fetch at a time across threads and processes: tests of one
        // binary start guests in parallel on a fresh machine, and a second
        // fetcher would only repeat the download. Waiters find the stamp.
        let lock_path = cache_dir.join(".fetch.lock");
        let lock = fs::File::create(&lock_path).map_err(|e| Error::io("creating", &lock_path, e))?;
        lock.lock().map_err(|e| Error::io("locking", &lock_path, e))?;
        if dir.join(COMPLETE_STAMP).exists() {
            return Ok(Self::layout(&dir, &pkg, flavour));
        }
        let tmp = cache_dir.join(format!(".tmp-{}-{}", pkg, std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let result = fetch_into(&tmp, &pkg, flavour);
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if fs::rename(&tmp, &dir).is_err() {
            // Another process won the race; its copy is as good as ours.
            let _ = fs::remove_dir_all(&tmp);
        }
        if !dir.join(COMPLETE_STAMP).exists() {
            return Err(Error::io("installing", &dir, std::io::Error::other("asset directory incomplete after fetch")));
        }
        Ok(Self::layout(&dir, &pkg, flavour))
    }
}

/// The newest complete kernel directory of `flavour` in the cache, by name.
fn newest_cached(cache_dir: &Path, flavour: KernelFlavour) -> Option<String> {
    let mut names: Vec<String> = fs::read_dir(cache_dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(COMPLETE_STAMP).exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| flavour.matches(n))
        .collect();
    names.sort();
    names.pop()
}

fn fetch_into(tmp: &Path, pkg: &str, flavour: KernelFlavour) -> Result<()> {
    let dl = tmp.join("download");
    let root = tmp.join("root");
    fs::create_dir_all(&dl).map_err(|e| Error::io("creating", &dl, e))?;
    fs::create_dir_all(tmp.join("modules")).map_err(|e| Error::io("creating", tmp, e))?;
    let debs = apt::download(&dl, Some(apt::KERNEL_SUITE), &[pkg, "busybox-static"])?;
    for deb in &debs {
        apt::extract(deb, &root)?;
    }
    let busybox = root.join("bin/busybox");
    copy(&busybox, &tmp.join("busybox"))?;
    let boot = root.join("boot");
    let vmlinuz = find_prefixed(&boot, "vmlinuz-")
        .ok_or_else(|| Error::MissingInPackage { what: "boot/vmlinuz-*".into(), package: pkg.into() })?;
    copy(&vmlinuz, &tmp.join("vmlinuz"))?;
    let moddir = find_prefixed(&root.join("lib/modules"), "")
        .ok_or_else(|| Error::MissingInPackage { what: "lib/modules/<version>".into(), package: pkg.into() })?
        .join("kernel");
    for m in VFIO_MODULES.iter().chain(flavour.net_modules()) {
        let src = moddir.join(format!("{m}.ko.xz"));
        if !src.exists() {
            return Err(Error::MissingInPackage { what: format!("kernel/{m}.ko.xz"), package: pkg.into() });
        }
        let out =
            run(Command::new(&busybox).arg("xzcat").arg(&src), "the busybox from busybox-static decompresses modules")?;
        let dst = tmp.join("modules").join(module_file(m));
        fs::write(&dst, out.stdout).map_err(|e| Error::io("writing", &dst, e))?;
    }
    let _ = fs::remove_dir_all(&root);
    let _ = fs::remove_dir_all(&dl);
    let stamp = tmp.join(COMPLETE_STAMP);
    fs::write(&stamp, pkg).map_err(|e| Error::io("writing", &stamp, e))
}

fn copy(src: &Path, dst: &Path) -> Result<()> {
    fs::copy(src, dst).map(|_| ()).map_err(|e| Error::io("copying", src, e))
}

fn find_prefixed(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|f| f.to_string_lossy().starts_with(prefix)))
        .collect();
    found.sort();
    found.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_file_names() {
        assert_eq!(module_file("drivers/vfio/pci/vfio-pci"), "vfio-pci.ko");
        assert_eq!(module_file("virt/lib/irqbypass"), "irqbypass.ko");
    }

    #[test]
    fn layout_keeps_load_order() {
        let a = Assets::layout(Path::new("/c/k"), "k", KernelFlavour::Cloud);
        let names: Vec<String> =
            a.vfio_modules.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["irqbypass.ko", "vfio.ko", "vfio_iommu_type1.ko", "vfio-pci-core.ko", "vfio-pci.ko"]);
        assert_eq!(a.kernel, Path::new("/c/k/vmlinuz"));
        let g = Assets::layout(Path::new("/c/g"), "g", KernelFlavour::Generic);
        assert_eq!(g.net_modules.last().unwrap(), Path::new("/c/g/modules/e1000.ko"));
    }

    #[test]
    fn newest_cached_needs_the_stamp() {
        let d = std::env::temp_dir().join(format!("vmtest-nc-{}", std::process::id()));
        fs::create_dir_all(d.join("linux-image-a-cloud-amd64")).unwrap();
        fs::create_dir_all(d.join("linux-image-b-cloud-amd64")).unwrap();
        fs::create_dir_all(d.join("linux-image-a-amd64")).unwrap();
        assert_eq!(newest_cached(&d, KernelFlavour::Cloud), None);
        fs::write(d.join("linux-image-a-cloud-amd64").join(COMPLETE_STAMP), "a").unwrap();
        fs::write(d.join("linux-image-a-amd64").join(COMPLETE_STAMP), "a").unwrap();
        assert_eq!(newest_cached(&d, KernelFlavour::Cloud).as_deref(), Some("linux-image-a-cloud-amd64"));
        assert_eq!(newest_cached(&d, KernelFlavour::Generic).as_deref(), Some("linux-image-a-amd64"));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn find_prefixed_picks_a_match() {
        let d = std::env::temp_dir().join(format!("vmtest-fp-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("vmlinuz-6.12"), b"").unwrap();
        fs::write(d.join("config-6.12"), b"").unwrap();
        assert_eq!(find_prefixed(&d, "vmlinuz-"), Some(d.join("vmlinuz-6.12")));
        assert_eq!(find_prefixed(&d, "initrd-"), None);
        fs::remove_dir_all(&d).unwrap();
    }
}
