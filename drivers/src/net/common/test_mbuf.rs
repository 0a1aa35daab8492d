//! Mbufs for unit tests (test builds only): a pool in anonymous memory and packets of a
//! given length with offload requests.

use eal::mbuf::{OlFlags, TxOffloadLens};
use eal::{Mbuf, Memory, PktMbufPool};

/// A pool `name` of `n` mbufs of the default size in 8 MiB of anonymous memory (keep the
/// memory alive as long as the pool).
pub fn pool(name: &str, n: u32) -> (Memory, PktMbufPool) {
    let mem = Memory::anonymous(8 << 20).unwrap();
    let pool = PktMbufPool::create(&mem, name, n, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
    (mem, pool)
}

/// A packet of `len` (zeroed) bytes from `pool` with offload requests `flags` and header
/// lengths `lens`.
pub fn pkt(pool: &PktMbufPool, len: u16, flags: OlFlags, lens: TxOffloadLens) -> Mbuf {
    let mut m = pool.alloc().unwrap();
    m.append(len).unwrap();
    m.set_ol_flags(flags);
    m.set_tx_offload(lens);
    m
}
