//! Pieces every sample shares: EAL start with DPDK-style error reporting, port setup,
//! flow hashing.

pub mod flow;

use eal::{Eal, EalError, PktMbufPool};
use ethdev::{EthError, Ethdev, PortConf};

/// Initialises the EAL from the process arguments, or prints why not and exits:
/// usage and exit 0 for `-h`, the error plus usage and exit 1 for bad flags, the error and
/// exit 1 otherwise.
pub fn eal_init_or_exit(app: &str) -> Eal {
    let args: Vec<String> = std::env::args().collect();
    match Eal::init(&args) {
        Ok(e) => e,
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
/// `pool`, and starts it (primary only).
pub fn setup_port(
    eth: &Ethdev,
    id: u16,
    nb_rxq: u16,
    nb_txq: u16,
    nb_desc: u16,
    rss: bool,
    pool: PktMbufPool,
) -> Result<(), EthError> {
    let c = eth.control(id)?;
    // RSS only where the device has it (virtual ports spread nothing).
    let rss = rss && nb_rxq > 1 && c.info().capabilities & ethdev::capa::RSS != 0;
    c.configure(&PortConf { nb_rxq, nb_txq, rss, lsc_intr: true })?;
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
