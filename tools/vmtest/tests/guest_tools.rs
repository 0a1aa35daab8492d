//! The operator's tools against a running primary on real NIC models in the QEMU guest:
//! `testpmd` forwards between two e1000 ports; `dumpcap` (a secondary of another program)
//! captures port 0 into pcapng while the host sends numbered frames through, and the host's
//! `tcpdump` reads the file back byte for byte; then `procinfo` (another secondary) prints
//! the e1000's own hardware counters, which only the primary may read (clear-on-read
//! registers): it asks the primary over IPC to read them now, so the totals it prints count
//! exactly the frames the host sent, although testpmd itself never read them after start.
//! Builds nothing itself; build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p examples --bin testpmd -p dumpcap --bin dumpcap -p procinfo --bin procinfo
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

#[path = "../../../tests/src/capture_file.rs"]
mod capture_file;

use common::frames::{self, HOST_MAC};
use common::{guest_bin, mac, output, CONSOLE_WAIT};
use std::time::Duration;
use vmtest::{Guest, GuestConfig, Nic, NicModel};

/// Frames the host sends through port 0 while dumpcap captures it.
const N: u32 = 150;
/// Tag of the test's frames.
const TAG: u8 = 0x5c;

/// Shell: waits up to `tenths`/10 s for `grep -Eq PATTERN FILE` to succeed.
fn wait_grep(pattern: &str, file: &str, tenths: u32) -> String {
    format!(
        "i=0; while ! grep -Eq '{pattern}' {file} && [ $i -lt {tenths} ]; do sleep 0.1; i=$((i+1)); done; \
         grep -Eq '{pattern}' {file} || echo \"TIMEOUT waiting for '{pattern}' in {file}\"; "
    )
}

/// The guest script: testpmd in the background; dumpcap for N frames of port 0, its file
/// printed as hex between markers; after the host's signal (the `ctl` link going down),
/// procinfo's extended statistics of both ports; then testpmd stopped with SIGINT.
fn script() -> String {
    format!(
        "IF=$(ls /sys/bus/pci/devices/$VMTEST_NIC_ctl/virtio*/net); \
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; ip link set $IF up; \
testpmd -l 0-1 -m 64 --file-prefix tp -a $VMTEST_NIC_n1 -a $VMTEST_NIC_n2 -- --rxd 256 --txd 256 \
< /dev/null > /tmp/tp.log 2>&1 & P=$!; {}\
dumpcap --file-prefix tp -- -i 0 -c {N} -w /tmp/cap.pcapng > /tmp/dc.log 2>&1 & D=$!; {}\
echo DUMPCAP_READY; wait $D; echo \"dumpcap exit code $?\"; cat /tmp/dc.log; \
echo PCAP_HEX_BEGIN; od -An -v -tx1 /tmp/cap.pcapng | tr -d ' \\n'; echo; echo PCAP_HEX_END; \
echo CAPTURE_DONE; \
i=0; while [ \"$(cat /sys/class/net/$IF/carrier)\" = 1 ] && [ $i -lt 1500 ]; do sleep 0.1; i=$((i+1)); done; \
procinfo --file-prefix tp -- --xstats -p 0x3 > /tmp/pi.log 2>&1; echo \"procinfo exit code $?\"; \
echo PROCINFO_BEGIN; cat /tmp/pi.log; echo PROCINFO_END; \
kill -INT $P; wait $P; rc=$?; cat /tmp/tp.log; echo \"testpmd exit code $rc\"; [ $rc -eq 0 ]",
        wait_grep("Press enter to exit", "/tmp/tp.log", 1200),
        wait_grep("Capturing on", "/tmp/dc.log", 600),
    )
}

/// The text between two marker lines of `out`.
fn between<'a>(out: &'a str, begin: &str, end: &str) -> &'a str {
    let a = out.find(begin).unwrap_or_else(|| panic!("no {begin} in the output:\n{out}")) + begin.len();
    let b = out[a..].find(end).unwrap_or_else(|| panic!("no {end} in the output:\n{out}")) + a;
    &out[a..b]
}

/// The value of `name: N` in section `###### ... port P` of procinfo's output.
fn procinfo_value(out: &str, port: u16, name: &str) -> Option<u64> {
    let head = format!("NIC extended statistics for port {port:<2}");
    let lines = out.lines().skip_while(|l| !l.contains(&head)).skip(1);
    lines
        .take_while(|l| !l.starts_with("######"))
        .find_map(|l| l.strip_prefix(&format!("{name}: "))?.trim().parse().ok())
}

