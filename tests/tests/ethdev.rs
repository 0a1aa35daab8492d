//! The ethdev API in real processes: misuse gives the documented errors (never a panic), a
//! secondary cannot control a port but can use its queues, and a secondary's exit leaves the
//! port working.

use std::time::Duration;
use tests::{prefix, Proc};

const W: &str = env!("CARGO_BIN_EXE_ethdev_worker");
const T: Duration = Duration::from_secs(30);

fn failures(out: &[String]) -> Vec<&String> {
    out.iter().filter(|l| l.contains("FAILED") || l.starts_with("ERROR")).collect()
}

#[test]
fn api_misuse_is_an_error_and_secondaries_cannot_control_ports() {
    let p = prefix("ethdev_api");
    let mut pri = Proc::spawn(W, &["--file-prefix", &p, "--no-huge", "-l", "0", "--vdev", "net_null0", "--", "api"]);
    pri.expect("READY", T);
    let (code, out) =
        Proc::spawn(W, &["--file-prefix", &p, "--no-huge", "-l", "1", "--proc-type", "secondary", "--", "secondary"])
            .finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(failures(&out).is_empty(), "{out:#?}");
    assert_eq!(out.iter().filter(|l| l.starts_with("CHECK") && l.ends_with(" ok")).count(), 6, "{out:#?}");
    assert!(out.iter().any(|l| l == "CHECK secondary_sees_mac_lists ok"), "{out:#?}");
    pri.close_stdin();
    let (code, out) = pri.finish(T);
    assert_eq!(code, Some(0), "{out:#?}");
    assert!(failures(&out).is_empty(), "{out:#?}");
    assert!(out.iter().any(|l| l == "AFTER ok"), "the port works after the secondary left: {out:#?}");
    for name in [
        "no_such_port",
        "burst_before_start",
        "queue_setup_before_configure",
        "zero_queues",
        "too_many_queues",
        "configure",
        "start_without_queues",
        "queue_out_of_range",
        "zero_descriptors",
        "unsupported_offload",
        "mtu_over_the_maximum",
        "jumbo_mtu_configures",
        "jumbo_mtu_needs_scatter_or_big_mbufs",
        "mtu_back_to_1500",
        "set_mtu_checks_the_queues_pools",
        "start",
        "link_up_after_start",
        "rx_intr_enable_unsupported",
        "rx_intr_disable_unsupported",
        "rx_intr_bad_queue",
        "rx_intr_waiter_unsupported",
        "bad_queue_burst",
        "rx_burst",
        "tx_burst",
        "tx_prepare_refuses_a_chain_without_multi_segs",
        "tx_prepare_refuses_an_offload_not_configured",
        "stats",
        "rx_queue_stop",
        "burst_on_stopped_queue",
        "other_queue_runs",
        "queue_stop_out_of_range",
        "rx_queue_start",
        "tx_after_queue_restart",
        "configure_while_started",
        "bad_mtu",
        "multicast_mac",
        "mac_set",
        "vlan_filter_on_a_driver_without_it",
        "vlan_id_out_of_range",
        "allmulticast_unsupported",
        "allmulticast_unchanged",
        "vlan_strip_on_a_driver_without_it",
        "mac_limits_reported",
        "mc_list_refuses_a_unicast_address",
        "mc_list_refuses_a_duplicate",
        "mc_list_over_the_limit",
        "mc_list_unchanged_after_errors",
        "mc_list_at_the_limit",
        "mc_list_cleared",
        "mac_add_refuses_a_multicast_address",
        "mac_add_refuses_zero",
        "mac_add_refuses_the_own_address",
        "mac_add",
        "mac_add_refuses_a_duplicate",
        "mac_remove_refuses_the_own_address",
        "mac_remove_refuses_an_absent_address",
        "mac_remove",
        "mc_list_set",
        "stats_reset",
        "burst_after_stop",
        "pool_full",
    ] {
        assert!(out.iter().any(|l| l == &format!("CHECK {name} ok")), "check {name} missing: {out:#?}");
    }
}
