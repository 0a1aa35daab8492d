//! A pcapng writer (the block layout of the pcapng specification, IETF draft
//! `draft-ietf-opsawg-pcapng`): one section header, one interface description per captured
//! port with nanosecond timestamps (`if_tsresol` = 9), enhanced packet blocks carrying the
//! direction and queue, and interface statistics at the end. Host byte order, as the
//! section's byte-order magic tells readers.

use std::io::{self, Write};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const ISB: u32 = 5;
const EPB: u32 = 6;
const LINKTYPE_ETHERNET: u16 = 1;

/// Option codes used here.
mod opt {
    pub const END: u16 = 0;
    pub const SHB_OS: u16 = 3;
    pub const SHB_USERAPPL: u16 = 4;
    pub const IF_NAME: u16 = 2;
    pub const IF_DESCRIPTION: u16 = 3;
    pub const IF_TSRESOL: u16 = 9;
    pub const EPB_FLAGS: u16 = 2;
    pub const EPB_QUEUE: u16 = 6;
    pub const ISB_STARTTIME: u16 = 2;
    pub const ISB_ENDTIME: u16 = 3;
    pub const ISB_IFRECV: u16 = 4;
    pub const ISB_IFDROP: u16 = 5;
    pub const ISB_FILTERACCEPT: u16 = 6;
    pub const ISB_USRDELIV: u16 = 8;
}

/// One block being built: body bytes, then the options.
struct Block {
    kind: u32,
    body: Vec<u8>,
}

impl Block {
    fn new(kind: u32) -> Block {
        Block { kind, body: Vec::with_capacity(128) }
    }
    fn u16(&mut self, v: u16) -> &mut Block {
        self.body.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Block {
        self.body.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Block {
        self.body.extend_from_slice(&v.to_ne_bytes());
        self
    }
    /// Nanoseconds as pcapng's two 32-bit halves, high first.
    fn ts(&mut self, ns: u64) -> &mut Block {
        self.u32((ns >> 32) as u32).u32(ns as u32)
    }
    fn padded(&mut self, b: &[u8]) -> &mut Block {
        self.body.extend_from_slice(b);
        self.body.resize(self.body.len().next_multiple_of(4), 0);
        self
    }
    fn opt(&mut self, code: u16, val: &[u8]) -> &mut Block {
        let len = u16::try_from(val.len()).unwrap_or(u16::MAX);
        self.u16(code).u16(len).padded(&val[..len as usize])
    }
    fn opt_u64(&mut self, code: u16, v: u64) -> &mut Block {
        self.opt(code, &v.to_ne_bytes())
    }
    fn opt_ts(&mut self, code: u16, ns: u64) -> &mut Block {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&((ns >> 32) as u32).to_ne_bytes());
        b[4..].copy_from_slice(&(ns as u32).to_ne_bytes());
        self.opt(code, &b)
    }
    fn end_opts(&mut self) -> &mut Block {
        self.u16(opt::END).u16(0)
    }
    fn write(&self, w: &mut impl Write) -> io::Result<usize> {
        let total = 12 + self.body.len() as u32;
        let mut out = Vec::with_capacity(total as usize);
        out.extend_from_slice(&self.kind.to_ne_bytes());
        out.extend_from_slice(&total.to_ne_bytes());
        out.extend_from_slice(&self.body);
        out.extend_from_slice(&total.to_ne_bytes());
        w.write_all(&out)?;
        Ok(out.len())
    }
}

/// Counters of one interface for its statistics block.
#[derive(Debug, Clone, Copy, Default)]
pub struct IfStats {
    /// Frames seen by the hook (passed the filter or not).
    pub received: u64,
    /// Frames dropped (capture ring full).
    pub dropped: u64,
    /// Frames that passed the filter.
    pub accepted: u64,
    /// Frames written to the file.
    pub delivered: u64,
}

/// Writes one pcapng section.
pub struct PcapngWriter<W: Write> {
    out: W,
    /// Bytes written so far.
    pub bytes: u64,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header, naming the application.
    pub fn new(mut out: W, app: &str) -> io::Result<PcapngWriter<W>> {
        let mut b = Block::new(SHB);
        b.u32(0x1A2B_3C4D).u16(1).u16(0).u64(u64::MAX);
        b.opt(opt::SHB_OS, std::env::consts::OS.as_bytes()).opt(opt::SHB_USERAPPL, app.as_bytes()).end_opts();
        let n = b.write(&mut out)?;
        Ok(PcapngWriter { out, bytes: n as u64 })
    }

