//! Errors of the EAL. Every message names the problem and, where there is one, the fix.

use std::path::PathBuf;

/// Everything `Eal::init` and the shared objects can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EalError {
    /// `-h`/`--help` was given: the caller prints [`crate::args::usage`] and exits 0.
    #[error("help requested")]
    HelpRequested,
    /// A command-line flag is unknown, malformed or conflicts with another.
    #[error("{0}")]
    Usage(String),
    /// `Eal::init` was called twice in one process.
    #[error("the EAL is already initialised in this process (Eal::init may be called once)")]
    AlreadyInitialized,
    /// The runtime directory could not be created or used.
    #[error("cannot use runtime directory {path}: {source}")]
    RuntimeDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A runtime directory exists but another user could change what is in it.
    #[error("refusing runtime directory {path} (owner uid {owner}, mode {mode:04o}): {why}; {fix}")]
    UnsafeRuntimeDir {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Its permission bits (0 when it could not be read).
        mode: u32,
        /// What is wrong.
        why: String,
        /// How to fix it.
        fix: String,
    },
    /// A file in the runtime directory is not one Bypass can safely open.
    #[error("refusing {path}: {why}; {fix}")]
    UnsafeRuntimeFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
        /// How to fix it.
        fix: String,
    },
    /// A secondary asked for a setting that must match the primary's and does not.
    #[error("{0}")]
    SecondaryMismatch(String),
    /// `-m` asks for more memory than this machine can map.
    #[error("-m {mb} MB cannot be mapped: {why}; lower -m")]
    MemoryTooLarge {
        /// The memory asked for, in MB.
        mb: u64,
        /// What is short.
        why: String,
    },
    /// `--proc-type=primary` while another primary of the same prefix is alive.
    #[error("another primary process (pid {pid}) is running with --file-prefix={prefix}; start this one with --proc-type=secondary, or use another --file-prefix")]
    PrimaryExists {
        /// The group's file prefix.
        prefix: String,
        /// The live primary's pid.
        pid: u32,
    },
    /// A secondary found no live primary.
    #[error("no primary process is running for --file-prefix={prefix} (no lock held on {config}); start the primary first, or use --proc-type=auto")]
    NoPrimary {
        /// The group's file prefix.
        prefix: String,
        /// The config file that was checked.
        config: PathBuf,
    },
    /// The primary is alive but did not finish its initialisation in time.
    #[error("the primary process (pid {pid}) of --file-prefix={prefix} did not finish initialising within {secs} s; check that it is not stuck, then retry")]
    PrimaryNotReady {
        /// The group's file prefix.
        prefix: String,
        /// The primary's pid.
        pid: u32,
        /// How long we waited.
        secs: u64,
    },
    /// The primary was built with another shared layout.
    #[error("the primary process (pid {pid}) runs another build of Bypass (layout version {theirs:#x}, ours {ours:#x}); run primary and secondaries from the same build")]
    LayoutMismatch {
        /// Our layout version.
        ours: u64,
        /// The primary's.
        theirs: u64,
        /// The primary's pid.
        pid: u32,
    },
    /// No hugetlbfs is mounted.
    #[error("no hugetlbfs mount found in /proc/mounts; mount one (mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages) and reserve pages (echo 512 > /proc/sys/vm/nr_hugepages), or run with --no-huge")]
    NoHugetlbfs,
    /// `--huge-dir` is not a hugetlbfs mount.
    #[error("--huge-dir {0} is not a hugetlbfs mount point; give a mounted hugetlbfs directory or use --no-huge")]
    NotHugetlbfs(PathBuf),
    /// Not enough free huge pages for `-m`.
    #[error("not enough free hugepages: {need_mb} MB requested with -m, {free_mb} MB free in {page_kb} kB pages; lower -m, add pages (echo N > /sys/kernel/mm/hugepages/hugepages-{page_kb}kB/nr_hugepages), or use --no-huge")]
    NotEnoughHugepages {
        /// Requested MB.
        need_mb: u64,
        /// Free MB.
        free_mb: u64,
        /// Page size in kB.
        page_kb: u64,
    },
    /// The shared window's address range is already used in this process.
    #[error("the shared memory window {range} is already in use in this process ({collisions}); start the primary with --base-virtaddr=<free address>, e.g. --base-virtaddr=0x200000000000")]
    WindowTaken {
        /// The window, formatted.
        range: String,
        /// The colliding mappings, formatted.
        collisions: String,
    },
    /// A system call on shared state failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A memzone (or a ring/mempool, which are memzones) of that name exists already.
    #[error("a memzone named '{0}' already exists; pick another name or look the existing one up")]
    Exists(String),
    /// A name is too long.
    #[error("name '{name}' is too long ({len} bytes, at most {max})")]
    NameTooLong {
        /// The name.
        name: String,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not enough shared memory left.
    #[error("out of shared memory reserving {len} bytes for '{name}'; start the primary with a larger -m")]
    NoMemory {
        /// The object's name.
        name: String,
        /// Bytes asked for.
        len: u64,
    },
    /// The memzone table is full.
    #[error("the memzone table is full ({0} memzones)")]
    MemzoneTableFull(usize),
    /// Lookup of a named object failed.
    #[error("no {kind} named '{name}' exists in this process group; the primary must create it first")]
    NotFound {
        /// "ring", "mempool" or "memzone".
        kind: &'static str,
        /// The name looked up.
        name: String,
    },
    /// Another live process of the group uses an lcore id this process asked for.
    #[error("lcore {lcore} is already used by process {pid} of this group (--file-prefix={prefix}); processes sharing an lcore corrupt mempool caches: give this process other lcores with -l or --lcores")]
    LcoreInUse {
        /// The lcore id.
        lcore: u32,
        /// The process that holds it.
        pid: u32,
        /// The group's prefix.
        prefix: String,
    },
    /// DMA memory that must be physically contiguous cannot be, in IOVA-as-PA mode on
    /// pages smaller than the object (`--no-huge` gives 4 KiB pages).
    #[error("{what} takes {bytes} bytes, more than one {page}-byte page of memory: with IOVA = physical address (VFIO no-IOMMU mode, or --iova-mode pa) the device needs it physically contiguous, which only one page guarantees; use hugepages (drop --no-huge: reserve them with `echo 512 > /proc/sys/vm/nr_hugepages` and mount hugetlbfs, or give a mount with --huge-dir){alt}")]
    NotDmaContiguous {
        /// What was being created (names the object).
        what: String,
        /// Its size.
        bytes: u64,
        /// The page size backing the heap.
        page: u64,
        /// Another way out, if any (", or ..."), else empty.
        alt: String,
    },
    /// The CPU lacks instruction-set features this build was compiled to use (its target
    /// level, `.cargo/config.toml`).
    #[error(
        "this CPU lacks {missing}, which this build of Bypass was compiled to use (target level in \
         .cargo/config.toml); rebuild for it with RUSTFLAGS='-C target-cpu=x86-64' cargo build --release, \
         or run on a newer CPU"
    )]
    CpuLacks {
        /// The missing features, comma-separated.
        missing: String,
    },
    /// An argument of an object's creation is invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An IPC error.
    #[error("IPC: {0}")]
    Mp(String),
    /// The telemetry socket could not be served (the message names the problem and the fix).
    #[error("telemetry: {0}")]
    Telemetry(String),
    /// The PCI bus (scan, allow/block list, VFIO, interrupts).
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
}

impl EalError {
    /// Wraps an OS error with a description of what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> EalError {
        EalError::Io { what: what.into(), source }
    }
}
