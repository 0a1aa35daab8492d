//! The csum engine's last step before sending, as DPDK testpmd's: the burst goes through
//! the TX port's `tx_prepare`, which refuses what the device cannot send (an offload the
//! port was not configured with, a header longer than its context fields, a frame over the
//! MTU without TSO...). Where DPDK's engine then drops the whole rest of the burst from the
//! first refused packet, only the refused packets are dropped here; each is counted, with
//! the reason of the last one, for `show fwd stats`.

use crate::csum::CsumCounts;
use eal::Mbuf;
use ethdev::TxPrepareError;

/// Removes from `bufs` (and frees) every packet `prepare` refuses, counting each in `c`
/// with its reason; returns how many. `prepare` is the TX port's
/// [`tx_prepare`](ethdev::Port::tx_prepare): it names the first refused packet of what it
/// is given, so the check resumes after each refusal.
pub fn drop_refused(
    bufs: &mut Vec<Mbuf>,
    c: &mut CsumCounts,
    prepare: impl Fn(&[Mbuf]) -> Result<(), TxPrepareError>,
) -> usize {
    let (mut from, mut refused) = (0, 0);
    while from < bufs.len() {
        let Err(e) = prepare(&bufs[from..]) else { break };
        let at = from + e.index;
        if at >= bufs.len() {
            break;
        }
        drop(bufs.remove(at));
        refused += 1;
        c.tx_refused += 1;
        c.tx_refused_reason = Some(e.reason);
        from = at;
    }
    refused
}

#[cfg(test)]
mod tests {
    use super::*;
    use eal::{Memory, PktMbufPool};
    use ethdev::TxReject;

    #[test]
    fn only_the_refused_packets_leave_the_burst_each_counted_with_its_reason() {
        let mem = Memory::anonymous(8 << 20).unwrap();
        let pool = PktMbufPool::create(&mem, "tx_prep", 16, 0, eal::mbuf::DEFAULT_BUF_SIZE).unwrap();
        let lens = [60u16, 1600, 80, 1700, 1800, 90];
        let mut bufs: Vec<Mbuf> = lens
            .iter()
            .map(|&n| {
                let mut m = pool.alloc().unwrap();
                m.append(n).unwrap();
                m
            })
            .collect();
        // A port whose frames end at 1518 bytes, as tx_prepare says it: the first refused.
        let prepare = |b: &[Mbuf]| match b.iter().position(|m| m.pkt_len() > 1518) {
            Some(index) => {
                Err(TxPrepareError { index, reason: TxReject::TooLong { len: b[index].pkt_len(), max: 1518 } })
            }
            None => Ok(()),
        };
        let mut c = CsumCounts::default();
        assert_eq!(drop_refused(&mut bufs, &mut c, prepare), 3);
        let left: Vec<u32> = bufs.iter().map(|m| m.pkt_len()).collect();
        assert_eq!(left, vec![60, 80, 90], "the packets after a refused one are still sent");
        assert_eq!(c.tx_refused, 3);
        assert_eq!(c.tx_refused_reason, Some(TxReject::TooLong { len: 1800, max: 1518 }), "the last reason");
        drop(bufs);
        assert!(pool.mempool().is_full(), "refused packets were freed");
        let mut none = CsumCounts::default();
        let mut ok: Vec<Mbuf> = vec![pool.alloc().unwrap()];
        assert_eq!(drop_refused(&mut ok, &mut none, |_| Ok(())), 0);
        assert_eq!((ok.len(), none.tx_refused, none.tx_refused_reason), (1, 0, None));
    }
}
