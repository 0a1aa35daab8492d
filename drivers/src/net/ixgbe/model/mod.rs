//! A register-level software model of the 82599 (test builds only), implementing
//! [`RegIo`] for the registers the driver touches, with the behaviour the Intel 82599
//! 10 GbE Controller Datasheet (331520) documents for them. Each rule cites its section.
//! Registers the model gives no rule to read back what was last written.
//!
//! A DMA engine moves frames through descriptor rings in real memory (IOVA = VA): frames
//! the test injects with [`Model82599::deliver`] are written into the buffers of the RX
//! descriptors the driver armed (up to RDT) with a write-back of DD/EOP/length (and the RSS
//! hash), and every TDT write transmits the TX descriptors up to the new tail into a list
//! the test reads with [`Model82599::take_tx`], writing back DD where RS was asked. A
//! descriptor or buffer outside the group's memory, or a configuration the datasheet
//! forbids, is recorded as a fault ([`Model82599::faults`]) instead of crashing.
//!
//! Every access is logged ([`Access`]) so that tests can check the order of the driver's
//! writes and that a process never read a register it must not read.

mod rx_offload;
mod tx_offload;

use super::regs::{self, stat};
use crate::net::intel::adv::desc::{RxStatus, RxWriteBack, TxCmd, TxData};
use crate::net::intel::adv::desc::{RSS_TYPE_IPV4, RSS_TYPE_IPV4_TCP, RSS_TYPE_IPV4_UDP, TXD_STAT_DD};
use crate::net::intel::RegIo;
use eal::{shm, Memory};
use ethdev::Link;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tx_offload::{PacketCmd, TxContext};

/// Reads for which a bit that the hardware sets "after a while" still reads as before
/// (CTRL.RST self-clearing, EEC.ARD, RDRXCTL.DMAIDONE, RXDCTL/TXDCTL.ENABLE): the driver
/// must poll, not read once.
pub const SETTLE_READS: u32 = 2;

/// One register access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A read of the register at this offset.
    Read(usize),
    /// A write of this value at this offset.
    Write(usize, u32),
}

/// Why a delivered frame was not received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// RXCTRL.RXEN is clear.
    ReceiverOff,
    /// The frame's queue is not enabled (RXDCTL.ENABLE).
    QueueOff(usize),
    /// No free descriptor (RDH == RDT): counted in MPC.
    NoDescriptor(usize),
    /// Longer (in bytes, CRC included) than MAXFRS.MFS with HLREG0.JUMBOEN, or than 1518
    /// (1522 tagged) without (8.2.3.22.8, 8.2.3.22.13): counted in ROC (0x040AC).
    Oversize(usize),
    /// A fault (see [`Model82599::faults`]).
    Fault(String),
}

/// A transmitted frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFrame {
    /// The queue it left on.
    pub queue: usize,
    /// The bytes on the wire, CRC excluded.
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Queue {
    /// RXDCTL/TXDCTL.ENABLE as the hardware holds it.
    enabled: bool,
    /// Reads left before the ENABLE bit shows a change the driver asked for.
    settle: u32,
    /// TX: the contexts written by context descriptors, by IDX (7.2.3.2.3).
    ctx: [Option<TxContext>; tx_offload::CONTEXTS],
}

struct State {
    regs: HashMap<usize, u32>,
    log: Vec<Access>,
    mac: [u8; 6],
    link: Link,
    /// Reads left before CTRL.RST reads clear.
    rst_reads: u32,
    /// Reads left before EEC.ARD and RDRXCTL.DMAIDONE read set.
    autoload_reads: u32,
    resets: u32,
    rxq: Vec<Queue>,
    txq: Vec<Queue>,
    /// Statistics counters (clear on read); the 36-bit octet counters whole.
    counters: HashMap<usize, u64>,
    tx_out: Vec<TxFrame>,
    faults: Vec<String>,
    /// MSI-X messages sent, per vector.
    msix: [u64; 64],
}

/// The software 82599.
pub struct Model82599 {
    st: Mutex<State>,
    mem: Memory,
}

/// Queues modelled per direction.
const QUEUES: usize = 64;

fn rx_queue_of(off: usize) -> Option<(usize, usize)> {
    (0x01000..0x02000).contains(&off).then(|| ((off - 0x01000) / 0x40, (off - 0x01000) % 0x40))
}

fn tx_queue_of(off: usize) -> Option<(usize, usize)> {
    (0x06000..0x08000).contains(&off).then(|| ((off - 0x06000) / 0x40, (off - 0x06000) % 0x40))
}

