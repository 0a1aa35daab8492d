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