    /// Describes the next interface (ids count from 0 in the order of these calls).
    pub fn interface(&mut self, name: &str, description: &str, snaplen: u32) -> io::Result<()> {
        let mut b = Block::new(IDB);
        b.u16(LINKTYPE_ETHERNET).u16(0).u32(snaplen);
        b.opt(opt::IF_NAME, name.as_bytes()).opt(opt::IF_DESCRIPTION, description.as_bytes());
        b.opt(opt::IF_TSRESOL, &[9]).end_opts();
        self.bytes += b.write(&mut self.out)? as u64;
        Ok(())
    }

    /// One frame of interface `ifid`: captured bytes `data` of a frame `orig_len` long,
    /// received (`rx`) or sent, on `queue`, at `ts_ns` nanoseconds since the epoch.
    pub fn packet(
        &mut self,
        ifid: u32,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
        rx: bool,
        queue: u16,
    ) -> io::Result<()> {
        let mut b = Block::new(EPB);
        b.u32(ifid).ts(ts_ns).u32(data.len() as u32).u32(orig_len).padded(data);
        // Bits 0-1 of epb_flags: 1 inbound, 2 outbound.
        b.opt(opt::EPB_FLAGS, &(if rx { 1u32 } else { 2 }).to_ne_bytes());
        b.opt(opt::EPB_QUEUE, &u32::from(queue).to_ne_bytes()).end_opts();
        self.bytes += b.write(&mut self.out)? as u64;
        Ok(())
    }

    /// The statistics of interface `ifid` between `start_ns` and `end_ns`.
    pub fn statistics(&mut self, ifid: u32, start_ns: u64, end_ns: u64, s: IfStats) -> io::Result<()> {
        let mut b = Block::new(ISB);
        b.u32(ifid).ts(end_ns);
        b.opt_ts(opt::ISB_STARTTIME, start_ns).opt_ts(opt::ISB_ENDTIME, end_ns);
        b.opt_u64(opt::ISB_IFRECV, s.received).opt_u64(opt::ISB_IFDROP, s.dropped);
        b.opt_u64(opt::ISB_FILTERACCEPT, s.accepted).opt_u64(opt::ISB_USRDELIV, s.delivered).end_opts();
        self.bytes += b.write(&mut self.out)? as u64;
        Ok(())
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(mut b: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let kind = u32::from_ne_bytes(b[0..4].try_into().unwrap());
            let len = u32::from_ne_bytes(b[4..8].try_into().unwrap()) as usize;
            assert_eq!(len % 4, 0, "blocks are 32-bit aligned");
            assert_eq!(u32::from_ne_bytes(b[len - 4..len].try_into().unwrap()) as usize, len, "trailing length");
            v.push((kind, b[8..len - 4].to_vec()));
            b = &b[len..];
        }
        v
    }

    #[test]
    fn blocks_are_well_formed() {
        let mut w = PcapngWriter::new(Vec::new(), "test").unwrap();
        w.interface("net_ring0", "port 0", 2048).unwrap();
        w.packet(0, 0x1_0000_0002, 70, &[7; 61], true, 3).unwrap();
        w.statistics(0, 1, 2, IfStats { received: 5, dropped: 1, accepted: 4, delivered: 3 }).unwrap();
        let out = w.out;
        let b = blocks(&out);
        assert_eq!(b.iter().map(|x| x.0).collect::<Vec<_>>(), vec![SHB, IDB, EPB, ISB]);
        assert_eq!(u32::from_ne_bytes(b[0].1[0..4].try_into().unwrap()), 0x1A2B_3C4D);
        let epb = &b[2].1;
        assert_eq!(u32::from_ne_bytes(epb[4..8].try_into().unwrap()), 1, "timestamp high");
        assert_eq!(u32::from_ne_bytes(epb[8..12].try_into().unwrap()), 2, "timestamp low");
        assert_eq!(u32::from_ne_bytes(epb[12..16].try_into().unwrap()), 61, "captured length");
        assert_eq!(u32::from_ne_bytes(epb[16..20].try_into().unwrap()), 70, "original length");
        assert_eq!(&epb[20..81], &[7; 61][..]);
        let idb = &b[1].1;
        let tsresol = idb.windows(4).position(|w| w == [9, 0, 1, 0]).expect("if_tsresol option");
        assert_eq!(idb[tsresol + 4], 9, "nanoseconds");
    }
}
