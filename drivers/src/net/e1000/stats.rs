//! The device's statistics registers (primary only): the e1000 family's counters
//! ([`e1000_family::STATS`]), folded by the shared [`HwStats`] code into totals kept in the
//! driver's state (`EmState::stats`) and into the port counters.

use crate::net::common::hw_stats::HwStats;
use crate::net::intel::e1000_family;

/// The counters and their totals.
pub const STATS: HwStats = HwStats { counters: e1000_family::STATS };
const _: () = assert!(STATS.fits());
