//! Shared by the guest tests: the QEMU presence rule, and what the tests of the guest
//! programs (`tests/src/bin/guest_*`) have in common: finding the static binaries, the
//! guest configuration, the test frames (the guest programs' own `frames` and `flow_frames`
//! modules, included by path), exchanging them with a guest port through a host peer (and
//! the RSS flow frames: [`send_flows`], [`receive_flow_echoes`]), the guest scripts of the
//! multi-process and link-event runs, and reading the results.
//!
//! Each test binary uses a part of this module.
#![allow(dead_code)]

#[path = "../../../../tests/src/guest/flow_frames.rs"]
pub mod flow_frames;
#[path = "../../../../tests/src/guest/frames.rs"]
pub mod frames;
pub mod netns;
pub mod testpmd_script;

use flow_frames::FlowFrames;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vmtest::{find_static_bin, CommandResult, Guest, GuestConfig, GuestOutcome, Peer};

/// How long the host waits for a line on the guest console.
pub const CONSOLE_WAIT: Duration = Duration::from_secs(180);
/// How long the host waits for each frame back from the guest.
pub const RECV_WAIT: Duration = Duration::from_secs(120);

/// True if the guest tests can run. If QEMU is missing they fail, unless
/// `VMTEST_SKIP=1` is set, so CI cannot pass without running them.
pub fn qemu_available_or_skip(test: &str) -> bool {
    let qemu = vmtest::qemu::qemu_binary();
    let found =
        std::process::Command::new(&qemu).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if found {
        return true;
    }
    if std::env::var("VMTEST_SKIP").as_deref() == Ok("1") {
        eprintln!("SKIPPED {test}: {} not found and VMTEST_SKIP=1", qemu.display());
        return false;
    }
    panic!(
        "{test}: {} not found; install it with tools/vmtest/setup-host.sh, or set VMTEST_SKIP=1 to skip the guest tests",
        qemu.display()
    );
}

/// A static guest binary: the release build if there is one, else the debug build.
pub fn guest_bin(name: &str) -> PathBuf {
    for d in vmtest::elf::candidate_dirs() {
        if let Some(r) = d.parent().map(|p| p.join("release").join(name)).filter(|p| p.is_file()) {
            return r;
        }
    }
    find_static_bin(name).unwrap_or_else(|e| panic!("{e}"))
}

/// A guest with guest program `program` and `devbind`, powered off after `timeout`.
pub fn base_config(program: &str, timeout: Duration) -> GuestConfig {
    // vmtest boots with no_timer_check: on a loaded host TCG can miss the kernel's IO-APIC
    // timer check, which panics the boot.
    GuestConfig::default().binary(guest_bin(program)).binary(guest_bin("devbind")).timeout(timeout)
}

/// Parses a MAC address the test spells out.
pub fn mac(s: &str) -> [u8; 6] {
    frames::parse_mac(s).expect("valid MAC")
}

/// Waits for a console line containing `pat` (panics after [`CONSOLE_WAIT`]).
pub fn wait_console(guest: &Guest, pat: &str) {
    guest.wait_for_console(pat, CONSOLE_WAIT).unwrap_or_else(|e| panic!("{e}"));
}

/// Waits for the guest to be ready for run `ready`, then sends `n` test frames to the port
/// and receives and checks the `n` frames it sends back.
pub fn exchange(guest: &Guest, peer: &mut Peer, ready: &str, n: u32, port_mac: [u8; 6]) {
    wait_console(guest, ready);
    exchange_range(peer, 0..n, port_mac, ready);
}

/// As [`exchange`], but sends the frames in batches of `batch` with a pause between them,
/// for ports with small RX rings: with a `-netdev stream` peer QEMU's Intel models take a
/// whole socket read at once and drop what their ring cannot hold.
pub fn exchange_paced(guest: &Guest, peer: &mut Peer, ready: &str, n: u32, port_mac: [u8; 6], batch: u32) {
    wait_console(guest, ready);
    exchange_range_paced(peer, 0..n, port_mac, ready, batch);
}

