//! ethdev's telemetry commands, in DPDK 22.11's shapes: `/ethdev/list`, `/ethdev/info,<port>`,
//! `/ethdev/stats,<port>`, `/ethdev/xstats,<port>` and `/ethdev/link_status,<port>`. They read
//! the shared port table, so they answer the same in every process.

use crate::device_xstats::append_unique;
use crate::port_table::{PortSlot, PortState, PortTable};
use crate::stats::{generic_xstats, queue_arrays};
use crate::stats_refresh::StatsRefresh;
use eal::telemetry::serde_json::{json, Map, Value};
use eal::telemetry::{parse_id_param, register_or_replace, unregister};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The commands the port layer registers (in every process, at `Ethdev::init`).
pub const COMMANDS: &[&str] =
    &["/ethdev/list", "/ethdev/info", "/ethdev/stats", "/ethdev/xstats", "/ethdev/link_status"];

/// True for a port that DPDK would list (attached: probed and not closed).
fn listed(s: &PortSlot) -> bool {
    s.in_use.load(Ordering::Acquire) == 1 && !matches!(s.state(), PortState::Unused | PortState::Closed)
}

fn port(table: PortTable, params: Option<&str>) -> Result<(u16, &'static PortSlot), String> {
    let id = parse_id_param(params)?;
    let id = u16::try_from(id).map_err(|_| format!("no port {id}"))?;
    let s = table.slot(id).filter(|s| listed(s)).ok_or_else(|| format!("no port {id}"))?;
    Ok((id, s))
}

fn queues(s: &PortSlot) -> (usize, usize) {
    (s.nb_rxq.load(Ordering::Relaxed) as usize, s.nb_txq.load(Ordering::Relaxed) as usize)
}

fn stats(s: &PortSlot) -> Value {
    let (nr, nt) = queues(s);
    let st = s.counters.snapshot(nr, nt);
    let mut m = Map::new();
    for (k, v) in [
        ("ipackets", st.ipackets),
        ("opackets", st.opackets),
        ("ibytes", st.ibytes),
        ("obytes", st.obytes),
        ("imissed", st.imissed),
        ("ierrors", st.ierrors),
        ("oerrors", st.oerrors),
        ("rx_nombuf", st.rx_nombuf),
    ] {
        m.insert(k.into(), v.into());
    }
    for (k, v) in queue_arrays(&s.counters, nr, nt) {
        m.insert(k.into(), v.into());
    }
    Value::Object(m)
}

fn info(id: u16, s: &PortSlot) -> Value {
    let (nr, nt) = queues(s);
    let started = s.state() == PortState::Started;
    let q_state = |n: usize, stopped: u32| -> Vec<u32> {
        (0..n).map(|q| u32::from(started && (q >= 32 || stopped & (1 << q) == 0))).collect()
    };
    let mac = s.mac().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
    json!({
        "name": s.name.get(),
        "state": 1,
        "nb_rx_queues": nr,
        "nb_tx_queues": nt,
        "port_id": id,
        "mtu": s.mtu.load(Ordering::Relaxed),
        "rx_mbuf_size_min": 0,
        "mac_addr": mac,
        "promiscuous": s.promisc.load(Ordering::Relaxed),
        "scattered_rx": 0,
        "all_multicast": 0,
        "dev_started": u32::from(started),
        "lro": 0,
        "dev_configured": u32::from(matches!(s.state(), PortState::Configured | PortState::Started)),
        "rxq_state": q_state(nr, s.rxq_stopped.load(Ordering::Relaxed)),
        "txq_state": q_state(nt, s.txq_stopped.load(Ordering::Relaxed)),
        "numa_node": 0,
        "dev_flags": 0,
        "rx_offloads": 0,
        "tx_offloads": 0,
        "ethdev_rss_hf": 0,
    })
}

fn link_status(s: &PortSlot) -> Value {
    let (l, _) = s.link.get();
    if !l.up {
        return json!({"status": "DOWN"});
    }
    json!({
        "status": "UP",
        "speed": l.speed_mbps,
        "duplex": if l.full_duplex { "full-duplex" } else { "half-duplex" },
    })
}

/// Registers the `/ethdev/*` commands over the group's port table.
///
/// In the primary (`refresh` given) `/ethdev/stats` and `/ethdev/xstats` read the device's
/// counters first, as DPDK's do; in a secondary they show what the primary last read.
pub(crate) fn register_commands(table: PortTable, refresh: Option<Arc<StatsRefresh>>) {
    let reg = |cmd: &str, help: &str, f: fn(PortTable, Option<&str>) -> Result<Value, String>| {
        if let Err(e) = register_or_replace(cmd, help, move |_, p| f(table, p)) {
            tracing::warn!("telemetry: {e}");
        }
    };
    // Reads the device counters of the port named by the parameters, then answers as `f`.
    let reg_fresh = |cmd: &str, help: &str, f: fn(PortTable, Option<&str>) -> Result<Value, String>| {
        let refresh = refresh.clone();
        let fresh = move |_: &str, p: Option<&str>| {
            if let (Some(r), Ok((id, _))) = (&refresh, port(table, p)) {
                // A virtual port has no device counters: nothing to refresh.
                let _ = r.refresh(id);
            }
            f(table, p)
        };
        if let Err(e) = register_or_replace(cmd, help, fresh) {
            tracing::warn!("telemetry: {e}");
        }
    };
    reg("/ethdev/list", "Returns list of available ethdev ports. Takes no parameters", |t, _| {
        Ok(Value::from(t.ports().into_iter().filter(|&i| t.slot(i).is_some_and(listed)).collect::<Vec<u16>>()))
    });
    reg_fresh("/ethdev/stats", "Returns the common stats for a port. Parameters: int port_id", |t, p| {
        port(t, p).map(|(_, s)| stats(s))
    });
    reg_fresh("/ethdev/xstats", "Returns the extended stats for a port. Parameters: int port_id", |t, p| {
        let (_, s) = port(t, p)?;
        let (nr, nt) = queues(s);
        let mut all = generic_xstats(&s.counters, nr, nt);
        append_unique(&mut all, s.device_xstats.read());
        Ok(Value::Object(all.into_iter().map(|(k, v)| (k, Value::from(v))).collect()))
    });
    reg("/ethdev/link_status", "Returns the link status for a port. Parameters: int port_id", |t, p| {
        port(t, p).map(|(_, s)| link_status(s))
    });
    reg("/ethdev/info", "Returns the device info for a port. Parameters: int port_id", |t, p| {
        port(t, p).map(|(id, s)| info(id, s))
    });
}

/// Removes the `/ethdev/*` commands.
pub fn unregister_commands() {
    for c in COMMANDS {
        unregister(c);
    }
}
