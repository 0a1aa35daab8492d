//! EAL command-line arguments, parsed like DPDK's (`-l 0-3 --proc-type auto -- app args`).

use crate::cli::{self, Arg, Cli};
use crate::error::EalError;
use std::path::PathBuf;

/// Which role this process takes in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcType {
    /// Initialises memory and devices; exactly one per group.
    Primary,
    /// Attaches to a running primary's memory and devices.
    Secondary,
    /// Primary if no primary runs, else secondary.
    Auto,
}

/// How device DMA addresses are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IovaMode {
    /// IOVA = virtual address (through an IOMMU).
    Va,
    /// IOVA = physical address (devices that bypass the IOMMU).
    Pa,
}

/// One lcore id and the CPUs its thread may run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcoreSpec {
    /// The lcore id (index of per-lcore state such as mempool caches).
    pub id: u32,
    /// CPUs the lcore's thread is pinned to.
    pub cpus: Vec<usize>,
}

/// Parsed EAL arguments.
#[derive(Debug, Clone)]
pub struct EalArgs {
    /// `argv[0]`.
    pub program: String,
    /// The lcores, sorted by id, at least one.
    pub lcores: Vec<LcoreSpec>,
    /// The lcore the calling thread becomes.
    pub main_lcore: u32,
    /// Requested role.
    pub proc_type: ProcType,
    /// Group name: the runtime directory and file names derive from it.
    pub file_prefix: String,
    /// Memory to reserve in MB (`-m`), None for the default.
    pub memory_mb: Option<u64>,
    /// `--huge-dir`.
    pub huge_dir: Option<PathBuf>,
    /// `--no-huge`: shared memory from files in /dev/shm instead of hugepages.
    pub no_huge: bool,
    /// `--base-virtaddr`.
    pub base_virtaddr: Option<u64>,
    /// `--iova-mode`, None to choose automatically.
    pub iova_mode: Option<IovaMode>,
    /// `--log-level`, as `tracing` filter directives.
    pub log_level: Option<String>,
    /// `-a/--allow` devargs (`BDF[,key=val...]`).
    pub allow: Vec<String>,
    /// `-b/--block` PCI addresses.
    pub block: Vec<String>,
    /// `--vdev` devargs (`net_null0,size=64`).
    pub vdevs: Vec<String>,
    /// `--no-pci`.
    pub no_pci: bool,
    /// Arguments after `--`, for the application.
    pub app_args: Vec<String>,
    /// `--no-telemetry`: the primary serves no telemetry socket.
    pub no_telemetry: bool,
    /// CPUs of the control threads (IPC, interrupts, telemetry): `--control-cpus`, else
    /// the available CPUs that no lcore uses, else (every CPU is an lcore's) the main
    /// lcore's, as DPDK places its control threads.
    pub control_cpus: Vec<usize>,
}

/// The default group name, as in DPDK.
pub const DEFAULT_FILE_PREFIX: &str = "rte";

/// The usage text, DPDK-style.
pub fn usage(program: &str) -> String {
    format!(
        "Usage: {program} [EAL options] -- [application options]\n\
Values may be attached or not, as with DPDK: -l0-3, -l 0-3, --lcores=0-3 and --lcores 0-3 are the same.\n\
EAL common options:\n\
  -c COREMASK              Hexadecimal bitmask of cores to run on\n\
  -l, --lcores CORELIST    List of cores to run on: '0-3,5', or lcore-to-cpu maps\n\
                           '0@0,(1-3)@1' (lcore ids must differ between processes of a group)\n\
  --main-lcore ID          Core ID used as the main lcore (default: the first)\n\
  -m MB                    Memory to allocate in megabytes (default 128)\n\
  --proc-type TYPE         primary | secondary | auto (default primary)\n\
  --file-prefix NAME       Group name; processes with the same prefix share memory (default rte)\n\
  --huge-dir DIR           hugetlbfs mount to use (default: first mount found)\n\
  --no-huge                Use shared files in /dev/shm instead of hugepages\n\
  --base-virtaddr ADDR     Base of the shared memory window (primary only)\n\
  --iova-mode va|pa        Device addressing mode (default: chosen automatically)\n\
  --log-level LEVEL        Log level: 1-8, error, warning, info, debug, or COMPONENT:LEVEL\n\
  -a, --allow BDF[,k=v]    Use only these PCI devices (repeatable)\n\
  -b, --block BDF          Never use these PCI devices (repeatable; not with -a)\n\
  --vdev NAME[,k=v]        Add a virtual device, e.g. net_null0 (repeatable)\n\
  --no-pci                 Disable the PCI bus\n\
  --no-telemetry           Serve no telemetry socket (the primary serves DPDK's dpdk_telemetry.v2)\n\
  --control-cpus CPULIST   CPUs of the IPC, interrupt and telemetry threads (default: the CPUs\n\
                           no lcore uses, else the main lcore's, as DPDK)\n\
  -h, --help               This help\n\
Accepted for DPDK launch scripts:\n\
  --socket-mem MB[,MB...]  Like -m with the per-node amounts added up (one heap for all nodes)\n\
  --socket-limit MB[,...]  Must allow the memory asked for (0: no limit); the heap never grows\n\
  --legacy-mem, --single-file-segments\n\
                           No effect: the heap is always one file mapped at start\n\
  --huge-unlink[=existing] No effect: a primary removes stale heap files anyway\n\
  -n CHANNELS              Checked, no effect\n\
Refused with a reason: --in-memory, --no-shconf, --huge-unlink=always|never\n"
    )
}

