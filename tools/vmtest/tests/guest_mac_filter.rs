//! The multicast list and secondary unicast addresses on every PCI model QEMU has (e1000,
//! e1000e, igb, virtio-net), fed by a packet socket in a host network namespace behind the
//! TAP backend of the guest's port 0. One guest boot per model; testpmd in the guest runs
//! io forwarding with promiscuous and all-multicast modes off, in four phases, each ended
//! by the host toggling the guest's control link:
//!
//! 1. nothing added: of the frames to the port's own address, to group 01:00:5E:01:02:03
//!    and to the unicast address 02:00:00:00:00:77, only the first kind arrives;
//! 2. after `mcast_addr add 0 01:00:5E:01:02:03` and `mac_addr add 0 02:00:00:00:00:77`,
//!    then `port stop 0` and `port start 0` (the driver programs the port's lists again at
//!    start; virtio's reset empties the device's table): all three kinds arrive;
//! 3. after `mcast_addr remove` and `mac_addr remove` of both: only the first kind again;
//! 4. after `set allmulti 0 on`: the port's own and the group's frames (every group passes),
//!    not the unlisted unicast address.
//!
//! Counted exactly by testpmd's forward statistics of port 0. The same run checks testpmd's
//! errors for a unicast address given to `mcast_addr`, a group address given to
//! `mac_addr` and removing the port's own address, and the limits `show port info` lists.
//! Builds nothing itself; build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p examples --bin testpmd
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

use common::netns::{filter_frame, mac_in, send_raw, Namespaces, FILTER_N, MCAST_MAC};
use common::testpmd_script::{port0_rx_per_stop, script_output, send_cmds, wait_carrier, wait_count, CONTROL_LINK_UP};
use common::{guest_bin, CONSOLE_WAIT};
use std::time::Duration;
use vmtest::{GuestConfig, Nic, NicModel};

const MAC_0: &str = "52:54:00:00:60:00";
const MAC_1: &str = "52:54:00:00:60:01";
/// The secondary unicast address the test adds.
const EXTRA: [u8; 6] = [0x02, 0, 0, 0, 0, 0x77];

/// The guest script: the four phases of the module documentation, each announced with
/// `MAC_READY phase=N` once forwarding runs.
fn script() -> String {
    let send = send_cmds;
    let count = |pat: &str, n: u32| wait_count("/tmp/tp4.log", pat, n);
    // The e1000 model holds received frames back for 1 s after an RCTL write (FACTS.md):
    // each phase lets that pass before the host sends.
    format!(
        "{CONTROL_LINK_UP}rm -f /tmp/c4; mkfifo /tmp/c4; \
testpmd -l 0-1 -m 64 --file-prefix macf -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- -i --rxd 256 --txd 256 \
< /tmp/c4 > /tmp/tp4.log 2>&1 & P=$!; exec 3>/tmp/c4; {prompt}\
{s1}{fwd1}sleep 1.5; echo MAC_READY phase=1; {down}echo stop >&3; {done1}\
{s2}{fwd2}sleep 1.5; echo MAC_READY phase=2; {up}echo stop >&3; {done2}\
{s3}{fwd3}sleep 1.5; echo MAC_READY phase=3; {down}echo stop >&3; {done3}\
{s4}{fwd4}sleep 1.5; echo MAC_READY phase=4; {up}echo stop >&3; {done4}\
echo quit >&3; exec 3>&-; wait $P; r=$?; cat /tmp/tp4.log; echo \"testpmd exit code $r\"; [ $r -eq 0 ]",
        prompt = "i=0; while ! grep -q 'testpmd> ' /tmp/tp4.log && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; ",
        s1 = send(&["set promisc all off", "set allmulti all off", "start"]),
        fwd1 = count("io packet forwarding", 1),
        down = wait_carrier(0),
        done1 = count("^Done.", 1),
        s2 = send(&[
            "mcast_addr add 0 01:00:5E:01:02:03",
            "mcast_addr add 0 01:00:5E:01:02:03",
            "mac_addr add 0 02:00:00:00:00:77",
            "mcast_addr add 0 02:00:00:00:00:78",
            "mac_addr add 0 01:00:5E:01:02:04",
            "mac_addr add 0 zz:00:00:00:00:01",
            "show port info 0",
            "show port 0 mcast_macs",
            "port stop 0",
            "port start 0",
            "start"
        ]),
        fwd2 = count("io packet forwarding", 2),
        up = wait_carrier(1),
        done2 = count("^Done.", 2),
        s3 = send(&[
            "mcast_addr remove 0 01:00:5E:01:02:03",
            "mac_addr remove 0 02:00:00:00:00:77",
            &format!("mac_addr remove 0 {MAC_0}"),
            "show port 0 macs",
            "start"
        ]),
        fwd3 = count("io packet forwarding", 3),
        done3 = count("^Done.", 3),
        s4 = send(&["set allmulti 0 on", "start"]),
        fwd4 = count("io packet forwarding", 4),
        done4 = count("^Done.", 4),
    )
}