/// The statistics registers and how they read: (offset, counter key, high half of a
/// 36-bit counter).
fn stat_reg(off: usize) -> Option<(usize, bool)> {
    match off {
        stat::GORCL | stat::GOTCL => Some((off, false)),
        stat::GORCH => Some((stat::GORCL, true)),
        stat::GOTCH => Some((stat::GOTCL, true)),
        stat::CRCERRS
        | stat::ILLERRC
        | stat::ERRBC
        | stat::RLEC
        | stat::GPRC
        | stat::BPRC
        | stat::MPRC
        | stat::GPTC
        | stat::RUC
        | stat::RFC
        | stat::ROC
        | stat::RJC
        | stat::TPR
        | stat::TPT
        | stat::MPTC
        | stat::BPTC => Some((off, false)),
        _ if (stat::mpc(0)..=stat::mpc(7)).contains(&off) => Some((off, false)),
        _ => None,
    }
}

/// The CRC-32 of Ethernet (IEEE 802.3), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

impl Model82599 {
    /// A powered-on 82599 whose NVM holds MAC address `mac`, with the link up at 10 Gb/s,
    /// DMA into `mem` (IOVA = VA).
    pub fn new(mem: Memory, mac: [u8; 6]) -> Model82599 {
        let st = State {
            regs: HashMap::new(),
            log: Vec::new(),
            mac,
            link: Link::up(10_000),
            rst_reads: 0,
            autoload_reads: 0,
            resets: 0,
            rxq: (0..QUEUES).map(|_| Queue::default()).collect(),
            txq: (0..QUEUES).map(|_| Queue::default()).collect(),
            counters: HashMap::new(),
            tx_out: Vec::new(),
            faults: Vec::new(),
            msix: [0; 64],
        };
        let m = Model82599 { st: Mutex::new(st), mem };
        m.lock().reset();
        m
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The access log so far (oldest first); clears it.
    pub fn take_log(&self) -> Vec<Access> {
        std::mem::take(&mut self.lock().log)
    }

    /// Faults recorded so far.
    pub fn faults(&self) -> Vec<String> {
        self.lock().faults.clone()
    }

    /// Software resets done (CTRL.RST writes).
    pub fn resets(&self) -> u32 {
        self.lock().resets
    }

    /// The register value without side effects and without logging.
    pub fn peek(&self, off: usize) -> u32 {
        self.lock().regs.get(&off).copied().unwrap_or(0)
    }

    /// MSI-X messages sent on `vector`.
    pub fn msix_count(&self, vector: usize) -> u64 {
        self.lock().msix[vector]
    }

    /// Frames transmitted so far; clears the list.
    pub fn take_tx(&self) -> Vec<TxFrame> {
        std::mem::take(&mut self.lock().tx_out)
    }

    /// Adds to a statistics counter (what traffic the model does not carry would count).
    pub fn bump_counter(&self, off: usize, by: u64) {
        *self.lock().counters.entry(off).or_default() += by;
    }

    /// Changes the link (the cable, the partner): LINKS follows and EICR.LSC is set, with
    /// an interrupt if enabled (7.3.1: LSC is one of the "other" causes).
    pub fn set_link(&self, link: Link) {
        let mut st = self.lock();
        st.link = link;
        st.raise(regs::EICR_LSC);
    }

    /// Receives `frame` (without CRC) from the wire; returns the RX queue it went to.
    pub fn deliver(&self, frame: &[u8]) -> Result<usize, Dropped> {
        let mem = self.mem;
        self.lock().receive(&mem, frame)
    }
}

impl State {
    fn get(&self, off: usize) -> u32 {
        self.regs.get(&off).copied().unwrap_or(0)
    }

    fn set(&mut self, off: usize, v: u32) {
        self.regs.insert(off, v);
    }

    fn fault(&mut self, msg: String) -> Dropped {
        self.faults.push(msg.clone());
        Dropped::Fault(msg)
    }

