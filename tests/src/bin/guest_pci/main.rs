//! `guest_pci`: the PCI/VFIO checks of the EAL's bus in the vmtest guest, in one boot with
//! an e1000, an e1000e, an igb and a modern virtio-net (`iommu_platform=on`).
//!
//! Usage:
//! - `guest_pci run <e1000> <e1000e> <igb> <virtio>`: the orchestrator (no EAL). Runs
//!   `devbind --status` and `devbind --bind vfio-pci` for each NIC, then this program again
//!   as EAL primaries and secondaries, and prints every result as `CHECK name ok: ...` or
//!   `CHECK name FAILED: ...`. Exit 0 when every check passed.
//! - `guest_pci <EAL args> -- <scenario> [BDF...]`: one EAL process; scenarios:
//!   `allow E1000` (primary with `-a E1000`: probes only it, reads STATUS through BAR0,
//!   waits for `/tmp/pci_primary_release`), `secondary E1000` (re-maps BAR0 with the fds
//!   got over IPC, reads the same STATUS), `devices` (prints what it attached),
//!   `block E1000 E1000E IGB VIRTIO` (primary with `-b E1000`: the others are probed; the
//!   virtio common config; the virtio config-change interrupt across a host link flap,
//!   paced by the console markers `VIRTIO_LSC_READY` and `VIRTIO_LINK_DOWN_SEEN`).

mod virtio;

use eal::bus::BusDevice;
use eal::Eal;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::guest::{self, say, wait_file};

/// e1000 STATUS register offset in BAR0.
const E1000_STATUS: usize = 0x8;
/// STATUS bit: link up.
const E1000_STATUS_LU: u32 = 1 << 1;
/// Where the allow-list primary leaves the STATUS value it read.
const STATUS_FILE: &str = "/tmp/pci_status";
/// Created by the allow-list primary once it is ready for secondaries.
const READY_FILE: &str = "/tmp/pci_primary_ready";
/// Created by the orchestrator to let the allow-list primary exit.
const RELEASE_FILE: &str = "/tmp/pci_primary_release";

/// Prints a check result; true when it passed.
fn check(name: &str, r: Result<String, String>) -> bool {
    match r {
        Ok(d) => {
            println!("CHECK {name} ok: {d}");
            true
        }
        Err(e) => {
            println!("CHECK {name} FAILED: {e}");
            false
        }
    }
}

fn main() {
    guest::set_name("guest_pci");
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("run") {
        std::process::exit(orchestrate(&args[2..]));
    }
    let eal = guest::init_eal();
    let app = eal.app_args();
    let scenario = app.get(1).cloned().unwrap_or_default();
    let bdfs: Vec<String> = app.iter().skip(2).cloned().collect();
    say("init", format!("role={:?} pci_devices={} init={:?}", eal.role(), eal.pci_devices().len(), eal.init_time()));
    let ok = match scenario.as_str() {
        "allow" => allow_primary(&eal, &bdfs),
        "secondary" => secondary(&eal, &bdfs),
        "devices" => {
            say("devices", addrs(&eal.pci_devices()).join(","));
            true
        }
        "block" => block_primary(&eal, &bdfs),
        other => {
            println!("guest_pci: FAILED: unknown scenario '{other}'");
            false
        }
    };
    drop(eal);
    std::process::exit(if ok { 0 } else { 1 });
}

fn addrs(devs: &[Arc<BusDevice>]) -> Vec<String> {
    devs.iter().map(|d| d.addr().to_string()).collect()
}

/// Reads e1000 STATUS through the BAR0 mapping of `dev`.
fn e1000_status(dev: &BusDevice) -> Result<u32, String> {
    let bar = dev.bar(0).ok_or_else(|| format!("BAR0 of {} is not mapped", dev.addr()))?;
    bar.read32(E1000_STATUS).ok_or_else(|| format!("STATUS read outside BAR0 ({} bytes)", bar.len()))
}

/// Primary with `-a E1000`: only the e1000 is probed; STATUS through BAR0 has link up.
fn allow_primary(eal: &Eal, bdfs: &[String]) -> bool {
    let want = bdfs.first().cloned().unwrap_or_default();
    let devs = eal.pci_devices();
    let mut ok = check(
        "primary_allow_list",
        if addrs(&devs).as_slice() == std::slice::from_ref(&want) && devs[0].ids() == (0x8086, 0x100e) {
            Ok(format!("-a {want}: probed exactly [{want}] (8086:100e), group {}", devs[0].iommu_group()))
        } else {
            Err(format!("-a {want}: probed {:?}", addrs(&devs)))
        },
    );
    let status = devs.first().map(|d| e1000_status(d.as_ref())).unwrap_or_else(|| Err("no device".into()));
    ok &= check(
        "e1000_status_bar0",
        match &status {
            Ok(s) if s & E1000_STATUS_LU != 0 => Ok(format!("STATUS={s:#010x} link_up=1 (BAR0 mmap)")),
            Ok(s) => Err(format!("STATUS={s:#010x}: link-up bit clear")),
            Err(e) => Err(e.clone()),
        },
    );
    let _ = std::fs::write(STATUS_FILE, format!("{:#x}", status.unwrap_or(0)));
    let _ = std::fs::write(READY_FILE, "");
    if wait_file(RELEASE_FILE, Duration::from_secs(60)).is_err() {
        println!("guest_pci: FAILED: {RELEASE_FILE} never appeared");
        ok = false;
    }
    ok
}