/// Whether an option takes a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Val {
    /// A flag: `--no-pci`.
    No,
    /// A value, inline (`--x=v`, `-xv`) or as the next argument.
    Yes,
    /// A flag with an optional inline value only (`--huge-unlink`, `--huge-unlink=existing`).
    Inline,
}

struct Opt {
    short: Option<char>,
    long: &'static str,
    value: Val,
}

const OPTS: &[Opt] = &[
    Opt { short: Some('c'), long: "coremask", value: Val::Yes },
    Opt { short: Some('l'), long: "lcores", value: Val::Yes },
    Opt { short: None, long: "main-lcore", value: Val::Yes },
    Opt { short: None, long: "master-lcore", value: Val::Yes },
    Opt { short: Some('m'), long: "memory", value: Val::Yes },
    Opt { short: None, long: "socket-mem", value: Val::Yes },
    Opt { short: Some('n'), long: "memory-channels", value: Val::Yes },
    Opt { short: None, long: "proc-type", value: Val::Yes },
    Opt { short: None, long: "file-prefix", value: Val::Yes },
    Opt { short: None, long: "huge-dir", value: Val::Yes },
    Opt { short: None, long: "no-huge", value: Val::No },
    Opt { short: None, long: "base-virtaddr", value: Val::Yes },
    Opt { short: None, long: "iova-mode", value: Val::Yes },
    Opt { short: None, long: "log-level", value: Val::Yes },
    Opt { short: Some('a'), long: "allow", value: Val::Yes },
    Opt { short: Some('w'), long: "pci-whitelist", value: Val::Yes },
    Opt { short: Some('b'), long: "block", value: Val::Yes },
    Opt { short: None, long: "pci-blacklist", value: Val::Yes },
    Opt { short: None, long: "vdev", value: Val::Yes },
    Opt { short: None, long: "no-pci", value: Val::No },
    Opt { short: Some('h'), long: "help", value: Val::No },
    Opt { short: None, long: "legacy-mem", value: Val::No },
    Opt { short: None, long: "single-file-segments", value: Val::No },
    Opt { short: None, long: "in-memory", value: Val::No },
    Opt { short: None, long: "no-shconf", value: Val::No },
    Opt { short: None, long: "socket-limit", value: Val::Yes },
    Opt { short: None, long: "huge-unlink", value: Val::Inline },
    Opt { short: None, long: "no-telemetry", value: Val::No },
    Opt { short: None, long: "control-cpus", value: Val::Yes },
];

fn usage_err(msg: impl Into<String>) -> EalError {
    EalError::Usage(msg.into())
}

