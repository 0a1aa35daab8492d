//! The igb PMD (`net_igb`) in the QEMU guest against the `igb` model (82576, MSI-X, several
//! queues, RSS), in one guest boot: 10,000 pattern frames each way on one queue with every
//! byte and the counters checked; 64 UDP flows spread by RSS over four RX queues, each
//! frame once, each flow on the queue ethdev's Toeplitz hash and the redirection table
//! predict; a primary and a secondary each serving their own RX/TX queue pair at the same
//! time, the secondary killed and the primary serving every flow afterwards (after a RETA
//! update); and link events (`set_link` off/on) in a primary and a secondary. Builds
//! nothing itself; build the guest binaries first:
//!
//! ```text
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu -p tests --bin guest_igb
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build --target x86_64-unknown-linux-gnu -p devbind --bin devbind
//! ```

mod common;

#[allow(dead_code)] // the guest program uses the rest
#[path = "../../../tests/src/bin/guest_igb/frames.rs"]
mod frames;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vmtest::{find_static_bin, CommandResult, Guest, GuestConfig, GuestOutcome, Nic, NicModel, Peer};

const MAC1: &str = "52:54:00:12:34:66";
const TAG_H2G: u8 = 0x11;
const TAG_G2H: u8 = 0x22;
const CONSOLE_WAIT: Duration = Duration::from_secs(180);
/// Flows of the RSS and multi-process runs.
const FLOWS: u16 = 64;
/// Frames per flow of the RSS run.
const RSS_PER_FLOW: u32 = 16;
/// Frames per flow of each multi-process batch.
const MP_PER_FLOW: u32 = 8;

/// A static guest binary: the release build if there is one, else the debug build.
fn guest_bin(name: &str) -> PathBuf {
    for d in vmtest::elf::candidate_dirs() {
        if let Some(r) = d.parent().map(|p| p.join("release").join(name)).filter(|p| p.is_file()) {
            return r;
        }
    }
    find_static_bin(name).unwrap_or_else(|e| panic!("{e}"))
}

fn mac(s: &str) -> [u8; 6] {
    frames::parse_mac(s).expect("valid MAC")
}

fn output(o: &GuestOutcome, i: usize) -> &CommandResult {
    let r = &o.results[i];
    eprintln!("--- [{i}] {} (exit {:?})\n{}", r.command, r.exit_code, r.output);
    r
}

fn assert_ok(o: &GuestOutcome, i: usize) -> String {
    let r = output(o, i);
    assert_eq!(r.exit_code, Some(0), "`{}` failed:\n{}", r.command, r.output);
    r.output.clone()
}

fn rates(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.contains("pps=")).collect()
}

