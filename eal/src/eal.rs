//! `Eal::init`: parse arguments, take the primary or secondary role, map the group's shared
//! memory at the same address as every other process, claim lcores. Dropping the `Eal`
//! releases everything this process holds; the primary also removes the group's files.

use crate::args::{usage, EalArgs, ProcType};
use crate::bus::{BusDevice, PciBus};
use crate::config::{ConfigHeader, SharedConfig, CONFIG_MAGIC};
use crate::error::EalError;
use crate::lcore::{self, Lcores};
use crate::memory::{hugetlbfs, segment, Memory, CONFIG_SPAN};
use crate::mp::{Mp, MpConfig, MpRole};
use crate::runtime::{self, RuntimeDir, CONFIG_FILE};
use crate::shm::{self, VaRange};
use crate::telemetry::{self, Telemetry};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Default base of the shared window: far from the executable, heap, stacks and libraries.
pub const DEFAULT_BASE: u64 = 0x1000_0000_0000;
/// Default memory with `-m` absent, in MB.
pub const DEFAULT_MEMORY_MB: u64 = 128;
/// How long a secondary waits for a live primary that is still initialising.
pub const PRIMARY_READY_TIMEOUT: Duration = Duration::from_secs(10);

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// The role this process took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Owns the group's memory and devices.
    Primary,
    /// Attached to a primary.
    Secondary,
}

/// An initialised EAL. One per process.
pub struct Eal {
    args: EalArgs,
    role: Role,
    dir: RuntimeDir,
    _config_file: File,
    mem: Memory,
    lcores: Lcores,
    heap_path: PathBuf,
    mp: Mp,
    bus: PciBus,
    init_time: Duration,
    telemetry: Option<Telemetry>,
}

impl std::fmt::Debug for Eal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eal").field("role", &self.role).field("dir", &self.dir).field("mem", &self.mem).finish()
    }
}

