//! PCI hotplug in the QEMU guest: an e1000 bound to vfio-pci is attached by address to a
//! running `hotplug_mp` primary with a secondary attached (`attach 0000:00:03.0`, as
//! DPDK's `rte_dev_probe`); the primary and then the secondary echo frames from the host
//! peer on it (every frame checked on the host; attaching it again is refused); it is
//! detached, and the script checks that no process keeps a VFIO device or group fd and
//! that the NIC leaves vfio-pci at once
//! (the kernel's unbind waits while any process holds the device); then it is bound to
//! the kernel's `e1000` driver with `devbind` (its `eth*` interface appears), and bound to
//! vfio-pci again for the next cycle, three times. The guest boots Debian's generic kernel
//! (the cloud kernel has no `e1000`). Each cycle does the same with a virtio-net NIC too:
//! attached, detached, bound to `virtio-pci` (the kernel's network interface appears) and
//! back to vfio-pci. Builds nothing itself; build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p examples --bin hotplug_mp
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

use common::{frames, guest_bin, mac, wait_console};
use std::time::{Duration, Instant};
use vmtest::{Guest, GuestConfig, Nic, NicModel, Peer};

const MAC1: &str = "52:54:00:12:35:01";
const CYCLES: u32 = 3;
/// Frames each process echoes per cycle.
const FRAMES: u32 = 50;