/// As [`exchange_range`], with the frames sent in batches of `batch` (see [`exchange_paced`]).
pub fn exchange_range_paced(peer: &mut Peer, seqs: std::ops::Range<u32>, port_mac: [u8; 6], ready: &str, batch: u32) {
    let n = seqs.len();
    let t0 = Instant::now();
    let mut first = seqs.start;
    while first < seqs.end {
        let end = (first + batch).min(seqs.end);
        for seq in first..end {
            let f = frames::build(seq, frames::TAG_H2G, port_mac, frames::HOST_MAC);
            peer.send(&f).unwrap_or_else(|e| panic!("{e}"));
        }
        first = end;
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = t0.elapsed();
    let t1 = Instant::now();
    for seq in seqs {
        let f = peer
            .recv_matching(RECV_WAIT, |f| frames::tag_of(f) == Some(frames::TAG_G2H))
            .unwrap_or_else(|e| panic!("peer: {e}"))
            .unwrap_or_else(|| panic!("{ready}: frame {seq} from the guest never arrived"));
        if let Err(e) = frames::check(&f, seq, frames::TAG_G2H, frames::HOST_MAC, port_mac) {
            panic!("{ready}: {e}");
        }
    }
    eprintln!(
        "{ready}: host sent {n} frames in batches of {batch} in {sent:?}, received and checked {n} in {:?}",
        t1.elapsed()
    );
}

/// Sends test frames `seqs` (tagged host to guest) to the port, then receives the same
/// frames from the guest (tagged guest to host), in order, and checks every byte.
pub fn exchange_range(peer: &mut Peer, seqs: std::ops::Range<u32>, port_mac: [u8; 6], what: &str) {
    let n = seqs.len();
    let t0 = Instant::now();
    for seq in seqs.clone() {
        let f = frames::build(seq, frames::TAG_H2G, port_mac, frames::HOST_MAC);
        peer.send(&f).unwrap_or_else(|e| panic!("{e}"));
    }
    let sent = t0.elapsed();
    let t1 = Instant::now();
    for seq in seqs {
        let f = peer
            .recv_matching(RECV_WAIT, |f| frames::tag_of(f) == Some(frames::TAG_G2H))
            .unwrap_or_else(|e| panic!("peer: {e}"))
            .unwrap_or_else(|| panic!("{what}: frame {seq} from the guest never arrived"));
        if let Err(e) = frames::check(&f, seq, frames::TAG_G2H, frames::HOST_MAC, port_mac) {
            panic!("{what}: {e}");
        }
    }
    eprintln!("{what}: host sent {n} frames in {sent:?}, received and checked {n} in {:?}", t1.elapsed());
}

/// Result `i` of a guest run, printed.
pub fn output(o: &GuestOutcome, i: usize) -> &CommandResult {
    let r = &o.results[i];
    eprintln!("--- [{i}] {} (exit {:?})\n{}", r.command, r.exit_code, r.output);
    r
}

/// The output of command `i`, which must have exited 0, and, if it ran `program`, printed
/// `<program>: result=OK`.
pub fn assert_ok(o: &GuestOutcome, i: usize, program: &str) -> String {
    let r = output(o, i);
    assert_eq!(r.exit_code, Some(0), "`{}` failed:\n{}", r.command, r.output);
    assert!(r.output.contains(&format!("{program}: result=OK")) || !r.command.contains(program), "{}", r.output);
    r.output.clone()
}

/// The rate lines of an output.
pub fn rates(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.contains("pps=") || l.contains("frames_per_s=")).collect()
}

/// The guest script of a multi-process run on NIC `n1`: `program ... -- mp-primary
/// <primary_args>` starts the port, then a secondary `mp-secondary <secondary_args>` runs
/// until it writes /tmp/mp_secondary_done, is killed with SIGKILL (the script prints
/// `secondary <pid> killed: <what it wrote>`), and the primary carries on.
pub fn mp_script(program: &str, primary_args: &str, secondary_args: &str) -> String {
    mp_script_mem(program, "-m 64", primary_args, secondary_args)
}

/// [`mp_script`] with the primary's memory flags `mem` (`-m 128 --no-huge`).
pub fn mp_script_mem(program: &str, mem: &str, primary_args: &str, secondary_args: &str) -> String {
    format!(
        "rm -f /tmp/mp_*; \
{program} -l 0 {mem} --file-prefix mp -a $VMTEST_NIC_n1 -- mp-primary {primary_args} & P=$!; \
i=0; while [ ! -e /tmp/mp_primary_ready ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
{program} -l 1 --proc-type=secondary --file-prefix mp -- mp-secondary {secondary_args} & S=$!; \
i=0; while [ ! -e /tmp/mp_secondary_done ] && [ $i -lt 1800 ]; do sleep 0.1; i=$((i+1)); done; \
kill -9 $S; wait $S; echo \"secondary $S killed: $(cat /tmp/mp_secondary_done)\"; \
touch /tmp/mp_secondary_killed; wait $P"
    )
}

/// The names of the processes of a link-event run on `nic` with `secondaries` secondaries.
fn lsc_names(nic: &str, secondaries: usize) -> Vec<String> {
    std::iter::once(format!("{nic}-primary")).chain((1..=secondaries).map(|k| format!("{nic}-s{k}"))).collect()
}

/// The guest script of a link-event run on NIC `nic`: a primary (which starts the port) and
/// `secondaries` secondaries running `program ... -- lsc <name>`; it succeeds when all exit 0.
pub fn lsc_script(program: &str, nic: &str, secondaries: usize) -> String {
    lsc_script_mem(program, "-m 64", nic, secondaries)
}

