//! `vfio_probe`: run inside the vmtest guest to prove the EAL's VFIO layer
//! on an emulated e1000 (82540EM). It binds the NIC to vfio-pci, sets up a
//! type1v2 container, maps a 2 MiB hugepage for DMA, reads registers through
//! the mapped BAR0, sends one frame by DMA, and takes its INTx interrupt.
//! Each finding is printed as `vfio_probe: key=value`; the last line is
//! `vfio_probe: OK` or the error, and the exit code is 0 or 1.
//!
//! Usage: `vfio_probe [PCI-ADDRESS]` (default: the first 8086:100e device).

use eal::vfio::{
    abi::VFIO_TYPE1V2_IOMMU, iommu_group_of, virt_to_phys, Container, Device, EventFd, Group, IrqIndex, MmioRegion,
    VfioError,
};
use std::fs;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::time::{Duration, Instant};

const E1000_IDS: (&str, &str) = ("0x8086", "0x100e");
const HUGE: usize = 2 << 20;

// 82540EM registers (offsets in BAR0).
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

type Res<T> = Result<T, String>;

fn say(key: &str, value: impl std::fmt::Display) {
    println!("vfio_probe: {key}={value}");
}

fn vfio<T>(r: Result<T, VfioError>) -> Res<T> {
    r.map_err(|e| e.to_string())
}

fn read_attr(dev: &Path, name: &str) -> String {
    fs::read_to_string(dev.join(name)).map(|s| s.trim().to_string()).unwrap_or_default()
}

fn find_e1000() -> Res<String> {
    let mut found: Vec<String> = fs::read_dir("/sys/bus/pci/devices")
        .map_err(|e| format!("cannot list PCI devices: {e}"))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let p = e.path();
            (read_attr(&p, "vendor").as_str(), read_attr(&p, "device").as_str()) == E1000_IDS
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found.into_iter().next().ok_or_else(|| "no e1000 (8086:100e) in the guest: add --nic e1000:ID".into())
}

fn current_driver(dev: &Path) -> Option<String> {
    fs::read_link(dev.join("driver")).ok()?.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// Binds `bdf` to vfio-pci with driver_override + drivers_probe.
fn bind_vfio(bdf: &str) -> Res<()> {
    let dev = Path::new("/sys/bus/pci/devices").join(bdf);
    let before = current_driver(&dev);
    say("driver_before", before.as_deref().unwrap_or("none"));
    if before.as_deref() == Some("vfio-pci") {
        return Ok(());
    }
    let w = |p: &Path, v: &str| fs::write(p, v).map_err(|e| format!("writing '{v}' to {}: {e}", p.display()));
    w(&dev.join("driver_override"), "vfio-pci")?;
    if before.is_some() {
        w(&dev.join("driver/unbind"), bdf)?;
    }
    w(Path::new("/sys/bus/pci/drivers_probe"), bdf)?;
    let after = current_driver(&dev);
    say("driver_after", after.as_deref().unwrap_or("none"));
    if after.as_deref() != Some("vfio-pci") {
        return Err(format!("{bdf} did not bind to vfio-pci (is the module loaded?)"));
    }
    Ok(())
}

/// A 2 MiB hugepage from hugetlbfs, mapped shared and populated.
struct HugePage {
    ptr: *mut u8,
}

impl HugePage {
    fn new() -> Res<Self> {
        let path = format!("/dev/hugepages/vfio_probe.{}", std::process::id());
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| format!("cannot create {path}: {e}; is hugetlbfs mounted with free pages?"))?;
        f.set_len(HUGE as u64).map_err(|e| format!("cannot size {path}: {e}"))?;
        // SAFETY: a fresh shared mapping of a file we just sized, at an
        // address the kernel chooses; nothing else is replaced.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                HUGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                f.as_raw_fd(),
                0,
            )
        };
        let _ = fs::remove_file(&path);
        if p == libc::MAP_FAILED {
            return Err(format!("mmap of hugepage failed: {}", std::io::Error::last_os_error()));
        }
        Ok(HugePage { ptr: p.cast() })
    }

    fn addr(&self) -> u64 {
        self.ptr as u64
    }

    fn write32(&self, off: usize, v: u32) {
        assert!(off + 4 <= HUGE && off & 3 == 0);
        // SAFETY: in bounds and aligned (asserted); the page lives as long as `self`.
        unsafe { std::ptr::write_volatile(self.ptr.add(off).cast::<u32>(), v) }
    }

    fn read32(&self, off: usize) -> u32 {
        assert!(off + 4 <= HUGE && off & 3 == 0);
        // SAFETY: in bounds and aligned (asserted); the page lives as long as `self`.
        unsafe { std::ptr::read_volatile(self.ptr.add(off).cast::<u32>()) }
    }

    fn write_bytes(&self, off: usize, data: &[u8]) {
        assert!(off + data.len() <= HUGE);
        // SAFETY: in bounds (asserted); source and destination do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(off), data.len()) }
    }
}

impl Drop for HugePage {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.ptr.cast(), HUGE) };
    }
}