/// Shell: waits up to 60 s until FILE has `n` lines matching PATTERN; says so if it did not.
/// A FILE not created yet counts 0 (a background process's output file appears only once its
/// FIFO input is open). The pattern is expanded by the shell (`$A` is the e1000's address).
fn wait_count(pattern: &str, file: &str, n: u32) -> String {
    format!(
        "i=0; while [ $(cat {file} 2>/dev/null | grep -c \"{pattern}\") -lt {n} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
         [ $(cat {file} 2>/dev/null | grep -c \"{pattern}\") -ge {n} ] || echo \"HP_TIMEOUT waiting for {n} x {pattern} in {file}\"; "
    )
}

/// Shell: prints the VFIO device and group fds process `$pid_var` holds, as `HP_FDS <who> <n>`.
fn vfio_fds(who: &str, pid_var: &str) -> String {
    format!("echo \"HP_FDS {who} $(ls -l /proc/${pid_var}/fd | grep -cE 'vfio-device|/dev/vfio/[0-9]')\"; ")
}

/// The guest script: the group, then `CYCLES` attach/forward/detach/re-bind cycles.
fn script() -> String {
    let mut s = String::from(
        "rm -f /tmp/hp_*; mkfifo /tmp/hp_p.in /tmp/hp_s.in; A=$VMTEST_NIC_n1; B=$VMTEST_NIC_n2; \
         hotplug_mp -l 0 -m 128 --file-prefix hp --vdev net_ring0 </tmp/hp_p.in >/tmp/hp_p.out 2>&1 & P=$!; exec 3>/tmp/hp_p.in; ",
    );
    s += &wait_count("primary ready", "/tmp/hp_p.out", 1);
    s += "hotplug_mp --lcores 1@1 --proc-type secondary --file-prefix hp </tmp/hp_s.in >/tmp/hp_s.out 2>&1 & S=$!; exec 4>/tmp/hp_s.in; ";
    s += &wait_count("secondary ready", "/tmp/hp_s.out", 1);
    for k in 1..=CYCLES {
        s += &format!("echo HP_CYCLE={k}; devbind --bind vfio-pci $A $B; ");
        // Attach from the primary on odd cycles, from the secondary (through the primary) on even ones.
        let fd = if k % 2 == 1 { 3 } else { 4 };
        s += &format!("echo \"attach $A\" >&{fd}; ");
        let (file, n) = if fd == 3 { ("/tmp/hp_p.out", k.div_ceil(2)) } else { ("/tmp/hp_s.out", k / 2) };
        s += &wait_count("Attached device $A as port 1", file, n);
        // Each cycle attaches the e1000 and then the virtio NIC, both as port 1.
        s += &wait_count("event: port 1 new", "/tmp/hp_s.out", 2 * k - 1);
        s += &wait_count("event: port 1 new", "/tmp/hp_p.out", 2 * k - 1);
        if k == 1 {
            // Attaching the same device again, from either process, is refused naming it.
            s += "echo \"attach $A\" >&4; ";
            s += &wait_count("failed to attach device $A", "/tmp/hp_s.out", 1);
            s += "echo \"attach $A\" >&3; ";
            s += &wait_count("failed to attach device $A", "/tmp/hp_p.out", 1);
        }
        // The primary starts the port after the event (e1000 takes frames ~1 s after RX is enabled).
        s += &wait_count("port 1 started", "/tmp/hp_p.out", 2 * k - 1);
        s += "sleep 1.5; echo 'fwd 1 50 90000' >&3; ";
        s += &format!("echo HP_FWD_READY=primary-{k}; ");
        s += &wait_count("fwd port 1:", "/tmp/hp_p.out", k);
        s += "echo 'fwd 1 50 90000' >&4; ";
        s += &format!("echo HP_FWD_READY=secondary-{k}; ");
        s += &wait_count("fwd port 1:", "/tmp/hp_s.out", k);
        s += "echo \"detach $A\" >&3; ";
        s += &wait_count("Device $A (port 1) detached", "/tmp/hp_p.out", k);
        s += &wait_count("event: port 1 removed", "/tmp/hp_s.out", 2 * k - 1);
        s += &vfio_fds(&format!("primary-{k}"), "P");
        s += &vfio_fds(&format!("secondary-{k}"), "S");
        // The kernel's unbind waits for every user of the device: it must return at once.
        s += "t0=$(date +%s); devbind --unbind $A; D=$(readlink /sys/bus/pci/devices/$A/driver); \
              echo \"HP_UNBOUND=${D##*/}none after $(( $(date +%s) - t0 )) s\"; ";
        // Back to the kernel's own e1000 driver: its network interface appears.
        s += "devbind --bind e1000 $A; i=0; while ! ls /sys/bus/pci/devices/$A/net >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
              D=$(readlink /sys/bus/pci/devices/$A/driver); \
              echo \"HP_E1000_KERNEL=${D##*/} $(ls /sys/bus/pci/devices/$A/net 2>/dev/null)\"; ";
        // The virtio NIC: attached, detached, handed to the kernel's virtio-pci, and back.
        s += "echo \"attach $B\" >&3; ";
        s += &wait_count("Attached device $B as port 1", "/tmp/hp_p.out", k);
        s += &wait_count("event: port 1 new", "/tmp/hp_s.out", 2 * k);
        s += &wait_count("port 1 started", "/tmp/hp_p.out", 2 * k);
        s += "echo \"detach $B\" >&3; ";
        s += &wait_count("Device $B (port 1) detached", "/tmp/hp_p.out", k);
        s += &vfio_fds(&format!("virtio-primary-{k}"), "P");
        s += &vfio_fds(&format!("virtio-secondary-{k}"), "S");
        s += "devbind --bind virtio-pci $B; i=0; while ! ls /sys/bus/pci/devices/$B/virtio*/net >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
              echo \"HP_KERNEL_IF=$(ls /sys/bus/pci/devices/$B/virtio*/net 2>/dev/null)\"; ";
    }
    s += "echo list >&3; echo list >&4; sleep 1; echo quit >&4; wait $S; echo quit >&3; wait $P; echo \"HP_EXIT primary $?\"; \
          echo '--- primary'; cat /tmp/hp_p.out; echo '--- secondary'; cat /tmp/hp_s.out";
    s
}

/// Sends `FRAMES` test frames to the port and receives them echoed (MACs swapped), in
/// order, every byte checked; a batch at a time, as the e1000 model's ring is small.
fn echo_through(peer: &mut Peer, what: &str) {
    let port = mac(MAC1);
    let t0 = Instant::now();
    for seq in 0..FRAMES {
        peer.send(&frames::build(seq, frames::TAG_H2G, port, frames::HOST_MAC)).unwrap_or_else(|e| panic!("{e}"));
        if seq % 16 == 15 {
            std::thread::sleep(Duration::from_millis(30));
        }
    }
    for seq in 0..FRAMES {
        let f = peer
            .recv_matching(Duration::from_secs(60), |f| f.len() > 12 && f[..6] == frames::HOST_MAC)
            .unwrap_or_else(|e| panic!("peer: {e}"))
            .unwrap_or_else(|| panic!("{what}: echo of frame {seq} never arrived"));
        if let Err(e) = frames::check(&f, seq, frames::TAG_H2G, frames::HOST_MAC, port) {
            panic!("{what}: {e}");
        }
    }
    eprintln!("{what}: {FRAMES} frames echoed and checked in {:?}", t0.elapsed());
}

#[test]
fn an_e1000_is_hot_attached_forwarded_on_by_two_processes_detached_and_rebound_to_e1000_three_times() {
    let name = "an_e1000_is_hot_attached_forwarded_on_by_two_processes_detached_and_rebound_to_e1000_three_times";
    if !common::qemu_available_or_skip(name) {
        return;
    }
    let cfg = GuestConfig::default()
        .binary(guest_bin("hotplug_mp"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(600))
        .nic(Nic::new(NicModel::E1000, "n1").mac(MAC1).stream())
        .nic(Nic::new(NicModel::VirtioModern, "n2"))
        .command(script())
        // The generic kernel's e1000 and virtio-net drivers take the NICs back after each detach.
        .generic_kernel();
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut peer = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    for k in 1..=CYCLES {
        for who in ["primary", "secondary"] {
            wait_console(&guest, &format!("HP_FWD_READY={who}-{k}"));
            echo_through(&mut peer, &format!("cycle {k}: {who}"));
        }
    }
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    let r = common::output(&o, 0);
    let out = &r.output;
    assert!(!out.contains("HP_TIMEOUT"), "a step did not finish:\n{out}");
    assert!(out.contains("HP_EXIT primary 0"), "{out}");
    for k in 1..=CYCLES {
        for who in ["primary", "secondary"] {
            assert!(out.contains(&format!("HP_FDS {who}-{k} 0")), "{who} keeps VFIO fds after detach {k}:\n{out}");
            assert!(
                out.contains(&format!("HP_FDS virtio-{who}-{k} 0")),
                "{who} keeps VFIO fds after detach {k}:\n{out}"
            );
        }
    }
    let unbound = out
        .lines()
        .filter(|l| l.starts_with("HP_UNBOUND=none after 0 s") || l.starts_with("HP_UNBOUND=none after 1 s"));
    assert_eq!(unbound.count(), CYCLES as usize, "the e1000 must leave vfio-pci at once after each detach:\n{out}");
    assert_eq!(out.matches(&format!("fwd port 1: rx {FRAMES} tx {FRAMES}")).count(), 2 * CYCLES as usize, "{out}");
    let e1000_ifs = out.lines().filter(|l| l.starts_with("HP_E1000_KERNEL=e1000 eth")).count();
    assert_eq!(e1000_ifs, CYCLES as usize, "the kernel's e1000 driver must take the NIC after each detach:\n{out}");
    let kernel_ifs = out.lines().filter(|l| l.starts_with("HP_KERNEL_IF=") && l.len() > "HP_KERNEL_IF=".len()).count();
    assert_eq!(kernel_ifs, CYCLES as usize, "the kernel's virtio-net must see the NIC after each detach:\n{out}");
    // Only the two repeated attaches failed, each with a clear reason.
    let refused: Vec<&str> = out.lines().filter(|l| l.contains("failed to attach")).collect();
    assert_eq!(refused.len(), 2, "{out}");
    for l in refused {
        assert!(l.contains("failed to attach device 0000:00:03.0: ") && l.contains("already"), "{l}");
    }
    assert!(!out.contains("failed to detach"), "{out}");
}
