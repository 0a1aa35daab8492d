//! `vfio_probe`: run inside the vmtest guest to prove the EAL's VFIO layer
//! on emulated NICs. Common to every mode: bind the NIC to vfio-pci, open a
//! type1v2 container and the group, map a 2 MiB hugepage for DMA (IOVA =
//! VA), get the device fd, enable bus mastering. Then, per mode:
//! `e1000` (default): BAR0 registers, MAC, one frame sent by DMA, INTx;
//! `e1000e`: MSI-X and MSI eventfds; `virtio-legacy`: I/O-port BAR access.
//! Each finding is printed as `vfio_probe: key=value`; the last line is
//! `vfio_probe: OK` or `vfio_probe: FAILED: <error>` (exit code 1).
//!
//! Usage: `vfio_probe [e1000|e1000e|virtio-legacy] [PCI-ADDRESS]`.

#[path = "vfio_probe/bind.rs"]
mod bind;
#[path = "vfio_probe/e1000.rs"]
mod e1000;
#[path = "vfio_probe/e1000e.rs"]
mod e1000e;
#[path = "vfio_probe/hugepage.rs"]
mod hugepage;
#[path = "vfio_probe/virtio_legacy.rs"]
mod virtio_legacy;

use eal::vfio::{abi::VFIO_TYPE1V2_IOMMU, iommu_group_of, virt_to_phys, Container, Device, Group, MmioRegion};
use hugepage::{HugePage, HUGE};

type Res<T> = Result<T, String>;

fn say(key: &str, value: impl std::fmt::Display) {
    println!("vfio_probe: {key}={value}");
}

fn vfio<T>(r: Result<T, eal::vfio::VfioError>) -> Res<T> {
    r.map_err(|e| e.to_string())
}

fn reg(bar: &MmioRegion, off: usize) -> Res<u32> {
    bar.read32(off).ok_or_else(|| format!("register {off:#x} outside BAR0"))
}

fn set_reg(bar: &MmioRegion, off: usize, v: u32) -> Res<()> {
    bar.write32(off, v).ok_or_else(|| format!("register {off:#x} outside BAR0"))
}

/// An opened device with its container, group and DMA memory. Field order
/// is drop order: device fd first, the DMA page last.
struct Session {
    device: Device,
    group: Group,
    container: Container,
    mem: HugePage,
    iova: u64,
}

fn open(bdf: &str) -> Res<Session> {
    say("device", bdf);
    bind::bind_vfio(bdf)?;
    let group_no = vfio(iommu_group_of(bdf))?;
    say("iommu_group", group_no);

    let container = vfio(Container::open())?;
    say("api_version", vfio(container.api_version())?);
    say("type1v2", vfio(container.check_extension(VFIO_TYPE1V2_IOMMU))?);
    let group = vfio(Group::open(group_no, eal::pci::GroupKind::Iommu))?;
    say("group_viable", vfio(group.status())?.viable);
    vfio(group.set_container(&container))?;
    vfio(container.set_iommu(VFIO_TYPE1V2_IOMMU))?;
    let info = vfio(container.iommu_info())?;
    say("iova_pgsizes", format!("{:#x}", info.iova_pgsizes.unwrap_or(0)));

    let mem = HugePage::new()?;
    let iova = mem.addr();
    // SAFETY: `mem` is a private huge page that the Session owns and drops last, after the
    // device and the container (see `Session`), so it stays mapped while devices can reach it.
    vfio(unsafe { container.map_dma(mem.addr(), iova, HUGE as u64) })?;
    let phys = virt_to_phys(mem.addr()).map(|p| format!("{p:#x}")).unwrap_or_else(|e| e.to_string());
    say("dma_map", format!("vaddr={:#x} iova={iova:#x} size={HUGE:#x} phys={phys}", mem.addr()));

    let device = vfio(group.device(bdf))?;
    let di = vfio(device.info())?;
    say(
        "device_info",
        format!("flags={:#x} regions={} irqs={} reset={}", di.flags, di.num_regions, di.num_irqs, di.has_reset()),
    );
    let (vid, did) = vfio(device.pci_ids())?;
    say("pci_ids", format!("{vid:04x}:{did:04x}"));
    let cmd = vfio(device.enable_bus_master())?;
    say("command", format!("{cmd:#06x} bus_master={}", cmd & 4 != 0));
    let r0 = vfio(device.region_info(0))?;
    say("bar0", format!("size={:#x} offset={:#x} flags={:#x} mmap={}", r0.size, r0.offset, r0.flags, r0.mmappable()));
    Ok(Session { device, group, container, mem, iova })
}

fn close(s: Session) -> Res<()> {
    let unmapped = vfio(s.container.unmap_dma(s.iova, HUGE as u64))?;
    say("dma_unmap", format!("{unmapped:#x}"));
    drop(s.device);
    say("group_number", s.group.number());
    Ok(())
}

fn run(mode: &str, bdf: Option<String>) -> Res<()> {
    let ids = match mode {
        "e1000" => ("0x8086", "0x100e"),
        "e1000e" => ("0x8086", "0x10d3"),
        "virtio-legacy" => ("0x1af4", "0x1000"),
        other => return Err(format!("unknown mode '{other}': use e1000, e1000e or virtio-legacy")),
    };
    let bdf = match bdf {
        Some(b) => b,
        None => bind::find_device(ids.0, ids.1)?,
    };
    let s = open(&bdf)?;
    match mode {
        "e1000" => e1000::check(&s)?,
        "e1000e" => e1000e::check(&s)?,
        _ => virtio_legacy::check(&s)?,
    }
    close(s)
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "e1000".into());
    match run(&mode, args.next()) {
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