    /// Software reset (4.2.1.6.1, 4.6.3.2): every register returns to its initial value
    /// (8.2.3: RXCTRL.RXEN, DMATXCTL.TE, queue enables, interrupt masks all 0; counters
    /// cleared); the NVM is read again, which loads receive address 0 with the MAC
    /// (RAH0.AV set) and AUTOC with the board's link mode, and sets EEC.ARD when done
    /// (4.6.3 step 3); RDRXCTL.DMAIDONE sets once the DMA is initialised (step 5).
    /// STATUS.GIO_MASTER_ENABLE is set again (CTRL.PCIE_MASTER_DISABLE cleared).
    fn reset(&mut self) {
        self.regs.clear();
        self.counters.clear();
        for q in self.rxq.iter_mut().chain(self.txq.iter_mut()) {
            *q = Queue::default();
        }
        let m = self.mac;
        self.set(regs::ral(0), u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        self.set(regs::rah(0), u32::from(u16::from_le_bytes([m[4], m[5]])) | regs::RAH_AV);
        self.set(regs::AUTOC, 0x3 << regs::AUTOC_LMS_SHIFT);
        self.set(regs::STATUS, regs::STATUS_GIO_MASTER_ENABLE);
        self.set(regs::EEC, regs::EEC_PRES);
        // DMATXCTL.VT (bits 31:16), the ethertype of inserted VLAN tags, starts as 0x8100
        // (8.2.3.9.2).
        self.set(regs::DMATXCTL, 0x8100 << 16);
        self.set(rx_offload::VLNCTRL, 0x8100);
        self.autoload_reads = SETTLE_READS;
    }

    /// Sets cause bits in EICR (8.2.3.5.1) and, when one of them is enabled in EIMS,
    /// sends the MSI-X message of its vector: in MSI-X mode (GPIE.MSIX_MODE) the other
    /// causes go to the vector IVAR_MISC bits 15:8 name if valid (7.3.4).
    fn raise(&mut self, cause: u32) {
        let eicr = self.get(regs::EICR) | cause | regs::EICR_OTHER;
        self.set(regs::EICR, eicr);
        if self.get(regs::EIMS) & cause == 0 {
            return;
        }
        if self.get(regs::GPIE) & regs::GPIE_MSIX_MODE != 0 {
            let ivar = (self.get(regs::IVAR_MISC) >> 8) & 0xff;
            if ivar & regs::IVAR_ALLOC_VAL != 0 {
                self.msix[(ivar & 0x3f) as usize] += 1;
            }
        }
    }

    /// The RX cause of queue `q` in MSI-X mode (7.3.4): IVAR names its vector (RX entry of
    /// queue `q`: register `q / 2`, byte 0 or 2); the vector's EICR bit is set and, when
    /// its EIMS bit is, the message goes out, EIAC clears the EICR bit and EIAM (with
    /// GPIE.EIAME) the EIMS bit. Only vectors 0-15 (the EIMS bits of the model) are modelled.
    fn raise_rx_queue(&mut self, q: usize) {
        if self.get(regs::GPIE) & regs::GPIE_MSIX_MODE == 0 {
            return;
        }
        let entry = (self.get(regs::ivar(q / 2)) >> (16 * (q % 2))) & 0xff;
        if entry & regs::IVAR_ALLOC_VAL == 0 || entry & 0x3f >= 16 {
            return;
        }
        let (v, bit) = ((entry & 0x3f) as usize, 1u32 << (entry & 0x3f));
        self.set(regs::EICR, self.get(regs::EICR) | bit);
        if self.get(regs::EIMS) & bit == 0 {
            return;
        }
        self.msix[v] += 1;
        self.set(regs::EICR, self.get(regs::EICR) & !(self.get(regs::EIAC) & bit));
        if self.get(regs::GPIE) & regs::GPIE_EIAME != 0 {
            self.set(regs::EIMS, self.get(regs::EIMS) & !(self.get(regs::EIAM) & bit));
        }
    }

    fn read(&mut self, off: usize) -> u32 {
        self.log.push(Access::Read(off));
        match off {
            // CTRL.RST self-clears when the reset is done (8.2.3.1.1).
            regs::CTRL => {
                let v = self.get(off);
                if self.rst_reads > 0 {
                    self.rst_reads -= 1;
                    return v | regs::CTRL_RST;
                }
                v
            }
            // EEC.ARD sets once the NVM auto-read is done (8.2.3.2.1).
            regs::EEC => {
                let v = self.get(off);
                if self.autoload_reads > 0 || self.rst_reads > 0 {
                    self.autoload_reads = self.autoload_reads.saturating_sub(1);
                    return v & !regs::EEC_ARD;
                }
                v | regs::EEC_ARD
            }
            // RDRXCTL.DMAIDONE (read only) sets once the DMA is initialised (8.2.3.8.8).
            regs::RDRXCTL => {
                let v = self.get(off) & !regs::RDRXCTL_DMAIDONE;
                if self.autoload_reads > 0 || self.rst_reads > 0 {
                    return v;
                }
                v | regs::RDRXCTL_DMAIDONE
            }
            // STATUS.GIO_MASTER_ENABLE clears once no master request is pending after
            // CTRL.PCIE_MASTER_DISABLE (5.2.5.3.2); this model has none pending.
            regs::STATUS => {
                let v = self.get(off);
                if self.get(regs::CTRL) & regs::CTRL_PCIE_MASTER_DISABLE != 0 {
                    return v & !regs::STATUS_GIO_MASTER_ENABLE;
                }
                v
            }
            // LINKS reports the link and its speed in the 82599 encoding (8.2.3.22.20).
            regs::LINKS => {
                let l = self.link;
                if !l.up {
                    return 0;
                }
                let speed = match l.speed_mbps {
                    10_000 => 0b11,
                    1_000 => 0b10,
                    100 => 0b01,
                    _ => 0b00,
                };
                regs::LINKS_UP | (speed << regs::LINKS_SPEED_SHIFT)
            }
            // EICR is cleared by a read (8.2.3.5.1) — except that with GPIE.OCD ("other
            // clear disable") set the other causes (bits 31:16) stay until written with 1.
            regs::EICR => {
                let v = self.get(off);
                let keep = if self.get(regs::GPIE) & regs::GPIE_OCD != 0 { v & !regs::EICR_RTX_QUEUE } else { 0 };
                self.set(off, keep);
                v
            }
            // SECRXSTAT.SECRX_RDY: the security RX path is empty once SECRXCTRL.RX_DIS has
            // halted it (4.6.7).
            regs::SECRXSTAT => {
                if self.get(regs::SECRXCTRL) & regs::SECRXCTRL_RX_DIS != 0 {
                    regs::SECRXSTAT_SECRX_RDY
                } else {
                    0
                }
            }
            _ => {
                if let Some((key, high)) = stat_reg(off) {
                    return self.read_counter(key, high);
                }
                if let Some((q, 0x28)) = rx_queue_of(off) {
                    return self.read_qctl(off, q, true);
                }
                if let Some((q, 0x28)) = tx_queue_of(off) {
                    return self.read_qctl(off, q, false);
                }
                self.get(off)
            }
        }
    }

    /// Statistics registers clear on read (8.2.3.23). The octet counters are 36 bits: the
    /// low register reads bits 31:0, the high one bits 35:32 and clears the counter (read
    /// low first).
    fn read_counter(&mut self, key: usize, high: bool) -> u32 {
        let c = self.counters.entry(key).or_default();
        if key == stat::GORCL || key == stat::GOTCL {
            if high {
                let v = ((*c >> 32) & 0xf) as u32;
                *c = 0;
                return v;
            }
            return *c as u32;
        }
        let v = (*c).min(u64::from(u32::MAX)) as u32;
        *c = 0;
        v
    }

    /// RXDCTL/TXDCTL: the ENABLE bit reads back the queue's actual state, which follows a
    /// write of the bit only after the hardware has (de)activated the queue (4.6.7, 4.6.8:
    /// "poll the register until the Enable bit is set").
    fn read_qctl(&mut self, off: usize, q: usize, rx: bool) -> u32 {
        let bit = if rx { regs::RXDCTL_ENABLE } else { regs::TXDCTL_ENABLE };
        let want = self.get(off) & bit != 0;
        let queue = if rx { &mut self.rxq[q] } else { &mut self.txq[q] };
        if queue.enabled != want {
            if queue.settle == 0 {
                queue.enabled = want;
            } else {
                queue.settle -= 1;
            }
        }
        let shown = queue.enabled;
        (self.get(off) & !bit) | if shown { bit } else { 0 }
    }

    fn write(&mut self, mem: &Memory, off: usize, v: u32) {
        self.log.push(Access::Write(off, v));
        match off {
            regs::CTRL => {
                if v & regs::CTRL_RST != 0 {
                    self.resets += 1;
                    self.reset();
                    self.rst_reads = SETTLE_READS;
                    // The reset clears CTRL itself, RST included once done.
                    self.set(off, v & !(regs::CTRL_RST | regs::CTRL_PCIE_MASTER_DISABLE));
                } else {
                    self.set(off, v);
                }
            }
            // EICR: writing 1 clears a cause (8.2.3.5.1).
            regs::EICR => {
                let cur = self.get(off);
                self.set(off, cur & !v);
            }
            // EICS sets causes (as if they happened).
            regs::EICS => self.raise(v),
            // EIMS sets mask bits, EIMC clears them (8.2.3.5): both write-1 registers.
            regs::EIMS => {
                let cur = self.get(off);
                self.set(off, cur | v);
                let pending = self.get(regs::EICR) & v & !regs::EICR_OTHER;
                if pending != 0 {
                    self.raise(pending);
                }
            }
            regs::EIMC => {
                let cur = self.get(regs::EIMS);
                self.set(regs::EIMS, cur & !v);
            }
            // Read-only registers ignore writes.
            regs::STATUS | regs::LINKS | regs::SECRXSTAT => {}
            // RDRXCTL.DMAIDONE is read only; 4.6.7 requires RSCFRSTSIZE = 0, RSCACKC = 1,
            // FCOE_WRFIX = 1.
            regs::RDRXCTL => {
                let must = regs::RDRXCTL_RSCACKC | regs::RDRXCTL_FCOE_WRFIX;
                if v & regs::RDRXCTL_RSCFRSTSIZE != 0 || v & must != must {
                    self.faults.push(format!(
                        "RDRXCTL written {v:#010x}: 4.6.7 wants RSCFRSTSIZE 0, RSCACKC and FCOE_WRFIX 1"
                    ));
                }
                self.set(off, v & !regs::RDRXCTL_DMAIDONE);
            }
            // Counters are read only.
            _ if stat_reg(off).is_some() => {}
            _ => {
                if let Some((q, r)) = rx_queue_of(off) {
                    self.write_rxq(q, r, off, v);
                } else if let Some((q, r)) = tx_queue_of(off) {
                    self.write_txq(mem, q, r, off, v);
                } else {
                    self.set(off, v);
                }
            }
        }
    }

    fn write_rxq(&mut self, q: usize, r: usize, off: usize, v: u32) {
        match r {
            // RXDCTL: a change of ENABLE takes effect after a few reads.
            0x28 => {
                if (v & regs::RXDCTL_ENABLE != 0) != self.rxq[q].enabled {
                    self.rxq[q].settle = SETTLE_READS;
                }
                if v & regs::RXDCTL_ENABLE != 0 && self.get(regs::rdlen(q)) == 0 {
                    self.faults.push(format!("RX queue {q} enabled with RDLEN 0 (4.6.7: program the ring first)"));
                }
                self.set(off, v);
            }
            // RDLEN: a multiple of 128 bytes (8.2.3.8.3).
            0x08 if !v.is_multiple_of(128) => {
                self.faults.push(format!("RDLEN({q}) = {v}: not a multiple of 128"));
                self.set(off, v);
            }
            _ => self.set(off, v),
        }
    }

    fn write_txq(&mut self, mem: &Memory, q: usize, r: usize, off: usize, v: u32) {
        match r {
            0x28 => {
                if (v & regs::TXDCTL_ENABLE != 0) != self.txq[q].enabled {
                    self.txq[q].settle = SETTLE_READS;
                }
                if v & regs::TXDCTL_ENABLE != 0 && self.get(regs::DMATXCTL) & regs::DMATXCTL_TE == 0 {
                    self.faults.push(format!("TX queue {q} enabled before DMATXCTL.TE (4.6.8)"));
                }
                self.set(off, v);
            }
            // TDT: the device fetches and sends the descriptors up to the new tail.
            0x18 => {
                self.set(off, v);
                self.transmit(mem, q);
            }
            _ => self.set(off, v),
        }
    }

    /// Sends TX queue `q`'s descriptors from TDH up to TDT (7.2): advanced context
    /// descriptors (DTYP 0010b, 7.2.3.2.3) are kept by their IDX; advanced data descriptors
    /// (DTYP 0011b with DEXT, 7.2.3.2.4) gathered until EOP into one packet, which the
    /// offload bits of its first descriptor and its context make into frames
    /// ([`tx_offload::apply`]); DD written back into the status field of every descriptor
    /// with RS (7.2.3.5). IFCS needs HLREG0.TXCRCEN (8.2.3.22.8); with HLREG0.TXPADEN a
    /// frame under 60 bytes is padded to 60 (64 with the CRC; 8.2.3.22.8), without it that
    /// is a fault. Nothing moves unless DMATXCTL.TE and the queue are enabled.
    fn transmit(&mut self, mem: &Memory, q: usize) {
        if self.get(regs::DMATXCTL) & regs::DMATXCTL_TE == 0 || !self.txq[q].enabled {
            return;
        }
        let base = u64::from(self.get(regs::tdbal(q))) | (u64::from(self.get(regs::tdbah(q))) << 32);
        let nb = (self.get(regs::tdlen(q)) / 16) as usize;
        let tail = self.get(regs::tdt(q)) as usize;
        if nb == 0 || tail >= nb {
            self.fault(format!("TX queue {q}: TDT {tail} outside a ring of {nb} descriptors"));
            return;
        }
        let mut head = self.get(regs::tdh(q)) as usize;
        let mut frame = Vec::new();
        // The first data descriptor's offload bits and PAYLEN, for the packet being gathered.
        let mut first: Option<(PacketCmd, usize)> = None;
        while head != tail {
            let Some(d) = dma_words(mem, base + 16 * head as u64, 2) else {
                self.fault(format!(
                    "TX queue {q}: descriptor {head} at {:#x} is outside DMA memory",
                    base + 16 * head as u64
                ));
                return;
            };
            let (w0, w1) = (d[0].load(Ordering::Acquire), d[1].load(Ordering::Acquire));
            let t = TxData::decode(w0, w1);
            if t.dtyp == 2 && t.dcmd.contains(TxCmd::DEXT) && first.is_none() {
                let (idx, c) = TxContext::decode(w0, w1);
                if idx >= tx_offload::CONTEXTS {
                    self.fault(format!("TX queue {q}: context descriptor {head} with IDX {idx}"));
                    return;
                }
                self.txq[q].ctx[idx] = Some(c);
                head = (head + 1) % nb;
                self.set(regs::tdh(q), head as u32);
                continue;
            }
            if t.dtyp != 3 || !t.dcmd.contains(TxCmd::DEXT) {
                self.fault(format!("TX queue {q}: descriptor {head} is not an advanced data descriptor: {t:?}"));
                return;
            }
            if t.dcmd.contains(TxCmd::IFCS) && self.get(regs::HLREG0) & regs::HLREG0_TXCRCEN == 0 {
                self.faults.push(format!("TX queue {q}: IFCS asked with HLREG0.TXCRCEN clear (no CRC would go out)"));
            }
            let (cmd, paylen) = *first.get_or_insert((PacketCmd::decode(w1), t.paylen as usize));
            match dma_read(mem, t.addr, usize::from(t.len)) {
                Some(bytes) => frame.extend_from_slice(&bytes),
                None => {
                    self.fault(format!("TX queue {q}: buffer {:#x}+{} is outside DMA memory", t.addr, t.len));
                    return;
                }
            }
            if t.dcmd.contains(TxCmd::RS) {
                let w1 = d[1].load(Ordering::Relaxed);
                d[1].store(w1 | (u64::from(TXD_STAT_DD) << 32), Ordering::Release);
            }
            if t.dcmd.contains(TxCmd::EOP) {
                first = None;
                let ctx = self.txq[q].ctx.get(cmd.idx).copied().flatten();
                let vt = (self.get(regs::DMATXCTL) >> 16) as u16;
                match tx_offload::apply(std::mem::take(&mut frame), &cmd, paylen, ctx.as_ref(), vt) {
                    Ok(frames) => {
                        for f in frames {
                            self.send(q, f);
                        }
                    }
                    Err(e) => {
                        self.faults.push(format!("TX queue {q}: {e}"));
                    }
                }
            }
            head = (head + 1) % nb;
            self.set(regs::tdh(q), head as u32);
        }
    }

    /// Puts one frame on the wire: padded to 60 bytes with HLREG0.TXPADEN (a fault without
    /// it), counted (GPTC, TPT, GOTC with the CRC) and kept for [`Model82599::take_tx`].
    fn send(&mut self, q: usize, mut data: Vec<u8>) {
        if data.len() < 60 {
            if self.get(regs::HLREG0) & regs::HLREG0_TXPADEN == 0 {
                self.faults.push(format!("TX queue {q}: a {}-byte frame with HLREG0.TXPADEN clear", data.len()));
            } else {
                data.resize(60, 0);
            }
        }
        *self.counters.entry(stat::GPTC).or_default() += 1;
        *self.counters.entry(stat::TPT).or_default() += 1;
        *self.counters.entry(stat::GOTCL).or_default() += data.len() as u64 + 4;
        self.tx_out.push(TxFrame { queue: q, data });
    }

    /// The RX queue of `frame`: with MRQC.MRQE = RSS, the Toeplitz hash (key from RSSRK)
    /// over the fields MRQC enables selects RETA entry hash[6:0] (7.1.2.8); otherwise
    /// queue 0. Returns (queue, RSS type, hash).
    fn classify(&self, frame: &[u8]) -> (usize, u8, u32) {
        let mrqc = self.get(regs::MRQC);
        if mrqc & 0xf != regs::MRQC_RSS_EN || frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
            return (0, 0, 0);
        }
        let ihl = usize::from(frame[14] & 0xf) * 4;
        let (proto, ips) = (frame[23], &frame[26..34]);
        let l4 = 14 + ihl;
        let ports = frame.get(l4..l4 + 4);
        let mut key = [0u8; 40];
        for i in 0..10 {
            key[4 * i..4 * i + 4].copy_from_slice(&self.get(regs::rssrk(i)).to_le_bytes());
        }
        let (input, rss_type): (Vec<u8>, u8) = match (proto, ports) {
            (6, Some(p)) if mrqc & regs::MRQC_IPV4_TCP != 0 => ([ips, p].concat(), RSS_TYPE_IPV4_TCP),
            (17, Some(p)) if mrqc & regs::MRQC_IPV4_UDP != 0 => ([ips, p].concat(), RSS_TYPE_IPV4_UDP),
            _ if mrqc & regs::MRQC_IPV4 != 0 => (ips.to_vec(), RSS_TYPE_IPV4),
            _ => return (0, 0, 0),
        };
        let hash = ethdev::rss::toeplitz(&key, &input);
        let idx = (hash & 0x7f) as usize;
        let entry = (self.get(regs::reta(idx / 4)) >> (8 * (idx % 4))) & 0xf;
        (entry as usize, rss_type, hash)
    }

