//! Building the guest's gzip'd newc initramfs: busybox, kernel modules, the
//! static test binaries, the command scripts and `/init`.

use crate::assets::Assets;
use crate::cpio::CpioWriter;
use crate::elf::check_static;
use crate::error::{Error, Result};
use crate::init_script::{command_path, init_script};
use crate::nic::Nic;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What goes into the initramfs.
#[derive(Debug, Clone)]
pub struct InitramfsSpec<'a> {
    /// Kernel, busybox and modules.
    pub assets: &'a Assets,
    /// VFIO modules with no-IOMMU support, loaded instead of the kernel's own (`vfio.ko`
    /// with its no-IOMMU parameter), for a guest without an IOMMU.
    pub noiommu_modules: Option<&'a [PathBuf]>,
    /// Static binaries, installed as `/bin/<file name>`.
    pub binaries: &'a [PathBuf],
    /// Shell commands run in order by `/init`.
    pub commands: &'a [String],
    /// Also load the kernel's virtio-net driver.
    pub net_modules: bool,
    /// The NICs (their addresses are exported as `VMTEST_NIC_<id>`).
    pub nics: &'a [Nic],
}

fn file_name(p: &Path) -> Result<String> {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::InvalidArgument(format!("{} has no file name", p.display())))
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| Error::io("reading", p, e))
}

/// Writes the uncompressed archive for `spec` to `out`.
pub fn write_cpio<W: Write>(spec: &InitramfsSpec<'_>, out: W) -> Result<W> {
    let io = |e| Error::io("writing initramfs", "<cpio>", e);
    let mut w = CpioWriter::new(out);
    for d in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "run",
        "root",
        "var",
        "mnt",
        "etc",
        "lib",
        "lib/modules",
        "vmtest",
    ] {
        w.dir(d, 0o755).map_err(io)?;
    }
    w.char_dev("dev/console", 0o600, 5, 1).map_err(io)?;
    w.char_dev("dev/null", 0o666, 1, 3).map_err(io)?;
    w.symlink("var/run", "/run").map_err(io)?;
    w.symlink("mnt/huge", "/dev/hugepages").map_err(io)?;
    w.file("bin/busybox", 0o755, &read(&spec.assets.busybox)?).map_err(io)?;
    w.symlink("bin/sh", "busybox").map_err(io)?;

    let mut modules = match spec.noiommu_modules {
        Some(m) => m.to_vec(),
        None => spec.assets.vfio_modules.clone(),
    };
    if spec.net_modules {
        modules.extend(spec.assets.net_modules.iter().cloned());
    }
    let mut module_names = Vec::new();
    for m in &modules {
        let name = file_name(m)?;
        w.file(&format!("lib/modules/{name}"), 0o644, &read(m)?).map_err(io)?;
        // insmod takes module parameters after the file name.
        if spec.noiommu_modules.is_some() && name == "vfio.ko" {
            module_names.push(format!("{name} {}", crate::noiommu_modules::NOIOMMU_PARAM));
        } else {
            module_names.push(name);
        }
    }
    for b in spec.binaries {
        check_static(b)?;
        w.file(&format!("bin/{}", file_name(b)?), 0o755, &read(b)?).map_err(io)?;
    }
    for (i, c) in spec.commands.iter().enumerate() {
        let script = format!("#!/bin/sh\n{c}\n");
        w.file(command_path(i).trim_start_matches('/'), 0o755, script.as_bytes()).map_err(io)?;
    }
    let nic_list: String = spec
        .nics
        .iter()
        .map(|n| format!("{} {} {} {}\n", n.netdev, n.model.name(), n.pci_address(), n.mac.as_deref().unwrap_or("-")))
        .collect();
    w.file("vmtest/nics", 0o644, nic_list.as_bytes()).map_err(io)?;
    let init = init_script(&module_names, spec.commands.len(), spec.nics);
    w.file("init", 0o755, init.as_bytes()).map_err(io)?;
    w.finish().map_err(io)
}

