//! Lookup tables that live entirely in shared memory (memzones) and hold plain data only:
//! no pointers, no heap, no function pointers. A table created by name in the primary can be
//! found by name in any process of the group, including a secondary built from another
//! program, because everything a lookup needs (sizes, the hash function's *id*, the buckets)
//! is stored in the memzone.
//!
//! - [`hash::HashTable`]: a bucketised cuckoo hash with fixed-size keys and `u64` values;
//!   lock-free lookups run concurrently with one writer (per-bucket sequence counters).
//! - [`jhash`]: Bob Jenkins' lookup3, the values of DPDK's `rte_jhash` (a hash function a
//!   table may use).
//! - [`lpm::Lpm`]: a DIR-24-8 longest-prefix-match table for IPv4.
//! - [`lpm6::Lpm6`]: a multibit-trie longest-prefix-match table for IPv6.

pub mod crc;
pub mod hash;
pub mod jhash;
pub mod lpm;
pub mod lpm6;
mod pid;

pub use hash::{HashFunction, HashParams, HashTable, HashWriter};
pub use lpm::{Lpm, LpmParams};
pub use lpm6::{Lpm6, Lpm6Params};

/// What can go wrong creating, finding or updating a table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A parameter is out of range; the message names it and the accepted values.
    #[error("invalid table parameter: {0}")]
    InvalidParam(String),
    /// No memzone of that name: the table was not created (yet), or the name is misspelt.
    #[error("no table named '{0}': create it in the primary first, or check the name")]
    NotFound(String),
    /// The memzone exists but does not hold a table of this kind.
    #[error("memzone '{name}' is not a {kind} (bad magic): pick another name")]
    NotATable {
        /// Memzone name.
        name: String,
        /// Kind of table expected.
        kind: &'static str,
    },
    /// The table was created with another key or value size than the one asked for.
    #[error("table '{name}' holds {what} of {stored} bytes, not {asked}: open it with {stored}")]
    SizeMismatch {
        /// Table name.
        name: String,
        /// "keys" or "values".
        what: &'static str,
        /// Size stored in the table.
        stored: usize,
        /// Size the caller asked for.
        asked: usize,
    },
    /// The table is full (no free slot reachable, or the rule/group limit is hit).
    #[error("table '{0}' is full: create it with more entries")]
    Full(String),
    /// The key or rule to delete is not in the table.
    #[error("not in the table")]
    NotPresent,
    /// The EAL failed to reserve or map the memzone.
    #[error(transparent)]
    Eal(#[from] eal::EalError),
}

/// Checks a table name fits a memzone name.
pub(crate) fn check_name(name: &str) -> Result<(), TableError> {
    let max = eal::name::SharedName::<4>::MAX_LEN;
    if name.is_empty() || name.len() > max {
        return Err(TableError::InvalidParam(format!(
            "name '{name}' must be 1 to {max} bytes long (it names a memzone)"
        )));
    }
    Ok(())
}