/// dumpcap captures what an e1000 port of a running testpmd receives, byte for byte as the
/// host's tcpdump reads the file; procinfo prints the e1000's hardware counters, fresh.
#[test]
fn dumpcap_captures_an_e1000_port_of_testpmd_and_procinfo_reads_its_hardware_counters() {
    if !common::qemu_available_or_skip(
        "dumpcap_captures_an_e1000_port_of_testpmd_and_procinfo_reads_its_hardware_counters",
    ) {
        return;
    }
    let (mac0_s, mac1_s) = ("52:54:00:12:40:01", "52:54:00:12:40:02");
    let mac0 = mac(mac0_s);
    let cfg = GuestConfig { net_modules: true, ..GuestConfig::default() }
        .binary(guest_bin("testpmd"))
        .binary(guest_bin("dumpcap"))
        .binary(guest_bin("procinfo"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(300))
        .nic(Nic { slot: 3, ..Nic::new(NicModel::E1000, "n1").mac(mac0_s).stream() })
        .nic(Nic { slot: 5, ..Nic::new(NicModel::E1000, "n2").mac(mac1_s).stream() })
        .nic(Nic { slot: 4, ..Nic::new(NicModel::VirtioTransitional, "ctl") })
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1 $VMTEST_NIC_n2")
        .command(script());
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut p1 = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let mut p2 = guest.peer("n2").unwrap_or_else(|e| panic!("{e}"));
    guest.wait_for_console("DUMPCAP_READY", CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}\n{}", guest.console()));
    // One frame at a time through testpmd, so none is lost whatever the guest's speed.
    let sent: Vec<Vec<u8>> = (0..N).map(|s| frames::build(s, TAG, mac0, HOST_MAC)).collect();
    for (s, f) in sent.iter().enumerate() {
        p1.send(f).unwrap_or_else(|e| panic!("{e}"));
        let back = p2
            .recv_matching(Duration::from_secs(30), |g| frames::seq_of(g) == Some(s as u32))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.as_deref(), Some(f.as_slice()), "frame {s} forwarded unchanged");
    }
    guest.wait_for_console("CAPTURE_DONE", CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}\n{}", guest.console()));
    guest.monitor().and_then(|mut m| m.set_link("ctl", false)).unwrap_or_else(|e| panic!("{e}"));
    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    for i in 0..o.results.len() {
        output(&o, i);
    }
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    let out = &o.results[1].output;
    assert_eq!(o.results[1].exit_code, Some(0), "the guest script failed:\n{out}");
    assert!(out.contains("dumpcap exit code 0"), "dumpcap must stop by itself after {N} frames:\n{out}");

    // The capture, read back by tcpdump on the host.
    let hex: String = between(out, "PCAP_HEX_BEGIN", "PCAP_HEX_END").chars().filter(char::is_ascii_hexdigit).collect();
    let bytes: Vec<u8> = (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    let dir = std::env::temp_dir().join(format!("bypass-guest-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cap.pcapng");
    std::fs::write(&file, &bytes).unwrap();
    let got = capture_file::tcpdump_frames(&file);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(got.len(), N as usize, "tcpdump must read back every captured frame");
    for (s, ((_, g), f)) in got.iter().zip(&sent).enumerate() {
        assert_eq!(g, f, "captured frame {s} must equal the frame the host sent");
    }

    // The hardware counters, as a secondary sees them.
    let pi = between(out, "PROCINFO_BEGIN", "PROCINFO_END");
    assert!(out.contains("procinfo exit code 0"), "procinfo failed:\n{pi}");
    assert!(!pi.contains("not refreshed"), "the primary must answer procinfo's refresh request:\n{pi}");
    let n = u64::from(N);
    for (port, name, want) in [
        (0, "rx_total_packets", n),
        (1, "tx_total_packets", n),
        (0, "rx_good_packets", n),
        (1, "tx_good_packets", n),
        (0, "rx_crc_errors", 0),
    ] {
        assert_eq!(procinfo_value(pi, port, name), Some(want), "port {port} {name}:\n{pi}");
    }
}
