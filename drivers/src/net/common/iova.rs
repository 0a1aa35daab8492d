//! Device addresses of packet buffers, which a mempool does not keep within pages of the
//! heap. A buffer that crosses a page is a problem for the device in two cases: in
//! IOVA-as-PA mode the two pages are contiguous for the device only if they happen to be
//! physically adjacent; and QEMU's NIC models built on its `net_tx_pkt` (e1000e, igb) drop
//! a TX buffer whose mapping crosses an IOMMU page. So the Intel TX bursts split a buffer
//! into one descriptor per page, and in IOVA-as-PA mode every RX refill retires (never
//! gives the device) a receive buffer that is not contiguous ([`alloc_rx`]).

use eal::{Mbuf, Memory, PktMbufPool};
use std::sync::atomic::Ordering;

/// Most buffers one RX allocation may retire before it gives up.
const MAX_RETIRE: usize = 8;

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

/// `mem` when the process group runs with IOVA = PA (receive buffers must then be checked
/// for contiguity), else None.
pub fn pa_mode(mem: Memory) -> Option<Memory> {
    (mem.config().iova_pa.load(Ordering::Acquire) == 1).then_some(mem)
}

/// An mbuf of `pool` whose receive buffer the device can write, with that buffer's device
/// address and length. The buffer starts `before` bytes ahead of the mbuf's data (room for
/// a device header) and is `len(&m)` bytes long. In IOVA-as-PA mode (`pa`) a buffer that is
/// not contiguous for the device is retired (leaked on purpose: each such mbuf once, a
/// handful per pool) and counted in `retired`.
#[inline]
pub fn alloc_rx(
    pool: &PktMbufPool,
    pa: Option<&Memory>,
    before: u16,
    len: impl Fn(&Mbuf) -> u64,
    retired: &mut u64,
) -> Option<(Mbuf, u64, u64)> {
    for _ in 0..MAX_RETIRE {
        let m = pool.alloc()?;
        let n = len(&m);
        let Some(mem) = pa else {
            let iova = m.data_iova() - u64::from(before);
            return Some((m, iova, n));
        };
        let va = m.data().as_ptr() as u64 - u64::from(before);
        let (iova, ok) = contiguous_prefix(mem, va, n);
        if ok == n {
            return Some((m, iova, n));
        }
        *retired += 1;
        tracing::debug!(mbuf = format_args!("{:#x}", m.addr()), "RX buffer crosses a physical page boundary: retired");
        let _ = m.into_raw();
    }
    None
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
        assert!(pa_mode(m).is_none());
    }

    #[test]
    fn rx_buffer_starts_before_the_data() {
        let mem = Memory::anonymous(8 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "iova_pool", 4, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        let mut retired = 0;
        let (m, iova, n) = alloc_rx(&pool, None, 12, |m| u64::from(m.tailroom()) + 12, &mut retired).unwrap();
        assert_eq!(iova, m.data_iova() - 12);
        assert_eq!(n, u64::from(m.tailroom()) + 12);
        let (m2, iova2, n2) = alloc_rx(&pool, Some(&mem), 0, |_| 2048, &mut retired).unwrap();
        assert_eq!((iova2, n2, retired), (m2.data_iova(), 2048, 0), "anonymous memory is IOVA = VA: contiguous");
        drop((m, m2));
        assert!(pool.mempool().is_full());
    }
}
