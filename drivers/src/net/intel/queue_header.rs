//! The header of an Intel descriptor queue (after its software ring in the queue memzone):
//! the indices and counters the shared RX and TX logic keep, the same in every process.

use std::sync::atomic::AtomicU64;

ethdev::shared_state! {
    /// The header of an RX or TX queue of 16-byte descriptors (e1000 legacy or advanced).
    /// An RX queue uses the first four fields, a TX queue the last four.
    pub struct DescQueueHeader {
        /// RX: the next descriptor to look at.
        pub next: AtomicU64,
        /// RX: 1 while dropping the rest of a frame that spans several descriptors.
        pub discard: AtomicU64,
        /// RX: descriptors refilled but not yet handed back to the device (tail).
        pub hold: AtomicU64,
        /// RX: mbufs retired because their buffer is not contiguous for the device.
        pub retired: AtomicU64,
        /// TX: the next descriptor to fill (the software copy of the tail).
        pub tail: AtomicU64,
        /// TX: the oldest descriptor not yet reclaimed.
        pub clean: AtomicU64,
        /// TX: word 0 of the last context descriptor written on the queue (checksum/TSO
        /// offloads), valid when `ctx_w1` is not 0.
        pub ctx_w0: AtomicU64,
        /// TX: word 1 of that context descriptor; 0 when none was written since the queue
        /// was reset (every context descriptor has DEXT set in word 1).
        pub ctx_w1: AtomicU64,
    }
}

/// Declares a ring of one Intel 16-byte descriptor format: a newtype over the queue
/// memory's descriptor words ([`DescWords`](crate::net::common::queue_mem::DescWords)) whose
/// queues have a [`DescQueueHeader`], with `new` (a view of leaked words, for tests and fake
/// devices) and `rx_arm`. Each format then reads and writes its own descriptor layout.
macro_rules! desc_ring {
    ($(#[$m:meta])* $vis:vis struct $ring:ident;) => {
        $(#[$m])*
        #[derive(Clone, Copy)]
        $vis struct $ring($crate::net::common::queue_mem::DescWords);

        impl $crate::net::common::queue_mem::Desc16 for $ring {
            type Header = $crate::net::intel::queue_header::DescQueueHeader;
            fn from_words(w: $crate::net::common::queue_mem::DescWords) -> $ring {
                $ring(w)
            }
            fn words(&self) -> &$crate::net::common::queue_mem::DescWords {
                &self.0
            }
        }

        impl $ring {
            /// Views `words` (2 per descriptor) as a ring.
            pub fn new(words: &'static [std::sync::atomic::AtomicU64]) -> $ring {
                $ring($crate::net::common::queue_mem::DescWords::new(words))
            }

            /// Gives RX descriptor `i` a buffer at `iova` (the read format of every Intel
            /// format: the address, then 0, which also clears DD).
            #[inline(always)]
            pub fn rx_arm(&self, i: usize, iova: u64) {
                self.0.rx_arm(i, iova)
            }
        }
    };
}
pub(crate) use desc_ring;
