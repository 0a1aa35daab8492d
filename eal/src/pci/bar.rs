//! Base address registers as the `resource` file of a sysfs PCI device lists them.

use std::path::Path;

use super::error::PciError;

/// `IORESOURCE_IO`: the region is in port-I/O space.
pub const IORESOURCE_IO: u64 = 0x100;
/// `IORESOURCE_MEM`: the region is in memory space.
pub const IORESOURCE_MEM: u64 = 0x200;
/// `IORESOURCE_PREFETCH`: the memory region is prefetchable.
pub const IORESOURCE_PREFETCH: u64 = 0x2000;
/// `IORESOURCE_MEM_64`: the memory BAR is 64 bits wide.
pub const IORESOURCE_MEM_64: u64 = 0x0010_0000;

/// Number of standard BARs of a type-0 header.
pub const BAR_COUNT: usize = 6;

/// Which address space a BAR decodes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BarKind {
    /// Port I/O (legacy virtio BAR0, for instance): not mappable, accessed by read/write.
    Io,
    /// Memory-mapped I/O.
    Mem,
}

/// One populated BAR: its index (0..=5), host range and resource flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Bar {
    /// BAR index, 0..=5.
    pub index: u8,
    /// First address of the range.
    pub start: u64,
    /// Last address of the range (inclusive).
    pub end: u64,
    /// Kernel resource flags (`IORESOURCE_*`).
    pub flags: u64,
}

impl Bar {
    /// Size of the range in bytes.
    pub const fn size(&self) -> u64 {
        self.end - self.start + 1
    }

    /// I/O or memory space.
    pub const fn kind(&self) -> BarKind {
        if self.flags & IORESOURCE_IO != 0 {
            BarKind::Io
        } else {
            BarKind::Mem
        }
    }

    /// Whether the memory range is prefetchable.
    pub const fn is_prefetchable(&self) -> bool {
        self.flags & IORESOURCE_PREFETCH != 0
    }

    /// Whether the memory BAR is 64 bits wide (and so takes two BAR slots).
    pub const fn is_64bit(&self) -> bool {
        self.flags & IORESOURCE_MEM_64 != 0
    }
}

/// Parses the text of a `resource` file: one `start end flags` line (hex) per resource,
/// BARs 0..=5 first. Returns the populated I/O and memory BARs; the ROM, bridge windows
/// and SR-IOV lines after the sixth are not BARs and are skipped.
pub fn parse_resource(path: &Path, text: &str) -> Result<Vec<Bar>, PciError> {
    let mut bars = Vec::new();
    for (index, line) in text.lines().take(BAR_COUNT).enumerate() {
        let bad = || PciError::Parse {
            path: path.to_path_buf(),
            what: "a 'start end flags' resource line",
            content: line.to_string(),
        };
        let fields: Vec<u64> = line
            .split_whitespace()
            .map(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16).map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let [start, end, flags] = fields[..] else {
            return Err(bad());
        };
        if (start == 0 && end == 0) || end < start {
            continue;
        }
        if flags & (IORESOURCE_IO | IORESOURCE_MEM) == 0 {
            continue;
        }
        bars.push(Bar { index: index as u8, start, end, flags });
    }
    Ok(bars)
}

#[cfg(test)]
mod tests {
    use super::*;

    const E1000: &str = "\
0x00000000febc0000 0x00000000febdffff 0x0000000000040200
0x0000000000000000 0x0000000000000000 0x0000000000000000
0x000000000000c000 0x000000000000c03f 0x0000000000040101
0x0000000000000000 0x0000000000000000 0x0000000000000000
0x0000000000000000 0x0000000000000000 0x0000000000000000
0x0000000000000000 0x0000000000000000 0x0000000000000000
0x00000000feb80000 0x00000000febbffff 0x0000000000046200
";

    #[test]
    fn parses_mem_and_io_bars_and_skips_rom() {
        let bars = parse_resource(Path::new("resource"), E1000).unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].index, 0);
        assert_eq!(bars[0].size(), 0x20000);
        assert_eq!(bars[0].kind(), BarKind::Mem);
        assert!(!bars[0].is_64bit());
        assert_eq!(bars[1].index, 2);
        assert_eq!(bars[1].start, 0xc000);
        assert_eq!(bars[1].size(), 0x40);
        assert_eq!(bars[1].kind(), BarKind::Io);
    }

    #[test]
    fn reports_prefetchable_64bit_bars() {
        let text = "0x0000000800000000 0x0000000800003fff 0x000000000014220c\n";
        let bars = parse_resource(Path::new("resource"), text).unwrap();
        assert_eq!(bars.len(), 1);
        assert!(bars[0].is_64bit());
        assert!(bars[0].is_prefetchable());
        assert_eq!(bars[0].size(), 0x4000);
    }

    #[test]
    fn rejects_garbage_lines() {
        let e = parse_resource(Path::new("/x/resource"), "0x0 zz 0x0\n").unwrap_err();
        assert!(e.to_string().contains("/x/resource"), "{e}");
        assert!(parse_resource(Path::new("r"), "0x0 0x1\n").is_err());
    }
}
