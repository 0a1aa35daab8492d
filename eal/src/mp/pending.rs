//! Requests waiting for replies: the per-request reply collector (used by
//! sync and async requests alike) and the table of async requests that the
//! IPC thread completes.

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::Mutex;
use std::time::Instant;

use super::peers::peer_key;
use super::sys::SockAddr;
use super::wire::Kind;
use super::{MpMessage, MpReply};

/// Gathers the replies to one request, one per peer it was sent to.
pub(crate) struct Collector {
    /// Peers still owing an answer (keyed by socket file name).
    waiting: Vec<OsString>,
    nb_sent: usize,
    replies: Vec<MpMessage>,
}

impl Collector {
    /// A collector for a request that reached `sent`.
    pub(crate) fn new(sent: &[SockAddr]) -> Collector {
        let waiting: Vec<OsString> = sent.iter().filter_map(|a| peer_key(a).map(|k| k.to_os_string())).collect();
        Collector { nb_sent: waiting.len(), waiting, replies: Vec::new() }
    }

    /// Takes an answer from `from`. Returns false (and drops `msg`, closing
    /// its fds) when that peer was not asked or has already answered.
    pub(crate) fn offer(&mut self, from: &SockAddr, kind: Kind, msg: MpMessage) -> bool {
        let Some(key) = peer_key(from) else {
            return false;
        };
        let Some(i) = self.waiting.iter().position(|k| k.as_os_str() == key) else {
            return false;
        };
        self.waiting.swap_remove(i);
        match kind {
            Kind::Reply => self.replies.push(msg),
            // The peer has no such action: it does not count as sent.
            _ => self.nb_sent -= 1,
        }
        true
    }

    /// Every peer has answered.
    pub(crate) fn complete(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The result as the caller sees it.
    pub(crate) fn into_reply(self) -> MpReply {
        MpReply { nb_sent: self.nb_sent, nb_received: self.replies.len(), msgs: self.replies }
    }
}

/// Callback of an async request.
pub(crate) type AsyncCallback = Box<dyn FnOnce(&MpMessage, MpReply) + Send + 'static>;

enum State {
    /// Still sending: answers are kept until we know whom we reached.
    Sending(Vec<(SockAddr, Kind, MpMessage)>),
    Waiting(Collector),
}

struct Entry {
    request: MpMessage,
    deadline: Instant,
    state: State,
    cb: AsyncCallback,
}

/// A finished async request, ready for its callback.
pub(crate) struct Finished {
    pub request: MpMessage,
    pub reply: MpReply,
    pub cb: AsyncCallback,
}

impl Finished {
    /// Runs the callback.
    pub(crate) fn run(self) {
        (self.cb)(&self.request, self.reply)
    }
}

/// Async requests in flight, by request id.
#[derive(Default)]
pub(crate) struct AsyncTable {
    map: Mutex<HashMap<u64, Entry>>,
}

impl AsyncTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        // A panic elsewhere while holding the lock leaves a usable map.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a request before it is sent.
    pub(crate) fn insert(&self, id: u64, request: MpMessage, deadline: Instant, cb: AsyncCallback) {
        self.lock().insert(id, Entry { request, deadline, state: State::Sending(Vec::new()), cb });
    }

    /// Records whom the request reached. Returns true when it is already
    /// complete (nobody reached, or every answer came early).
    pub(crate) fn mark_sent(&self, id: u64, sent: &[SockAddr]) -> bool {
        let mut map = self.lock();
        let Some(e) = map.get_mut(&id) else {
            return false;
        };
        let mut c = Collector::new(sent);
        if let State::Sending(early) = std::mem::replace(&mut e.state, State::Sending(Vec::new())) {
            for (from, kind, msg) in early {
                c.offer(&from, kind, msg);
            }
        }
        let done = c.complete();
        e.state = State::Waiting(c);
        done
    }

    /// Hands a reply (or ignore) to its request. Returns `None` when it was
    /// taken but the request is not complete, `Some(finished)` when this was
    /// the last answer, and `Err(msg)` when no request matches (late or foreign).
    pub(crate) fn offer(
        &self,
        id: u64,
        from: &SockAddr,
        kind: Kind,
        msg: MpMessage,
    ) -> Result<Option<Finished>, MpMessage> {
        let mut map = self.lock();
        let Some(e) = map.get_mut(&id) else {
            return Err(msg);
        };
        match &mut e.state {
            State::Sending(early) => {
                early.push((from.clone(), kind, msg));
                Ok(None)
            }
            State::Waiting(c) => {
                if !c.offer(from, kind, msg) {
                    return Ok(None);
                }
                if !c.complete() {
                    return Ok(None);
                }
                let e = map.remove(&id).expect("entry present");
                Ok(Some(finish(e)))
            }
        }
    }