impl EalArgs {
    /// Parses `args` (`argv[0]` first). The CPUs that lcores may use are the ones this process
    /// is allowed to run on.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<EalArgs, EalError> {
        Self::parse_with_cpus(args, &crate::lcore::available_cpus())
    }

    /// As [`EalArgs::parse`], with the set of available CPUs given (for tests).
    pub fn parse_with_cpus<S: AsRef<str>>(args: &[S], cpus: &[usize]) -> Result<EalArgs, EalError> {
        let program = args.first().map(|s| s.as_ref().to_string()).unwrap_or_else(|| "bypass".into());
        let mut lcores: Option<Vec<LcoreSpec>> = None;
        let mut main_lcore = None;
        let mut proc_type = ProcType::Primary;
        let mut file_prefix = DEFAULT_FILE_PREFIX.to_string();
        let mut memory_mb = None;
        let mut socket_mem = false;
        let mut socket_limit: Option<u64> = None;
        let mut huge_dir = None;
        let mut no_huge = false;
        let mut base_virtaddr = None;
        let mut iova_mode = None;
        let mut log_level = None;
        let (mut allow, mut block, mut vdevs) = (Vec::new(), Vec::new(), Vec::new());
        let mut no_pci = false;
        let mut no_telemetry = false;
        let mut control_cpus: Option<Vec<usize>> = None;
        let mut app_args = Vec::new();

        let mut cli = Cli::new(args.iter().skip(1).map(|s| s.as_ref().to_string()));
        loop {
            if let Some(rest) = cli.rest_after_double_dash() {
                app_args = rest;
                break;
            }
            let Some(arg) = cli.next_arg().map_err(usage_err)? else { break };
            let opt = match arg {
                Arg::Long(name) => OPTS.iter().find(|o| o.long == name),
                Arg::Short(c) => OPTS.iter().find(|o| o.short == Some(c)),
                Arg::Value(v) => {
                    return Err(usage_err(format!(
                        "unexpected argument '{}': application arguments go after '--'",
                        v.to_string_lossy()
                    )))
                }
            };
            let opt = opt.ok_or_else(|| usage_err(cli::unknown(arg)))?;
            // `-l0-3`, `-l 0-3`, `--lcores=0-3` and `--lcores 0-3` alike; a flag given a
            // value (`--no-pci=1`) is refused by the next `cli.next_arg()`.
            let value = match opt.value {
                Val::Yes => cli.value(&format!("--{}", opt.long)).map_err(usage_err)?,
                Val::Inline => cli.attached_value().unwrap_or_default(),
                Val::No => String::new(),
            };
            match opt.long {
                "coremask" => lcores = Some(parse_coremask(&value)?),
                "lcores" => lcores = Some(parse_lcores(&value)?),
                "control-cpus" => {
                    control_cpus = Some(parse_list(&value).map_err(|e| match e {
                        EalError::Usage(m) => usage_err(format!("--control-cpus: {m}")),
                        e => e,
                    })?)
                }
                "main-lcore" | "master-lcore" => {
                    let m = parse_num(&value, "--main-lcore")?;
                    main_lcore = Some(u32::try_from(m).map_err(|_| {
                        usage_err(format!("--main-lcore {m} is too large: give an lcore id from the lcore list"))
                    })?)
                }
                "memory" => {
                    if socket_mem {
                        return Err(usage_err("options -m and --socket-mem cannot be used together: give the memory once"));
                    }
                    memory_mb = Some(parse_mb(&value, "-m")?);
                }
                "socket-mem" => {
                    // Bypass has one heap for all NUMA nodes: the per-node amounts add up.
                    if memory_mb.is_some() {
                        return Err(usage_err("options -m and --socket-mem cannot be used together: give the memory once"));
                    }
                    let mut total: u64 = 0;
                    for part in value.split(',') {
                        total = total.saturating_add(parse_mb(part, "--socket-mem")?);
                    }
                    memory_mb = Some(total);
                    socket_mem = true;
                }
                "socket-limit" => {
                    // Bypass reserves all its memory at start and never grows it: the limit
                    // only has to allow what is reserved (0 on a node: no limit).
                    let mut total: u64 = 0;
                    let mut unlimited = false;
                    for part in value.split(',') {
                        let v = parse_mb(part, "--socket-limit")?;
                        unlimited |= v == 0;
                        total = total.saturating_add(v);
                    }
                    socket_limit = (!unlimited).then_some(total);
                }
                // Bypass's heap is always one file mapped at start and never resized: what
                // these two ask for is what it does anyway.
                "legacy-mem" | "single-file-segments" => {}
                "no-telemetry" => no_telemetry = true,
                "huge-unlink" => match value.as_str() {
                    // DPDK's default and `existing`: stale files are removed at start, which
                    // Bypass's primary always does.
                    "" | "existing" => {}
                    v => {
                        return Err(usage_err(format!(
                            "--huge-unlink={v} is not supported: secondaries open the heap file by name, so it stays while the primary runs (a primary removes a crashed one's file at start and its own at exit); drop the option"
                        )))
                    }
                },
                "in-memory" | "no-shconf" => {
                    return Err(usage_err(format!(
                        "--{} is not supported: a Bypass primary always keeps its shared config and IPC socket in the runtime directory so that secondaries can attach, and removes them at exit; for a private instance use a --file-prefix of its own",
                        opt.long
                    )))
                }
                "memory-channels" => {
                    parse_num(&value, "-n")?;
                }
                "proc-type" => {
                    proc_type = match value.as_str() {
                        "primary" => ProcType::Primary,
                        "secondary" => ProcType::Secondary,
                        "auto" => ProcType::Auto,
                        v => {
                            return Err(usage_err(format!("invalid --proc-type '{v}': use primary, secondary or auto")))
                        }
                    }
                }
                "file-prefix" => {
                    check_file_prefix(&value)?;
                    file_prefix = value;
                }
                "huge-dir" => huge_dir = Some(PathBuf::from(value)),
                "no-huge" => no_huge = true,
                "base-virtaddr" => base_virtaddr = Some(parse_addr(&value)?),
                "iova-mode" => {
                    iova_mode = Some(match value.as_str() {
                        "va" => IovaMode::Va,
                        "pa" => IovaMode::Pa,
                        v => return Err(usage_err(format!("invalid --iova-mode '{v}': use va or pa"))),
                    })
                }
                "log-level" => log_level = Some(parse_log_level(&value)?),
                "allow" | "pci-whitelist" => allow.push(value),
                "block" | "pci-blacklist" => block.push(value),
                "vdev" => {
                    if value.is_empty() || value.starts_with(',') {
                        return Err(usage_err("--vdev needs a device name, e.g. --vdev net_null0"));
                    }
                    vdevs.push(value)
                }
                "no-pci" => no_pci = true,
                "help" => return Err(EalError::HelpRequested),
                _ => unreachable!("every option in OPTS is handled"),
            }
        }

        if !allow.is_empty() && !block.is_empty() {
            return Err(usage_err("options -a/--allow and -b/--block cannot be used together"));
        }
        if no_huge && huge_dir.is_some() {
            return Err(usage_err("options --no-huge and --huge-dir cannot be used together"));
        }
        if let Some(limit) = socket_limit {
            let want = memory_mb.unwrap_or(crate::eal::DEFAULT_MEMORY_MB);
            if limit < want {
                return Err(usage_err(format!(
                    "--socket-limit allows {limit} MB but {want} MB are asked for: Bypass reserves all its memory at start; raise the limit or lower -m/--socket-mem"
                )));
            }
        }
        if memory_mb == Some(0) {
            return Err(usage_err("-m 0: at least 1 MB of memory is needed"));
        }
        let lcores = match lcores {
            Some(l) => l,
            None => cpus.iter().map(|&c| LcoreSpec { id: c as u32, cpus: vec![c] }).collect(),
        };
        for l in &lcores {
            if l.id as usize >= crate::config::MAX_LCORES {
                return Err(usage_err(format!(
                    "lcore id {} is too large (at most {})",
                    l.id,
                    crate::config::MAX_LCORES - 1
                )));
            }
            if let Some(c) = l.cpus.iter().find(|c| !cpus.contains(c)) {
                return Err(usage_err(format!(
                    "lcore {} wants cpu {c}, which this process may not use (available: {}); map it onto an available cpu with --lcores {}@{}",
                    l.id,
                    fmt_list(cpus),
                    l.id,
                    cpus.first().copied().unwrap_or(0)
                )));
            }
        }
        let main_lcore = match main_lcore {
            Some(m) if lcores.iter().any(|l| l.id == m) => m,
            Some(m) => {
                return Err(usage_err(format!(
                    "--main-lcore {m} is not in the lcore list ({})",
                    fmt_list(&lcores.iter().map(|l| l.id as usize).collect::<Vec<_>>())
                )))
            }
            None => lcores.first().map(|l| l.id).ok_or_else(|| usage_err("no lcore given"))?,
        };
        let control_cpus = match control_cpus {
            Some(c) => {
                if let Some(bad) = c.iter().find(|c| !cpus.contains(c)) {
                    return Err(usage_err(format!(
                        "--control-cpus: cpu {bad} is not available to this process (available: {})",
                        fmt_list(cpus)
                    )));
                }
                c
            }
            None => {
                let free: Vec<usize> =
                    cpus.iter().copied().filter(|c| !lcores.iter().any(|l| l.cpus.contains(c))).collect();
                if free.is_empty() {
                    lcores.iter().find(|l| l.id == main_lcore).map(|l| l.cpus.clone()).unwrap_or_default()
                } else {
                    free
                }
            }
        };
        Ok(EalArgs {
            program,
            lcores,
            main_lcore,
            proc_type,
            file_prefix,
            memory_mb,
            huge_dir,
            no_huge,
            base_virtaddr,
            iova_mode,
            log_level,
            allow,
            block,
            vdevs,
            no_pci,
            app_args,
            no_telemetry,
            control_cpus,
        })
    }
}

