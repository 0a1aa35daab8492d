//! The 82599's checksum, TSO and VLAN offloads, on the advanced descriptors the igb PMD
//! shares (`crate::net::intel::adv`):
//!
//! - **TX checksum and TSO**: the advanced context descriptor of the 82599 (datasheet
//!   7.2.3.2.3) has the 82576's layout (IPLEN/MACLEN/VLAN; TUCMD.IPV4, L4T, DTYP 0010b;
//!   IDX, L4LEN, MSS), and so do the data descriptor's POPTS.IXSM/TXSM, DCMD.TSE/VLE and
//!   PAYLEN (7.2.3.2.4), so [`crate::net::intel::adv::tx_ctx`] plans both. The data
//!   descriptors' CC bit (check context) is left clear, as DPDK's ixgbe PF driver leaves
//!   it: it is needed only with TX switching (VMDq loopback) or queue congestion
//!   notification, neither of which this driver turns on.
//! - **VLAN insertion**: DCMD.VLE with the tag in the context; the ethertype of the tag is
//!   DMATXCTL.VT, 0x8100 from reset (8.2.3.9.2).
//! - **RX checksum**: the 82599 checks IPv4 header and TCP/UDP checksums and reports them in
//!   the advanced write-back (7.1.11; status IPCS bit 6, L4I bit 5; extended errors IPE
//!   bit 31, TCPE bit 30; no "ignore checksum" bit). RXCSUM.IPPCSE (bit 12) is set when an
//!   RX checksum offload is asked for, as DPDK's ixgbe does.
//! - **VLAN stripping**: per queue, RXDCTL.VME (bit 30, 8.2.3.8.6); a stripped frame has
//!   VP (status bit 3) and its tag in the write-back.

use super::regs;
use crate::net::intel::rx_cksum::RxCksumBits;
use crate::net::intel::RegIo;

/// Where the 82599's advanced write-back keeps its checksum bits.
pub const RX_CKSUM_82599: RxCksumBits = RxCksumBits { ixsm: 0, ipcs: 1 << 6, l4cs: 1 << 5, ipe: 1 << 31, l4e: 1 << 30 };

/// RXCSUM.IPPCSE: IP payload checksum enable.
pub const RXCSUM_IPPCSE: u32 = 1 << 12;

/// RXDCTL.VME: strip the VLAN tag of frames received on the queue.
pub const RXDCTL_VME: u32 = 1 << 30;

/// The RX offloads of the ixgbe PMD.
pub const RX_CAPA: ethdev::RxOffloads = ethdev::RxOffloads::SCATTER
    .union(ethdev::RxOffloads::IPV4_CKSUM)
    .union(ethdev::RxOffloads::TCP_CKSUM)
    .union(ethdev::RxOffloads::UDP_CKSUM)
    .union(ethdev::RxOffloads::VLAN_STRIP);

/// The TX offloads of the ixgbe PMD.
pub const TX_CAPA: ethdev::TxOffloads = ethdev::TxOffloads::MULTI_SEGS.union(crate::net::intel::tx_offload::CAPA);

/// RXCSUM.IPPCSE on when `rx` asks for an RX checksum offload, off otherwise (the other
/// RXCSUM bits, PCSD for RSS, are kept).
pub fn program_rx_cksum<R: RegIo + ?Sized>(r: &R, rx: ethdev::RxOffloads) {
    let v = r.read32(regs::RXCSUM) & !RXCSUM_IPPCSE;
    let on = crate::net::intel::rx_cksum::wanted(rx);
    r.write32(regs::RXCSUM, v | if on { RXCSUM_IPPCSE } else { 0 });
}

/// RXDCTL.VME of RX queue `q` on or off, the queue's other bits kept.
pub fn vlan_strip<R: RegIo + ?Sized>(r: &R, q: usize, on: bool) {
    let v = r.read32(regs::rxdctl(q)) & !RXDCTL_VME;
    r.write32(regs::rxdctl(q), v | if on { RXDCTL_VME } else { 0 });
}
