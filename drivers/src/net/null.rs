//! `net_null`: RX returns bursts of synthetic packets of a set size, TX frees what it gets.
//! The reference for the framework's own per-packet cost.
//!
//! Devargs: `size=N` (packet length, default 64), `copy=1` (write the packet bytes, not just
//! the length), `no-rx=1` (RX returns nothing), `ipv4-dst=A.B.C.D` (each packet is an
//! IPv4/UDP frame to that address with TTL 64 and a correct header checksum, so that a
//! router such as l3fwd has real work on every packet; needs `size` of at least 42),
//! `ipv4-src=A.B.C.D` (their source, default 198.18.255.1).

use super::virtual_port::{VirtualControl, VirtualQueues};
use eal::{Mbuf, PktMbufPool};
use ethdev::{DataPath, EthError, Pmd, PortCtx, PortSlot, Probed, VdevArgs};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The null driver.
pub struct NullPmd;

ethdev::shared_state! {
    /// What a null port was probed with (its driver state in the port slot).
    struct NullState {
        /// Packet length.
        size: AtomicU32,
        /// 1: write the packet bytes.
        copy: AtomicU32,
        /// 1: RX returns nothing.
        no_rx: AtomicU32,
        /// Destination of the IPv4/UDP frames RX makes (0: none).
        ipv4_dst: AtomicU32,
        /// Their source.
        ipv4_src: AtomicU32,
    }
}

/// Bytes of the Ethernet, IPv4 and UDP headers a null port writes with `ipv4-dst`.
const IPV4_UDP_HEADERS: usize = 42;

/// Source address of the IPv4/UDP frames when `ipv4-src` is not given.
const DEFAULT_IPV4_SRC: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 18, 255, 1);

/// The headers of a `size`-byte IPv4/UDP frame from `src` to `dst` (port 9 to 9),
/// addressed to `mac`, with TTL 64 and its header checksum.
fn ipv4_udp_headers(mac: [u8; 6], src: u32, dst: u32, size: u16) -> [u8; IPV4_UDP_HEADERS] {
    let mut h = [0u8; IPV4_UDP_HEADERS];
    h[..6].copy_from_slice(&mac);
    h[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0xff, 0x01]);
    h[12..14].copy_from_slice(&[0x08, 0x00]);
    h[14] = 0x45;
    h[16..18].copy_from_slice(&(size - 14).to_be_bytes());
    h[22] = 64;
    h[23] = 17;
    h[26..30].copy_from_slice(&src.to_be_bytes());
    h[30..34].copy_from_slice(&dst.to_be_bytes());
    let mut sum: u32 = h[14..34].chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    h[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    h[34..36].copy_from_slice(&9u16.to_be_bytes());
    h[36..38].copy_from_slice(&9u16.to_be_bytes());
    h[38..40].copy_from_slice(&(size - 34).to_be_bytes());
    h
}

struct NullData {
    slot: &'static PortSlot,
    port: u16,
    size: u16,
    copy: bool,
    no_rx: bool,
    /// The headers RX writes into each packet (`ipv4-dst`).
    headers: Option<[u8; IPV4_UDP_HEADERS]>,
}

impl DataPath for NullData {
    #[inline]
    fn rx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>, max: usize) -> usize {
        if self.no_rx || max == 0 {
            return 0;
        }
        let counters = &self.slot.counters.rx[q as usize];
        let start = bufs.len();
        let addr = self.slot.rxq_pool[q as usize].load(Ordering::Relaxed);
        // The size was checked against the pool's data room at queue setup.
        match PktMbufPool::with_header_addr(addr, |pool| pool.alloc_bulk_rx(bufs, max, self.size, self.port)) {
            Ok(true) => {}
            Ok(false) => {
                counters.add_nombuf(max as u64);
                return 0;
            }
            Err(_) => return 0,
        }
        if self.copy || self.headers.is_some() {
            for m in &mut bufs[start..] {
                if self.copy {
                    m.data_mut().fill(0);
                }
                if let Some(h) = &self.headers {
                    m.data_mut()[..IPV4_UDP_HEADERS].copy_from_slice(h);
                }
            }
        }
        counters.add(max as u64, max as u64 * self.size as u64);
        max
    }

    #[inline]
    fn tx_burst(&self, q: u16, bufs: &mut Vec<Mbuf>) -> usize {
        let n = bufs.len();
        let bytes: u64 = bufs.iter().map(|m| m.pkt_len() as u64).sum();
        eal::mbuf::free_bulk(bufs);
        self.slot.counters.tx[q as usize].add(n as u64, bytes);
        n
    }
}

struct NullQueues;