    /// Removes every request that is complete or past its deadline, and
    /// tells the earliest deadline left.
    pub(crate) fn take_due(&self, now: Instant) -> (Vec<Finished>, Option<Instant>) {
        let mut map = self.lock();
        let due: Vec<u64> = map
            .iter()
            .filter(|(_, e)| e.deadline <= now || matches!(&e.state, State::Waiting(c) if c.complete()))
            .map(|(id, _)| *id)
            .collect();
        let finished = due.into_iter().filter_map(|id| map.remove(&id)).map(finish).collect();
        let next = map.values().map(|e| e.deadline).min();
        (finished, next)
    }

    /// Drops every pending request without calling its callback.
    pub(crate) fn clear(&self) -> usize {
        let mut map = self.lock();
        let n = map.len();
        map.clear();
        n
    }
}

fn finish(e: Entry) -> Finished {
    let reply = match e.state {
        State::Waiting(c) => c.into_reply(),
        // Timed out while still sending (cannot really happen): nothing counted.
        State::Sending(_) => MpReply { nb_sent: 0, nb_received: 0, msgs: Vec::new() },
    };
    Finished { request: e.request, reply, cb: e.cb }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::mpsc;
    use std::time::Duration;

    fn addr(n: &str) -> SockAddr {
        SockAddr::Path(PathBuf::from("/run/x").join(n))
    }

    fn msg(tag: u8) -> MpMessage {
        MpMessage::new("a", &[tag]).unwrap()
    }

    #[test]
    fn collector_counts_replies_and_ignores() {
        let mut c = Collector::new(&[addr("p1"), addr("p2"), addr("p3")]);
        assert!(c.offer(&addr("p1"), Kind::Reply, msg(1)));
        assert!(!c.offer(&addr("p1"), Kind::Reply, msg(1)), "duplicate");
        assert!(!c.offer(&addr("zz"), Kind::Reply, msg(9)), "stranger");
        assert!(!c.offer(&SockAddr::Unnamed, Kind::Reply, msg(9)));
        assert!(c.offer(&addr("p2"), Kind::Ignore, msg(2)));
        assert!(!c.complete());
        let r = c.into_reply();
        assert_eq!((r.nb_sent, r.nb_received), (2, 1));
        assert_eq!(r.msgs[0].param, vec![1]);
    }

    #[test]
    fn async_table_early_answers_and_timeouts() {
        let t = AsyncTable::default();
        let (tx, rx) = mpsc::channel();
        let now = Instant::now();
        let tx2 = tx.clone();
        t.insert(
            1,
            msg(0),
            now + Duration::from_secs(10),
            Box::new(move |_, r| tx2.send((1, r.nb_sent, r.nb_received)).unwrap()),
        );
        // answer before mark_sent
        assert!(t.offer(1, &addr("p1"), Kind::Reply, msg(1)).unwrap().is_none());
        assert!(!t.mark_sent(1, &[addr("p1"), addr("p2")]));
        let f = t.offer(1, &addr("p2"), Kind::Reply, msg(2)).unwrap().unwrap();
        f.run();
        assert_eq!(rx.recv().unwrap(), (1, 2, 2));
        assert!(t.offer(1, &addr("p2"), Kind::Reply, msg(2)).is_err(), "late");

        t.insert(
            2,
            msg(0),
            now + Duration::from_millis(5),
            Box::new(move |_, r| tx.send((2, r.nb_sent, r.nb_received)).unwrap()),
        );
        assert!(!t.mark_sent(2, &[addr("p1")]));
        let (due, next) = t.take_due(now);
        assert!(due.is_empty());
        assert_eq!(next, Some(now + Duration::from_millis(5)));
        let (due, next) = t.take_due(now + Duration::from_millis(6));
        assert_eq!(due.len(), 1);
        assert!(next.is_none());
        due.into_iter().for_each(Finished::run);
        assert_eq!(rx.recv().unwrap(), (2, 1, 0));
    }
}
