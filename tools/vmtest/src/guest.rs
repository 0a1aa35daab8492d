//! Booting a guest: assets, initramfs, QEMU, console capture, time limit,
//! and the per-command results. One boot runs a whole group of commands.

use crate::assets::{default_cache_dir, Assets, KernelFlavour};
use crate::console::{parse_results, setup_failures, CommandResult, DONE};
use crate::error::{Error, Result};
use crate::host_cmd::tail;
use crate::initramfs::{self, InitramfsSpec};
use crate::monitor::Monitor;
use crate::nic::{assign_slots, Nic};
use crate::peer::Peer;
use crate::qemu::{monitor_socket, peer_socket, qemu_args, qemu_binary, GuestIommu, Machine, QemuSpec};
use crate::serial::SerialLog;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Console lines printed when a test fails while its guest is still running.
const FAIL_CONSOLE_LINES: usize = 150;

/// How a guest is built and booted.
#[derive(Debug, Clone)]
pub struct GuestConfig {
    /// NICs, in PCI slot order unless slots are given.
    pub nics: Vec<Nic>,
    /// Static binaries copied to `/bin`.
    pub binaries: Vec<PathBuf>,
    /// Shell commands run in order, each with its own exit code.
    pub commands: Vec<String>,
    /// 2 MiB hugepages reserved at boot (mounted at `/dev/hugepages`).
    pub hugepages: u32,
    /// Guest memory in MiB.
    pub memory_mb: u32,
    /// vCPUs.
    pub smp: u32,
    /// Limit for the whole boot; QEMU is killed past it.
    pub timeout: Duration,
    /// Also load the kernel's NIC drivers (virtio-net's; the generic kernel's also `e1000`).
    pub net_modules: bool,
    /// The Debian kernel booted (default the cloud one).
    pub kernel: KernelFlavour,
    /// Extra kernel command-line text.
    pub extra_append: String,
    /// Asset cache directory.
    pub cache_dir: PathBuf,
    /// Copy the console to stderr as it arrives.
    pub echo_console: bool,
    /// Use these assets instead of the cached ones (tests).
    pub assets: Option<Assets>,
    /// The QEMU binary (default [`qemu_binary`]).
    pub qemu: PathBuf,
    /// The machine type (default q35).
    pub machine: Machine,
    /// A virtual Intel IOMMU (default) or none, with VFIO in no-IOMMU mode.
    pub iommu: GuestIommu,
}

impl Default for GuestConfig {
    fn default() -> Self {
        GuestConfig {
            nics: Vec::new(),
            binaries: Vec::new(),
            commands: Vec::new(),
            hugepages: 64,
            memory_mb: 1024,
            smp: 2,
            timeout: Duration::from_secs(180),
            net_modules: false,
            kernel: KernelFlavour::Cloud,
            extra_append: String::new(),
            cache_dir: default_cache_dir(),
            echo_console: std::env::var_os("VMTEST_ECHO").is_some_and(|v| v == "1"),
            assets: None,
            qemu: qemu_binary(),
            machine: Machine::Q35,
            iommu: GuestIommu::Intel,
        }
    }
}

impl GuestConfig {
    /// Adds a NIC.
    pub fn nic(mut self, nic: Nic) -> Self {
        self.nics.push(nic);
        self
    }

    /// Adds a static binary.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binaries.push(path.into());
        self
    }

    /// Adds a command.
    pub fn command(mut self, cmd: impl Into<String>) -> Self {
        self.commands.push(cmd.into());
        self
    }

    /// Boots with no IOMMU: VFIO in its unsafe no-IOMMU mode, on machine type `machine`.
    pub fn without_iommu(mut self, machine: Machine) -> Self {
        self.iommu = GuestIommu::None;
        self.machine = machine;
        self
    }

    /// Boots Debian's generic kernel (with the Intel NIC drivers) instead of the cloud one,
    /// and loads its NIC drivers (`virtio_net`, `e1000`) at boot.
    pub fn generic_kernel(mut self) -> Self {
        self.kernel = KernelFlavour::Generic;
        self.net_modules = true;
        self
    }

    /// Sets the time limit.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// What a finished guest produced.
