//! Typed driver state in the port slot: each driver declares one `#[repr(C)]` struct of
//! shared fields with [`shared_state!`](crate::shared_state) and views it in any process
//! with [`PortSlot::driver_state`](crate::PortSlot::driver_state). The struct is plain data
//! (no pointers, no heap) so that a secondary of another program of the same build can
//! attach, and all-zero is its "nothing set up" value (the primary zeroes the area before
//! probing a port).
//!
//! Fields another process may write while the port runs are atomics; strings are
//! [`SharedStr`]s (fixed byte arrays), not words packed by hand.

/// The marker of plain shared-memory types (re-exported for [`shared_state!`](crate::shared_state)).
pub use eal::shm::SharedPlain;
use std::sync::atomic::{AtomicU8, Ordering};

/// Bytes of the port slot each driver may use for its state.
pub const PRIVATE_BYTES: usize = 512;
/// Largest alignment a driver state may ask for.
pub const PRIVATE_ALIGN: usize = 8;

/// A NUL-padded UTF-8 string of at most `N - 1` bytes in shared memory (an interface name,
/// a directory), readable and writable from any process.
#[repr(C)]
pub struct SharedStr<const N: usize>([AtomicU8; N]);

// SAFETY: repr(C) array of byte atomics: no addresses inside, all-zero is the empty string.
unsafe impl<const N: usize> SharedPlain for SharedStr<N> {}

impl<const N: usize> SharedStr<N> {
    /// Longest string that fits (one byte is kept for the terminating NUL).
    pub const MAX_LEN: usize = N - 1;

    /// Stores `s`; returns `false` (storing nothing) when it is too long or holds a NUL.
    pub fn set(&self, s: &str) -> bool {
        let b = s.as_bytes();
        if b.len() > Self::MAX_LEN || b.contains(&0) {
            return false;
        }
        for (i, byte) in self.0.iter().enumerate() {
            byte.store(b.get(i).copied().unwrap_or(0), Ordering::Relaxed);
        }
        true
    }

    /// Reads the string back (lossy for bytes that are not UTF-8).
    pub fn get(&self) -> String {
        let bytes: Vec<u8> = self.0.iter().map(|b| b.load(Ordering::Relaxed)).take_while(|&b| b != 0).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Declares a driver's shared state (or a part of it): a `#[repr(C)]` struct whose fields
/// are all [`SharedPlain`] (checked at compile time), which makes the struct `SharedPlain`
/// without a hand-written `unsafe impl`. View it with
/// [`PortSlot::driver_state`](crate::PortSlot::driver_state). A driver state is written
/// through shared references by every process: make its fields atomics (or types made of
/// them, such as [`SharedStr`] or another `shared_state!` struct).
///
/// ```
/// use std::sync::atomic::AtomicU64;
/// ethdev::shared_state! {
///     /// The example driver's state.
///     pub struct ExampleState {
///         /// Packets seen.
///         pub seen: AtomicU64,
///     }
/// }
/// ```
#[macro_export]
macro_rules! shared_state {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field: $ty, )*
        }
        // SAFETY: the struct is repr(C) (above) and every field is SharedPlain (checked
        // below), so it holds no process-local address and all-zero is a valid value.
        unsafe impl $crate::driver_state::SharedPlain for $name {}
        const _: () = {
            const fn is_shared_plain<T: $crate::driver_state::SharedPlain>() {}
            $( is_shared_plain::<$ty>(); )*
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, AtomicU64};

    crate::shared_state! {
        /// A driver state for the test.
        struct TestState {
            /// A counter.
            count: AtomicU64,
            /// A flag.
            flag: AtomicU32,
            /// A name.
            name: SharedStr<16>,
        }
    }

    #[test]
    fn driver_state_is_shared_by_every_view_and_cleared_before_a_probe() {
        let mem = eal::Memory::anonymous(8 << 20).unwrap();
        let table = crate::port_table::PortTable::create(&mem).unwrap();
        let slot = table.slot(3).unwrap();
        let a = slot.driver_state::<TestState>();
        assert_eq!((a.count.load(Ordering::Relaxed), a.flag.load(Ordering::Relaxed), a.name.get()), (0, 0, "".into()));
        a.count.store(7, Ordering::Relaxed);
        a.flag.store(1, Ordering::Relaxed);
        assert!(a.name.set("dtap0"));
        // Another view (what a secondary builds from the same slot) sees the same state.
        let b = table.slot(3).unwrap().driver_state::<TestState>();
        assert_eq!(
            (b.count.load(Ordering::Relaxed), b.flag.load(Ordering::Relaxed), b.name.get()),
            (7, 1, "dtap0".into())
        );
        assert_eq!(table.slot(4).unwrap().driver_state::<TestState>().count.load(Ordering::Relaxed), 0);
        slot.clear_driver_state();
        assert_eq!((a.count.load(Ordering::Relaxed), a.name.get()), (0, "".into()));
    }

    #[test]
    fn strings_round_trip_and_overflow_is_refused() {
        let s: SharedStr<16> = SharedStr(std::array::from_fn(|_| AtomicU8::new(0xff)));
        assert!(s.set("dtap12"));
        assert_eq!(s.get(), "dtap12");
        assert!(s.set("123456789012345"));
        assert_eq!(s.get(), "123456789012345");
        assert!(!s.set("1234567890123456"), "no room for the NUL");
        assert_eq!(s.get(), "123456789012345", "a refused string stores nothing");
        assert!(!s.set("a\0b"));
        assert!(s.set(""));
        assert_eq!(s.get(), "");
    }
}
