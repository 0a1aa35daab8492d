//! Packet buffers that cross a page of the heap. A mempool does not keep buffers within
//! pages, and a buffer that crosses a page is a problem for the device in two cases: in
//! IOVA-as-PA mode the two pages are contiguous for the device only if they happen to be
//! physically adjacent; and QEMU's NIC models built on its `net_tx_pkt` (e1000e, igb) drop
//! a TX buffer whose mapping crosses an IOMMU page. So the TX burst splits a buffer into one
//! descriptor per page, and in IOVA-as-PA mode the RX refill retires (never gives the
//! device) a receive buffer that is not contiguous.

use eal::Memory;

/// How many of the `len` bytes at `va` lie in `va`'s page (`page` a power of two).
#[inline(always)]
pub fn in_page(page: u64, va: u64, len: u64) -> u64 {
    len.min(page - (va & (page - 1)))
}

/// The device address of `va` and how many of the `len` bytes from it are contiguous for
/// the device (all of them, or up to the end of `va`'s page).
#[inline]
pub fn contiguous_prefix(mem: &Memory, va: u64, len: u64) -> (u64, u64) {
    let iova = mem.iova(va);
    if len == 0 || mem.iova(va + len - 1) == iova + len - 1 {
        return (iova, len);
    }
    (iova, in_page(mem.page_size(), va, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_at_page_end() {
        assert_eq!(in_page(4096, 0x1000, 1514), 1514);
        assert_eq!(in_page(4096, 0x1ff0, 100), 16);
        assert_eq!(in_page(2 << 20, (2 << 20) - 60, 60), 60);
        assert_eq!(in_page(2 << 20, (2 << 20) - 60, 61), 60);
    }

    #[test]
    fn va_mode_is_always_contiguous() {
        let m = Memory::anonymous(1 << 20).unwrap();
        let va = m.heap_start() + 4096 - 10;
        assert_eq!(contiguous_prefix(&m, va, 100), (va, 100));
        assert_eq!(contiguous_prefix(&m, va, 0), (va, 0));
    }
}