fn fmt_list(v: &[usize]) -> String {
    v.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
}

fn parse_num(s: &str, what: &str) -> Result<u64, EalError> {
    s.trim().parse::<u64>().map_err(|_| usage_err(format!("invalid value '{s}' for {what}: expected a decimal number")))
}

/// Largest `-m` accepted: 64 TB of heap still fits the 47-bit user address space with room
/// for the program; the OS may refuse less (see the error of `Eal::init`).
pub const MAX_MEMORY_MB: u64 = 64 << 20;

fn parse_mb(s: &str, what: &str) -> Result<u64, EalError> {
    let v = parse_num(s, what)?;
    if v > MAX_MEMORY_MB {
        return Err(usage_err(format!(
            "{what} {v}: more memory than a process can map (at most {MAX_MEMORY_MB} MB, 64 TB); give a smaller amount in megabytes"
        )));
    }
    Ok(v)
}

/// Longest `--file-prefix` accepted.
pub const MAX_FILE_PREFIX_LEN: usize = 64;

/// Checks a `--file-prefix`: it names a directory and files, so it must be a plain, safe
/// file name: ASCII letters, digits, `-`, `_` and `.`, not starting with `.` and without
/// `..`, at most [`MAX_FILE_PREFIX_LEN`] characters.
pub fn check_file_prefix(p: &str) -> Result<(), EalError> {
    let fix = "use ASCII letters, digits, '-', '_' and '.' (not first, no '..'), e.g. --file-prefix app1";
    let shown = p.escape_default().to_string();
    let problem = if p.is_empty() {
        Some("it is empty".to_string())
    } else if p.len() > MAX_FILE_PREFIX_LEN {
        Some(format!("it is {} bytes long (at most {MAX_FILE_PREFIX_LEN})", p.len()))
    } else if let Some(c) = p.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        Some(if c.is_control() {
            format!("it contains the control character {}", c.escape_default())
        } else {
            format!("it contains '{c}'")
        })
    } else if p.starts_with('.') {
        Some("it starts with '.' (it would name a hidden or parent directory)".to_string())
    } else if p.contains("..") {
        Some("it contains '..'".to_string())
    } else {
        None
    };
    match problem {
        Some(why) => Err(usage_err(format!("invalid --file-prefix '{shown}': {why}; {fix}"))),
        None => Ok(()),
    }
}

