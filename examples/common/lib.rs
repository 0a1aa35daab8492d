//! Pieces every sample shares: EAL start with DPDK-style error reporting, application
//! options ([`args`]), port setup, flow hashing.

pub mod args;
pub mod flow;

pub use args::parse_portmask;

use eal::{Eal, EalError, PktMbufPool};
use ethdev::{EthError, Ethdev, PortConf};
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Initialises the EAL from the process arguments, or prints why not and exits:
/// usage and exit 0 for `-h`, the error plus usage and exit 1 for bad flags, the error and
/// exit 1 otherwise.
pub fn eal_init_or_exit(app: &str) -> Eal {
    let args: Vec<String> = std::env::args().collect();
    eal_init_args_or_exit(app, &args)
}

/// In a secondary, stops the sample cleanly when its primary exits: the ports, rings and
/// pools live in the primary's memory, so there is nothing left to forward. Says so once on
/// stderr and raises the quit flag the forwarding loops watch ([`should_stop`]).
fn stop_when_the_primary_exits(app: &str, eal: &Eal) {
    if eal.is_primary() {
        return;
    }
    let app = app.to_owned();
    eal.mp().on_primary_exit(move || {
        eprintln!("{app}: the primary process has exited; a secondary cannot go on without it: stopping");
        eal::signal::request_quit();
    });
}

/// As [`eal_init_or_exit`], with the arguments given (`argv[0]` first).
pub fn eal_init_args_or_exit(app: &str, args: &[String]) -> Eal {
    drivers::declare_to_eal();
    match Eal::init(args) {
        Ok(e) => {
            stop_when_the_primary_exits(app, &e);
            e
        }
        Err(EalError::HelpRequested) => {
            print!("{}", eal::args::usage(&args[0]));
            std::process::exit(0);
        }
        Err(e @ EalError::Usage(_)) => {
            eprintln!("{app}: EAL: {e}\n{}", eal::args::usage(&args[0]));
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{app}: EAL: cannot initialise: {e}");
            std::process::exit(1);
        }
    }
}

/// Configures port `id` with `nb_rxq`/`nb_txq` queues of `nb_desc` descriptors fed by
/// `pool`, and starts it (primary only). With several RX queues, RSS hashes the types of
/// `rss_hf` (`ethdev::rss::hash` bits; 0 for no RSS) that the device supports, as DPDK's
/// samples mask `rss_hf` with the device's `flow_type_rss_offloads`.
pub fn setup_port(
    eth: &Ethdev,
    id: u16,
    nb_rxq: u16,
    nb_txq: u16,
    nb_desc: u16,
    rss_hf: u64,
    pool: PktMbufPool,
) -> Result<(), EthError> {
    setup_port_with(eth, id, nb_rxq, nb_txq, nb_desc, rss_hf, pool, PortExtras::default())
}

/// What [`setup_port_with`] configures beyond queues and RSS.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortExtras {
    /// RX offloads, asked for as they are: the caller keeps to the device's capabilities
    /// (configure refuses an offload the device lacks, naming it).
    pub rx_offloads: ethdev::RxOffloads,
    /// TX offloads, likewise.
    pub tx_offloads: ethdev::TxOffloads,
    /// The MTU (None: the port's).
    pub mtu: Option<u16>,
}

/// As [`setup_port`], with the offloads and MTU of `extras`.
#[allow(clippy::too_many_arguments)]
#[allow(clippy::needless_update, reason = "PortConf grows fields; the rest keep their defaults")]
pub fn setup_port_with(
    eth: &Ethdev,
    id: u16,
    nb_rxq: u16,
    nb_txq: u16,
    nb_desc: u16,
    rss_hf: u64,
    pool: PktMbufPool,
    extras: PortExtras,
) -> Result<(), EthError> {
    let c = eth.control(id)?;
    let info = c.info();
    let hash_types = rss_hf & info.rss_hash_types;
    // RSS only where the device has it (virtual ports spread nothing).
    let rss = hash_types != 0 && nb_rxq > 1 && info.capabilities & ethdev::capa::RSS != 0;
    if rss_hf != 0 && nb_rxq > 1 && !rss {
        tracing::info!(port = id, "the device has no RSS for hash types {rss_hf:#x}: flows are not spread");
    }
    let rss_conf = ethdev::RssConf { hash_types, ..Default::default() };
    c.configure(&PortConf {
        nb_rxq,
        nb_txq,
        rss,
        rss_conf,
        lsc_intr: true,
        rx_offloads: extras.rx_offloads,
        tx_offloads: extras.tx_offloads,
        mtu: extras.mtu,
        ..PortConf::default()
    })?;
    let lim = c.info().rx_desc_lim;
    let nb = nb_desc.clamp(lim.min, lim.max) / lim.align.max(1) * lim.align.max(1);
    for q in 0..nb_rxq {
        c.rx_queue_setup(q, nb, pool)?;
    }
    let lim = c.info().tx_desc_lim;
    let nbt = nb_desc.clamp(lim.min, lim.max) / lim.align.max(1) * lim.align.max(1);
    for q in 0..nb_txq {
        c.tx_queue_setup(q, nbt)?;
    }
    c.start()
}

