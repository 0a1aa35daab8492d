//! Exercises the ethdev API in a real process: `ethdev_worker <EAL args> -- SCENARIO`.
//!
//! - `api`: every misuse of the control and data path API gives the documented error;
//!   prints `CHECK <name> ok` or `CHECK <name> FAILED: ...`, then waits for stdin EOF with
//!   the port started, then checks the port still works (`AFTER ok`).
//! - `secondary`: attaches, checks it cannot control the port, receives and sends a burst.

use eal::mbuf::OlFlags;
use eal::{Eal, Mbuf, PktMbufPool};
use ethdev::{BurstError, Dir, EthError, Ethdev, PortConf, TxOffloads, TxReject};
use std::io::Read;

fn check(name: &str, ok: bool, detail: impl std::fmt::Debug) {
    if ok {
        println!("CHECK {name} ok");
    } else {
        println!("CHECK {name} FAILED: {detail:?}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let eal = tests::worker_eal(&args);
    let eth = match Ethdev::init(&eal, &drivers::all()) {
        Ok(e) => e,
        Err(e) => {
            println!("ERROR: {e}");
            std::process::exit(2);
        }
    };
    match eal.app_args().get(1).map(String::as_str) {
        Some("api") => api(&eal, &eth),
        Some("secondary") => secondary(&eth),
        other => println!("ERROR: unknown scenario {other:?}"),
    }
}

fn api(eal: &Eal, eth: &Ethdev) {
    let pool = PktMbufPool::create(&eal.memory(), "api_pool", 2047, 32, eal::mbuf::DEFAULT_BUF_SIZE).expect("pool");
    check("no_such_port", matches!(eth.port(9), Err(EthError::NoSuchPort(9))), eth.port(9).err());
    let port = eth.port(0).expect("port 0").clone();
    let c = eth.control(0).expect("control");
    let mut bufs: Vec<Mbuf> = Vec::new();
    check(
        "burst_before_start",
        port.rx_burst(0, &mut bufs, 32) == Err(BurstError::NotStarted(0)),
        port.rx_burst(0, &mut bufs, 32),
    );
    let r = c.rx_queue_setup(0, 512, pool);
    check("queue_setup_before_configure", matches!(&r, Err(EthError::BadState { .. })), &r);
    let r = c.configure(&PortConf { nb_rxq: 0, nb_txq: 1, ..Default::default() });
    check("zero_queues", matches!(&r, Err(EthError::Unsupported { .. })), &r);
    let r = c.configure(&PortConf { nb_rxq: 17, nb_txq: 1, ..Default::default() });
    check("too_many_queues", matches!(&r, Err(EthError::Unsupported { .. })), &r);
    let r = c.configure(&PortConf { tx_offloads: TxOffloads::TCP_TSO, ..Default::default() });
    let named = |r: &Result<(), EthError>, what: &str| r.as_ref().is_err_and(|e| e.to_string().contains(what));
    check("unsupported_offload", named(&r, "TX offload TCP_TSO is not supported by net_null (it has: MULTI_SEGS)"), &r);
    let r = c.configure(&PortConf { mtu: Some(65000), ..Default::default() });
    check("mtu_over_the_maximum", named(&r, "MTU 65000: must be 68..="), &r);
    // MTU 9000 is within net_null's maximum, but its frames do not fit the pool's 2 KiB
    // mbufs and the port has no SCATTER: the queue setup says so and names the fixes.
    let r = c.configure(&PortConf { mtu: Some(9000), ..Default::default() });
    check("jumbo_mtu_configures", r.is_ok() && port.mtu() == 9000, &r);
    let r = c.rx_queue_setup(0, 512, pool);
    let fixes = ["MTU 9000 means frames of up to 9018 bytes", "RxOffloads::SCATTER", "--mbuf-size", "'api_pool'"];
    check("jumbo_mtu_needs_scatter_or_big_mbufs", fixes.iter().all(|w| named(&r, w)), &r);
    check("mtu_back_to_1500", c.configure(&PortConf { mtu: Some(1500), ..Default::default() }).is_ok(), ());
    check("configure", c.configure(&PortConf { nb_rxq: 2, nb_txq: 2, ..Default::default() }).is_ok(), ());
    let r = c.start();
    check("start_without_queues", matches!(&r, Err(EthError::BadState { .. })), &r);
    let r = c.rx_queue_setup(2, 512, pool);
    check("queue_out_of_range", matches!(&r, Err(EthError::QueueOutOfRange { queue: 2, nb: 2, .. })), &r);
    let r = c.tx_queue_setup(0, 0);
    check("zero_descriptors", matches!(&r, Err(EthError::Unsupported { .. })), &r);
    for q in 0..2 {
        c.rx_queue_setup(q, 512, pool).expect("rx setup");
        c.tx_queue_setup(q, 512).expect("tx setup");
    }
    check("start", c.start().is_ok(), ());
    check("link_up_after_start", port.link().0.up, port.link());
    rx_intr_unsupported(&port, "rx_intr");
    check(
        "bad_queue_burst",
        port.rx_burst(5, &mut bufs, 32) == Err(BurstError::BadQueue { port: 0, queue: 5, nb: 2 }),
        (),
    );
    let n = port.rx_burst(1, &mut bufs, 32).unwrap_or(0);
    check("rx_burst", n == 32 && bufs.len() == 32, n);
    let sent = port.tx_burst(0, &mut bufs).unwrap_or(0);
    check("tx_burst", sent == 32 && bufs.is_empty(), sent);
    let mut two = pool.alloc().expect("mbuf");
    two.append(60).expect("room");
    let mut seg = pool.alloc().expect("mbuf");
    seg.append(60).expect("room");
    two.chain(seg);
    let mut tso = pool.alloc().expect("mbuf");
    tso.append(60).expect("room");
    tso.set_ol_flags(OlFlags::TX_TCP_SEG);
    let prep = vec![pool.alloc().expect("mbuf"), two, tso];
    let r = port.tx_prepare(&prep);
    check(
        "tx_prepare_refuses_a_chain_without_multi_segs",
        r.as_ref()
            .is_err_and(|e| e.index == 1 && matches!(e.reason, TxReject::TooManySegments { segs: 2, max: 1, .. })),
        &r,
    );
    let r = port.tx_prepare(&prep[2..]);
    check(
        "tx_prepare_refuses_an_offload_not_configured",
        r.as_ref().is_err_and(|e| e.reason == TxReject::OffloadOff("TCP_TSO")),
        &r,
    );
    drop(prep);
    let s = c.stats_get();
    check("stats", s.ipackets == 32 && s.opackets == 32 && s.q_ipackets == vec![0, 32] && s.ibytes == 32 * 64, &s);
    check("rx_queue_stop", c.rx_queue_stop(1).is_ok() && port.queue_stopped(Dir::Rx, 1), ());
    let r = port.rx_burst(1, &mut bufs, 8);
    check("burst_on_stopped_queue", r == Err(BurstError::QueueStopped { port: 0, queue: 1 }), r);
    let r = port.rx_burst(0, &mut bufs, 8);
    check("other_queue_runs", r == Ok(8), r);
    let r = c.tx_queue_stop(2);
    check("queue_stop_out_of_range", matches!(&r, Err(EthError::QueueOutOfRange { queue: 2, .. })), &r);
    let ok = c.rx_queue_start(1).is_ok() && port.rx_burst(1, &mut bufs, 8) == Ok(8);
    check("rx_queue_start", ok && !port.queue_stopped(Dir::Rx, 1), ());
    let sent = port.tx_burst(0, &mut bufs).unwrap_or(0);
    check("tx_after_queue_restart", sent == 16 && bufs.is_empty(), sent);
    let r = c.configure(&PortConf::default());
    check("configure_while_started", matches!(&r, Err(EthError::BadState { .. })), &r);
    let r = c.set_mtu(10);
    check("bad_mtu", matches!(&r, Err(EthError::Unsupported { .. })), &r);
    let r = c.set_mtu(9000);
    let refused = r.as_ref().is_err_and(|e| e.to_string().contains("RxOffloads::SCATTER"));
    check("set_mtu_checks_the_queues_pools", refused && port.mtu() == 1500, &r);
    let r = c.set_mac([1, 0, 0, 0, 0, 1]);
    check("multicast_mac", matches!(&r, Err(EthError::Unsupported { .. })), &r);
    check("mac_set", c.set_mac([2, 0, 0, 0, 0, 0x42]).is_ok() && port.mac() == [2, 0, 0, 0, 0, 0x42], port.mac());
    let r = c.vlan_filter(100, true);
    check("vlan_filter_on_a_driver_without_it", named(&r, "VLAN filter: net_null has no VLAN filter"), &r);
    let r = c.vlan_filter(4096, true);
    check("vlan_id_out_of_range", named(&r, "VLAN id 4096: VLAN ids are 0-4095"), &r);
    let r = c.set_allmulticast(true);
    check("allmulticast_unsupported", named(&r, "all-multicast mode is not supported by net_null"), &r);
    check("allmulticast_unchanged", !c.allmulticast(), ());
    let r = c.set_vlan_strip(true);
    let unchanged = !port.rx_offloads().contains(ethdev::RxOffloads::VLAN_STRIP);
    check("vlan_strip_on_a_driver_without_it", named(&r, "net_null has no VLAN_STRIP") && unchanged, &r);
    mac_lists(&c);
    c.stats_reset();
    check("stats_reset", c.stats_get().ipackets == 0, ());
    println!("READY");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    // A secondary has come and gone: the port must still be started and working.
    let n = port.rx_burst(0, &mut bufs, 8).unwrap_or(0);
    let ok = c.is_started() && n == 8 && port.tx_burst(1, &mut bufs) == Ok(8);
    println!("AFTER {}", if ok { "ok" } else { "FAILED" });
    c.stop().expect("stop");
    check("burst_after_stop", port.rx_burst(0, &mut bufs, 8) == Err(BurstError::NotStarted(0)), ());
    eal::mbuf::free_bulk(&mut bufs);
    pool.mempool().flush_cache();
    check("pool_full", pool.mempool().is_full(), pool.mempool().in_use_count());
}

/// A port without RX interrupts (net_null) refuses them with "not supported", in the
/// calls and in the waiter, and a bad queue is named.
fn rx_intr_unsupported(port: &ethdev::Port, name: &str) {
    let unsupported = |r: &Result<(), EthError>| matches!(r, Err(e @ EthError::Unsupported { port: 0, .. }) if e.to_string().contains("not supported"));
    let r = port.rx_intr_enable(0);
    check(&format!("{name}_enable_unsupported"), unsupported(&r), &r);
    let r = port.rx_intr_disable(1);
    check(&format!("{name}_disable_unsupported"), unsupported(&r), &r);
    let r = port.rx_intr_enable(7);
    check(
        &format!("{name}_bad_queue"),
        matches!(r, Err(EthError::QueueOutOfRange { port: 0, queue: 7, nb: 2, .. })),
        &r,
    );
    let r = ethdev::RxInterruptWaiter::new().and_then(|mut w| w.add(port, 0).map(|()| w.queues().len()));
    check(&format!("{name}_waiter_unsupported"), matches!(&r, Err(EthError::Unsupported { port: 0, .. })), &r);
}

/// The multicast list and secondary unicast addresses on net_null (a virtual port keeps
/// them): each argument check names the problem; what was accepted reads back (and the
/// secondary sees it, see [`secondary`]).
fn mac_lists(c: &ethdev::PortControl) {
    let named = |r: &Result<(), EthError>, what: &str| r.as_ref().is_err_and(|e| e.to_string().contains(what));
    let g: ethdev::MacAddr = [1, 0, 0x5e, 1, 2, 3];
    let a: ethdev::MacAddr = [2, 0, 0, 0, 0, 0x77];
    let info = c.info();
    check(
        "mac_limits_reported",
        info.max_mac_addrs == 128 && info.max_mc_addrs == 128,
        (info.max_mac_addrs, info.max_mc_addrs),
    );
    let r = c.set_mc_addr_list(&[g, a]);
    check("mc_list_refuses_a_unicast_address", named(&r, "02:00:00:00:00:77 is a unicast address"), &r);
    let r = c.set_mc_addr_list(&[g, g]);
    check("mc_list_refuses_a_duplicate", named(&r, "01:00:5E:01:02:03 is already in the list"), &r);
    let long: Vec<ethdev::MacAddr> = (0..129u16).map(|i| [1, 0, 0x5e, 0, (i >> 8) as u8, i as u8]).collect();
    let r = c.set_mc_addr_list(&long);
    check("mc_list_over_the_limit", named(&r, "multicast list: 129 addresses, the device holds at most 128"), &r);
    check("mc_list_unchanged_after_errors", c.mac_lists().multicast.is_empty(), c.mac_lists());
    let r = c.set_mc_addr_list(&long[..128]);
    check("mc_list_at_the_limit", r.is_ok() && c.mac_lists().multicast.len() == 128, &r);
    let r = c.set_mc_addr_list(&[]);
    check("mc_list_cleared", r.is_ok() && c.mac_lists().multicast.is_empty(), &r);
    let r = c.mac_addr_add(g);
    check("mac_add_refuses_a_multicast_address", named(&r, "01:00:5E:01:02:03 is a multicast address"), &r);
    let r = c.mac_addr_add([0; 6]);
    check("mac_add_refuses_zero", named(&r, "00:00:00:00:00:00 is not an address"), &r);
    let r = c.mac_addr_add(c.mac());
    check("mac_add_refuses_the_own_address", named(&r, "is already the port's own address"), &r);
    let r = c.mac_addr_add(a);
    check("mac_add", r.is_ok() && c.mac_lists().unicast == vec![a], &r);
    let r = c.mac_addr_add(a);
    check("mac_add_refuses_a_duplicate", named(&r, "02:00:00:00:00:77 is already one of the port's addresses"), &r);
    let r = c.mac_addr_remove(c.mac());
    check("mac_remove_refuses_the_own_address", named(&r, "is the port's own address (index 0)"), &r);
    let r = c.mac_addr_remove([2, 0, 0, 0, 0, 0x78]);
    check(
        "mac_remove_refuses_an_absent_address",
        named(&r, "02:00:00:00:00:78 is not one of the port's secondary addresses"),
        &r,
    );
    let b: ethdev::MacAddr = [2, 0, 0, 0, 0, 0x79];
    let r = c.mac_addr_add(b).and_then(|()| c.mac_addr_remove(a));
    check("mac_remove", r.is_ok() && c.mac_lists().unicast == vec![b], &r);
    // Left for the secondary to read: one secondary address and one group.
    let r = c.set_mc_addr_list(&[g]);
    check("mc_list_set", r.is_ok() && c.mac_lists().multicast == vec![g], &r);
}

fn secondary(eth: &Ethdev) {
    check("secondary_cannot_control", matches!(eth.control(0), Err(EthError::PrimaryOnly(_))), ());
    let port = eth.port(0).expect("port 0");
    check("secondary_sees_link", port.link().0.up, port.link());
    let r = port.rx_intr_enable(1);
    check("secondary_rx_intr_unsupported", matches!(&r, Err(EthError::Unsupported { port: 0, .. })), &r);
    let mut bufs = Vec::new();
    let n = port.rx_burst(1, &mut bufs, 16).unwrap_or(0);
    let sent = port.tx_burst(1, &mut bufs).unwrap_or(0);
    check("secondary_bursts", n == 16 && sent == 16, (n, sent));
    check("secondary_sees_stats", port.stats().q_ipackets[1] >= 16, port.stats());
    let l = port.mac_lists();
    let want = ethdev::MacLists { unicast: vec![[2, 0, 0, 0, 0, 0x79]], multicast: vec![[1, 0, 0x5e, 1, 2, 3]] };
    check("secondary_sees_mac_lists", l == want, l);
}
