//! Checks the harness itself in one boot, without any Bypass code in the
//! guest: exit codes, hugepages, NIC addresses, a host peer exchanging
//! frames with the kernel's virtio-net driver, and link changes from the
//! QEMU monitor.

mod common;

use std::time::Duration;
use vmtest::{Guest, GuestConfig, Nic, NicModel};

const MAC: &str = "52:54:00:ab:cd:01";
const WAIT: Duration = Duration::from_secs(60);

/// Shell that waits (up to ~20 s) until `cond` holds, then prints `mark`.
fn wait_then(cond: &str, mark: &str) -> String {
    format!("i=0; until {cond}; do i=$((i+1)); [ $i -gt 200 ] && exit 9; sleep 0.1; done; echo {mark}")
}

#[test]
fn harness_runs_commands_and_wires_peer_and_monitor() {
    if !common::qemu_available_or_skip("harness_runs_commands_and_wires_peer_and_monitor") {
        return;
    }
    let nic_cmds = [
        "dev=$(basename /sys/bus/pci/devices/$VMTEST_NIC_s0/virtio*/net/*)".to_string(),
        "ip link set $dev up".to_string(),
        "ip addr add 169.254.77.1/16 dev $dev".to_string(),
        "echo PEER-READY".to_string(),
        "arping -c 2 -w 4 -I $dev 169.254.77.2 >/dev/null 2>&1".to_string(),
        wait_then("[ $(cat /sys/class/net/$dev/statistics/rx_packets) -gt 0 ]", "RX-OK"),
        wait_then("[ $(cat /sys/class/net/$dev/carrier) = 0 ]", "LINK-DOWN-SEEN"),
        wait_then("[ $(cat /sys/class/net/$dev/carrier) = 1 ]", "LINK-UP-SEEN"),
    ];
    let mut cfg = GuestConfig::default()
        .nic(Nic::new(NicModel::VirtioModern, "s0").mac(MAC).stream())
        .nic(Nic::new(NicModel::E1000, "h1"))
        .command("echo hello from the guest; exit 3")
        .command("grep HugePages_Total /proc/meminfo; grep -c hugetlbfs /proc/mounts; ls /dev/vfio")
        .command("echo $VMTEST_NIC_s0 $VMTEST_NIC_h1")
        .command(nic_cmds.join("\n"))
        .timeout(Duration::from_secs(240));
    cfg.net_modules = true;
    cfg.hugepages = 32;

    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut peer = guest.peer("s0").unwrap_or_else(|e| panic!("{e}"));
    let mut mon = guest.monitor().unwrap_or_else(|e| panic!("{e}"));
    guest.wait_for_console("PEER-READY", WAIT).unwrap_or_else(|e| panic!("{e}"));

    // Guest → host: an ARP request from the guest's MAC.
    let arp = peer
        .recv_matching(Duration::from_secs(20), |f| f.len() >= 14 && f[12..14] == [0x08, 0x06])
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no ARP frame from the guest"));
    let src: Vec<String> = arp[6..12].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(src.join(":"), MAC);

    // Host → guest: any frame to the guest's MAC raises rx_packets.
    let mut frame = vec![0x52, 0x54, 0x00, 0xab, 0xcd, 0x01, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5];
    frame.resize(60, 0x5a);
    peer.send(&frame).unwrap_or_else(|e| panic!("{e}"));
    guest.wait_for_console("RX-OK", WAIT).unwrap_or_else(|e| panic!("{e}"));

    // Link down and up from the monitor.
    mon.set_link("s0", false).unwrap_or_else(|e| panic!("{e}"));
    guest.wait_for_console("LINK-DOWN-SEEN", WAIT).unwrap_or_else(|e| panic!("{e}"));
    mon.set_link("s0", true).unwrap_or_else(|e| panic!("{e}"));
    guest.wait_for_console("LINK-UP-SEEN", WAIT).unwrap_or_else(|e| panic!("{e}"));
    let err = mon.set_link("nosuch", false).unwrap_err();
    assert!(err.to_string().contains("set_link nosuch off"), "{err}");

    let outcome = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.setup_failures.is_empty(), "{:?}", outcome.setup_failures);
    let r = &outcome.results;
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].output, "hello from the guest\n");
    assert_eq!(r[0].exit_code, Some(3));
    assert_eq!(r[1].exit_code, Some(0), "{}", r[1].output);
    assert!(r[1].output.contains("HugePages_Total:      32"), "{}", r[1].output);
    assert!(r[1].output.contains("\n1\n"), "hugetlbfs mounted once: {}", r[1].output);
    assert!(r[1].output.contains("vfio"), "/dev/vfio/vfio exists: {}", r[1].output);
    assert_eq!(r[2].output, "0000:00:03.0 0000:00:04.0\n");
    assert_eq!(r[3].exit_code, Some(0), "{}", r[3].output);
    assert!(r[3].output.contains("LINK-UP-SEEN"), "{}", r[3].output);
}
