//! The legacy virtio-net check: BAR0 is an I/O-port region, so it is
//! refused for mmap and read and written with pread/pwrite on the device fd:
//! host features, the MAC in device config, and the device status byte.

use super::{say, vfio, Res, Session};
use eal::vfio::VfioError;

const HOST_FEATURES: u64 = 0;
const DEVICE_STATUS: u64 = 18;
/// Device config without MSI-X enabled starts at 20.
const NET_CONFIG_MAC: u64 = 20;
const F_MAC: u32 = 1 << 5;
const STATUS_ACKNOWLEDGE: u8 = 1;

/// Runs the legacy virtio check on an opened session.
pub fn check(s: &Session) -> Res<()> {
    let dev = &s.device;
    let r0 = vfio(dev.region_info(0))?;
    say("bar0_io", format!("size={:#x} offset={:#x} flags={:#x}", r0.size, r0.offset, r0.flags));
    match dev.map_region(0) {
        Err(e @ VfioError::RegionNotMmappable { .. }) => say("bar0_map", format!("refused: {e}")),
        Err(e) => return Err(format!("unexpected error mapping the I/O BAR: {e}")),
        Ok(_) => return Err("the legacy I/O BAR0 was mapped, expected a refusal".into()),
    }
    let features = vfio(dev.read_region_u32(0, HOST_FEATURES))?;
    say("host_features", format!("{features:#010x} f_mac={}", u32::from(features & F_MAC != 0)));
    let mac = (0..6)
        .map(|i| vfio(dev.read_region_u8(0, NET_CONFIG_MAC + i)).map(|b| format!("{b:02x}")))
        .collect::<Res<Vec<_>>>()?;
    say("mac", mac.join(":"));
    vfio(dev.write_region_u8(0, DEVICE_STATUS, STATUS_ACKNOWLEDGE))?;
    let st = vfio(dev.read_region_u8(0, DEVICE_STATUS))?;
    vfio(dev.write_region_u8(0, DEVICE_STATUS, 0))?; // reset the device
    let after = vfio(dev.read_region_u8(0, DEVICE_STATUS))?;
    say("status_rw", format!("wrote=1 read={st} after_reset={after}"));
    Ok(())
}