    /// Receives one frame (7.1): filtered by FCTRL/RAL0 (unicast to another address needs
    /// FCTRL.UPE, multicast needs MPE unless broadcast with BAM), queued by RSS, written
    /// into the next descriptor's buffer (advanced one-buffer descriptors, SRRCTL.DESCTYPE
    /// 001b, buffers of SRRCTL.BSIZEPACKET KiB; 7.1.6.1), spilling into further descriptors
    /// when longer, and written back with DD, EOP on the last, the length, and the RSS type
    /// and hash when RXCSUM.PCSD is set (7.1.6.2). With both CRC-strip bits set (HLREG0,
    /// RDRXCTL; 4.6.7 wants them equal) the CRC is not stored, else it is. The last
    /// descriptor also gets the checksum bits and, with RXDCTL.VME, the stripped VLAN tag
    /// and VP ([`rx_offload`]).
    fn receive(&mut self, mem: &Memory, frame: &[u8]) -> Result<usize, Dropped> {
        if self.get(regs::RXCTRL) & regs::RXCTRL_RXEN == 0 {
            return Err(Dropped::ReceiverOff);
        }
        let fctrl = self.get(regs::FCTRL);
        let dst = &frame[..6];
        // Exact filters (8.2.3.7, RAL/RAH): any of the 128 receive address entries with
        // its address-valid bit.
        let own = (0..128).any(|n| {
            let (l, h) = (self.get(regs::ral(n)).to_le_bytes(), self.get(regs::rah(n)).to_le_bytes());
            self.get(regs::rah(n)) & regs::RAH_AV != 0 && dst == [l[0], l[1], l[2], l[3], h[0], h[1]]
        });
        let bcast = dst == [0xff; 6];
        let mcast = dst[0] & 1 != 0 && !bcast;
        // The inexact multicast filter (8.2.3.7, MCSTCTRL and MTA): with MCSTCTRL.MFE, the
        // 12 address bits MCSTCTRL.MO selects (MO 0: bits 47:36, 1: 46:35, 2: 45:34,
        // 3: 43:32) index the 4096-bit MTA.
        let mcstctrl = self.get(regs::MCSTCTRL);
        let hashed = mcast && mcstctrl & regs::MCSTCTRL_MFE != 0 && {
            let shift = [4, 3, 2, 0][(mcstctrl & 3) as usize];
            let h = ((usize::from(dst[5]) << 8 | usize::from(dst[4])) >> shift) & 0xfff;
            self.get(regs::mta(h >> 5)) & (1 << (h & 31)) != 0
        };
        let accepted = own
            || hashed
            || (bcast && fctrl & regs::FCTRL_BAM != 0)
            || (mcast && fctrl & regs::FCTRL_MPE != 0)
            || (!mcast && !bcast && fctrl & regs::FCTRL_UPE != 0);
        if !accepted {
            return Err(Dropped::Fault(format!("filtered out by FCTRL {fctrl:#x}")));
        }
        let (q, rss_type, hash) = self.classify(frame);
        if !self.rxq[q].enabled {
            return Err(Dropped::QueueOff(q));
        }
        let strip_mac = self.get(regs::HLREG0) & regs::HLREG0_RXCRCSTRP != 0;
        let strip_dma = self.get(regs::RDRXCTL) & regs::RDRXCTL_CRCSTRIP != 0;
        if strip_mac != strip_dma {
            return Err(self.fault("HLREG0.RXCRCSTRP and RDRXCTL.CRCSTRIP differ (4.6.7 wants them equal)".into()));
        }
        // Long frames (8.2.3.22.8 HLREG0.JUMBOEN, 8.2.3.22.13 MAXFRS.MFS): the length
        // counts the CRC; without JUMBOEN the limit is 1518 bytes, 1522 with a VLAN tag.
        let wire = frame.len() + 4;
        let tagged = frame.len() >= 14 && frame[12..14] == [0x81, 0x00];
        let max = if self.get(regs::HLREG0) & regs::HLREG0_JUMBOEN != 0 {
            (self.get(regs::MAXFRS) >> 16) as usize
        } else {
            1518 + if tagged { 4 } else { 0 }
        };
        if wire > max {
            *self.counters.entry(stat::ROC).or_default() += 1;
            return Err(Dropped::Oversize(wire));
        }
        // VLAN stripping (RXDCTL.VME) and the checksum checks, rx_offload's rules.
        let vet = self.get(rx_offload::VLNCTRL) as u16;
        let mut offload_bits = rx_offload::cksum_bits(frame, vet);
        let (mut data, vlan) = match rx_offload::strip(frame, vet) {
            Some((f, tci)) if self.get(regs::rxdctl(q)) & (1 << 30) != 0 => {
                offload_bits |= rx_offload::STAT_VP;
                (f, tci)
            }
            _ => (frame.to_vec(), 0),
        };
        if !strip_mac {
            data.extend_from_slice(&crc32(frame).to_le_bytes());
        }
        let srrctl = self.get(regs::srrctl(q));
        if srrctl & regs::SRRCTL_DESCTYPE_MASK != regs::SRRCTL_DESCTYPE_ADV_ONEBUF {
            return Err(self.fault(format!("RX queue {q}: SRRCTL {srrctl:#x} is not advanced one-buffer")));
        }
        let buf = (srrctl & regs::SRRCTL_BSIZEPKT_MASK) as usize * 1024;
        let base = u64::from(self.get(regs::rdbal(q))) | (u64::from(self.get(regs::rdbah(q))) << 32);
        let nb = (self.get(regs::rdlen(q)) / 16) as usize;
        if buf == 0 || nb == 0 {
            return Err(self.fault(format!("RX queue {q}: buffer size {buf} or ring of {nb} descriptors")));
        }
        let need = data.len().div_ceil(buf);
        let (head, tail) = (self.get(regs::rdh(q)) as usize, self.get(regs::rdt(q)) as usize);
        let free = (tail + nb - head) % nb;
        if free < need {
            *self.counters.entry(stat::mpc(0)).or_default() += 1;
            return Err(Dropped::NoDescriptor(q));
        }
        let mut h = head;
        for (i, chunk) in data.chunks(buf).enumerate() {
            let at = base + 16 * h as u64;
            let Some(d) = dma_words(mem, at, 2) else {
                return Err(self.fault(format!("RX queue {q}: descriptor {h} at {at:#x} is outside DMA memory")));
            };
            let (pkt, hdr) = (d[0].load(Ordering::Acquire), d[1].load(Ordering::Acquire));
            if hdr & 1 != 0 {
                return Err(self.fault(format!("RX queue {q}: descriptor {h} handed over with DD set")));
            }
            if !dma_write(mem, pkt, chunk) {
                return Err(self.fault(format!("RX queue {q}: buffer {pkt:#x}+{} is outside DMA memory", chunk.len())));
            }
            let last = i + 1 == need;
            let hashed = self.get(regs::RXCSUM) & regs::RXCSUM_PCSD != 0 && rss_type != 0;
            let wb = RxWriteBack {
                rss_type: if hashed { rss_type } else { 0 },
                pkt_type: 0,
                rss_hash: if hashed { hash } else { 0 },
                status_error: (RxStatus::DD | if last { RxStatus::EOP } else { RxStatus::empty() }).bits()
                    | if last { offload_bits } else { 0 },
                len: chunk.len() as u16,
                vlan: if last { vlan } else { 0 },
            };
            let (w0, w1) = wb.encode();
            d[0].store(w0, Ordering::Relaxed);
            d[1].store(w1, Ordering::Release);
            h = (h + 1) % nb;
        }
        self.set(regs::rdh(q), h as u32);
        self.raise_rx_queue(q);
        let c = &mut self.counters;
        *c.entry(stat::GPRC).or_default() += 1;
        *c.entry(stat::TPR).or_default() += 1;
        *c.entry(stat::GORCL).or_default() += frame.len() as u64 + 4;
        if bcast {
            *c.entry(stat::BPRC).or_default() += 1;
        } else if mcast {
            *c.entry(stat::MPRC).or_default() += 1;
        }
        Ok(q)
    }
}

/// `n` aligned words of DMA memory at `addr`, if they lie in the group's memory.
fn dma_words(mem: &Memory, addr: u64, n: usize) -> Option<&'static [AtomicU64]> {
    if !addr.is_multiple_of(8) || !mem.contains(addr, 8 * n as u64) {
        return None;
    }
    shm::shared_slice::<AtomicU64>(addr, n)
}