impl Eal {
    /// Initialises the EAL from `args` (`argv[0]` first). On `Err(EalError::Usage)` the caller
    /// should print the error and [`usage`]; `Err(HelpRequested)` means print usage, exit 0.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal, EalError> {
        let t0 = Instant::now();
        let argv: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let args = EalArgs::parse(args)?;
        crate::logging::init(args.log_level.as_deref());
        // Before anything of the fast path runs: a build for a level this CPU lacks is
        // refused by name instead of dying of an illegal instruction later.
        crate::cpu_level::check()?;
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(EalError::AlreadyInitialized);
        }
        let r = Self::init_parsed(args, argv, t0);
        if r.is_err() {
            INITIALISED.store(false, Ordering::SeqCst);
        }
        r
    }

    fn init_parsed(args: EalArgs, argv: Vec<String>, t0: Instant) -> Result<Eal, EalError> {
        // A secondary never creates anything: no directory or config means no primary.
        let secondary = args.proc_type == ProcType::Secondary;
        let no_primary = |args: &EalArgs| EalError::NoPrimary {
            prefix: args.file_prefix.clone(),
            config: runtime::dir_for(&args.file_prefix).join(CONFIG_FILE),
        };
        let dir = match RuntimeDir::open(&args.file_prefix, !secondary) {
            Ok(d) => d,
            Err(EalError::Io { source, .. }) if secondary && source.kind() == std::io::ErrorKind::NotFound => {
                return Err(no_primary(&args))
            }
            Err(e) => return Err(e),
        };
        let (created, path) = (dir.created(), dir.path().to_path_buf());
        let r = Self::init_in_dir(args, argv, t0, dir);
        if r.is_err() && created {
            // Leave nothing behind: the directory goes if this attempt made it (and it is empty).
            let _ = std::fs::remove_dir(&path);
        }
        r
    }

    fn init_in_dir(args: EalArgs, argv: Vec<String>, t0: Instant, dir: RuntimeDir) -> Result<Eal, EalError> {
        let cfg_path = dir.path().join(CONFIG_FILE);
        let file = if args.proc_type == ProcType::Secondary {
            dir.open_config(false).map_err(|e| match e {
                EalError::RuntimeDir { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    EalError::NoPrimary { prefix: args.file_prefix.clone(), config: cfg_path.clone() }
                }
                e => e,
            })?
        } else {
            dir.open_config(true)?
        };
        let want_primary = matches!(args.proc_type, ProcType::Primary | ProcType::Auto);
        let locked = want_primary
            && runtime::try_lock_exclusive(&file)
                .map_err(|e| EalError::io(format!("locking {}", cfg_path.display()), e))?;
        let (role, mem, heap_path) = if locked {
            let (mem, heap) = primary_init(&args, &dir, &file).inspect_err(|_| abandon_primary(&dir, None))?;
            (Role::Primary, mem, heap)
        } else if args.proc_type == ProcType::Primary {
            let pid = read_header(&file).map(|h| h.primary_pid).unwrap_or(0);
            return Err(EalError::PrimaryExists { prefix: args.file_prefix.clone(), pid });
        } else {
            let (mem, heap) = secondary_attach(&args, &cfg_path, &file)?;
            (Role::Secondary, mem, heap)
        };
        let ids: Vec<u32> = args.lcores.iter().map(|l| l.id).collect();
        if let Err(e) = lcore::claim_lcores(mem.config(), &ids, &args.file_prefix) {
            if role == Role::Primary {
                abandon_primary(&dir, Some(&heap_path));
            }
            return Err(e);
        }
        let main = args.lcores.iter().find(|l| l.id == args.main_lcore).cloned();
        if let Some(main) = &main {
            if let Err(e) = lcore::pin_current_thread(&main.cpus) {
                tracing::warn!("cannot pin the main lcore to cpus {:?}: {e}", main.cpus);
            }
        }
        lcore::set_control_cpus(&args.control_cpus);
        crate::ring::set_ring_ops(mem.config());
        lcore::set_lcore_id(Some(args.main_lcore));
        let lcores = Lcores::new(args.lcores.clone(), args.main_lcore);
        let mp_cfg = MpConfig {
            dir: dir.path().to_path_buf(),
            role: if role == Role::Primary { MpRole::Primary } else { MpRole::Secondary },
            primary_pid: Some(mem.config().primary_pid.load(Ordering::Relaxed)),
            slow_peer_after: crate::mp::DEFAULT_SLOW_PEER_AFTER,
        };
        let mp = match Mp::start(mp_cfg) {
            Ok(mp) => mp,
            Err(e) => {
                lcore::release_lcores(mem.config());
                if role == Role::Primary {
                    abandon_primary(&dir, Some(&heap_path));
                }
                return Err(EalError::Mp(e.to_string()));
            }
        };
        let bus = match role {
            Role::Primary => PciBus::probe_primary(&args, mem, &mp, &crate::pci::Sysfs::default()),
            Role::Secondary => PciBus::attach_secondary(&args, mem, &mp),
        };
        let bus = match bus {
            Ok(b) => b,
            Err(e) => {
                mp.shutdown();
                lcore::release_lcores(mem.config());
                if role == Role::Primary {
                    mem.config().primary_pid.store(0, Ordering::Relaxed);
                    abandon_primary(&dir, Some(&heap_path));
                }
                return Err(e.into());
            }
        };
        let serve = role == Role::Primary && !args.no_telemetry;
        let telemetry = match serve.then(|| telemetry::start_primary(&args.file_prefix, &argv, mem, &dir)).transpose() {
            Ok(t) => t,
            Err(e) => {
                bus.shutdown();
                mp.shutdown();
                lcore::release_lcores(mem.config());
                mem.config().primary_pid.store(0, Ordering::Relaxed);
                abandon_primary(&dir, Some(&heap_path));
                return Err(e);
            }
        };
        if role == Role::Primary {
            let cfg = mem.config();
            mp.on_peer_sweep(move || {
                crate::reclaim::reclaim_dead(cfg);
            });
            mem.config().magic.store(CONFIG_MAGIC, Ordering::Release);
        }
        let init_time = t0.elapsed();
        tracing::info!(?role, prefix = %args.file_prefix, ?init_time, "EAL initialised");
        Ok(Eal { args, role, dir, _config_file: file, mem, lcores, heap_path, mp, bus, init_time, telemetry })
    }

    /// The role this process took.
    pub fn role(&self) -> Role {
        self.role
    }
    /// True in the primary.
    pub fn is_primary(&self) -> bool {
        self.role == Role::Primary
    }
    /// The group's shared memory.
    pub fn memory(&self) -> Memory {
        self.mem
    }
    /// The parsed EAL arguments.
    pub fn args(&self) -> &EalArgs {
        &self.args
    }
    /// The application's arguments (those after `--`), `argv[0]` first.
    pub fn app_args(&self) -> Vec<String> {
        std::iter::once(self.args.program.clone()).chain(self.args.app_args.iter().cloned()).collect()
    }
    /// The IPC endpoint of this process (DPDK's `rte_mp_*`).
    pub fn mp(&self) -> &Mp {
        &self.mp
    }
    /// The group's runtime directory.
    pub fn runtime_dir(&self) -> &Path {
        self.dir.path()
    }
    /// This process's lcores.
    pub fn lcores(&self) -> &Lcores {
        &self.lcores
    }
    /// Returns to the pools what processes of the group that died (`kill -9`) held of them
    /// — their lcores' mempool caches — and frees their lcore ids (see [`crate::reclaim`]).
    /// The primary does it by itself every second; this does it now.
    pub fn reclaim_dead_processes(&self) -> crate::reclaim::ReclaimReport {
        crate::reclaim::reclaim_dead(self.mem.config())
    }

    /// Time `Eal::init` took.
    pub fn init_time(&self) -> Duration {
        self.init_time
    }
    /// The usage text for this program.
    pub fn usage(&self) -> String {
        usage(&self.args.program)
    }
    /// The PCI devices this process opened (primary) or attached to (secondary), with
    /// their VFIO device fds and BAR mappings, in shared device table order.
    pub fn pci_devices(&self) -> Vec<std::sync::Arc<BusDevice>> {
        self.bus.devices()
    }
    /// The paths of the telemetry sockets this process serves (none in a secondary or with
    /// `--no-telemetry`).
    pub fn telemetry_paths(&self) -> Vec<PathBuf> {
        self.telemetry.as_ref().map(|t| t.paths().to_vec()).unwrap_or_default()
    }
    /// The PCI bus (devices, the primary's interrupt thread).
    pub fn pci_bus(&self) -> &PciBus {
        &self.bus
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        if self.telemetry.take().is_some() {
            telemetry::unregister_eal_commands();
        }
        self.lcores.wait_all();
        self.bus.shutdown();
        self.mp.shutdown();
        let cfg = self.mem.config();
        lcore::release_lcores(cfg);
        if self.role == Role::Primary {
            cfg.magic.store(0, Ordering::Release);
            let _ = std::fs::remove_file(&self.heap_path);
            self.dir.remove(CONFIG_FILE);
            self.dir.clean_stale();
            self.dir.remove_if_empty();
        }
        // The mappings stay until the process exits (handles are 'static); the heap file is
        // unlinked, so its memory goes back to the system then.
        tracing::info!(role = ?self.role, "EAL cleaned up");
    }
}