fn parse_addr(s: &str) -> Result<u64, EalError> {
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        s.parse::<u64>()
    };
    match v {
        Ok(a) if a % (2 << 20) == 0 && a != 0 && a < (1u64 << 47) => Ok(a),
        _ => Err(usage_err(format!(
            "invalid --base-virtaddr '{s}': a non-zero, 2 MB aligned user-space address such as 0x200000000000"
        ))),
    }
}

/// Parses a list like `0-3,5` into sorted, distinct numbers.
pub fn parse_list(s: &str) -> Result<Vec<usize>, EalError> {
    let bad = || usage_err(format!("invalid core list '{s}': expected e.g. 0-3,5"));
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().map_err(|_| bad())?, b.parse::<usize>().map_err(|_| bad())?),
            None => {
                let a = part.parse::<usize>().map_err(|_| bad())?;
                (a, a)
            }
        };
        if a > b || b >= 1024 {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn parse_coremask(s: &str) -> Result<Vec<LcoreSpec>, EalError> {
    let h = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    let mask = u128::from_str_radix(h, 16).ok().filter(|&m| m != 0).ok_or_else(|| {
        usage_err(format!("invalid coremask '{s}': expected a non-zero hexadecimal mask such as 0x3"))
    })?;
    Ok((0..128u32).filter(|i| mask & (1u128 << i) != 0).map(|i| LcoreSpec { id: i, cpus: vec![i as usize] }).collect())
}

/// Parses `-l`/`--lcores`: a plain list (`0-3,5`: lcore N on cpu N) or DPDK's map form
/// (`0@0,(1-3)@1,4@(0-1)`).
pub fn parse_lcores(s: &str) -> Result<Vec<LcoreSpec>, EalError> {
    if !s.contains('@') && !s.contains('(') {
        return Ok(parse_list(s)?.into_iter().map(|c| LcoreSpec { id: c as u32, cpus: vec![c] }).collect());
    }
    let bad = || usage_err(format!("invalid lcore map '{s}': expected e.g. 0@0,(1-3)@1"));
    // Split on commas that are not inside parentheses.
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, ch) in s.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(bad());
        }
    }
    items.push(&s[start..]);
    let group = |g: &str| -> Result<Vec<usize>, EalError> {
        let inner = g.strip_prefix('(').and_then(|g| g.strip_suffix(')')).unwrap_or(g);
        parse_list(inner)
    };
    let mut out: Vec<LcoreSpec> = Vec::new();
    for item in items {
        let (ids, cpus) = match item.split_once('@') {
            Some((l, c)) => (group(l)?, Some(group(c)?)),
            None => (group(item)?, None),
        };
        if ids.is_empty() {
            return Err(bad());
        }
        for id in ids {
            if out.iter().any(|l| l.id as usize == id) {
                return Err(usage_err(format!("lcore {id} appears twice in '{s}'")));
            }
            out.push(LcoreSpec { id: id as u32, cpus: cpus.clone().unwrap_or_else(|| vec![id]) });
        }
    }
    out.sort_by_key(|l| l.id);
    Ok(out)
}

