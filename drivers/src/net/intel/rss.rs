//! RSS pieces the Intel PMDs share (e1000 on the 82574L, igb, ixgbe): every one of them has
//! a 128-entry redirection table, and a driver takes a new table only when it has exactly
//! that many entries, each a queue the driver offers.

use ethdev::EthError;

/// Entries of the redirection table (82574L, 82576, 82599).
pub const RETA_SIZE: usize = 128;

/// Checks a redirection table given to a driver's `reta_update`: exactly [`RETA_SIZE`]
/// entries, each below `max_queues` (the queues the driver of `port` offers); the error
/// says what the device takes.
pub fn check_reta(port: u16, reta: &[u16], max_queues: usize) -> Result<(), EthError> {
    if reta.len() != RETA_SIZE || reta.iter().any(|&q| usize::from(q) >= max_queues) {
        return Err(EthError::Unsupported {
            port,
            what: format!("a redirection table of {RETA_SIZE} entries, each a queue below {max_queues}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ethdev::rss::default_reta;

    #[test]
    fn a_table_of_the_wrong_size_or_with_a_queue_out_of_range_is_refused() {
        assert!(check_reta(3, &default_reta(RETA_SIZE, 2), 2).is_ok());
        let e = check_reta(3, &default_reta(64, 2), 2).unwrap_err();
        assert_eq!(e.to_string(), check_reta(3, &[], 2).unwrap_err().to_string());
        assert!(e.to_string().contains("a redirection table of 128 entries, each a queue below 2"), "{e}");
        let mut reta = default_reta(RETA_SIZE, 2);
        reta[127] = 2;
        assert!(matches!(check_reta(3, &reta, 2), Err(EthError::Unsupported { port: 3, .. })));
        assert!(check_reta(3, &reta, 16).is_ok());
    }
}