/// The aligned words covering `addr..addr+len` and the offset of `addr` in the first.
fn dma_span(mem: &Memory, addr: u64, len: usize) -> Option<(&'static [AtomicU64], usize)> {
    let start = addr & !7;
    let end = (addr + len as u64).div_ceil(8) * 8;
    let words = dma_words(mem, start, ((end - start) / 8) as usize)?;
    Some((words, (addr - start) as usize))
}

/// Reads `len` bytes of DMA memory at `addr` (any alignment).
fn dma_read(mem: &Memory, addr: u64, len: usize) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let (words, skip) = dma_span(mem, addr, len)?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.load(Ordering::Acquire).to_le_bytes()).collect();
    Some(bytes[skip..skip + len].to_vec())
}

/// Writes `data` into DMA memory at `addr` (any alignment); false if outside.
fn dma_write(mem: &Memory, addr: u64, data: &[u8]) -> bool {
    if data.is_empty() {
        return true;
    }
    let Some((words, skip)) = dma_span(mem, addr, data.len()) else { return false };
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes()).collect();
    bytes[skip..skip + data.len()].copy_from_slice(data);
    for (w, chunk) in words.iter().zip(bytes.chunks_exact(8)) {
        w.store(u64::from_le_bytes(chunk.try_into().expect("8 bytes")), Ordering::Relaxed);
    }
    true
}

impl RegIo for Model82599 {
    fn read32(&self, off: usize) -> u32 {
        self.lock().read(off)
    }

    fn write32(&self, off: usize, v: u32) {
        let mem = self.mem;
        self.lock().write(&mem, off, v)
    }
}

#[cfg(test)]
mod tests;
