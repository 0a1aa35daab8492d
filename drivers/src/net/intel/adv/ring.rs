//! Programming a ring's base, length, head and tail registers. The five registers of a
//! queue sit at different offsets on the 82576 and the 82599 (and between low and high
//! queue numbers): the driver names them in a [`RingRegs`].

use super::desc::DESC_SIZE;
use super::queue::QueueMem;
use crate::net::intel::RegIo;

/// Byte offsets of one queue's ring registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingRegs {
    /// Base address, low 32 bits (RDBAL/TDBAL).
    pub bal: usize,
    /// Base address, high 32 bits (RDBAH/TDBAH).
    pub bah: usize,
    /// Ring length in bytes (RDLEN/TDLEN).
    pub len: usize,
    /// Head (RDH/TDH).
    pub head: usize,
    /// Tail (RDT/TDT): also what the bursts write ([`super::RxParams::tail_reg`],
    /// [`super::tx::burst`]'s `tail_reg`).
    pub tail: usize,
}

impl RingRegs {
    /// The registers of a queue whose block starts at `base` in the layout both the 82576
    /// and the 82599 use inside a queue block: BAL +0x00, BAH +0x04, LEN +0x08, head +0x10,
    /// tail +0x18.
    pub const fn block(base: usize) -> RingRegs {
        RingRegs { bal: base, bah: base + 4, len: base + 8, head: base + 0x10, tail: base + 0x18 }
    }
}

/// Writes the ring's device address `iova` and length (of `q`), and zeroes head and tail.
/// Call with the queue disabled; enable it (RXDCTL/TXDCTL) afterwards, then write the RX
/// tail ([`super::rx::initial_tail`]).
pub fn program<R: RegIo + ?Sized>(regs: &R, rr: &RingRegs, q: &QueueMem, iova: u64) {
    regs.write32(rr.bal, iova as u32);
    regs.write32(rr.bah, (iova >> 32) as u32);
    regs.write32(rr.len, (q.nb() as u64 * DESC_SIZE) as u32);
    regs.write32(rr.head, 0);
    regs.write32(rr.tail, 0);
}