#[derive(Debug, Clone)]
pub struct GuestOutcome {
    /// One result per command, in order.
    pub results: Vec<CommandResult>,
    /// The whole console log.
    pub log: String,
    /// Setup steps of `/init` that failed (module loads, mounts).
    pub setup_failures: Vec<String>,
    /// From QEMU start to `/init` ready (modules loaded).
    pub boot_time: Option<Duration>,
    /// From QEMU start to QEMU exit.
    pub total_time: Duration,
}

/// A running guest. Dropping it kills QEMU and removes its work directory.
pub struct Guest {
    child: Child,
    log: SerialLog,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    work_dir: PathBuf,
    commands: Vec<String>,
    started: Instant,
    timeout: Duration,
    smp: u32,
}

fn new_work_dir() -> Result<PathBuf> {
    static N: AtomicU32 = AtomicU32::new(0);
    // Short: unix socket paths are limited to 108 bytes.
    let base = std::env::var_os("VMTEST_RUN_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("vmtest-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    Ok(dir)
}

impl Guest {
    /// Fetches assets if needed, builds the initramfs, and starts QEMU.
    pub fn start(cfg: &GuestConfig) -> Result<Guest> {
        let assets = match &cfg.assets {
            Some(a) => a.clone(),
            None => Assets::ensure_flavour(&cfg.cache_dir, cfg.kernel)?,
        };
        let mut nics = cfg.nics.clone();
        assign_slots(&mut nics)?;
        let noiommu = match cfg.iommu {
            GuestIommu::None => Some(assets.noiommu_vfio_modules()?),
            GuestIommu::Intel => None,
        };
        let work_dir = new_work_dir()?;
        let initrd = work_dir.join("initrd.gz");
        let spec = InitramfsSpec {
            assets: &assets,
            noiommu_modules: noiommu.as_deref(),
            binaries: &cfg.binaries,
            commands: &cfg.commands,
            net_modules: cfg.net_modules,
            nics: &nics,
        };
        if let Err(e) = initramfs::build(&spec, &initrd) {
            let _ = std::fs::remove_dir_all(&work_dir);
            return Err(e);
        }
        let qspec = QemuSpec {
            machine: cfg.machine,
            iommu: cfg.iommu,
            kernel: &assets.kernel,
            initrd: &initrd,
            nics: &nics,
            socket_dir: &work_dir,
            memory_mb: cfg.memory_mb,
            smp: cfg.smp,
            hugepages: cfg.hugepages,
            extra_append: &cfg.extra_append,
        };
        let qemu = &cfg.qemu;
        let spawned = Command::new(qemu)
            .args(qemu_args(&qspec))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(source) => {
                let _ = std::fs::remove_dir_all(&work_dir);
                return Err(Error::Spawn {
                    program: qemu.display().to_string(),
                    source,
                    hint: "install QEMU with tools/vmtest/setup-host.sh (qemu-system-x86 from bookworm-backports)",
                });
            }
        };
        let started = Instant::now();
        let log = SerialLog::default();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(log.capture(out, cfg.echo_console));
        }
        if let Some(mut err) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            readers.push(std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = err.read_to_end(&mut b);
                sink.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(&b);
            }));
        }
        Ok(Guest {
            child,
            log,
            stderr,
            readers,
            work_dir,
            commands: cfg.commands.clone(),
            started,
            timeout: cfg.timeout,
            smp: cfg.smp,
        })
    }

    /// The console log so far.
    pub fn console(&self) -> String {
        self.log.text()
    }

    /// The directory holding the sockets and initramfs.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// Waits until the console shows `pattern` (e.g. a line a guest program
    /// prints when it is ready for frames).
    pub fn wait_for_console(&self, pattern: &str, timeout: Duration) -> Result<()> {
        if self.log.wait_for(pattern, timeout) {
            Ok(())
        } else {
            Err(Error::ConsoleWait {
                pattern: pattern.to_string(),
                secs: timeout.as_secs(),
                tail: tail(&self.log.text(), 30),
            })
        }
    }

    /// Connects a frame peer to NIC `netdev` (wired with [`Nic::stream`]).
    pub fn peer(&self, netdev: &str) -> Result<Peer> {
        Peer::connect(&peer_socket(&self.work_dir, netdev), Duration::from_secs(10))
    }

    /// Connects to the HMP monitor.
    pub fn monitor(&self) -> Result<Monitor> {
        Monitor::connect(&monitor_socket(&self.work_dir), Duration::from_secs(10))
    }

    fn log_tail(&self) -> String {
        let stderr = String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
        let mut t = tail(&self.log.text(), 40);
        if !stderr.trim().is_empty() {
            t.push_str("\n--- qemu stderr ---\n");
            t.push_str(&tail(&stderr, 20));
        }
        t
    }

    /// The state of every vCPU from the monitor, for the report of a guest that hangs:
    /// `info cpus`, each CPU's instruction pointer, flags and halt state (`info registers
    /// -a`), and its local APIC (`info lapic`: IRR, ISR, TPR/PPR and timer show an interrupt
    /// that cannot be delivered). Empty when the monitor does not answer.
    pub fn cpu_report(&self) -> String {
        let Ok(mut m) = Monitor::connect(&monitor_socket(&self.work_dir), Duration::from_secs(2)) else {
            return String::new();
        };
        let mut out = String::new();
        if let Ok(r) = m.command("info cpus") {
            out += &format!("--- info cpus ---\n{r}\n");
        }
        if let Ok(r) = m.command("info registers -a") {
            let keep = |l: &&str| l.starts_with("CPU#") || l.starts_with("RIP=") || l.starts_with("EFER=");
            out += "--- info registers -a (CPU, RIP, EFER lines) ---\n";
            out += &r.lines().filter(keep).map(|l| format!("{l}\n")).collect::<String>();
        }
        for cpu in 0..self.smp {
            if let Ok(r) = m.command(&format!("info lapic {cpu}")) {
                out += &format!("--- info lapic {cpu} ---\n{r}\n");
            }
        }
        out
    }

    /// Waits for the guest to power off (or the time limit) and returns the
    /// results. Errors if the limit passed or the guest died early.
    pub fn wait(mut self) -> Result<GuestOutcome> {
        let deadline = self.started + self.timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if Instant::now() >= deadline => {
                    let cpus = self.cpu_report();
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    // Readers are not joined: a child of QEMU's could hold
                    // the pipes open. Give them a moment to drain.
                    std::thread::sleep(Duration::from_millis(100));
                    let mut tail = self.log_tail();
                    if !cpus.is_empty() {
                        tail.push_str("\n--- vCPU state before QEMU was killed ---\n");
                        tail.push_str(&cpus);
                    }
                    return Err(Error::Timeout { secs: self.timeout.as_secs(), tail });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(Error::io("waiting for", "qemu", e)),
            }
        };
        let total_time = self.started.elapsed();
        self.join_readers();
        let log = self.log.text();
        if !log.contains(DONE) {
            return Err(Error::GuestDied { status: status.to_string(), tail: self.log_tail() });
        }
        Ok(GuestOutcome {
            results: parse_results(&log, &self.commands),
            setup_failures: setup_failures(&log),
            boot_time: self.log.ready_at().map(|t| t.saturating_duration_since(self.started)),
            total_time,
            log,
        })
    }

    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        // A test that fails while the guest runs (a frame that never came back, a console
        // line that never appeared) would otherwise lose what the guest printed.
        if std::thread::panicking() {
            let cpus = if let Ok(None) = self.child.try_wait() { self.cpu_report() } else { String::new() };
            eprintln!(
                "--- the test failed with the guest running; its console (last {FAIL_CONSOLE_LINES} lines) ---\n{}\n{cpus}",
                tail(&self.log.text(), FAIL_CONSOLE_LINES)
            );
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

/// Boots a guest, runs its commands, and returns the results.
pub fn run(cfg: &GuestConfig) -> Result<GuestOutcome> {
    Guest::start(cfg)?.wait()
}
