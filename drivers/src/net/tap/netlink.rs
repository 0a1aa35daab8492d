//! Follows one interface's state: a thread reads the kernel's link notifications
//! (`RTM_NEWLINK` / `RTM_DELLINK` on `RTMGRP_LINK`) and hands each of the interface's flag
//! changes, in order, to a callback. Started at probe, stopped (thread joined, fds closed)
//! by [`LinkWatcher::stop`] or on drop.

use super::nlsock::{self, LinkSocket};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

const NLMSG_HDR: usize = 16;
const IFINFO_LEN: usize = 16;

/// One link notification about an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkMsg {
    /// Interface index.
    pub ifindex: i32,
    /// Interface flags (`IFF_UP`, `IFF_RUNNING`, ...); 0 when deleted.
    pub flags: u32,
    /// True for `RTM_DELLINK`.
    pub deleted: bool,
}

/// Parses the link messages of one netlink datagram. Other message types are skipped; a
/// malformed length ends the parse (what came before is kept).
pub fn parse(buf: &[u8]) -> Vec<LinkMsg> {
    let mut out = Vec::new();
    let mut off = 0;
    while buf.len() - off >= NLMSG_HDR {
        let h = &buf[off..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        if len < NLMSG_HDR || len > h.len() {
            break;
        }
        if (ty == libc::RTM_NEWLINK || ty == libc::RTM_DELLINK) && len >= NLMSG_HDR + IFINFO_LEN {
            let i = &h[NLMSG_HDR..];
            let ifindex = i32::from_ne_bytes([i[4], i[5], i[6], i[7]]);
            let flags = u32::from_ne_bytes([i[8], i[9], i[10], i[11]]);
            let deleted = ty == libc::RTM_DELLINK;
            out.push(LinkMsg { ifindex, flags: if deleted { 0 } else { flags }, deleted });
        }
        off += (len + 3) & !3;
        if off >= buf.len() {
            break;
        }
    }
    out
}

/// What the watcher thread calls.
pub trait LinkSink: Send + 'static {
    /// The interface's flags changed (0 when it was deleted).
    fn flags(&self, flags: u32);
    /// Messages may have been lost, or a batch ended: read the current state.
    fn resync(&self);
}

/// The thread following one interface.
pub struct LinkWatcher {
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

impl LinkWatcher {
    /// Opens the netlink socket and starts the thread, which reports every change of
    /// interface `ifindex` to `sink`.
    pub fn start(ifindex: i32, sink: impl LinkSink) -> io::Result<LinkWatcher> {
        let sock = LinkSocket::open()?;
        let (stop_tx, stop_rx) = UnixStream::pair()?;
        let thread = std::thread::Builder::new().name(format!("tap-link-{ifindex}")).spawn(move || {
            // Off the forwarding lcores, whichever thread probed the port.
            eal::lcore::enter_control_thread();
            run(sock, stop_rx, ifindex, sink)
        })?;
        Ok(LinkWatcher { stop: Some(stop_tx), thread: Some(thread) })
    }

    /// Stops the thread and waits for it; closes its socket. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut s) = self.stop.take() {
            let _ = s.write_all(&[1]);
        }
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the TAP link watcher thread panicked");
            }
        }
    }
}

impl Drop for LinkWatcher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(sock: LinkSocket, stop: UnixStream, ifindex: i32, sink: impl LinkSink) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let (nl, stopped) = match nlsock::wait_readable(sock.as_fd(), stop.as_fd()) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(ifindex, "TAP link watcher: poll failed ({e}); link events stop");
                return;
            }
        };
        if stopped {
            return;
        }
        if !nl {
            continue;
        }
        let mut seen = false;
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => {
                    for m in parse(&buf[..n]).into_iter().filter(|m| m.ifindex == ifindex) {
                        tracing::debug!(
                            ifindex,
                            flags = format_args!("{:#x}", m.flags),
                            deleted = m.deleted,
                            "link message"
                        );
                        sink.flags(m.flags);
                        seen = true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    tracing::warn!(ifindex, "link notifications were lost; reading the current state");
                    seen = true;
                }
                Err(e) => {
                    tracing::error!(ifindex, "TAP link watcher: receive failed ({e}); link events stop");
                    return;
                }
            }
        }
        if seen {
            sink.resync();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ty: u16, ifindex: i32, flags: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&32u32.to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&[0; 10]);
        v.extend_from_slice(&[0, 0, 1, 0]);
        v.extend_from_slice(&ifindex.to_ne_bytes());
        v.extend_from_slice(&flags.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v
    }

    #[test]
    fn parses_link_messages_and_skips_others() {
        let mut b = msg(libc::RTM_NEWLINK, 7, 0x11043);
        b.extend(msg(libc::RTM_NEWADDR, 7, 0));
        b.extend(msg(libc::RTM_DELLINK, 7, 0x1003));
        let got = parse(&b);
        assert_eq!(
            got,
            vec![
                LinkMsg { ifindex: 7, flags: 0x11043, deleted: false },
                LinkMsg { ifindex: 7, flags: 0, deleted: true }
            ]
        );
    }

    #[test]
    fn malformed_lengths_end_the_parse_without_panic() {
        let mut b = msg(libc::RTM_NEWLINK, 3, 1);
        let mut bad = msg(libc::RTM_NEWLINK, 4, 1);
        bad[..4].copy_from_slice(&4000u32.to_ne_bytes());
        b.extend(bad);
        assert_eq!(parse(&b).len(), 1);
        let mut tiny = msg(libc::RTM_NEWLINK, 3, 1);
        tiny[..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(parse(&tiny).is_empty());
        assert!(parse(&[1, 2, 3]).is_empty());
        // A header whose length covers no ifinfomsg is skipped.
        let mut short = msg(libc::RTM_NEWLINK, 3, 1);
        short[..4].copy_from_slice(&16u32.to_ne_bytes());
        assert!(parse(&short[..16]).is_empty());
    }

    struct Nop;
    impl LinkSink for Nop {
        fn flags(&self, _: u32) {}
        fn resync(&self) {}
    }

    #[test]
    fn watcher_starts_and_stops() {
        let mut w = LinkWatcher::start(1, Nop).unwrap();
        w.stop();
        w.stop();
    }
}
