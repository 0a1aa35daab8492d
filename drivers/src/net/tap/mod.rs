//! `net_tap`: a Linux TAP interface as a port. Frames sent on the port arrive in the kernel
//! as received on the interface, and frames the kernel sends out of the interface are
//! received on the port. The port's link follows the interface's state (netlink), so
//! `ip link set <tap> down|up` raises link-status events in every process.
//!
//! Devargs: `iface=NAME` (default `dtap%d`, the first free `dtapN`), `mac=xx:xx:..`,
//! `mac=fixed` or a random default (the interface gets the port's address).
//!
//! The primary creates (or attaches to) the interface and opens its queue fds: up to
//! [`MAX_TAP_QUEUES`] with a multi-queue TAP, else one. The PMD never changes the
//! interface's administrative state: bringing it up is the operator's job. Secondaries get
//! copies of the primary's queue fds over IPC (see [`fds`]). Needs root (CAP_NET_ADMIN) to
//! create an interface, and `/dev/net/tun`.

pub mod args;
pub mod control;
pub mod errors;
pub mod fds;
pub mod link;
pub mod netlink;
pub mod nlsock;
pub mod rxtx;
pub mod shared;
pub mod tun;

use args::{fmt_mac, TapArgs};
use control::{Parts, TapControl};
use ethdev::{Control, DataPath, EthError, Pmd, PortConf, PortCtx, Probed, VdevArgs};
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Most queues opened on a multi-queue TAP.
pub const MAX_TAP_QUEUES: usize = 4;

/// The TAP driver.
pub struct TapPmd;

fn dev_err(ctx: &PortCtx, msg: String) -> EthError {
    EthError::Device { port: ctx.port, msg }
}

/// Opens the queues of `iface`: a multi-queue TAP with [`MAX_TAP_QUEUES`] queues when the
/// interface allows it (an existing single-queue TAP refuses), else one queue.
fn open_queues(ctx: &PortCtx, iface: &str) -> Result<(Vec<File>, String, bool), EthError> {
    let (first, name, multi) = match tun::open_queue(iface, true) {
        Ok((f, n)) => (f, n, true),
        Err((tun::OpenStep::SetIff, e)) if e.raw_os_error() == Some(libc::EINVAL) => tun::open_queue(iface, false)
            .map(|(f, n)| (f, n, false))
            .map_err(|(step, e)| dev_err(ctx, errors::open_error(iface, step, &e)))?,
        Err((step, e)) => return Err(dev_err(ctx, errors::open_error(iface, step, &e))),
    };
    let mut queues = vec![first];
    if multi {
        while queues.len() < MAX_TAP_QUEUES {
            match tun::open_queue(&name, true) {
                Ok((f, _)) => queues.push(f),
                Err((step, e)) => {
                    tracing::warn!(iface = %name, "only {} TAP queues: {}", queues.len(), errors::open_error(&name, step, &e));
                    break;
                }
            }
        }
    }
    Ok((queues, name, multi))
}

impl Pmd for TapPmd {
    fn name(&self) -> &'static str {
        "net_tap"
    }

    fn probe_vdev(&self, ctx: &PortCtx, args: &VdevArgs) -> Result<Probed, EthError> {
        let a = TapArgs::parse(args)?;
        let (queues, iface, multi_queue) = open_queues(ctx, &a.iface)?;
        let nb = queues.len();
        let ifctl = tun::IfCtl::open().map_err(|e| dev_err(ctx, format!("cannot open a control socket: {e}")))?;
        let io = |what: &str, e: std::io::Error| dev_err(ctx, format!("TAP interface '{iface}': {what}: {e}"));
        let ifindex = ifctl.ifindex(&iface).map_err(|e| io("SIOCGIFINDEX", e))?;
        let mac = a.mac_for(ctx.port);
        ifctl.set_mac(&iface, mac).map_err(|e| io("SIOCSIFHWADDR", e))?;
        let mtu = ifctl.mtu(&iface).map_err(|e| io("SIOCGIFMTU", e))?;
        let st = shared::state(ctx.slot);
        st.ifindex.store(ifindex as u32, Ordering::Relaxed);
        st.nb_queues.store(nb as u32, Ordering::Relaxed);
        if !st.ifname.set(&iface) {
            return Err(dev_err(ctx, format!("TAP interface name '{iface}' is longer than IFNAMSIZ - 1")));
        }
        ctx.slot.set_mac(mac);
        ctx.slot.mtu.store(mtu, Ordering::Relaxed);
        let queues = Arc::new(queues);
        let link = link::LinkReporter::new(ctx.clone(), iface.clone())
            .map_err(|e| dev_err(ctx, format!("cannot open a control socket: {e}")))?;
        let watcher = netlink::LinkWatcher::start(ifindex, link::Sink(link.clone()))
            .map_err(|e| io("cannot start the netlink link watcher", e))?;
        let server = fds::FdServer::start(&ctx.mem, ctx.slot, ctx.port, queues.clone())
            .map_err(|m| dev_err(ctx, format!("TAP interface '{iface}': {m}")))?;
        let control = TapControl::new(Parts {
            ctx: ctx.clone(),
            iface: iface.clone(),
            queues: queues.clone(),
            multi_queue,
            link,
            watcher,
            server,
        })
        .map_err(|e| dev_err(ctx, format!("cannot open a control socket: {e}")))?;
        // One queue receives until the application configures more.
        control.configure(&PortConf { nb_rxq: 1, nb_txq: 1, ..Default::default() })?;
        tracing::info!(port = ctx.port, %iface, ifindex, queues = nb, mac = %fmt_mac(mac), "TAP port probed");
        let data: Arc<dyn DataPath> = Arc::new(rxtx::TapData::new(ctx.slot, ctx.port, queues));
        Ok(Probed { control: Box::new(control), data })
    }

    fn attach(&self, ctx: &PortCtx) -> Result<Arc<dyn DataPath>, EthError> {
        let nb = shared::state(ctx.slot).nb_queues.load(Ordering::Relaxed) as usize;
        let primary = ctx.mem.config().primary_pid.load(Ordering::Relaxed);
        let queues = fds::fetch(ctx.slot, primary, ctx.port, nb).map_err(|m| {
            dev_err(ctx, format!("TAP interface '{}': cannot get the queue fds from the primary: {m}", iface_of(ctx)))
        })?;
        tracing::info!(port = ctx.port, iface = %iface_of(ctx), queues = nb, "TAP queue fds received from the primary");
        Ok(Arc::new(rxtx::TapData::new(ctx.slot, ctx.port, Arc::new(queues))))
    }
}

/// The interface name recorded in the slot of a TAP port.
pub fn iface_of(ctx: &PortCtx) -> String {
    shared::state(ctx.slot).ifname.get()
}
