//! The device's statistics registers (primary only): the e1000 family's counters
//! ([`e1000_family::STATS`], the 82576 has them at the same offsets), folded by the shared
//! [`HwStats`] code into totals kept in the port slot's driver words from [`FIRST_WORD`] and
//! into the port counters.

use crate::net::common::hw_stats::HwStats;
use crate::net::intel::e1000_family;

/// First driver word used for the totals.
pub const FIRST_WORD: usize = 24;

/// The counters and their totals.
pub const STATS: HwStats = HwStats { first_word: FIRST_WORD, counters: e1000_family::STATS };
const _: () = assert!(STATS.end_word() <= ethdev::port_table::PRIVATE_WORDS);
