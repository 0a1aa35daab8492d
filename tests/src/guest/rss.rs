//! The `rss FLOWS PER_FLOW` scenario's checks, the same for every driver: the device holds
//! the default round-robin redirection table; the host sends PER_FLOW frames of each of
//! FLOWS flows ([`FlowFrames`]); every frame must arrive exactly once and intact, every
//! queue must get some, each flow must always land on the same queue, and that queue and
//! the mbuf's RSS hash (with `RX_RSS_HASH` set) must be what ethdev's software Toeplitz hash
//! (the driver's [`RssRun::flow_hash`]) and the table predict; the RX counters must add up.
//! The driver's program configures the port and may echo each frame.

use super::flow_frames::FlowFrames;
use super::frames::{HOST_MAC, TAG_H2G};
use super::{port, say};
use eal::mbuf::OlFlags;
use eal::Mbuf;
use ethdev::rss::default_reta;
use ethdev::{Port, PortControl, Stats};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The redirection table of port `p` (`pc` its control), after checking that it is the
/// default round robin over `queues` queues; then prints `READY rss <port> ...`, on which
/// the host starts sending.
pub fn ready(pc: &PortControl<'_>, p: &Port, queues: u16) -> Result<Vec<u16>, String> {
    let info = pc.info();
    let reta = pc.reta_query().map_err(|e| e.to_string())?;
    if reta != default_reta(usize::from(info.reta_size), queues) {
        return Err(format!("the device holds redirection table {reta:?}, not the default round robin"));
    }
    say("READY", format!("rss {} reta_size={} hash_types={:#x}", p.name(), info.reta_size, info.rss_hash_types));
    Ok(reta)
}

/// What an RSS run expects.
pub struct RssRun<'a> {
    /// Flows the host sends.
    pub flows: u16,
    /// Frames of each flow.
    pub per_flow: u32,
    /// RX queues polled.
    pub queues: u16,
    /// The frames of the flows.
    pub frames: &'a FlowFrames,
    /// The redirection table the device holds.
    pub reta: Vec<u16>,
    /// The RSS hash the device should compute for a flow.
    pub flow_hash: &'a dyn Fn(u16) -> u32,
}

/// What an RSS run received.
pub struct Received {
    /// Frames received per RX queue.
    pub per_q: Vec<u64>,
    /// Frames expected in all.
    pub total: u64,
    /// The problems found (empty when every check passed).
    pub errors: Vec<String>,
}

