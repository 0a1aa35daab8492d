//! Zeroing a port slot before it is reused by a new port: every field of [`PortSlot`] is
//! atomic (plain shared data whose all-zero value is "unused"), so the whole slot is
//! cleared at once rather than field by field, which also covers fields added later.

use crate::port_table::PortSlot;

/// Sets every byte of `slot` to zero. Call it only on a slot that no process uses: one just
/// taken by [`PortTable::allocate`](crate::port_table::PortTable::allocate), whose earlier
/// port was detached in every process.
pub(crate) fn zero(slot: &PortSlot) {
    let len = std::mem::size_of::<PortSlot>();
    let base = slot as *const PortSlot as *mut u8;
    // SAFETY: `base` points at a live PortSlot of `len` bytes in the shared window. Every
    // field of PortSlot is an atomic or made of atomics (it is `SharedPlain`, all-zero is a
    // valid value), so its bytes are inside UnsafeCells and writing them through a pointer
    // derived from a shared reference is interior mutation; padding bytes may take any
    // value. No other thread or process touches the slot while it is being zeroed (it was
    // free and was just claimed by this caller).
    unsafe { std::ptr::write_bytes(base, 0, len) };
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
}