/// Sends `n` pattern frames and receives and checks the `n` the guest sends back.
fn exchange_pattern(guest: &Guest, peer: &mut Peer, n: u32, port_mac: [u8; 6]) {
    guest.wait_for_console("READY=rxtx", CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    let t0 = Instant::now();
    for seq in 0..n {
        peer.send(&frames::build(seq, TAG_H2G, port_mac, frames::HOST_MAC)).unwrap_or_else(|e| panic!("{e}"));
    }
    let sent = t0.elapsed();
    let t1 = Instant::now();
    for seq in 0..n {
        let f = peer
            .recv_matching(Duration::from_secs(90), |f| frames::seq_of(f).is_some() && f[18] == TAG_G2H)
            .unwrap_or_else(|e| panic!("peer: {e}"))
            .unwrap_or_else(|| panic!("rxtx: frame {seq} of {n} from the guest never arrived"));
        frames::check(&f, seq, TAG_G2H, frames::HOST_MAC, port_mac).unwrap_or_else(|e| panic!("rxtx: {e}"));
    }
    eprintln!("rxtx: host sent {n} frames in {sent:?}, received and checked {n} in {:?}", t1.elapsed());
}

/// Sends frames `seqs` of every flow, interleaving the flows.
fn send_flows(peer: &mut Peer, seqs: std::ops::Range<u32>, port_mac: [u8; 6]) {
    for seq in seqs {
        for flow in 0..FLOWS {
            peer.send(&frames::udp(flow, seq, TAG_H2G, port_mac, frames::HOST_MAC)).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// Receives the guest's echoes of frames `seqs` of every flow: each exactly once, intact.
fn receive_echoes(peer: &mut Peer, seqs: std::ops::Range<u32>, port_mac: [u8; 6], what: &str) {
    let want: HashSet<(u16, u32)> = (0..FLOWS).flat_map(|f| seqs.clone().map(move |s| (f, s))).collect();
    let mut got = HashSet::new();
    while got.len() < want.len() {
        let f = peer
            .recv_matching(Duration::from_secs(90), |f| frames::parse_udp(f, frames::HOST_MAC, port_mac).is_ok())
            .unwrap_or_else(|e| panic!("peer: {e}"))
            .unwrap_or_else(|| panic!("{what}: only {} of {} echoes arrived", got.len(), want.len()));
        let (flow, seq, tag) = frames::parse_udp(&f, frames::HOST_MAC, port_mac).expect("matched");
        assert_eq!(tag, TAG_G2H, "{what}: flow {flow} frame {seq}");
        assert!(want.contains(&(flow, seq)), "{what}: unexpected echo of flow {flow} frame {seq}");
        assert!(got.insert((flow, seq)), "{what}: flow {flow} frame {seq} echoed twice");
    }
    eprintln!("{what}: {} echoes, each once", got.len());
}

/// The multi-process run: primary on queue 0, a secondary on queue 1, the secondary killed.
const MP_SCRIPT: &str = "rm -f /tmp/mp_*; \
guest_igb -l 0 -m 64 --file-prefix mp -a $VMTEST_NIC_n1 -- mp-primary 64 8 & P=$!; \
i=0; while [ ! -e /tmp/mp_primary_ready ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
guest_igb -l 1 --proc-type=secondary --file-prefix mp -- mp-secondary 64 8 & S=$!; \
i=0; while [ ! -e /tmp/mp_secondary_done ] && [ $i -lt 1800 ]; do sleep 0.1; i=$((i+1)); done; \
kill -9 $S; wait $S; echo \"secondary $S killed: $(cat /tmp/mp_secondary_done)\"; \
touch /tmp/mp_secondary_killed; wait $P";

/// The link run: a primary and a secondary.
const LSC_SCRIPT: &str = "rm -f /tmp/lsc_*; export LSC_WAIT='s1'; \
guest_igb -l 0 -m 64 --file-prefix ls -a $VMTEST_NIC_n1 -- lsc primary & P=$!; \
i=0; while [ ! -e /tmp/lsc_primary_ready ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
guest_igb -l 1 --proc-type=secondary --file-prefix ls -- lsc s1 & A=$!; \
wait $A; ra=$?; wait $P; rp=$?; echo \"lsc exit codes: primary $rp s1 $ra\"; \
[ $rp -eq 0 ] && [ $ra -eq 0 ]";

#[test]
fn igb_moves_frames_spreads_flows_by_rss_shares_queues_between_processes_and_reports_link() {
    let name = "igb_moves_frames_spreads_flows_by_rss_shares_queues_between_processes_and_reports_link";
    if !common::qemu_available_or_skip(name) {
        return;
    }
    let cfg = GuestConfig::default()
        .binary(guest_bin("guest_igb"))
        .binary(guest_bin("devbind"))
        .timeout(Duration::from_secs(600))
        .nic(Nic::new(NicModel::Igb, "n1").mac(MAC1).stream())
        .command("devbind --bind vfio-pci $VMTEST_NIC_n1")
        .command("guest_igb -l 0 -m 64 --file-prefix g1 -a $VMTEST_NIC_n1 -- rxtx 10000")
        .command(format!("guest_igb -l 0 -m 64 --file-prefix g2 -a $VMTEST_NIC_n1 -- rss {FLOWS} {RSS_PER_FLOW}"))
        .command(MP_SCRIPT)
        .command(LSC_SCRIPT);
    let guest = Guest::start(&cfg).unwrap_or_else(|e| panic!("guest did not start: {e}"));
    let mut peer = guest.peer("n1").unwrap_or_else(|e| panic!("{e}"));
    let port_mac = mac(MAC1);

    // (1) one queue, 10,000 frames each way.
    exchange_pattern(&guest, &mut peer, 10_000, port_mac);

    // (2) RSS over four queues.
    guest.wait_for_console("READY=rss", CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    send_flows(&mut peer, 0..RSS_PER_FLOW, port_mac);
    guest.wait_for_console("RSS_OK=", CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));

    // (3) primary on queue 0, secondary on queue 1; then the primary alone.
    guest.wait_for_console("SECONDARY_READY=", CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    send_flows(&mut peer, 0..MP_PER_FLOW, port_mac);
    receive_echoes(&mut peer, 0..MP_PER_FLOW, port_mac, "primary+secondary");
    guest.wait_for_console("PRIMARY_RESUMED=", CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    send_flows(&mut peer, MP_PER_FLOW..2 * MP_PER_FLOW, port_mac);
    receive_echoes(&mut peer, MP_PER_FLOW..2 * MP_PER_FLOW, port_mac, "primary alone");

    // (4) link down and up, seen by the primary and the secondary.
    for who in ["primary", "s1"] {
        guest.wait_for_console(&format!("LSC_READY={who}"), CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut mon = guest.monitor().unwrap_or_else(|e| panic!("{e}"));
    mon.set_link("n1", false).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1500));
    mon.set_link("n1", true).unwrap_or_else(|e| panic!("{e}"));
    for who in ["primary", "s1"] {
        guest.wait_for_console(&format!("LSC_OK={who}"), CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
    }

    let o = guest.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    assert_ok(&o, 0);
    let rxtx = assert_ok(&o, 1);
    assert!(rxtx.contains("guest_igb: STATS_OK="), "{rxtx}");
    eprintln!("RATES igb one queue: {:?}", rates(&rxtx));
    let rss = assert_ok(&o, 2);
    assert!(rss.contains("guest_igb: RSS_OK="), "{rss}");
    eprintln!("RATES igb rss: {:?}", rates(&rss));
    let mp = assert_ok(&o, 3);
    assert!(mp.contains("killed: ok"), "{mp}");
    assert!(mp.contains("guest_igb: secondary_rx=queue=1"), "{mp}");
    assert_eq!(mp.matches("guest_igb: result=OK").count(), 1, "the primary finished OK:\n{mp}");
    eprintln!("RATES igb multi-process: {:?}", rates(&mp));
    let lsc = assert_ok(&o, 4);
    assert_eq!(lsc.matches("guest_igb: LSC_OK=").count(), 2, "{lsc}");
}