/// Secondary: attached to the primary's e1000 with fds got over IPC; same STATUS.
fn secondary(eal: &Eal, bdfs: &[String]) -> bool {
    let want = bdfs.first().cloned().unwrap_or_default();
    let devs = eal.pci_devices();
    let primary = std::fs::read_to_string(STATUS_FILE).unwrap_or_default();
    let r = (|| {
        if eal.is_primary() {
            return Err("took the primary role".to_string());
        }
        if addrs(&devs).as_slice() != std::slice::from_ref(&want) {
            return Err(format!("attached {:?}, expected [{want}]", addrs(&devs)));
        }
        let d = &devs[0];
        let s = e1000_status(d)?;
        let ours = format!("{s:#x}");
        if ours != primary.trim() {
            return Err(format!("STATUS {ours} through the secondary's BAR0, the primary read {}", primary.trim()));
        }
        Ok(format!(
            "secondary re-mapped BAR0 of {want} ({} bytes) through the IPC fds, STATUS={ours} = primary's",
            d.bar_len(0)
        ))
    })();
    check("secondary_bar_status", r)
}

/// Primary with `-b E1000`: the other three are probed; virtio common config; the virtio
/// config-change interrupt across a link flap.
fn block_primary(eal: &Eal, bdfs: &[String]) -> bool {
    let [e1000, e1000e, igb, vio] = match bdfs {
        [a, b, c, d] => [a, b, c, d],
        _ => {
            println!("guest_pci: FAILED: block needs 4 BDFs");
            return false;
        }
    };
    let devs = eal.pci_devices();
    let mut got = addrs(&devs);
    got.sort();
    let mut want = vec![e1000e.clone(), igb.clone(), vio.clone()];
    want.sort();
    let mut ok = check(
        "primary_block_list",
        if got == want {
            Ok(format!("-b {e1000}: probed {got:?}, not the e1000"))
        } else {
            Err(format!("-b {e1000}: probed {got:?}, expected {want:?}"))
        },
    );
    let Some(dev) = devs.iter().find(|d| d.addr().to_string() == *vio) else {
        check("virtio_common_cfg", Err(format!("{vio} was not probed")));
        check("virtio_config_irq", Err(format!("{vio} was not probed")));
        return false;
    };
    let v = match virtio::Virtio::find(dev) {
        Ok(v) => v,
        Err(e) => {
            check("virtio_common_cfg", Err(e.clone()));
            check("virtio_config_irq", Err(e));
            return false;
        }
    };
    ok &= check(
        "virtio_common_cfg",
        virtio::check_common_cfg(&v).map(|i| {
            format!(
                "ids={:04x}:{:04x} common cfg in BAR{} (mapped={}) features={:#x} VERSION_1=1 ACCESS_PLATFORM=1 NET_F_STATUS=1 num_queues={} device_status={:#x}",
                dev.ids().0,
                dev.ids().1,
                v.common.bar_index(),
                v.common.mapped(),
                i.features,
                i.num_queues,
                i.status
            )
        }),
    );
    ok &= check("virtio_config_irq", config_irq(dev, &v));
    let _ = v.reset();
    ok
}

