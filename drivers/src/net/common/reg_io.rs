//! 32-bit register access, abstracted so that queue code can run against a real BAR or
//! against a software register model in host tests.

use eal::vfio::MmioRegion;
#[cfg(test)]
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
#[cfg(test)]
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Access to a device's 32-bit registers by byte offset.
///
/// Implemented for [`MmioRegion`] (a mapped BAR), for `SoftRegs` (a software register file,
/// in test builds only), and for references and `Arc`s of any implementor.
pub trait RegIo: Send + Sync {
    /// Reads the register at byte offset `off`.
    fn read32(&self, off: usize) -> u32;
    /// Writes `v` to the register at byte offset `off`.
    fn write32(&self, off: usize, v: u32);
}

impl RegIo for MmioRegion {
    /// A volatile read. An offset outside the BAR is a driver bug (register maps are
    /// constants): it panics in debug builds and reads as 0 in release builds.
    #[inline(always)]
    fn read32(&self, off: usize) -> u32 {
        let v = MmioRegion::read32(self, off);
        debug_assert!(v.is_some(), "register read at {off:#x}, outside the {}-byte BAR", self.len());
        v.unwrap_or(0)
    }
    /// A volatile write. An offset outside the BAR panics in debug builds and is ignored in
    /// release builds.
    #[inline(always)]
    fn write32(&self, off: usize, v: u32) {
        let done = MmioRegion::write32(self, off, v);
        debug_assert!(done.is_some(), "register write at {off:#x}, outside the {}-byte BAR", self.len());
    }
}

/// A register that did not reach the wanted value in time (see [`poll_until`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: register {off:#07x} reads {value:#010x} after {timeout:?} (bits {mask:#010x} should be {want:#010x})")]
pub struct PollTimeout {
    /// What the driver waited for.
    pub what: &'static str,
    /// The register.
    pub off: usize,
    /// Its last value read.
    pub value: u32,
    /// The bits looked at.
    pub mask: u32,
    /// What they should have read.
    pub want: u32,
    /// How long the driver waited.
    pub timeout: Duration,
}

/// Reads register `off` until `(value & mask) == want` or `timeout` passes; returns the
/// value read, or a [`PollTimeout`] naming `what`. A few quick re-reads first (a register
/// model or a fast device answers at once), then 100 µs sleeps between reads.
pub fn poll_until<R: RegIo + ?Sized>(
    r: &R,
    off: usize,
    mask: u32,
    want: u32,
    timeout: Duration,
    what: &'static str,
) -> Result<u32, PollTimeout> {
    let t0 = Instant::now();
    let mut spins = 0u32;
    loop {
        let value = r.read32(off);
        if value & mask == want {
            return Ok(value);
        }
        if t0.elapsed() > timeout {
            return Err(PollTimeout { what, off, value, mask, want, timeout });
        }
        spins += 1;
        if spins < 16 {
            std::hint::spin_loop();
        } else {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

/// Sets bits `set` of register `off` (read-modify-write).
pub fn set_bits<R: RegIo + ?Sized>(r: &R, off: usize, set: u32) {
    r.write32(off, r.read32(off) | set);
}

/// Clears bits `clear` of register `off` (read-modify-write).
pub fn clear_bits<R: RegIo + ?Sized>(r: &R, off: usize, clear: u32) {
    r.write32(off, r.read32(off) & !clear);
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
/// device reads the tail registers the queue code writes). Test builds only.
#[cfg(test)]
pub struct SoftRegs {
    regs: Vec<AtomicU32>,
    log: Mutex<Vec<(usize, u32)>>,
}

#[cfg(test)]
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

#[cfg(test)]
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

    #[test]
    fn poll_until_returns_the_value_or_names_what_timed_out() {
        let r = SoftRegs::new(0x100);
        r.set(0x10, 0x81);
        assert_eq!(poll_until(&r, 0x10, 0x80, 0x80, Duration::from_millis(1), "ready"), Ok(0x81));
        let e = poll_until(&r, 0x10, 0x1, 0, Duration::from_millis(1), "reset done").unwrap_err();
        assert_eq!((e.what, e.off, e.value), ("reset done", 0x10, 0x81));
        assert!(e.to_string().starts_with("reset done: register 0x00010 reads 0x00000081"), "{e}");
        set_bits(&r, 0x20, 0b110);
        clear_bits(&r, 0x20, 0b010);
        assert_eq!(r.read32(0x20), 0b100);
    }
}
