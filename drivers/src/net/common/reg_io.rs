//! 32-bit register access, abstracted so that queue code can run against a real BAR or
//! against a software register model in host tests.

use eal::vfio::MmioRegion;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// Access to a device's 32-bit registers by byte offset.
///
/// Implemented for [`MmioRegion`] (a mapped BAR), for [`SoftRegs`] (a software register
/// file for tests), and for references and `Arc`s of any implementor.
pub trait RegIo: Send + Sync {
    /// Reads the register at byte offset `off`.
    fn read32(&self, off: usize) -> u32;
    /// Writes `v` to the register at byte offset `off`.
    fn write32(&self, off: usize, v: u32);
}

impl RegIo for MmioRegion {
    /// A volatile read; an offset outside the BAR (a driver bug: register maps are
    /// constants) reads as 0.
    #[inline(always)]
    fn read32(&self, off: usize) -> u32 {
        MmioRegion::read32(self, off).unwrap_or(0)
    }
    /// A volatile write; an offset outside the BAR is ignored.
    #[inline(always)]
    fn write32(&self, off: usize, v: u32) {
        let _ = MmioRegion::write32(self, off, v);
    }
}

/// References and `Arc`s of a register access are register accesses too.
macro_rules! forward_reg_io {
    ($($t:ty),*) => {$(
        impl<R: RegIo + ?Sized> RegIo for $t {
            #[inline(always)]
            fn read32(&self, off: usize) -> u32 {
                (**self).read32(off)
            }
            #[inline(always)]
            fn write32(&self, off: usize, v: u32) {
                (**self).write32(off, v)
            }
        }
    )*};
}
forward_reg_io!(&R, Arc<R>);

/// A software register file: `len` bytes of 32-bit registers that read back what was
/// written, with a log of every write. For host tests of register-touching code (a fake
/// device reads the tail registers the queue code writes).
pub struct SoftRegs {
    regs: Vec<AtomicU32>,
    log: Mutex<Vec<(usize, u32)>>,
}

impl SoftRegs {
    /// A register file of `len` bytes, all registers 0.
    pub fn new(len: usize) -> SoftRegs {
        SoftRegs { regs: (0..len.div_ceil(4)).map(|_| AtomicU32::new(0)).collect(), log: Mutex::new(Vec::new()) }
    }

    /// Sets a register without logging (what the device itself would change, e.g. a head).
    pub fn set(&self, off: usize, v: u32) {
        if let Some(r) = self.regs.get(off / 4) {
            r.store(v, Ordering::SeqCst);
        }
    }

    /// The writes made through [`RegIo::write32`] so far, oldest first; clears the log.
    pub fn take_writes(&self) -> Vec<(usize, u32)> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl RegIo for SoftRegs {
    /// The value last written (0 at first, and outside the file).
    fn read32(&self, off: usize) -> u32 {
        self.regs.get(off / 4).map_or(0, |r| r.load(Ordering::SeqCst))
    }
    /// Stores `v` and logs the write (ignored outside the file).
    fn write32(&self, off: usize, v: u32) {
        if let Some(r) = self.regs.get(off / 4) {
            r.store(v, Ordering::SeqCst);
            self.log.lock().unwrap_or_else(|p| p.into_inner()).push((off, v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_regs_read_back_and_log_writes() {
        let r = SoftRegs::new(0x100);
        r.write32(0x18, 7);
        r.set(0x10, 3);
        let by_ref: &dyn RegIo = &r;
        assert_eq!((by_ref.read32(0x18), by_ref.read32(0x10)), (7, 3));
        by_ref.write32(0x200, 1); // outside: ignored
        assert_eq!(r.read32(0x200), 0);
        assert_eq!(r.take_writes(), vec![(0x18, 7)]);
        assert!(r.take_writes().is_empty());
        let a = Arc::new(r);
        a.write32(0, 9);
        assert_eq!(RegIo::read32(&a, 0), 9);
    }
}