/// Arms the config vector, then sees the eventfd fire on link down (status 0) and on link
/// up (status 1); the host flips the link on the console markers.
fn config_irq(dev: &BusDevice, v: &virtio::Virtio<'_>) -> Result<String, String> {
    let irq = virtio::arm_config_irq(dev, v)?;
    let s0 = v.link_status()?;
    if s0 & 1 == 0 {
        return Err(format!("link status {s0:#x} before the flap: link down"));
    }
    println!("VIRTIO_LSC_READY status={:#x} link={s0:#x}", v.status()?);
    let t0 = Instant::now();
    let n1 = irq.efd.wait(Duration::from_secs(60)).map_err(|e| e.to_string())?;
    let Some(n1) = n1 else {
        return Err(format!("no config interrupt within 60 s of VIRTIO_LSC_READY (link {:#x})", v.link_status()?));
    };
    let down_after = t0.elapsed();
    let s1 = v.link_status()?;
    if s1 & 1 != 0 {
        return Err(format!("config interrupt fired but link status reads {s1:#x}, not 0"));
    }
    // More notifications of the same change (QEMU may send several): count them before
    // asking the host for link up, so the next interrupt is the link-up one.
    let mut extra = 0;
    while let Some(n) = irq.efd.wait(Duration::from_millis(300)).map_err(|e| e.to_string())? {
        extra += n;
    }
    let s1b = v.link_status()?;
    if s1b & 1 != 0 {
        return Err(format!("link status reads {s1b:#x} before the host set the link up"));
    }
    println!("VIRTIO_LINK_DOWN_SEEN count={n1} extra={extra} link={s1:#x}");
    let t1 = Instant::now();
    let n2 = irq.efd.wait(Duration::from_secs(60)).map_err(|e| e.to_string())?;
    let Some(n2) = n2 else {
        return Err(format!("no config interrupt within 60 s of link down (link {:#x})", v.link_status()?));
    };
    let up_after = t1.elapsed();
    let s2 = v.link_status()?;
    if s2 & 1 == 0 {
        return Err(format!("the link-up config interrupt fired but link status reads {s2:#x}, not 1"));
    }
    Ok(format!(
        "MSI-X vector 0 eventfd fired on link down (count {n1}+{extra}, {down_after:?} after ready, status {s1:#x}) and on link up (count {n2}, {up_after:?} after asking, status read at once {s2:#x})"
    ))
}

// ---------------------------------------------------------------- orchestrator