/// Removes what a primary that failed to start had created: its heap file, the sockets
/// and the config (the lock goes with the file descriptor when the caller returns).
fn abandon_primary(dir: &RuntimeDir, heap: Option<&Path>) {
    if let Some(h) = heap {
        let _ = std::fs::remove_file(h);
    }
    dir.clean_stale();
    dir.remove(CONFIG_FILE);
}

fn read_header(f: &File) -> Option<ConfigHeader> {
    let mut b = [0u8; crate::config::header::LEN];
    f.read_exact_at(&mut b, 0).ok()?;
    ConfigHeader::decode(&b)
}

fn heap_location(args: &EalArgs) -> Result<(PathBuf, u64, bool), EalError> {
    if args.no_huge {
        Ok((segment::no_huge_dir(), 4096, false))
    } else {
        let m = hugetlbfs::find_mount(args.huge_dir.as_deref())?;
        Ok((m.dir, m.page_size, true))
    }
}

fn primary_init(args: &EalArgs, dir: &RuntimeDir, file: &File) -> Result<(Memory, PathBuf), EalError> {
    // Whatever a crashed primary left: heap files and sockets.
    if let Some(old) = read_header(file).filter(|h| h.primary_pid != 0) {
        tracing::warn!(pid = old.primary_pid, "cleaning the state of an earlier primary that did not exit cleanly");
    }
    let stale = dir.clean_stale();
    for d in [PathBuf::from("/dev/hugepages"), segment::no_huge_dir()] {
        let _ = std::fs::remove_file(segment::segment_path(&d, &args.file_prefix));
    }
    if !stale.is_empty() {
        tracing::info!("removed stale files: {}", stale.join(", "));
    }
    let (heap_dir, page_size, huge) = heap_location(args)?;
    let heap_path = segment::segment_path(&heap_dir, &args.file_prefix);
    let _ = std::fs::remove_file(&heap_path);
    let mem_mb = args.memory_mb.unwrap_or(DEFAULT_MEMORY_MB);
    let mem_len = (mem_mb << 20).div_ceil(page_size) * page_size;
    if !huge {
        check_fits(mem_mb, mem_len, &heap_dir)?;
    }

    // Never shrink the file: a leftover secondary of a crashed primary may still map it.
    file.set_len(CONFIG_SPAN).map_err(|e| EalError::io("sizing the config file", e))?;
    let window_len = CONFIG_SPAN + mem_len;
    let window = reserve_primary_window(args.base_virtaddr, window_len).map_err(|e| match e {
        EalError::Io { source, .. } if source.raw_os_error() == Some(libc::ENOMEM) => EalError::MemoryTooLarge {
            mb: mem_mb,
            why: format!("the system refused to reserve {} MB of address space", window_len >> 20),
        },
        e => e,
    })?;
    shm::map_file_at(window, window.start(), CONFIG_SPAN, file, 0, false)
        .map_err(|e| EalError::io("mapping the config file", e))?;
    // SAFETY: the config file was just mapped there by this primary, which holds the group
    // lock; no secondary can attach before the magic is written, so nobody else accesses it.
    unsafe { shm::zero(window.start(), CONFIG_SPAN) };
    let cfg: &'static SharedConfig =
        shm::shared_ref(window.start()).ok_or_else(|| EalError::InvalidArgument("misaligned window".into()))?;
    let mem_start = window.start() + CONFIG_SPAN;
    segment::create_and_map(&heap_path, mem_len, page_size, huge, window, mem_start)?;
    cfg.layout_version.store(crate::config::layout_version(), Ordering::Relaxed);
    cfg.base.store(window.start(), Ordering::Relaxed);
    cfg.window_len.store(window.len(), Ordering::Relaxed);
    cfg.primary_pid.store(std::process::id(), Ordering::Relaxed);
    cfg.no_huge.store(u32::from(!huge), Ordering::Relaxed);
    cfg.config_len.store(CONFIG_SPAN, Ordering::Relaxed);
    cfg.mem_start.store(mem_start, Ordering::Relaxed);
    cfg.mem_len.store(mem_len, Ordering::Relaxed);
    cfg.page_size.store(page_size, Ordering::Relaxed);
    cfg.memory_mb.store(args.memory_mb.unwrap_or(DEFAULT_MEMORY_MB), Ordering::Relaxed);
    cfg.vdevs.set(&fit_name(&args.vdevs.join(" "), crate::name::SharedName::<32>::MAX_LEN));
    if !cfg.mem_file.set(&heap_path.to_string_lossy()) {
        return Err(EalError::InvalidArgument(format!("heap path {} is too long", heap_path.display())));
    }
    Ok((Memory::from_config(cfg), heap_path))
}

