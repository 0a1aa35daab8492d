//! Zeroing a port slot before it is reused by a new port: every field of [`PortSlot`] is
//! atomic (plain shared data whose all-zero value is "unused"), so the slot is cleared as a
//! whole rather than field by field, which also covers fields added later. The `in_use`
//! word is left alone: it is the claim that keeps every other process off the slot while
//! the rest is zeroed.

use crate::port_table::PortSlot;
use std::mem::{offset_of, size_of};

/// Sets every byte of `slot` to zero except its `in_use` word.
///
/// # Safety
///
/// No other thread or process may read or write any field of `slot` but `in_use` while it
/// runs: the caller has just claimed the slot (its `in_use` went from 0 to 1 under the
/// caller's compare-exchange, as in
/// [`PortTable::allocate`](crate::port_table::PortTable::allocate)), and the port that used
/// the slot before was detached in every process, so nothing still holds it.
pub(crate) unsafe fn zero_except_in_use(slot: &PortSlot) {
    let base = slot as *const PortSlot as *mut u8;
    let keep = offset_of!(PortSlot, in_use);
    let keep_end = keep + size_of::<std::sync::atomic::AtomicU32>();
    // SAFETY: both ranges lie inside the live PortSlot `slot` points at, in the shared
    // window. Every field of PortSlot is an atomic or made of atomics (it is `SharedPlain`,
    // all-zero is a valid value), so its bytes are inside UnsafeCells and writing them
    // through a pointer derived from a shared reference is interior mutation; padding bytes
    // may take any value. The caller guarantees no one else touches these bytes meanwhile;
    // `in_use`, the word others do read, is not written.
    unsafe {
        std::ptr::write_bytes(base, 0, keep);
        std::ptr::write_bytes(base.add(keep_end), 0, size_of::<PortSlot>() - keep_end);
    }
}

#[cfg(test)]
mod tests {
    use crate::port_table::{PortState, PortTable};
    use std::sync::atomic::Ordering;

    #[test]
    fn a_reused_slot_starts_from_zero_with_the_next_generation() {
        let mem = eal::Memory::anonymous(8 << 20).unwrap();
        let table = PortTable::create(&mem).unwrap();
        let id = table.allocate().unwrap();
        let s = table.slot(id).unwrap();
        assert_eq!(s.generation.load(Ordering::Relaxed), 1);
        s.name.set("net_ring1");
        s.nb_rxq.store(4, Ordering::Relaxed);
        s.capture.store(3, Ordering::Relaxed);
        s.state.store(PortState::Started as u32, Ordering::Relaxed);
        s.counters.rx[0].add(10, 600);
        assert_eq!(table.allocate(), Some(id + 1), "a used slot is not handed out");
        table.free(id);
        assert_eq!(table.ports(), vec![id + 1]);
        assert_eq!(table.allocate(), Some(id), "the freed slot is reused");
        assert_eq!(s.generation.load(Ordering::Relaxed), 2);
        assert_eq!(s.in_use.load(Ordering::Relaxed), 1);
        assert_eq!((s.name.get(), s.nb_rxq.load(Ordering::Relaxed)), (String::new(), 0));
        assert_eq!((s.capture.load(Ordering::Relaxed), s.state()), (0, PortState::Unused));
        assert_eq!(s.counters.snapshot(1, 1).ipackets, 0);
    }

    #[test]
    fn zeroing_never_clears_the_claim() {
        let mem = eal::Memory::anonymous(8 << 20).unwrap();
        let table = PortTable::create(&mem).unwrap();
        let id = table.allocate().unwrap();
        let s = table.slot(id).unwrap();
        s.mtu.store(9000, Ordering::Relaxed);
        // SAFETY: the slot was just claimed by this test and no one else uses the table.
        unsafe { super::zero_except_in_use(s) };
        assert_eq!(s.in_use.load(Ordering::Relaxed), 1, "the slot stays claimed while it is zeroed");
        assert_eq!((s.mtu.load(Ordering::Relaxed), s.generation.load(Ordering::Relaxed)), (0, 0));
        assert_eq!(table.allocate(), Some(id + 1), "a claimed slot is never handed out twice");
    }
}