/// The driver a device is bound to, from sysfs.
fn driver_of(bdf: &str) -> Option<String> {
    std::fs::read_link(format!("/sys/bus/pci/devices/{bdf}/driver"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// The IOMMU group of a device, from sysfs.
fn group_of(bdf: &str) -> Option<String> {
    std::fs::read_link(format!("/sys/bus/pci/devices/{bdf}/iommu_group"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
}

fn run_out(cmd: &mut Command) -> Result<(i32, String), String> {
    let o = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&o.stderr));
    Ok((o.status.code().unwrap_or(-1), s))
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  | {l}\n")).collect()
}

/// `devbind --bind vfio-pci BDF`, then the driver and the `/dev/vfio/<group>` node.
fn bind_one(model: &str, bdf: &str) -> Result<String, String> {
    let before = driver_of(bdf).unwrap_or_else(|| "none".into());
    if model == "virtio" && before != "virtio-pci" {
        return Err(format!("the virtio NIC starts bound to {before}, expected virtio-pci"));
    }
    let (rc, out) = run_out(Command::new("devbind").args(["--bind", "vfio-pci", bdf]))?;
    print!("{}", indent(&out));
    if rc != 0 {
        return Err(format!("devbind --bind vfio-pci {bdf} exited {rc}"));
    }
    let after = driver_of(bdf).unwrap_or_else(|| "none".into());
    if after != "vfio-pci" {
        return Err(format!("{bdf} is bound to {after} after devbind"));
    }
    let group = group_of(bdf).ok_or_else(|| format!("{bdf} has no iommu_group"))?;
    let node = format!("/dev/vfio/{group}");
    if wait_file(&node, Duration::from_secs(3)).is_err() {
        return Err(format!("{node} does not exist after binding {bdf}"));
    }
    Ok(format!("{bdf} {before} -> vfio-pci, {node} exists"))
}

fn eal_child(exe: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(exe);
    c.args(args);
    c
}

fn wait_child(c: &mut Child, name: &str) -> bool {
    match c.wait() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            println!("guest_pci: {name} exited with {s}");
            false
        }
        Err(e) => {
            println!("guest_pci: waiting for {name}: {e}");
            false
        }
    }
}

/// Runs every check; returns the exit code.
fn orchestrate(bdfs: &[String]) -> i32 {
    let t0 = Instant::now();
    let [e1000, e1000e, igb, vio] = match bdfs {
        [a, b, c, d] => [a.as_str(), b.as_str(), c.as_str(), d.as_str()],
        _ => {
            println!("guest_pci: FAILED: usage: guest_pci run <e1000> <e1000e> <igb> <virtio>");
            return 2;
        }
    };
    for f in [STATUS_FILE, READY_FILE, RELEASE_FILE] {
        let _ = std::fs::remove_file(f);
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| "guest_pci".into());
    let mut ok = true;

    // 1. devbind --status lists the four NICs; --bind vfio-pci binds each.
    let status = run_out(Command::new("devbind").arg("--status"));
    if let Ok((_, out)) = &status {
        print!("{}", indent(out));
    }
    ok &= check(
        "devbind_status",
        status.and_then(|(rc, out)| {
            let missing: Vec<&str> =
                [e1000, e1000e, igb, vio].into_iter().filter(|b| !out.lines().any(|l| l.starts_with(*b))).collect();
            match (rc, missing.is_empty()) {
                (0, true) => Ok(format!("lists {e1000} {e1000e} {igb} {vio}")),
                (0, false) => Err(format!("missing {missing:?}")),
                (rc, _) => Err(format!("exit {rc}")),
            }
        }),
    );
    for (model, bdf) in [("e1000", e1000), ("e1000e", e1000e), ("igb", igb), ("virtio", vio)] {
        ok &= check(&format!("devbind_bind_{model}"), bind_one(model, bdf));
    }
    say("bind_done_ms", t0.elapsed().as_millis());

    // 3a. A secondary with no primary fails at once with a clear error.
    let t = Instant::now();
    let r =
        run_out(&mut eal_child(&exe, &["-l", "1", "--proc-type=secondary", "--file-prefix", "nop", "--", "devices"]));
    if let Ok((_, out)) = &r {
        print!("{}", indent(out));
    }
    ok &= check(
        "secondary_no_primary",
        r.and_then(|(rc, out)| {
            if rc == 2 && out.contains("no primary process is running for --file-prefix=nop") {
                Ok(format!(
                    "exit 2 in {:?}: {}",
                    t.elapsed(),
                    out.lines().find(|l| l.contains("EAL_ERROR")).unwrap_or("")
                ))
            } else {
                Err(format!("exit {rc}, output:\n{out}"))
            }
        }),
    );

    // 2 + 3. The allow-list primary, its secondary, a secondary with another allow list.
    let mut primary =
        match eal_child(&exe, &["-l", "0", "-m", "32", "--file-prefix", "pa", "-a", e1000, "--", "allow", e1000])
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                println!("guest_pci: FAILED: cannot start the primary: {e}");
                return 1;
            }
        };
    let t = Instant::now();
    let mut ready = false;
    while t.elapsed() < Duration::from_secs(60) {
        if Path::new(READY_FILE).exists() {
            ready = true;
            break;
        }
        if let Ok(Some(s)) = primary.try_wait() {
            println!("guest_pci: the allow-list primary exited early: {s}");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    say("allow_primary_ready_ms", t.elapsed().as_millis());
    if ready {
        let mut s =
            eal_child(&exe, &["-l", "1", "--proc-type=secondary", "--file-prefix", "pa", "--", "secondary", e1000]);
        match s.status() {
            Ok(st) if st.success() => {}
            Ok(st) if st.code() == Some(2) => {
                ok &= check("secondary_bar_status", Err("the secondary's EAL init failed (EAL_ERROR above)".into()));
            }
            Ok(st) => {
                println!("guest_pci: the secondary exited with {st}");
                ok = false;
            }
            Err(e) => {
                ok &= check("secondary_bar_status", Err(format!("cannot start the secondary: {e}")));
            }
        }
        let r = run_out(&mut eal_child(
            &exe,
            &["-l", "1", "--proc-type=secondary", "--file-prefix", "pa", "-a", igb, "--", "devices"],
        ));
        if let Ok((_, out)) = &r {
            print!("{}", indent(out));
        }
        ok &= check(
            "secondary_other_allow_list",
            r.and_then(|(rc, out)| {
                if rc == 2 && out.contains("the primary did not probe it") {
                    Ok(format!("refused: {}", out.lines().find(|l| l.contains("EAL_ERROR")).unwrap_or("")))
                } else {
                    Err(format!("a secondary with -a {igb} (the primary has -a {e1000}) must be refused: exit {rc}, output:\n{out}"))
                }
            }),
        );
    } else {
        check("secondary_bar_status", Err("the allow-list primary never got ready".into()));
        check("secondary_other_allow_list", Err("the allow-list primary never got ready".into()));
        ok = false;
    }
    let _ = std::fs::write(RELEASE_FILE, "");
    ok &= wait_child(&mut primary, "the allow-list primary");

    // 2 + 4. The block-list primary: the others probed; virtio common config and interrupt.
    let mut block = eal_child(
        &exe,
        &["-l", "0", "-m", "32", "--file-prefix", "pb", "-b", e1000, "--", "block", e1000, e1000e, igb, vio],
    );
    ok &= block.stdin(Stdio::null()).status().map(|s| s.success()).unwrap_or(false);

    let uptime = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
    say("total_ms", format!("{} guest_uptime_s={}", t0.elapsed().as_millis(), uptime.split(' ').next().unwrap_or("?")));
    println!("guest_pci: result={}", if ok { "OK" } else { "FAILED" });
    i32::from(!ok)
}