/// Builds the gzip'd initramfs at `out` (through `gzip -1`).
pub fn build(spec: &InitramfsSpec<'_>, out: &Path) -> Result<()> {
    let file = File::create(out).map_err(|e| Error::io("creating", out, e))?;
    let mut child = Command::new("gzip")
        .args(["-1", "-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(file)
        .spawn()
        .map_err(|source| Error::Spawn { program: "gzip".into(), source, hint: "install gzip" })?;
    let stdin =
        child.stdin.take().ok_or_else(|| Error::io("piping to gzip", out, std::io::Error::other("no stdin")))?;
    let written = write_cpio(spec, std::io::BufWriter::new(stdin));
    // Close the pipe (drop the writer) before waiting, whatever happened.
    let write_result = written.map(drop);
    let status = child.wait().map_err(|e| Error::io("waiting for gzip", out, e))?;
    write_result?;
    if !status.success() {
        return Err(Error::CommandFailed {
            command: "gzip -1 -n -c".into(),
            status: status.to_string(),
            stderr: String::new(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::NicModel;

    fn fake_assets(dir: &Path) -> Assets {
        std::fs::create_dir_all(dir).unwrap();
        let f = |n: &str| {
            let p = dir.join(n);
            std::fs::write(&p, n.as_bytes()).unwrap();
            p
        };
        Assets {
            kernel_package: "k".into(),
            kernel: f("vmlinuz"),
            busybox: f("busybox"),
            vfio_modules: vec![f("vfio.ko")],
            net_modules: vec![f("virtio_net.ko")],
        }
    }

    #[test]
    fn archive_holds_init_modules_and_commands() {
        let dir = std::env::temp_dir().join(format!("vmtest-initrd-{}", std::process::id()));
        let assets = fake_assets(&dir);
        let nics = [Nic { slot: 3, ..Nic::new(NicModel::E1000, "n1") }];
        let cmds = ["echo hi".to_string()];
        let spec = InitramfsSpec {
            assets: &assets,
            noiommu_modules: None,
            binaries: &[],
            commands: &cmds,
            net_modules: false,
            nics: &nics,
        };
        let bytes = write_cpio(&spec, Vec::new()).unwrap();
        let has = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(has("init\0"));
        assert!(has("lib/modules/vfio.ko\0"));
        assert!(!has("virtio_net.ko"), "net modules only when asked");
        assert!(has("vmtest/cmd0.sh\0"));
        assert!(has("#!/bin/sh\necho hi\n"));
        assert!(has("n1 e1000 0000:00:03.0 -\n"));
        assert!(has("dev/console\0"));

        let out = dir.join("initrd.gz");
        build(&spec, &out).unwrap();
        let gz = std::fs::read(&out).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn noiommu_modules_replace_the_kernels_and_vfio_gets_its_parameter() {
        let dir = std::env::temp_dir().join(format!("vmtest-initrd-noiommu-{}", std::process::id()));
        let assets = fake_assets(&dir);
        let rebuilt = std::env::temp_dir().join(format!("vmtest-initrd-noiommu-b-{}", std::process::id()));
        let mods = fake_assets(&rebuilt).vfio_modules;
        let spec = InitramfsSpec {
            assets: &assets,
            noiommu_modules: Some(&mods),
            binaries: &[],
            commands: &[],
            net_modules: false,
            nics: &[],
        };
        let bytes = write_cpio(&spec, Vec::new()).unwrap();
        let has = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(has("insmod /lib/modules/vfio.ko enable_unsafe_noiommu_mode=1 ||"));
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&rebuilt).unwrap();
    }

    #[test]
    fn dynamic_binaries_are_refused() {
        let dir = std::env::temp_dir().join(format!("vmtest-initrd-dyn-{}", std::process::id()));
        let assets = fake_assets(&dir);
        let bins = [PathBuf::from("/bin/sh")];
        let spec = InitramfsSpec {
            assets: &assets,
            noiommu_modules: None,
            binaries: &bins,
            commands: &[],
            net_modules: false,
            nics: &[],
        };
        let err = write_cpio(&spec, Vec::new()).unwrap_err();
        assert!(matches!(err, Error::NotStatic { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
