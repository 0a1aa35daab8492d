//! Jumbo frames in the QEMU guest. The Intel PMDs: MTU 9000 on QEMU's e1000 (82540EM),
//! e1000e (82574L) and igb (82576), with `RxOffloads::SCATTER` and 2 KiB mbufs. For each,
//! 600 frames from the host peer of up to 9014 bytes (every seventh exactly that long, most
//! spanning several 2 KiB RX descriptors) arrive reassembled as mbuf chains and are checked
//! byte for byte in the guest, then 600 such frames sent as chains of 2 KiB mbufs arrive at
//! the peer as one frame each, checked byte for byte; the port's counters match. Each
//! model's maximum MTU is reported as DPDK's drivers give it. virtio-net (modern, with
//! `host_mtu=9000`): the same frames received over mergeable buffers as chains, and sent
//! from one big mbuf each (the virtio PMD sends no chains yet). Builds nothing itself;
//! build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p tests --bin guest_e1000 --bin guest_igb --bin guest_virtio
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

use common::{assert_ok, base_config, exchange_jumbo, mac};
use std::time::Duration;
use vmtest::{Guest, Nic, NicModel};

const N: u32 = 600;
const MTU: usize = 9000;

#[test]
fn mtu_9000_frames_cross_e1000_e1000e_and_igb_each_way_as_mbuf_chains() {
    if !common::qemu_available_or_skip("mtu_9000_frames_cross_e1000_e1000e_and_igb_each_way_as_mbuf_chains") {
        return;
    }
    let models = [
        ("e1000", "guest_e1000", "52:54:00:12:34:61", "0000:00:03.0", 16106),
        ("e1000e", "guest_e1000", "52:54:00:12:34:62", "0000:00:04.0", 9212),
        ("igb", "guest_igb", "52:54:00:12:34:63", "0000:00:05.0", 16361),
    ];
    let mut cfg = base_config("guest_e1000", Duration::from_secs(600))
        .binary(common::guest_bin("guest_igb"))
        .nic(Nic::new(NicModel::E1000, "n1").mac(models[0].2).stream())
        .nic(Nic::new(NicModel::E1000e, "n2").mac(models[1].2).stream())
        .nic(Nic::new(NicModel::Igb, "n3").mac(models[2].2).stream())
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2 $VMTEST_NIC_n3");
    for (i, (label, program, ..)) in models.iter().enumerate() {
        let nic = i + 1;
        cfg = cfg.command(format!(
            "{program} -l 0 -m 64 --file-prefix j{nic} -a $VMTEST_NIC_n{nic} -- jumbo {N} {MTU} {label}"
        ));
    }
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    for (i, (label, _, m, addr, _)) in models.iter().enumerate() {
        let mut peer = guest.peer(&format!("n{}", i + 1)).unwrap_or_else(|e| panic!("{e}"));
        exchange_jumbo(&guest, &mut peer, &format!("READY=jumbo-{label} {addr}"), N, mac(m), MTU + 14);
    }
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0, "guest_e1000");
    for (i, (label, program, _, _, max_mtu)) in models.iter().enumerate() {
        let out = assert_ok(&o, i + 1, program);
        assert!(out.contains(&format!("{program}: STATS_OK=")), "{label}: {out}");
        assert!(out.contains(&format!("{program}: max_mtu={max_mtu}\n")), "{label}: max MTU {max_mtu}: {out}");
        let rx_chained = count(&out, &format!("{program}: rx_chained="));
        assert!(rx_chained >= u64::from(N) / 2, "{label}: most frames span several RX buffers ({rx_chained})");
        let tx_chained = count(&out, &format!("{program}: tx_chained="));
        assert!(tx_chained >= u64::from(N) / 2, "{label}: most frames sent as chains ({tx_chained})");
    }
}

#[test]
fn mtu_9000_frames_cross_virtio_net_each_way_over_mergeable_buffers() {
    if !common::qemu_available_or_skip("mtu_9000_frames_cross_virtio_net_each_way_over_mergeable_buffers") {
        return;
    }
    // host_mtu makes QEMU offer VIRTIO_NET_F_MTU: the port's maximum MTU is the device's.
    const MAC_V: &str = "52:54:00:12:34:64";
    let cfg = base_config("guest_virtio", Duration::from_secs(600))
        .nic(Nic::new(NicModel::VirtioModern, "v").mac(MAC_V).stream().props("host_mtu=9000"))
        .command("devbind --bind vfio-pci $VMTEST_NIC_v")
        .command(format!("guest_virtio -l 0 -m 64 --file-prefix jv -a $VMTEST_NIC_v -- jumbo {N} {MTU} virtio"));
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut peer = guest.peer("v").unwrap_or_else(|e| panic!("{e}"));
    exchange_jumbo(&guest, &mut peer, "READY=jumbo-virtio 0000:00:03.0", N, mac(MAC_V), MTU + 14);
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0, "guest_virtio");
    let out = assert_ok(&o, 1, "guest_virtio");
    assert!(out.contains("guest_virtio: STATS_OK="), "{out}");
    assert!(out.contains("guest_virtio: max_mtu=9000\n"), "the device's MTU (VIRTIO_NET_F_MTU): {out}");
    let rx_chained = count(&out, "guest_virtio: rx_chained=");
    assert!(rx_chained >= u64::from(N) / 2, "most frames span several mergeable buffers ({rx_chained})");
    // virtio sends chains too (MULTI_SEGS: one descriptor chain, or an indirect table, per
    // frame): the peer checked each as one frame.
    let tx_chained = count(&out, "guest_virtio: tx_chained=");
    assert!(tx_chained >= u64::from(N) / 2, "most frames sent as chained mbufs ({tx_chained})");
}

/// The number after `key` in `out`.
fn count(out: &str, key: &str) -> u64 {
    out.lines().find_map(|l| l.split(key).nth(1)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}