/// Formats a MAC address.
pub fn fmt_mac(m: [u8; 6]) -> String {
    format!("{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", m[0], m[1], m[2], m[3], m[4], m[5])
}

/// Runs a sample: `run` gets the EAL; on `Err(reason)` the process prints `APP: reason` and
/// exits 1, else 0. The EAL is dropped first either way, so its files are cleaned up.
pub fn exit_after(app: &str, eal: Eal, run: impl FnOnce(&Eal) -> Result<(), String>) -> ! {
    let code = match run(&eal) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{app}: {e}");
            1
        }
    };
    drop(eal);
    std::process::exit(code)
}

/// Installs the Ctrl-C handler and probes (primary) or attaches (secondary) every port
/// with all of Bypass's drivers.
pub fn ports(eal: &Eal) -> Result<Ethdev, String> {
    if let Err(e) = eal::signal::install_quit_handler() {
        eprintln!("warning: cannot install the Ctrl-C handler: {e}");
    }
    Ethdev::init(eal, &drivers::all()).map_err(|e| e.to_string())
}

/// The ports selected by `mask` (all when `None`), which must be a non-empty, even number
/// (the samples forward between pairs 0<->1, 2<->3, ...).
pub fn port_pairs(eth: &Ethdev, mask: Option<u64>) -> Result<Vec<u16>, String> {
    let ports: Vec<u16> = eth.port_ids().into_iter().filter(|p| mask.is_none_or(|m| m & (1 << p) != 0)).collect();
    if ports.is_empty() || !ports.len().is_multiple_of(2) {
        return Err(format!("needs an even number of ports (check -p and --vdev), found {}", ports.len()));
    }
    Ok(ports)
}

/// The group's mbuf pool `name` of `n` mbufs: created by the primary, looked up by the
/// secondaries.
pub fn shared_pool(eal: &Eal, name: &str, n: u32) -> Result<PktMbufPool, String> {
    let r = if eal.is_primary() {
        PktMbufPool::create(&eal.memory(), name, n, 256, eal::mbuf::DEFAULT_BUF_SIZE)
    } else {
        PktMbufPool::lookup(&eal.memory(), name)
    };
    r.map_err(|e| format!("mbuf pool: {e}"))
}

/// A flag that becomes true when a line (Enter) arrives on stdin; end of input is ignored,
/// so a sample started with no terminal keeps running until signalled.
pub fn stop_on_enter() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        let mut l = String::new();
        let _ = std::io::stdin().lock().read_line(&mut l);
        if !l.is_empty() {
            s.store(true, Ordering::Relaxed);
        }
    });
    stop
}

/// True when the sample should stop: Enter on stdin (`stop`), Ctrl-C or SIGTERM.
pub fn should_stop(stop: &AtomicBool) -> bool {
    stop.load(Ordering::Relaxed) || eal::signal::quit_requested()
}

/// The samples' clean exit: closes `ports` (primary), releases the port table, returns the
/// lcore caches to `pool` and reports how many of its mbufs are free (all of them when
/// nothing leaked), then says goodbye as DPDK's samples do.
pub fn close_ports_and_report(eth: Ethdev, ports: &[u16], pool: &PktMbufPool) {
    for &p in ports {
        println!("Closing port {p}...");
        if let Ok(c) = eth.control(p) {
            c.close();
        }
    }
    drop(eth);
    pool.mempool().flush_cache();
    println!("Pool mbuf_pool: {} of {} mbufs free", pool.mempool().avail_count(), pool.mempool().size());
    println!("Bye...");
}