/// One boot with two NICs of `model` (port 0 fed by the host), the four phases, and the
/// checks of the module documentation; `max_macs` is what `show port info` must list.
fn mac_filter_run(model: NicModel, tag: &str, max_macs: u16, max_mc: u16) {
    let id = std::process::id() % 100_000;
    let taps = [format!("m{tag}{id}a"), format!("m{tag}{id}b")];
    let vnet = |nic: Nic| match model {
        NicModel::E1000 | NicModel::E1000e | NicModel::Igb => nic.no_vnet_hdr(),
        _ => nic,
    };
    let cfg = GuestConfig { net_modules: true, ..GuestConfig::default() }
        .binary(guest_bin("testpmd"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(300))
        .nic(Nic { slot: 3, ..vnet(Nic::new(model, "n1").mac(MAC_0).tap(&taps[0], 1)) })
        .nic(Nic { slot: 5, ..vnet(Nic::new(model, "n2").mac(MAC_1).tap(&taps[1], 1)) })
        .nic(Nic { slot: 4, ..Nic::new(NicModel::VirtioTransitional, "ctl") })
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(script());
    let guest = vmtest::Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let ns = Namespaces::new(&format!("mf{tag}"), [&taps[0], &taps[1]]);
    let a_mac = mac_in(&ns.names[0], &taps[0]);
    let own = common::mac(MAC_0);
    let mut errors = Vec::new();
    for (phase, up) in [(1, false), (2, true), (3, false), (4, true)] {
        if let Err(e) = guest.wait_for_console(&format!("MAC_READY phase={phase}"), CONSOLE_WAIT) {
            errors.push(e.to_string());
            break;
        }
        let mut frames = Vec::new();
        for s in 0..FILTER_N {
            frames.push(filter_frame(own, a_mac, None, s));
            frames.push(filter_frame(MCAST_MAC, a_mac, None, s | 1 << 24));
            frames.push(filter_frame(EXTRA, a_mac, None, s | 2 << 24));
        }
        send_raw(&ns, &taps[0], frames);
        std::thread::sleep(Duration::from_secs(2));
        guest.monitor().and_then(|mut m| m.set_link("ctl", up)).unwrap_or_else(|e| panic!("{e}"));
    }
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    drop(ns);
    let out = &script_output(&o, &errors);
    for want in [
        "multicast address 01:00:5E:01:02:03 already filtered by port 0",
        "02:00:00:00:00:78 is a unicast address",
        "01:00:5E:01:02:04 is a multicast address",
        "bad MAC address 'zz:00:00:00:00:01'",
        "52:54:00:00:60:00 is the port's own address (index 0)",
        &format!("Maximum number of MAC addresses: {max_macs}\n"),
        &format!("Maximum number of multicast addresses: {max_mc}\n"),
        "Number of MAC addresses: 2 (own + 1 added)",
        "Number of multicast addresses: 1",
        "Number of multicast MAC address added: 1\n  01:00:5E:01:02:03",
        "Number of MAC address added: 1\n  52:54:00:00:60:00",
    ] {
        assert!(out.contains(want), "testpmd printed no {want:?}: {out}");
    }
    assert!(!out.contains("panicked"), "{out}");
    let stats = port0_rx_per_stop(out);
    let n = u64::from(FILTER_N);
    assert_eq!(
        stats,
        vec![n, 3 * n, n, 2 * n],
        "port 0 RX: own address only, then + group + secondary address, then own only again, \
         then own + group with all-multicast: {out}"
    );
}

#[test]
fn e1000_receives_a_group_and_a_secondary_address_only_while_added() {
    if common::qemu_available_or_skip("e1000_receives_a_group_and_a_secondary_address_only_while_added") {
        mac_filter_run(NicModel::E1000, "a", 16, 128);
    }
}

#[test]
fn e1000e_receives_a_group_and_a_secondary_address_only_while_added() {
    if common::qemu_available_or_skip("e1000e_receives_a_group_and_a_secondary_address_only_while_added") {
        mac_filter_run(NicModel::E1000e, "e", 15, 128);
    }
}

#[test]
fn igb_receives_a_group_and_a_secondary_address_only_while_added() {
    if common::qemu_available_or_skip("igb_receives_a_group_and_a_secondary_address_only_while_added") {
        mac_filter_run(NicModel::Igb, "i", 24, 128);
    }
}

#[test]
fn virtio_receives_a_group_and_a_secondary_address_only_while_added() {
    if common::qemu_available_or_skip("virtio_receives_a_group_and_a_secondary_address_only_while_added") {
        mac_filter_run(NicModel::VirtioModern, "v", 32, 32);
    }
}
