//! Code every PCI PMD with DMA queues shares (e1000, igb, ixgbe, virtio), whatever the
//! device family:
//!
//! - [`queue_mem`]: a queue's shared memory (the device's descriptors or rings, the
//!   software ring of mbufs and header words in one memzone);
//! - [`iova`]: device addresses of packet buffers that may cross a page of the heap, and
//!   the RX buffer allocation that retires buffers not contiguous for the device;
//! - [`hw_stats`]: folding clear-on-read hardware counters into totals in the port slot
//!   and into the ethdev counters (each driver gives its register list);
//! - [`reg_io`]: the [`RegIo`] trait through which shared code reads and writes registers
//!   (a mapped BAR, or a software register file in unit tests), with [`reg_io::poll_until`],
//!   the one register-polling loop;
//! - [`pci_pmd`]: the `ethdev::Pmd` glue of a PCI driver (refusing vdevs, BAR mapping,
//!   the port slot's driver state zeroed before probing);
//! - [`rx_intr`]: per-queue RX interrupts in whichever process polls the queue;
//! - `test_mbuf` (unit tests only): mbuf pools and packets with offload requests.
//!
//! Code shared by the Intel drivers only is in [`crate::net::intel`].

pub mod hw_stats;
pub mod iova;
pub mod pci_pmd;
pub mod queue_mem;
pub mod reg_io;
pub mod rx_intr;
#[cfg(test)]
pub(crate) mod test_mbuf;

pub use reg_io::RegIo;
