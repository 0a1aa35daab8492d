//! The e1000 (82540EM) check: registers through the mapped BAR0, the
//! I/O-port BAR1 refused for mmap but read with pread, one frame sent by DMA
//! from the hugepage, and its INTx interrupt.

use super::{reg, say, set_reg, vfio, Res, Session};
use eal::vfio::{EventFd, IrqIndex, MmioRegion, VfioError};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

const STATUS: usize = 0x0008;
const ICR: usize = 0x00c0;
const IMS: usize = 0x00d0;
const IMC: usize = 0x00d8;
const TCTL: usize = 0x0400;
const TDBAL: usize = 0x3800;
const TDBAH: usize = 0x3804;
const TDLEN: usize = 0x3808;
const TDH: usize = 0x3810;
const TDT: usize = 0x3818;
const RAL0: usize = 0x5400;
const RAH0: usize = 0x5404;
const STATUS_LU: u32 = 1 << 1;
const ICR_TXDW: u32 = 1 << 0;
const TCTL_EN: u32 = 1 << 1;
const TCTL_PSP: u32 = 1 << 3;
const TXD_CMD_EOP_IFCS_RS: u32 = (0x01 | 0x02 | 0x08) << 24;
const TXD_STAT_DD: u32 = 1;

/// The ethertype of the probe's frame (IEEE local experimental).
const PROBE_ETHERTYPE: [u8; 2] = [0x88, 0xb5];
/// The payload the host side looks for.
const PROBE_PAYLOAD: &[u8] = b"bypass vfio_probe frame";

/// Runs the e1000 check on an opened session.
pub fn check(s: &Session) -> Res<()> {
    let dev = &s.device;
    let r1 = vfio(dev.region_info(1))?;
    say("bar1", format!("size={:#x} offset={:#x} flags={:#x} mmap={}", r1.size, r1.offset, r1.flags, r1.mmappable()));
    match dev.map_region(1) {
        Err(e @ VfioError::RegionNotMmappable { .. }) => say("bar1_map", format!("refused: {e}")),
        Err(e) => return Err(format!("unexpected error mapping the I/O BAR: {e}")),
        Ok(_) => return Err("the I/O-port BAR1 was mapped, expected a refusal".into()),
    }
    say("bar1_pread", format!("ok value={:#x}", vfio(dev.read_region_u32(1, 0))?));

    let bar = vfio(dev.map_region(0))?;
    let status = reg(&bar, STATUS)?;
    say("status", format!("{status:#010x} link_up={}", u32::from(status & STATUS_LU != 0)));
    let (ral, rah) = (reg(&bar, RAL0)?, reg(&bar, RAH0)?);
    let bytes = [ral.to_le_bytes(), rah.to_le_bytes()].concat();
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&bytes[..6]);
    say("mac", mac.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":"));
    say("mac_valid", rah >> 31);
    transmit(&bar, s, mac)
}

/// Sends one frame from descriptor 0 of a TX ring in the hugepage, waits
/// for the device to write back DD, then takes the TXDW interrupt on INTx.
fn transmit(bar: &MmioRegion, s: &Session, mac: [u8; 6]) -> Res<()> {
    let (mem, iova, dev) = (&s.mem, s.iova, &s.device);
    let (ring, buf) = (0usize, 4096usize);
    let mut frame = vec![0xffu8; 6];
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&PROBE_ETHERTYPE);
    frame.extend_from_slice(PROBE_PAYLOAD);
    frame.resize(60, 0);
    mem.write_bytes(buf, &frame);
    for i in 0..8 * 4 {
        mem.write32(ring + 4 * i, 0);
    }
    let buf_iova = iova + buf as u64;
    mem.write32(ring, buf_iova as u32);
    mem.write32(ring + 4, (buf_iova >> 32) as u32);
    mem.write32(ring + 8, frame.len() as u32 | TXD_CMD_EOP_IFCS_RS);

    let intx = vfio(EventFd::new())?;
    let info = vfio(dev.irq_info(IrqIndex::Intx))?;
    say("intx", format!("count={} flags={:#x} automasked={}", info.count, info.flags, info.automasked()));
    vfio(dev.enable_irq_eventfds(IrqIndex::Intx, 0, &[intx.as_fd()]))?;
    reg(bar, ICR)?; // clear stale causes
    set_reg(bar, IMS, ICR_TXDW)?;

    let ring_iova = iova + ring as u64;
    set_reg(bar, TDBAL, ring_iova as u32)?;
    set_reg(bar, TDBAH, (ring_iova >> 32) as u32)?;
    set_reg(bar, TDLEN, 8 * 16)?;
    set_reg(bar, TDH, 0)?;
    set_reg(bar, TDT, 0)?;
    set_reg(bar, TCTL, TCTL_EN | TCTL_PSP)?;
    let t0 = Instant::now();
    set_reg(bar, TDT, 1)?;
    while mem.read32(ring + 12) & TXD_STAT_DD == 0 {
        if t0.elapsed() > Duration::from_secs(2) {
            return Err(format!(
                "TX descriptor not written back (TDH={:#x}): DMA through the IOMMU failed",
                reg(bar, TDH)?
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    say("tx_dd", format!("1 tdh={} after={}us", reg(bar, TDH)?, t0.elapsed().as_micros()));

    let fired = vfio(intx.wait(Duration::from_secs(2)))?;
    let icr = reg(bar, ICR)?;
    set_reg(bar, IMC, u32::MAX)?;
    vfio(dev.unmask_intx())?;
    match fired {
        Some(n) => say("intx_fired", format!("count={n} icr={icr:#x}")),
        None => return Err(format!("INTx eventfd did not fire within 2 s (ICR={icr:#x})")),
    }
    vfio(dev.disable_irqs(IrqIndex::Intx))?;
    Ok(())
}
