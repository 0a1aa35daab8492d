//! Guest scripts that drive an interactive testpmd through a fifo (fd 3) in phases the host
//! paces by toggling the guest's virtio control link, and reading what that testpmd printed.

use vmtest::GuestOutcome;

/// Shell prelude: ignores SIGPIPE (testpmd's fifo), names the control link's interface
/// `$IF` and brings it up, with IPv6 off so that no neighbour discovery frame crosses the
/// test links.
pub const CONTROL_LINK_UP: &str = "trap '' PIPE; IF=$(ls /sys/bus/pci/devices/$VMTEST_NIC_ctl/virtio*/net); \
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; \
ip link set $IF up; ";

/// Shell: waits (up to 300 s) until the carrier of `$IF` is `want`.
pub fn wait_carrier(want: u8) -> String {
    format!(
        "i=0; while [ \"$(cat /sys/class/net/$IF/carrier)\" != {want} ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done; \
         echo \"control link carrier=$(cat /sys/class/net/$IF/carrier)\"; "
    )
}

/// Shell: types `cmds` into testpmd's fifo (fd 3), 0.2 s apart.
pub fn send_cmds(cmds: &[&str]) -> String {
    cmds.iter().map(|c| format!("echo '{c}' >&3; sleep 0.2; ")).collect()
}

/// Shell: waits (up to 120 s) until `log` has at least `n` lines matching `pat`.
pub fn wait_count(log: &str, pat: &str, n: u32) -> String {
    format!("i=0; while [ $(grep -c '{pat}' {log}) -lt {n} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; ")
}

/// Prints every command's output, then checks the run: no host-side `errors`, no failed
/// guest setup, and the script (command 1) exited 0. Returns the script's output.
pub fn script_output(o: &GuestOutcome, errors: &[String]) -> String {
    for i in 0..o.results.len() {
        super::output(o, i);
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(o.setup_failures.is_empty(), "guest setup failed: {:?}", o.setup_failures);
    let out = o.results[1].output.clone();
    assert_eq!(o.results[1].exit_code, Some(0), "{out}");
    out
}

/// Port 0's RX-packets of each `stop` in testpmd's output, in order.
pub fn port0_rx_per_stop(out: &str) -> Vec<u64> {
    out.split("Forward statistics for port 0")
        .skip(1)
        .filter_map(|b| b.lines().nth(1)?.split_whitespace().nth(1)?.parse().ok())
        .collect()
}