impl RssRun<'_> {
    /// Checks one frame `m` received on queue `q` of a port with address `me`; returns its
    /// (flow, seq) when it is a flow frame.
    fn check(
        &self,
        m: &Mbuf,
        q: u16,
        me: [u8; 6],
        flow_q: &mut HashMap<u16, u16>,
        errors: &mut Vec<String>,
    ) -> Option<(u16, u32)> {
        let (flow, seq, tag) = match self.frames.parse(m.data(), me, HOST_MAC) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("queue {q}: {e}"));
                return None;
            }
        };
        if tag != TAG_H2G || flow >= self.flows || seq >= self.per_flow {
            errors.push(format!("queue {q}: unexpected frame flow {flow} seq {seq} tag {tag:#x}"));
        }
        let first = *flow_q.entry(flow).or_insert(q);
        if first != q {
            errors.push(format!("flow {flow} arrived on queue {first} and on queue {q}"));
        }
        let want_hash = (self.flow_hash)(flow);
        if m.rss_hash() != want_hash || !m.ol_flags().contains(OlFlags::RX_RSS_HASH) {
            errors.push(format!(
                "flow {flow}: mbuf RSS hash {:#010x} (flags {:?}), Toeplitz gives {want_hash:#010x}",
                m.rss_hash(),
                m.ol_flags()
            ));
        }
        let want_q = self.reta[want_hash as usize % self.reta.len()];
        if want_q != q {
            errors.push(format!("flow {flow} landed on queue {q}; hash and RETA predict queue {want_q}"));
        }
        Some((flow, seq))
    }

    /// Polls RX queues 0..queues of `p` until every frame arrived (and 300 ms more, for
    /// duplicates) or nothing came for 180 s, checking each frame; `each(q, flow, seq)` is
    /// called for each flow frame after its checks (to echo it). Prints the spread over the
    /// queues (`rss_queues`) and the receive rate (`rss_rx`).
    pub fn receive(
        &self,
        p: &Port,
        mut each: impl FnMut(u16, u16, u32) -> Result<(), String>,
    ) -> Result<Received, String> {
        let me = p.mac();
        let total = u64::from(self.flows) * u64::from(self.per_flow);
        let mut seen: HashMap<(u16, u32), u32> = HashMap::new();
        let mut flow_q: HashMap<u16, u16> = HashMap::new();
        let mut per_q = vec![0u64; usize::from(self.queues)];
        let mut errors: Vec<String> = Vec::new();
        let mut bufs: Vec<Mbuf> = Vec::with_capacity(port::BURST);
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut t0 = None;
        let mut got = 0u64;
        let mut drain_until: Option<Instant> = None;
        loop {
            let mut any = false;
            for q in 0..self.queues {
                bufs.clear();
                let n = p.rx_burst(q, &mut bufs, port::BURST).map_err(|e| e.to_string())?;
                any |= n > 0;
                for m in bufs.drain(..) {
                    t0.get_or_insert_with(Instant::now);
                    got += 1;
                    per_q[usize::from(q)] += 1;
                    let Some((flow, seq)) = self.check(&m, q, me, &mut flow_q, &mut errors) else {
                        continue;
                    };
                    *seen.entry((flow, seq)).or_default() += 1;
                    drop(m);
                    each(q, flow, seq)?;
                }
            }
            if got >= total && drain_until.is_none() {
                // Keep polling a little: a duplicate would show up now.
                drain_until = Some(Instant::now() + Duration::from_millis(300));
            }
            if drain_until.is_some_and(|t| Instant::now() > t) {
                break;
            }
            if !any && Instant::now() > deadline {
                errors.push(format!("timeout: {got} of {total} frames received; {:?}", p.stats()));
                break;
            }
        }
        let elapsed = t0.map(|t| t.elapsed()).unwrap_or_default();
        let (flows, per_flow) = (self.flows, self.per_flow);
        let missing =
            (0..flows).flat_map(|f| (0..per_flow).map(move |s| (f, s))).filter(|k| !seen.contains_key(k)).count();
        let dups = seen.values().filter(|&&c| c > 1).count();
        let mut flows_per_q = vec![0u32; usize::from(self.queues)];
        flow_q.values().for_each(|&q| flows_per_q[usize::from(q)] += 1);
        say("rss_queues", format!("per_queue={per_q:?} flows_per_queue={flows_per_q:?}"));
        say(
            "rss_rx",
            format!(
                "frames={got} elapsed_ms={} pps={}",
                elapsed.as_millis(),
                (got as f64 / elapsed.as_secs_f64().max(1e-9)) as u64
            ),
        );
        if missing > 0 || dups > 0 {
            errors.push(format!("{missing} frames missing, {dups} received more than once"));
        }
        if let Some(q) = per_q.iter().position(|&n| n == 0) {
            errors.push(format!("queue {q} received nothing: RSS did not spread the flows"));
        }
        Ok(Received { per_q, total, errors })
    }
}

impl Received {
    /// Checks the port's counters `s` against the frames received: per queue and in all,
    /// none missed.
    pub fn check_rx_counters(&mut self, s: &Stats) {
        let (total, per_q) = (self.total, &self.per_q);
        if s.q_ipackets != *per_q || s.ipackets != total || s.imissed != 0 {
            self.errors.push(format!("counters {s:?} disagree with the {total} frames received ({per_q:?} per queue)"));
        }
    }

    /// Ok when every check passed, else the number of problems and the first.
    pub fn result(&self) -> Result<(), String> {
        match self.errors.first() {
            Some(e) => Err(format!("{} problems, first: {e}", self.errors.len())),
            None => Ok(()),
        }
    }
}
