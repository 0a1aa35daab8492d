//! PCI configuration space through the VFIO config region: typed reads and
//! writes, bus mastering, BAR type and the capability list.

use super::abi::VFIO_PCI_CONFIG_REGION_INDEX as CONFIG;
use super::device::Device;
use super::error::Result;

/// Offset of the vendor ID.
pub const PCI_VENDOR_ID: u64 = 0x00;
/// Offset of the device ID.
pub const PCI_DEVICE_ID: u64 = 0x02;
/// Offset of the command register.
pub const PCI_COMMAND: u64 = 0x04;
/// Offset of the status register.
pub const PCI_STATUS: u64 = 0x06;
/// Offset of BAR0 (BAR n at `0x10 + 4 n`).
pub const PCI_BAR0: u64 = 0x10;
/// Offset of the capability list pointer.
pub const PCI_CAPABILITY_LIST: u64 = 0x34;
/// Command bit: respond to I/O-port accesses.
pub const PCI_COMMAND_IO: u16 = 1 << 0;
/// Command bit: respond to memory accesses.
pub const PCI_COMMAND_MEMORY: u16 = 1 << 1;
/// Command bit: the device may master the bus (DMA, MSI).
pub const PCI_COMMAND_MASTER: u16 = 1 << 2;
/// Command bit: legacy INTx disabled.
pub const PCI_COMMAND_INTX_DISABLE: u16 = 1 << 10;
/// Status bit: a capability list is present.
pub const PCI_STATUS_CAP_LIST: u16 = 1 << 4;
/// Capability ID: MSI.
pub const PCI_CAP_ID_MSI: u8 = 0x05;
/// Capability ID: MSI-X.
pub const PCI_CAP_ID_MSIX: u8 = 0x11;
/// Capability ID: PCI Express.
pub const PCI_CAP_ID_EXP: u8 = 0x10;

impl Device {
    /// Reads a byte of config space.
    pub fn config_read_u8(&self, offset: u64) -> Result<u8> {
        self.read_region_u8(CONFIG, offset)
    }

    /// Reads a 16-bit config register.
    pub fn config_read_u16(&self, offset: u64) -> Result<u16> {
        self.read_region_u16(CONFIG, offset)
    }

    /// Reads a 32-bit config register.
    pub fn config_read_u32(&self, offset: u64) -> Result<u32> {
        self.read_region_u32(CONFIG, offset)
    }

    /// Writes a 16-bit config register.
    pub fn config_write_u16(&self, offset: u64, v: u16) -> Result<()> {
        self.write_region_u16(CONFIG, offset, v)
    }

    /// Writes a 32-bit config register.
    pub fn config_write_u32(&self, offset: u64, v: u32) -> Result<()> {
        self.write_region_u32(CONFIG, offset, v)
    }

    /// `(vendor, device)` IDs.
    pub fn pci_ids(&self) -> Result<(u16, u16)> {
        Ok((self.config_read_u16(PCI_VENDOR_ID)?, self.config_read_u16(PCI_DEVICE_ID)?))
    }

    /// Sets `bits` in the command register; returns the new value.
    pub fn set_command_bits(&self, bits: u16) -> Result<u16> {
        let cmd = self.config_read_u16(PCI_COMMAND)? | bits;
        self.config_write_u16(PCI_COMMAND, cmd)?;
        self.config_read_u16(PCI_COMMAND)
    }

    /// Enables bus mastering (command bit 2) so the device can DMA and send
    /// MSIs; returns the new command register value.
    pub fn enable_bus_master(&self) -> Result<u16> {
        self.set_command_bits(PCI_COMMAND_MASTER)
    }

    /// Offset of the first capability with ID `id`, if the device has one.
    pub fn find_capability(&self, id: u8) -> Result<Option<u8>> {
        if self.config_read_u16(PCI_STATUS)? & PCI_STATUS_CAP_LIST == 0 {
            return Ok(None);
        }
        let mut err = None;
        let found = find_capability_with(id, |off| match self.config_read_u8(u64::from(off)) {
            Ok(v) => v,
            Err(e) => {
                err.get_or_insert(e);
                0
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(found),
        }
    }
}

/// Whether BAR `bar` (0-5) is an I/O-port BAR (bit 0 of its register).
pub fn bar_is_io(dev: &Device, bar: u32) -> Result<bool> {
    Ok(dev.config_read_u32(PCI_BAR0 + 4 * u64::from(bar))? & 1 == 1)
}

/// Walks a capability list given a config-space byte reader; stops after 48
/// entries so a looped list cannot hang it.
pub fn find_capability_with(id: u8, mut read: impl FnMut(u8) -> u8) -> Option<u8> {
    let mut pos = read(PCI_CAPABILITY_LIST as u8) & !3;
    for _ in 0..48 {
        if pos < 0x40 {
            return None;
        }
        if read(pos) == id {
            return Some(pos);
        }
        pos = read(pos + 1) & !3;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(caps: &[(u8, u8, u8)], first: u8) -> [u8; 256] {
        let mut s = [0u8; 256];
        s[PCI_CAPABILITY_LIST as usize] = first;
        for &(at, id, next) in caps {
            s[at as usize] = id;
            s[at as usize + 1] = next;
        }
        s
    }

    #[test]
    fn finds_capabilities_along_the_list() {
        let s = space(&[(0x40, 0x01, 0x50), (0x50, PCI_CAP_ID_MSI, 0x70), (0x70, PCI_CAP_ID_MSIX, 0)], 0x40);
        assert_eq!(find_capability_with(PCI_CAP_ID_MSI, |o| s[o as usize]), Some(0x50));
        assert_eq!(find_capability_with(PCI_CAP_ID_MSIX, |o| s[o as usize]), Some(0x70));
        assert_eq!(find_capability_with(PCI_CAP_ID_EXP, |o| s[o as usize]), None);
    }

    #[test]
    fn looped_or_bad_list_terminates() {
        let looped = space(&[(0x40, 0x01, 0x48), (0x48, 0x02, 0x40)], 0x40);
        assert_eq!(find_capability_with(0x11, |o| looped[o as usize]), None);
        let into_header = space(&[], 0x10);
        assert_eq!(find_capability_with(0x11, |o| into_header[o as usize]), None);
    }
}