/// Turns DPDK log levels (`8`, `debug`, `lib.eal:debug`, `eal,info`) into `tracing` directives.
pub fn parse_log_level(s: &str) -> Result<String, EalError> {
    let level = |l: &str| -> Option<&'static str> {
        Some(match l.to_ascii_lowercase().as_str() {
            "1" | "emergency" | "2" | "alert" | "3" | "critical" | "4" | "error" | "err" => "error",
            "5" | "warning" | "warn" => "warn",
            "6" | "notice" | "7" | "info" => "info",
            "8" | "debug" => "debug",
            "9" | "trace" => "trace",
            _ => return None,
        })
    };
    let bad =
        || usage_err(format!("invalid --log-level '{s}': use 1-8, error, warning, info, debug, or COMPONENT:LEVEL"));
    if let Some(l) = level(s) {
        return Ok(l.to_string());
    }
    let (comp, l) = s.split_once(':').or_else(|| s.split_once(',')).ok_or_else(bad)?;
    let l = level(l).ok_or_else(bad)?;
    let comp = comp.trim_start_matches("lib.").trim_start_matches("pmd.").replace('.', "::");
    if comp.is_empty() || !comp.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        return Err(bad());
    }
    Ok(format!("{comp}={l}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<EalArgs, EalError> {
        let mut all = vec!["app"];
        all.extend_from_slice(v);
        EalArgs::parse_with_cpus(&all, &[0, 1, 2, 3])
    }

    #[test]
    fn defaults() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.lcores.len(), 4);
        assert_eq!(a.main_lcore, 0);
        assert_eq!(a.proc_type, ProcType::Primary);
        assert_eq!(a.file_prefix, "rte");
        assert!(a.app_args.is_empty());
    }

    #[test]
    fn common_flags_both_forms() {
        let a = parse(&[
            "-l",
            "1-2",
            "--proc-type=secondary",
            "--file-prefix",
            "grp",
            "-m64",
            "--no-huge",
            "--base-virtaddr=0x200000000000",
            "--iova-mode",
            "pa",
            "--log-level",
            "lib.eal:debug",
            "--vdev",
            "net_null0",
            "--vdev=net_ring0",
            "--no-pci",
            "--main-lcore=2",
            "--",
            "-p",
            "3",
        ])
        .unwrap();
        assert_eq!(a.lcores.iter().map(|l| l.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(a.main_lcore, 2);
        assert_eq!(a.proc_type, ProcType::Secondary);
        assert_eq!(a.file_prefix, "grp");
        assert_eq!(a.memory_mb, Some(64));
        assert!(a.no_huge && a.no_pci);
        assert_eq!(a.base_virtaddr, Some(0x2000_0000_0000));
        assert_eq!(a.iova_mode, Some(IovaMode::Pa));
        assert_eq!(a.log_level.as_deref(), Some("eal=debug"));
        assert_eq!(a.vdevs, vec!["net_null0", "net_ring0"]);
        assert_eq!(a.app_args, vec!["-p", "3"]);
    }

    #[test]
    fn coremask_and_lcore_maps() {
        let a = parse(&["-c", "0xa"]).unwrap();
        assert_eq!(a.lcores.iter().map(|l| l.id).collect::<Vec<_>>(), vec![1, 3]);
        let a = parse(&["--lcores", "0@0,(5-6)@(1-2),3"]).unwrap();
        assert_eq!(
            a.lcores,
            vec![
                LcoreSpec { id: 0, cpus: vec![0] },
                LcoreSpec { id: 3, cpus: vec![3] },
                LcoreSpec { id: 5, cpus: vec![1, 2] },
                LcoreSpec { id: 6, cpus: vec![1, 2] },
            ]
        );
    }

    #[test]
    fn errors_are_clear() {
        let msg = |v: &[&str]| parse(v).unwrap_err().to_string();
        assert!(msg(&["--bogus"]).contains("unknown option '--bogus'"));
        assert!(msg(&["-x"]).contains("unknown option '-x'"));
        assert!(msg(&["-a", "00:01.0", "-b", "00:02.0"]).contains("cannot be used together"));
        assert!(msg(&["--proc-type", "tertiary"]).contains("primary, secondary or auto"));
        assert!(msg(&["-l"]).contains("needs a value"));
        assert!(msg(&["-l", "3-1"]).contains("invalid core list"));
        assert!(msg(&["-l", "7"]).contains("--lcores 7@0"));
        assert!(msg(&["-c", "zz"]).contains("invalid coremask"));
        assert!(msg(&["-m", "lots"]).contains("expected a decimal number"));
        assert!(msg(&["--base-virtaddr", "0x1234"]).contains("2 MB aligned"));
        assert!(msg(&["--main-lcore", "3", "-l", "0-1"]).contains("not in the lcore list"));
        assert!(msg(&["stray"]).contains("go after '--'"));
        assert!(msg(&["--no-pci=1"]).contains("takes no value"));
        assert!(msg(&["--log-level", "loud"]).contains("invalid --log-level"));
        assert!(msg(&["--lcores", "1@0,1@1"]).contains("appears twice"));
        assert!(matches!(parse(&["-h"]), Err(EalError::HelpRequested)));
    }

    #[test]
    fn dpdk_spellings_of_values() {
        let ids = |v: &[&str]| parse(v).unwrap().lcores.iter().map(|l| l.id).collect::<Vec<_>>();
        for v in [&["-l0-3"][..], &["-l", "0-3"], &["-l=0-3"], &["--lcores=0-3"], &["--lcores", "0-3"]] {
            assert_eq!(ids(v), vec![0, 1, 2, 3], "{v:?}");
        }
        assert_eq!(ids(&["--lcores=0-1"]), vec![0, 1]);
        assert_eq!(ids(&["-c0x3"]), vec![0, 1]);
        assert_eq!(parse(&["-m64"]).unwrap().memory_mb, Some(64));
        assert_eq!(parse(&["-n4", "--file-prefix=grp"]).unwrap().file_prefix, "grp");
        assert_eq!(parse(&["-a0000:00:03.0", "-a", "00:04.0"]).unwrap().allow, vec!["0000:00:03.0", "00:04.0"]);
        assert!(matches!(parse(&["--no-huge", "-h"]), Err(EalError::HelpRequested)));
        let a = parse(&["-l0-1", "--", "-p3", "--", "x"]).unwrap();
        assert_eq!(a.app_args, vec!["-p3", "--", "x"], "everything after the first '--' is the application's");
        let msg = |v: &[&str]| parse(v).unwrap_err().to_string();
        assert!(msg(&["-l0-9999"]).contains("invalid core list '0-9999'"));
        assert!(msg(&["--lcores=x"]).contains("invalid core list 'x'"));
        assert!(msg(&["--lcores"]).contains("option '--lcores' needs a value"));
        assert!(msg(&["--no-huge=yes"]).contains("option '--no-huge' takes no value"));
    }

    #[test]
    fn file_prefix_must_be_a_safe_name() {
        for ok in ["rte", "app1", "a.b", "a-b_c", "A.1.x", &"x".repeat(64)] {
            assert_eq!(parse(&["--file-prefix", ok]).unwrap().file_prefix, ok);
        }
        let msg = |p: &str| parse(&["--file-prefix", p]).unwrap_err().to_string();
        assert!(msg("..").contains("starts with '.'"), "{}", msg(".."));
        assert!(msg(".").contains("starts with '.'"));
        assert!(msg(".hidden").contains("starts with '.'"));
        assert!(msg("a..b").contains("contains '..'"));
        assert!(msg("a/b").contains("contains '/'"));
        assert!(msg("a\nb").contains("control character \\n"), "{}", msg("a\nb"));
        assert!(msg("a\nb").contains("'a\\nb'"), "the prefix is shown escaped: {}", msg("a\nb"));
        assert!(msg("").contains("it is empty"));
        assert!(msg(&"x".repeat(65)).contains("at most 64"));
        assert!(msg("caf\u{e9}").contains("contains '\u{e9}'"));
        for p in ["..", "a b", "a\u{1b}[31m"] {
            assert!(msg(p).contains("e.g. --file-prefix app1"), "the fix is named: {}", msg(p));
        }
    }

    #[test]
    fn dpdk_launch_script_flags() {
        let a = parse(&[
            "--legacy-mem",
            "--single-file-segments",
            "--no-telemetry",
            "--huge-unlink",
            "--socket-limit",
            "512,512",
            "--socket-mem",
            "64,32",
            "-n",
            "4",
        ])
        .unwrap();
        assert_eq!(a.memory_mb, Some(96));
        assert!(a.no_telemetry, "--no-telemetry turns the socket off");
        assert!(!parse(&[]).unwrap().no_telemetry, "telemetry is on by default");
        assert!(parse(&["--huge-unlink=existing"]).is_ok());
        let msg = |v: &[&str]| parse(v).unwrap_err().to_string();
        assert!(msg(&["--huge-unlink=always"]).contains("secondaries open the heap file by name"));
        assert!(msg(&["--in-memory"]).contains("--in-memory is not supported"));
        assert!(msg(&["--no-shconf"]).contains("--no-shconf is not supported"));
        assert!(msg(&["-m", "64", "--socket-mem", "64"]).contains("cannot be used together"));
        assert!(msg(&["--socket-mem", "64", "-m", "64"]).contains("cannot be used together"));
        assert!(msg(&["--socket-limit", "x"]).contains("expected a decimal number"));
        assert!(msg(&["--socket-limit", "16,16", "-m", "64"]).contains("--socket-limit allows 32 MB but 64 MB"));
        assert!(msg(&["--socket-limit", "64"]).contains("but 128 MB are asked for"), "the default -m counts");
        assert!(parse(&["--socket-limit", "0,16", "-m", "64"]).is_ok(), "0 is no limit");
        assert!(msg(&["--legacy-mem=1"]).contains("takes no value"));
    }

    #[test]
    fn impossible_memory_is_refused_in_words() {
        let m = parse(&["-m", "999999999999"]).unwrap_err().to_string();
        assert!(m.contains("more memory than a process can map"), "{m}");
        let m = parse(&["--socket-mem", "99999999999999,1"]).unwrap_err().to_string();
        assert!(m.contains("more memory than a process can map"), "{m}");
        let m = parse(&["--main-lcore", "4294967296"]).unwrap_err().to_string();
        assert!(m.contains("too large"), "{m}");
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Any argv parses or fails with a usage message; it never panics.
        #[test]
        fn arbitrary_argv_never_panics(v in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::sample::select(vec![
                    "-l", "-c", "-m", "-n", "-a", "-b", "-w", "-h", "--lcores", "--main-lcore", "--proc-type",
                    "--file-prefix", "--huge-dir", "--no-huge", "--base-virtaddr", "--iova-mode", "--log-level",
                    "--vdev", "--no-pci", "--socket-mem", "--socket-limit", "--huge-unlink", "--in-memory",
                    "--legacy-mem", "--", "0-3", "0@0,(1-2)@1", "0x3", "..", "secondary", "auto", "64", "0",
                    "-1", "18446744073709551615", "1-1024", "((", "@", ",", "=", "",
                ]).prop_map(str::to_string),
                ".{0,12}",
                "-[a-z]{1,2}[0-9=,@()-]{0,6}",
                "--[a-z-]{1,14}(=.{0,8})?",
            ],
            0..12,
        )) {
            let mut all = vec!["app".to_string()];
            all.extend(v);
            match EalArgs::parse_with_cpus(&all, &[0, 1, 2, 3]) {
                Ok(a) => {
                    proptest::prop_assert!(!a.lcores.is_empty());
                    proptest::prop_assert!(check_file_prefix(&a.file_prefix).is_ok());
                }
                Err(EalError::Usage(m)) => proptest::prop_assert!(!m.is_empty()),
                Err(EalError::HelpRequested) => {}
                Err(e) => proptest::prop_assert!(false, "unexpected error kind: {e}"),
            }
        }
    }

    proptest::proptest! {
        /// An accepted prefix is always one plain path component: joined to a base it names
        /// a child of that base, never the base, its parent or a hidden entry.
        #[test]
        fn accepted_prefixes_stay_inside_the_base(p in "\\PC{0,70}|[a-z.]{0,6}") {
            if check_file_prefix(&p).is_ok() {
                let joined = std::path::Path::new("/base").join(&p);
                let comps: Vec<_> = joined.components().collect();
                proptest::prop_assert_eq!(comps.len(), 3);
                proptest::prop_assert!(matches!(comps[2], std::path::Component::Normal(_)));
                proptest::prop_assert!(!p.starts_with('.') && !p.contains(".."));
                proptest::prop_assert!(p.bytes().all(|b| b.is_ascii_graphic()));
            }
        }
    }

    #[test]
    fn control_threads_avoid_the_lcores_cpus() {
        let cpus = [0, 1, 2, 3];
        let a = EalArgs::parse_with_cpus(&["app", "-l", "1-2"], &cpus).unwrap();
        assert_eq!(a.control_cpus, vec![0, 3], "the CPUs no lcore uses");
        let a = EalArgs::parse_with_cpus(&["app", "-l", "0-3", "--main-lcore", "2"], &cpus).unwrap();
        assert_eq!(a.control_cpus, vec![2], "every CPU is an lcore's: the main lcore's, as DPDK");
        let a = EalArgs::parse_with_cpus(&["app", "-l", "1-2", "--control-cpus", "3"], &cpus).unwrap();
        assert_eq!(a.control_cpus, vec![3]);
        let e = EalArgs::parse_with_cpus(&["app", "--control-cpus", "7"], &cpus).unwrap_err().to_string();
        assert!(e.contains("cpu 7 is not available"), "{e}");
        let e = EalArgs::parse_with_cpus(&["app", "--control-cpus", "x"], &cpus).unwrap_err().to_string();
        assert!(e.contains("--control-cpus: invalid core list 'x'"), "{e}");
    }

    #[test]
    fn usage_mentions_every_flag() {
        let u = usage("app");
        for f in [
            "-l",
            "-c",
            "--main-lcore",
            "--proc-type",
            "--file-prefix",
            "-m",
            "--huge-dir",
            "--no-huge",
            "--base-virtaddr",
            "--iova-mode",
            "--log-level",
            "--allow",
            "--block",
            "--vdev",
            "--no-pci",
            "--control-cpus",
        ] {
            assert!(u.contains(f), "usage lacks {f}");
        }
    }
}