fn window_error(range: VaRange) -> EalError {
    let hits = shm::overlapping_mappings(range);
    let collisions = if hits.is_empty() {
        "by a mapping that appeared and went".to_string()
    } else {
        hits.iter().map(|(r, what)| format!("{r} {what}")).collect::<Vec<_>>().join("; ")
    };
    EalError::WindowTaken { range: range.to_string(), collisions }
}

fn reserve_primary_window(base: Option<u64>, len: u64) -> Result<VaRange, EalError> {
    let candidates: Vec<u64> = match base {
        Some(b) => vec![b],
        None => (0..8).map(|i| DEFAULT_BASE + i * 0x0400_0000_0000).collect(),
    };
    let mut last = None;
    for b in candidates {
        match shm::reserve_window(b, len) {
            Ok(w) => return Ok(w),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => last = VaRange::new(b, len),
            Err(e) => return Err(EalError::io("reserving the shared window", e)),
        }
    }
    let range = last.or_else(|| VaRange::new(DEFAULT_BASE, len));
    Err(range.map(window_error).unwrap_or_else(|| EalError::InvalidArgument(format!("window of {len} bytes"))))
}

fn secondary_attach(args: &EalArgs, cfg_path: &Path, file: &File) -> Result<(Memory, PathBuf), EalError> {
    let no_primary = || EalError::NoPrimary { prefix: args.file_prefix.clone(), config: cfg_path.to_path_buf() };
    let t0 = Instant::now();
    let hdr = loop {
        if !runtime::lock_holder_exists(file).map_err(|e| EalError::io("checking the primary's lock", e))? {
            return Err(no_primary());
        }
        match read_header(file) {
            Some(h) if h.magic == CONFIG_MAGIC => break h,
            h => {
                if t0.elapsed() > PRIMARY_READY_TIMEOUT {
                    return Err(EalError::PrimaryNotReady {
                        prefix: args.file_prefix.clone(),
                        pid: h.map(|h| h.primary_pid).unwrap_or(0),
                        secs: PRIMARY_READY_TIMEOUT.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    };
    let ours = crate::config::layout_version();
    if hdr.layout_version != ours {
        return Err(EalError::LayoutMismatch { ours, theirs: hdr.layout_version, pid: hdr.primary_pid });
    }
    let range = VaRange::new(hdr.base, hdr.window_len)
        .ok_or_else(|| EalError::InvalidArgument(format!("primary's window {:#x}+{:#x}", hdr.base, hdr.window_len)))?;
    let window = match shm::reserve_window(hdr.base, hdr.window_len) {
        Ok(w) => w,
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Err(window_error(range)),
        Err(e) => return Err(EalError::io("reserving the shared window", e)),
    };
    shm::map_file_at(window, window.start(), CONFIG_SPAN, file, 0, false)
        .map_err(|e| EalError::io("mapping the config file", e))?;
    let cfg: &'static SharedConfig =
        shm::shared_ref(window.start()).ok_or_else(|| EalError::InvalidArgument("misaligned window".into()))?;
    let heap_path = PathBuf::from(cfg.mem_file.get());
    check_secondary_args(args, cfg, &heap_path)?;
    let (start, len) = (cfg.mem_start.load(Ordering::Relaxed), cfg.mem_len.load(Ordering::Relaxed));
    segment::map_existing(&heap_path, len, window, start)?;
    Ok((Memory::from_config(cfg), heap_path))
}

/// `s`, cut at a character boundary to at most `max` bytes, ending in `...` when cut.
fn fit_name(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// A secondary takes the group's memory and devices as the primary set them up. Flags of
/// its own that would change them are ignored with a warning naming the primary's value;
/// one that changes how the secondary must address memory (`--iova-mode`) is refused.
fn check_secondary_args(args: &EalArgs, cfg: &SharedConfig, heap: &Path) -> Result<(), EalError> {
    let pid = cfg.primary_pid.load(Ordering::Relaxed);
    let primary_pa = cfg.iova_pa.load(Ordering::Acquire) == 1;
    if let Some(mode) = args.iova_mode {
        let want_pa = mode == crate::args::IovaMode::Pa;
        if want_pa != primary_pa {
            let (ours, theirs) = if want_pa { ("pa", "va") } else { ("va", "pa") };
            return Err(EalError::SecondaryMismatch(format!(
                "--iova-mode {ours} differs from the group's IOVA mode ({theirs}, set by the primary, pid {pid}); \
                 every process of a group uses the primary's mode: drop --iova-mode or give --iova-mode {theirs}"
            )));
        }
    }
    let primary_mb = cfg.memory_mb.load(Ordering::Relaxed);
    if let Some(mb) = args.memory_mb.filter(|&mb| mb != primary_mb) {
        tracing::warn!(
            "-m {mb} is ignored: a secondary uses the primary's memory (-m {primary_mb}, pid {pid}); drop -m here, or start the primary with -m {mb}"
        );
    }
    let primary_no_huge = cfg.no_huge.load(Ordering::Relaxed) == 1;
    if args.no_huge != primary_no_huge {
        let (ours, theirs) = if args.no_huge { ("with", "without") } else { ("without", "with") };
        tracing::warn!(
            "this secondary runs {ours} --no-huge but the primary (pid {pid}) runs {theirs} it: the secondary maps the primary's memory ({}) either way; give the primary's flags",
            heap.display()
        );
    }
    if let Some(d) = args.huge_dir.as_deref().filter(|d| !heap.starts_with(d)) {
        tracing::warn!(
            "--huge-dir {} is ignored: a secondary maps the primary's memory from {}",
            d.display(),
            heap.display()
        );
    }
    let base = cfg.base.load(Ordering::Relaxed);
    if let Some(b) = args.base_virtaddr.filter(|&b| b != base) {
        tracing::warn!(
            "--base-virtaddr {b:#x} is ignored: a secondary maps the group's memory where the primary did ({base:#x})"
        );
    }
    if !args.vdevs.is_empty() {
        let theirs = cfg.vdevs.get();
        let theirs = if theirs.is_empty() { "none".to_string() } else { theirs };
        tracing::warn!(
            "--vdev {}: virtual devices are created by the primary (its --vdev: {theirs}); a secondary using ethdev asks the primary to attach those the group lacks (hotplug), other secondaries ignore them",
            args.vdevs.join(" --vdev ")
        );
    }
    Ok(())
}

/// Refuses a `--no-huge` heap larger than the free space of the file system that backs it
/// (the pages are touched at start, so a heap that does not fit would fail there, or later).
fn check_fits(mb: u64, len: u64, dir: &Path) -> Result<(), EalError> {
    // A file system without size accounting (ramfs reports 0 blocks) cannot be checked.
    let Some(st) = nix::sys::statvfs::statvfs(dir).ok().filter(|st| st.blocks() > 0) else {
        return Ok(());
    };
    let free = st.blocks_available().saturating_mul(st.fragment_size());
    if len > free {
        return Err(EalError::MemoryTooLarge {
            mb,
            why: format!("{} has only {} MB free (the --no-huge heap lives there)", dir.display(), free >> 20),
        });
    }
    Ok(())
}