fn reg(bar: &MmioRegion, off: usize) -> Res<u32> {
    bar.read32(off).ok_or_else(|| format!("register {off:#x} outside BAR0"))
}

fn set_reg(bar: &MmioRegion, off: usize, v: u32) -> Res<()> {
    bar.write32(off, v).ok_or_else(|| format!("register {off:#x} outside BAR0"))
}

fn mac_from(ral: u32, rah: u32) -> String {
    let b = [ral.to_le_bytes(), rah.to_le_bytes()].concat();
    b[..6].iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

/// Sends one frame from descriptor 0 of a TX ring in the hugepage and waits
/// for the device to write back DD; then takes the TXDW interrupt.
fn transmit(bar: &MmioRegion, dev: &Device, mem: &HugePage, iova: u64, mac: [u8; 6]) -> Res<()> {
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

    let intx = EventFd::new().map_err(|e| e.to_string())?;
    let info = vfio(dev.irq_info(IrqIndex::Intx))?;
    say("intx", format!("count={} flags={:#x} automasked={}", info.count, info.flags, info.automasked()));
    vfio(dev.enable_irq_eventfds(IrqIndex::Intx, 0, &[intx.as_fd()]))?;
    say("intx_armed", "eventfd");
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

fn probe(bdf: &str) -> Res<()> {
    say("device", bdf);
    bind_vfio(bdf)?;
    let group_no = vfio(iommu_group_of(bdf))?;
    say("iommu_group", group_no);

    let container = vfio(Container::open())?;
    say("api_version", vfio(container.api_version())?);
    say("type1v2", vfio(container.check_extension(VFIO_TYPE1V2_IOMMU))?);
    let group = vfio(Group::open(group_no))?;
    let st = vfio(group.status())?;
    say("group_viable", st.viable);
    vfio(group.set_container(&container))?;
    vfio(container.set_iommu(VFIO_TYPE1V2_IOMMU))?;
    let info = vfio(container.iommu_info())?;
    say("iova_pgsizes", format!("{:#x}", info.iova_pgsizes.unwrap_or(0)));

    let mem = HugePage::new()?;
    let iova = mem.addr(); // IOVA = VA
    vfio(container.map_dma(mem.addr(), iova, HUGE as u64))?;
    let phys = virt_to_phys(mem.addr()).map(|p| format!("{p:#x}")).unwrap_or_else(|e| e.to_string());
    say("dma_map", format!("vaddr={:#x} iova={iova:#x} size={HUGE:#x} phys={phys}", mem.addr()));

    let dev = vfio(group.device(bdf))?;
    let di = vfio(dev.info())?;
    say(
        "device_info",
        format!("flags={:#x} regions={} irqs={} reset={}", di.flags, di.num_regions, di.num_irqs, di.has_reset()),
    );
    let (vid, did) = vfio(dev.pci_ids())?;
    say("pci_ids", format!("{vid:04x}:{did:04x}"));
    let cmd = vfio(dev.enable_bus_master())?;
    say("command", format!("{cmd:#06x} bus_master={}", cmd & 4 != 0));

    let r0 = vfio(dev.region_info(0))?;
    say("bar0", format!("size={:#x} offset={:#x} flags={:#x} mmap={}", r0.size, r0.offset, r0.flags, r0.mmappable()));
    let r1 = vfio(dev.region_info(1))?;
    say("bar1", format!("size={:#x} offset={:#x} flags={:#x} mmap={}", r1.size, r1.offset, r1.flags, r1.mmappable()));
    match dev.map_region(1) {
        Err(e @ VfioError::RegionNotMmappable { .. }) => say("bar1_map", format!("refused: {e}")),
        Err(e) => return Err(format!("unexpected error mapping the I/O BAR: {e}")),
        Ok(_) => return Err("the I/O-port BAR1 was mapped, expected a refusal".into()),
    }
    let io0 = vfio(dev.read_region_u32(1, 0))?;
    say("bar1_pread", format!("ok value={io0:#x}"));

    let bar = vfio(dev.map_region(0))?;
    let status = reg(&bar, STATUS)?;
    say("status", format!("{status:#010x} link_up={}", u32::from(status & STATUS_LU != 0)));
    let (ral, rah) = (reg(&bar, RAL0)?, reg(&bar, RAH0)?);
    let mac_s = mac_from(ral, rah);
    say("mac", &mac_s);
    say("mac_valid", rah >> 31);
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&[ral.to_le_bytes(), rah.to_le_bytes()].concat()[..6]);

    transmit(&bar, &dev, &mem, iova, mac)?;
    drop(bar);
    let unmapped = vfio(container.unmap_dma(iova, HUGE as u64))?;
    say("dma_unmap", format!("{unmapped:#x}"));
    Ok(())
}

fn main() -> std::process::ExitCode {
    let arg = std::env::args().nth(1);
    let result = match arg {
        Some(b) => Ok(b),
        None => find_e1000(),
    }
    .and_then(|bdf| probe(&bdf));
    match result {
        Ok(()) => {
            println!("vfio_probe: OK");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            println!("vfio_probe: FAILED: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
