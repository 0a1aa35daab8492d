//! The port's link follows the TAP interface: up when it is administratively up and running
//! (`IFF_UP && IFF_RUNNING`, i.e. the lower layer is up too). Reports from the watcher thread
//! and from `link_update` go through one lock, so they reach ethdev in the order they were
//! read.

use super::netlink::LinkSink;
use super::tun::IfCtl;
use ethdev::{Link, PortCtx};
use std::sync::{Arc, Mutex};

/// Speed reported for an up TAP link (it has none; DPDK's tap says 10G too).
pub const TAP_SPEED_MBPS: u32 = 10_000;

/// The link for interface flags `flags`.
pub fn link_of(flags: u32) -> Link {
    let up = flags & libc::IFF_UP as u32 != 0 && flags & libc::IFF_RUNNING as u32 != 0;
    if up {
        Link::up(TAP_SPEED_MBPS)
    } else {
        Link::down()
    }
}

/// Reads and reports the link of one TAP port.
pub struct LinkReporter {
    ctx: PortCtx,
    iface: String,
    ifctl: IfCtl,
    lock: Mutex<()>,
}

impl LinkReporter {
    /// A reporter for port `ctx` backed by interface `iface`.
    pub fn new(ctx: PortCtx, iface: String) -> std::io::Result<Arc<LinkReporter>> {
        Ok(Arc::new(LinkReporter { ctx, iface, ifctl: IfCtl::open()?, lock: Mutex::new(()) }))
    }

    /// Reads the interface's flags now (a missing interface is down) and reports the link.
    pub fn refresh(&self) -> Link {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let link = match self.ifctl.flags(&self.iface) {
            Ok(f) => link_of(f),
            Err(e) => {
                tracing::debug!(iface = %self.iface, "cannot read the interface flags ({e}); link down");
                Link::down()
            }
        };
        self.ctx.report_link(link);
        link
    }

    /// Reports the link for flags carried by a notification.
    pub fn report_flags(&self, flags: u32) {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.ctx.report_link(link_of(flags));
    }
}

/// What the watcher thread holds.
pub struct Sink(pub Arc<LinkReporter>);

impl LinkSink for Sink {
    fn flags(&self, flags: u32) {
        self.0.report_flags(flags);
    }
    fn resync(&self) {
        self.0.refresh();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_needs_up_and_running() {
        let (up, run, lower) = (libc::IFF_UP as u32, libc::IFF_RUNNING as u32, libc::IFF_LOWER_UP as u32);
        assert_eq!(link_of(up | run | lower), Link::up(TAP_SPEED_MBPS));
        assert_eq!(link_of(up), Link::down());
        assert_eq!(link_of(run), Link::down());
        assert_eq!(link_of(0), Link::down());
    }
}
