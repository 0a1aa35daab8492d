//! IOVA contiguity of packet buffers in IOVA-as-PA mode. There a buffer that crosses a page
//! boundary is contiguous for the device only if the two pages happen to be physically
//! adjacent; the mempool does not keep buffers within pages, so the queues check: an RX
//! buffer that is not contiguous is retired (never given to the device), a TX buffer is
//! split into two descriptors at the boundary. In IOVA-as-VA mode nothing is checked.

use eal::Memory;

/// The device address of `va` and how many of the `len` bytes from it are contiguous for
/// the device (all of them, or up to the end of `va`'s page).
#[inline]
pub fn contiguous_prefix(mem: &Memory, va: u64, len: u64) -> (u64, u64) {
    let iova = mem.iova(va);
    if len == 0 || mem.iova(va + len - 1) == iova + len - 1 {
        return (iova, len);
    }
    let page = mem.page_size();
    (iova, page - va % page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn va_mode_is_always_contiguous() {
        let m = Memory::anonymous(1 << 20).unwrap();
        let va = m.heap_start() + 4096 - 10;
        assert_eq!(contiguous_prefix(&m, va, 100), (va, 100));
        assert_eq!(contiguous_prefix(&m, va, 0), (va, 0));
    }
}