impl VirtualQueues for NullQueues {
    fn rx_queue_setup(&self, ctx: &PortCtx, _q: u16, pool: PktMbufPool) -> Result<(), EthError> {
        let size = ctx.slot.driver_state::<NullState>().size.load(Ordering::Relaxed) as u16;
        if (pool.data_room() as u32) < eal::mbuf::HEADROOM as u32 + size as u32 {
            return Err(EthError::Unsupported {
                port: ctx.port,
                what: format!("mbufs of pool '{}' are too small for {size}-byte packets", pool.mempool().name()),
            });
        }
        Ok(())
    }
    fn tx_queue_setup(&self, _ctx: &PortCtx, _q: u16) -> Result<(), EthError> {
        Ok(())
    }
}

fn data(ctx: &PortCtx) -> Arc<dyn DataPath> {
    let st = ctx.slot.driver_state::<NullState>();
    Arc::new(NullData {
        slot: ctx.slot,
        port: ctx.port,
        size: st.size.load(Ordering::Relaxed) as u16,
        copy: st.copy.load(Ordering::Relaxed) != 0,
        no_rx: st.no_rx.load(Ordering::Relaxed) != 0,
        headers: match st.ipv4_dst.load(Ordering::Relaxed) {
            0 => None,
            dst => Some(ipv4_udp_headers(
                ctx.slot.mac(),
                st.ipv4_src.load(Ordering::Relaxed),
                dst,
                st.size.load(Ordering::Relaxed) as u16,
            )),
        },
    })
}

impl Pmd for NullPmd {
    fn name(&self) -> &'static str {
        "net_null"
    }

    fn probe_vdev(&self, ctx: &PortCtx, args: &VdevArgs) -> Result<Probed, EthError> {
        args.check_keys(&["size", "copy", "no-rx", "ipv4-dst", "ipv4-src"])?;
        let size: u16 = args.get_num("size", 64)?;
        if !(14..=9018).contains(&size) {
            return Err(EthError::BadDevargs {
                args: args.raw.clone(),
                why: format!("size={size}: must be 14..=9018"),
            });
        }
        let st = ctx.slot.driver_state::<NullState>();
        st.size.store(u32::from(size), Ordering::Relaxed);
        st.copy.store(u32::from(args.get_num::<u64>("copy", 0)? != 0), Ordering::Relaxed);
        st.no_rx.store(u32::from(args.get_num::<u64>("no-rx", 0)? != 0), Ordering::Relaxed);
        let bad = |why: String| EthError::BadDevargs { args: args.raw.clone(), why };
        let addr = |key: &str| -> Result<Option<std::net::Ipv4Addr>, EthError> {
            args.get(key)
                .map(|v| v.parse().map_err(|_| bad(format!("{key}={v}: not an IPv4 address such as 198.18.1.1"))))
                .transpose()
        };
        let src = addr("ipv4-src")?;
        match addr("ipv4-dst")? {
            Some(dst) if usize::from(size) >= IPV4_UDP_HEADERS && !dst.is_unspecified() => {
                st.ipv4_dst.store(u32::from(dst), Ordering::Relaxed);
                st.ipv4_src.store(u32::from(src.unwrap_or(DEFAULT_IPV4_SRC)), Ordering::Relaxed);
            }
            Some(_) => {
                return Err(bad(format!(
                    "ipv4-dst needs size of at least {IPV4_UDP_HEADERS} and an address other than 0.0.0.0"
                )))
            }
            None if src.is_some() => return Err(bad("ipv4-src without ipv4-dst: give both".into())),
            None => {}
        }
        ctx.slot.set_mac(super::virtual_mac(ctx.port));
        let control = VirtualControl { ctx: ctx.clone(), driver_name: self.name(), queues: NullQueues };
        Ok(Probed { control: Box::new(control), data: data(ctx) })
    }

    fn attach(&self, ctx: &PortCtx) -> Result<Arc<dyn DataPath>, EthError> {
        Ok(data(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_udp_headers_have_a_valid_checksum_and_lengths() {
        let h = ipv4_udp_headers([2, 0, 0, 0, 0, 7], u32::from(DEFAULT_IPV4_SRC), 0xc612_0101, 64);
        let sum: u32 = h[14..34].chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
        let folded = (sum & 0xffff) + (sum >> 16);
        assert_eq!(folded, 0xffff, "a header with its checksum sums to all ones");
        assert_eq!(u16::from_be_bytes([h[16], h[17]]), 50, "IPv4 total length");
        assert_eq!(u16::from_be_bytes([h[38], h[39]]), 30, "UDP length");
        assert_eq!(&h[30..34], &[198, 18, 1, 1]);
        assert_eq!(h[22], 64, "TTL");
    }
}