/// [`lsc_script`] with the primary's memory flags `mem` (`-m 128 --no-huge`).
pub fn lsc_script_mem(program: &str, mem: &str, nic: &str, secondaries: usize) -> String {
    let names = lsc_names(nic, secondaries);
    let mut s = format!(
        "rm -f /tmp/lsc_*; export LSC_WAIT='{}'; \
{program} -l 0 {mem} --file-prefix l{nic} -a $VMTEST_NIC_{nic} -- lsc {nic}-primary & P=$!; \
i=0; while [ ! -e /tmp/lsc_{nic}-primary_ready ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done; ",
        names[1..].join(" ")
    );
    for k in 1..=secondaries {
        s += &format!(
            "{program} --lcores {k}@{} --proc-type=secondary --file-prefix l{nic} -- lsc {nic}-s{k} & S{k}=$!; ",
            k % 2
        );
    }
    let waits: String = (1..=secondaries).map(|k| format!("wait $S{k}; r{k}=$?; ")).collect();
    let codes: String = (1..=secondaries).map(|k| format!(" s{k} $r{k}")).collect();
    let checks: String = (1..=secondaries).map(|k| format!(" && [ $r{k} -eq 0 ]")).collect();
    s + &format!("{waits}wait $P; rp=$?; echo \"lsc exit codes: primary $rp{codes}\"; [ $rp -eq 0 ]{checks}")
}

/// Waits for every process of a link run of [`lsc_script`] to be ready, toggles the link of
/// `nic` off and on from the QEMU monitor, and waits for every process to report both.
pub fn toggle_link(guest: &Guest, nic: &str, secondaries: usize) {
    let names = lsc_names(nic, secondaries);
    for who in &names {
        wait_console(guest, &format!("LSC_READY={who}"));
    }
    let mut mon = guest.monitor().unwrap_or_else(|e| panic!("{e}"));
    mon.set_link(nic, false).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1500));
    mon.set_link(nic, true).unwrap_or_else(|e| panic!("{e}"));
    for who in &names {
        wait_console(guest, &format!("LSC_OK={who}"));
    }
}

/// Waits for the guest to be ready for jumbo run `ready`, then sends `n` jumbo test frames
/// (up to `max_len` bytes) to the port in batches of `batch` (a pause between them: QEMU's
/// models drop what a full ring cannot take from one socket read), and receives and checks
/// the `n` jumbo frames it sends back.
pub fn exchange_jumbo(guest: &Guest, peer: &mut Peer, ready: &str, n: u32, port_mac: [u8; 6], max_len: usize) {
    const BATCH: u32 = 16;
    wait_console(guest, ready);
    let t0 = Instant::now();
    for seq in 0..n {
        let f = frames::build_jumbo(seq, max_len, frames::TAG_H2G, port_mac, frames::HOST_MAC);
        peer.send(&f).unwrap_or_else(|e| panic!("{e}"));
        if seq % BATCH == BATCH - 1 {
            std::thread::sleep(Duration::from_millis(30));
        }
    }
    let sent = t0.elapsed();
    let t1 = Instant::now();
    for seq in 0..n {
        let f = peer
            .recv_matching(RECV_WAIT, |f| frames::tag_of(f) == Some(frames::TAG_G2H))
            .unwrap_or_else(|e| panic!("peer: {e}"))
            .unwrap_or_else(|| panic!("{ready}: jumbo frame {seq} from the guest never arrived"));
        if let Err(e) = frames::check_jumbo(&f, seq, max_len, frames::TAG_G2H, frames::HOST_MAC, port_mac) {
            panic!("{ready}: {e}");
        }
    }
    eprintln!("{ready}: host sent {n} jumbo frames in {sent:?}, received and checked {n} in {:?}", t1.elapsed());
}

/// Sends frames `seqs` of flows 0..`flows` of `ff` to the port, interleaving the flows.
pub fn send_flows(peer: &mut Peer, ff: &FlowFrames, flows: u16, seqs: std::ops::Range<u32>, port_mac: [u8; 6]) {
    for seq in seqs {
        for flow in 0..flows {
            peer.send(&ff.frame(flow, seq, frames::TAG_H2G, port_mac, frames::HOST_MAC))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// Receives the guest's echoes (tagged guest to host) of frames `seqs` of flows 0..`flows`
/// of `ff`: each exactly once, intact; panics naming `what` otherwise.
pub fn receive_flow_echoes(
    peer: &mut Peer,
    ff: &FlowFrames,
    flows: u16,
    seqs: std::ops::Range<u32>,
    port_mac: [u8; 6],
    what: &str,
) {
    let (host, tag_g2h) = (frames::HOST_MAC, frames::TAG_G2H);
    let want: HashSet<(u16, u32)> = (0..flows).flat_map(|f| seqs.clone().map(move |s| (f, s))).collect();
    let mut got = HashSet::new();
    while got.len() < want.len() {
        let f = peer
            .recv_matching(Duration::from_secs(90), |f| ff.parse(f, host, port_mac).is_ok())
            .unwrap_or_else(|e| panic!("peer: {e}"))
            .unwrap_or_else(|| panic!("{what}: only {} of {} echoes arrived", got.len(), want.len()));
        let (flow, seq, tag) = ff.parse(&f, host, port_mac).expect("matched");
        assert_eq!(tag, tag_g2h, "{what}: flow {flow} frame {seq}");
        assert!(want.contains(&(flow, seq)), "{what}: unexpected echo of flow {flow} frame {seq}");
        assert!(got.insert((flow, seq)), "{what}: flow {flow} frame {seq} echoed twice");
    }
    eprintln!("{what}: {} echoes, each once", got.len());
}
