//! The e1000e (82574L) check: MSI-X with one eventfd per vector, the
//! "other" cause routed to vector 0 and raised from ICS, then the same
//! with MSI, and a device reset if the device offers one.

use super::{reg, say, set_reg, vfio, Res, Session};
use eal::vfio::{borrow_all, EventFd, IrqIndex, MmioRegion};
use std::time::Duration;

const ICR: usize = 0x00c0;
const ICS: usize = 0x00c8;
const IMS: usize = 0x00d0;
const IMC: usize = 0x00d8;
const IVAR: usize = 0x00e4;
const ICR_LSC: u32 = 1 << 2;
const ICR_OTHER: u32 = 1 << 24;
/// IVAR: "other" causes → vector 0, entry valid.
const IVAR_OTHER_VEC0: u32 = 0x0008_0000;

fn clear_icr(bar: &MmioRegion) -> Res<u32> {
    // 82574L: ICR is not cleared by a read while IMS != 0; write it back.
    let icr = reg(bar, ICR)?;
    set_reg(bar, ICR, icr)?;
    Ok(icr)
}

/// Raises LSC from ICS and waits for `efd` to fire.
fn raise_and_wait(bar: &MmioRegion, efd: &EventFd, ims: u32, what: &str) -> Res<()> {
    set_reg(bar, IMS, ims)?;
    set_reg(bar, ICS, ICR_LSC)?;
    let fired = vfio(efd.wait(Duration::from_secs(2)))?;
    set_reg(bar, IMC, u32::MAX)?;
    let icr = clear_icr(bar)?;
    match fired {
        Some(n) => {
            say(what, format!("fired count={n} icr={icr:#x}"));
            Ok(())
        }
        None => Err(format!("{what}: eventfd did not fire within 2 s (ICR={icr:#x})")),
    }
}

/// Runs the e1000e interrupt check on an opened session.
pub fn check(s: &Session) -> Res<()> {
    let dev = &s.device;
    let bar = vfio(dev.map_region(0))?;
    set_reg(&bar, IMC, u32::MAX)?;
    clear_icr(&bar)?;

    let msix = vfio(dev.irq_info(IrqIndex::Msix))?;
    say("msix_info", format!("count={} flags={:#x}", msix.count, msix.flags));
    let efds = (0..msix.count).map(|_| vfio(EventFd::new())).collect::<Res<Vec<_>>>()?;
    vfio(dev.enable_irq_eventfds(IrqIndex::Msix, 0, &borrow_all(&efds)))?;
    say("msix_enabled", efds.len());
    set_reg(&bar, IVAR, IVAR_OTHER_VEC0)?;
    let first = efds.first().ok_or("device reports no MSI-X vectors")?;
    raise_and_wait(&bar, first, ICR_LSC | ICR_OTHER, "msix_vector0")?;
    let others: u64 = efds[1..].iter().filter_map(|e| e.try_read().ok().flatten()).sum();
    say("msix_other_vectors_fired", others);
    vfio(dev.disable_irqs(IrqIndex::Msix))?;

    let msi = vfio(dev.irq_info(IrqIndex::Msi))?;
    say("msi_info", format!("count={} flags={:#x}", msi.count, msi.flags));
    let efd = vfio(EventFd::new())?;
    vfio(dev.enable_irq_eventfds(IrqIndex::Msi, 0, &borrow_all(std::slice::from_ref(&efd))))?;
    raise_and_wait(&bar, &efd, ICR_LSC, "msi")?;
    vfio(dev.disable_irqs(IrqIndex::Msi))?;

    let info = vfio(dev.info())?;
    if info.has_reset() {
        vfio(dev.reset())?;
        say("reset", "ok");
    } else {
        say("reset", "not offered");
    }
    Ok(())
}
