//! Runtime directory safety and argument handling with real processes, each in a sandbox
//! (`BYPASS_RUNTIME_DIR=<tmp dir>`) and with `--no-huge`: unsafe prefixes and planted
//! directories or symlinks are refused without touching anything, a crash's leftovers are
//! cleaned by Bypass's own names only, a secondary's ignored flags are warned about, and the
//! memory flags of DPDK launch scripts are accepted or refused with the reason.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tests::{prefix, Proc};

const W: &str = env!("CARGO_BIN_EXE_eal_worker");
const T: Duration = Duration::from_secs(30);
const NOBODY: u32 = 65534;

/// A directory `/tmp/bypass_rs_<pid>_<tag>/` holding the sandbox `base/` (the runtime base
/// the processes get) and a `victim` file beside it that nothing may change.
struct Sandbox {
    outer: PathBuf,
}

impl Sandbox {
    fn new(tag: &str) -> Sandbox {
        let outer = PathBuf::from(format!("/tmp/bypass_rs_{}_{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&outer);
        std::fs::create_dir_all(outer.join("base")).unwrap();
        std::fs::set_permissions(&outer, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(outer.join("base"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(outer.join("victim"), b"precious").unwrap();
        std::fs::write(outer.join("base").join("victim"), b"precious too").unwrap();
        Sandbox { outer }
    }

    fn base(&self) -> PathBuf {
        self.outer.join("base")
    }

    /// Starts the worker with `args` (EAL args, `--`, scenario) in this sandbox.
    fn spawn(&self, args: &[&str]) -> Proc {
        self.spawn_in(&self.base(), args)
    }

    fn spawn_in(&self, base: &Path, args: &[&str]) -> Proc {
        let env = format!("BYPASS_RUNTIME_DIR={}", base.display());
        let mut a = vec![env.as_str(), W];
        a.extend_from_slice(args);
        Proc::spawn("env", &a)
    }

    /// Both victims still hold what they held.
    fn assert_victims_untouched(&self) {
        assert_eq!(std::fs::read(self.outer.join("victim")).unwrap(), b"precious");
        assert_eq!(std::fs::read(self.base().join("victim")).unwrap(), b"precious too");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.outer);
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

macro_rules! need_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root (to plant files of another uid)");
            return;
        }
    };
}

fn any(out: &[String], pat: &str) -> bool {
    out.iter().any(|l| l.contains(pat))
}

#[test]
fn unsafe_prefixes_are_refused_and_nothing_is_touched() {
    let sb = Sandbox::new("prefix");
    for (p, why) in [
        ("..", "starts with '.'"),
        (".", "starts with '.'"),
        ("a..b", "contains '..'"),
        ("a\nb", "control character \\n"),
        ("x\u{1b}[31m", "control character \\u{1b}"),
        ("a/b", "contains '/'"),
    ] {
        let (code, out) = sb.spawn(&["--file-prefix", p, "-l", "0", "--no-huge", "--", "hold"]).finish(T);
        assert_eq!(code, Some(2), "{p:?}: {out:?}");
        assert!(any(&out, "invalid --file-prefix") && any(&out, why), "{p:?}: {out:?}");
        assert!(any(&out, "e.g. --file-prefix app1"), "the fix is named: {out:?}");
        sb.assert_victims_untouched();
        let left: Vec<_> = std::fs::read_dir(sb.base()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec!["victim"], "{p:?}: nothing created in the sandbox");
    }
}

#[test]
fn planted_group_directory_of_another_user_is_refused() {
    need_root!();
    let sb = Sandbox::new("planted");
    let p = prefix("planted");
    let group = sb.base().join(&p);
    std::fs::create_dir(&group).unwrap();
    std::os::unix::fs::symlink(sb.outer.join("victim"), group.join("config")).unwrap();
    std::os::unix::fs::lchown(group.join("config"), Some(NOBODY), Some(NOBODY)).unwrap();
    std::os::unix::fs::chown(&group, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&group, std::fs::Permissions::from_mode(0o777)).unwrap();
    for role in ["primary", "auto", "secondary"] {
        let (code, out) =
            sb.spawn(&["--file-prefix", &p, "-l", "0", "--no-huge", "--proc-type", role, "--", "hold"]).finish(T);
        assert_eq!(code, Some(2), "{role}: {out:?}");
        let line = out.iter().find(|l| l.contains("refusing runtime directory")).unwrap_or_else(|| panic!("{out:?}"));
        assert!(line.contains(&group.display().to_string()), "the path is named: {line}");
        assert!(line.contains("owner uid 65534") && line.contains("mode 0777"), "owner and mode: {line}");
        assert!(line.contains("rm -r") && line.contains("another --file-prefix"), "the fix: {line}");
        sb.assert_victims_untouched();
        assert!(group.join("config").symlink_metadata().unwrap().file_type().is_symlink());
    }
}

#[test]
fn planted_config_symlink_in_our_own_directory_is_refused() {
    let sb = Sandbox::new("symlink");
    let p = prefix("symlink");
    let group = sb.base().join(&p);
    std::fs::create_dir(&group).unwrap();
    std::fs::set_permissions(&group, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(sb.outer.join("victim"), group.join("config")).unwrap();
    let (code, out) = sb.spawn(&["--file-prefix", &p, "-l", "0", "--no-huge", "--", "hold"]).finish(T);
    assert_eq!(code, Some(2), "{out:?}");
    assert!(any(&out, "config: it is a symbolic link") && any(&out, "rm "), "{out:?}");
    sb.assert_victims_untouched();
}

#[test]
fn planted_base_directory_is_refused() {
    need_root!();
    let sb = Sandbox::new("base");
    let base = sb.outer.join("shared");
    std::fs::create_dir(&base).unwrap();
    std::os::unix::fs::chown(&base, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
    let p = prefix("base");
    let (code, out) = sb.spawn_in(&base, &["--file-prefix", &p, "-l", "0", "--no-huge", "--", "hold"]).finish(T);
    assert_eq!(code, Some(2), "{out:?}");
    assert!(
        any(&out, &format!("refusing runtime directory {} (owner uid 65534, mode 0777)", base.display())),
        "{out:?}"
    );
    assert!(any(&out, "BYPASS_RUNTIME_DIR"), "the fix is named: {out:?}");
    assert!(!base.join(&p).exists(), "nothing created in it");
    // A base made by the EAL itself is private.
    let fresh = sb.outer.join("fresh");
    let mut pri = sb.spawn_in(&fresh, &["--file-prefix", &p, "-l", "0", "--no-huge", "--", "hold"]);
    pri.expect("READY role=Primary", T);
    assert_eq!(std::fs::metadata(&fresh).unwrap().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(fresh.join(&p)).unwrap().mode() & 0o777, 0o700);
    assert_eq!(pri.finish(T).0, Some(0));
}

#[test]
fn crash_leftovers_are_cleaned_by_bypass_names_only() {
    let sb = Sandbox::new("crash");
    let p = prefix("crash");
    let group = sb.base().join(&p);
    let args = ["--file-prefix", p.as_str(), "-l", "0", "--no-huge", "-m", "16", "--", "hold"];
    let mut pri = sb.spawn(&args);
    pri.expect("READY role=Primary", T);
    pri.kill9();
    assert!(group.join("config").exists() && group.join("mp_socket").exists(), "a crash leaves its files");
    // Leftovers of crashed secondaries, and a file Bypass never makes.
    for n in ["mp_socket_999999_0", "mp_reply_999999_3", "net_tap7", "notes.txt", "mp_socket_x"] {
        std::fs::write(group.join(n), b"x").unwrap();
    }
    let mut pri = sb.spawn(&args);
    pri.expect("READY role=Primary", T);
    for n in ["mp_socket_999999_0", "mp_reply_999999_3", "net_tap7"] {
        assert!(!group.join(n).exists(), "{n} was cleaned");
    }
    assert!(group.join("notes.txt").exists() && group.join("mp_socket_x").exists(), "other names stay");
    assert_eq!(pri.finish(T).0, Some(0));
    assert!(!group.join("config").exists() && !group.join("mp_socket").exists(), "clean exit removes Bypass's files");
    assert_eq!(std::fs::read(group.join("notes.txt")).unwrap(), b"x", "an unrelated file survives the exit");
    sb.assert_victims_untouched();
    assert!(tests::heap_files(&p).is_empty());
}

#[test]
fn secondary_flags_that_differ_from_the_primary_are_warned_about() {
    let sb = Sandbox::new("mismatch");
    let p = prefix("mismatch");
    let mut pri =
        sb.spawn(&["--file-prefix", &p, "-l", "0", "--no-huge", "-m", "16", "--vdev", "net_null0", "--", "hold"]);
    pri.expect("READY role=Primary", T);
    let (code, out) = sb
        .spawn(&[
            "--file-prefix",
            &p,
            "-l",
            "1",
            "--proc-type",
            "secondary",
            "-m",
            "64",
            "--vdev",
            "net_null1",
            "--",
            "attach",
        ])
        .finish(T);
    assert_eq!(code, Some(0), "{out:?}");
    assert!(any(&out, "ATTACHED role=Secondary"), "{out:?}");
    assert!(any(&out, "-m 64 is ignored") && any(&out, "primary's memory (-m 16"), "{out:?}");
    assert!(
        any(&out, "--vdev net_null1: virtual devices are created by the primary") && any(&out, "its --vdev: net_null0"),
        "{out:?}"
    );
    assert!(any(&out, "runs without --no-huge but the primary"), "{out:?}");
    assert!(!out.iter().any(|l| l.contains('\u{1b}')), "no colour codes in piped logs: {out:?}");
    // A setting every process must share is refused.
    let (code, out) = sb
        .spawn(&[
            "--file-prefix",
            &p,
            "-l",
            "1",
            "--no-huge",
            "--proc-type",
            "secondary",
            "--iova-mode",
            "pa",
            "--",
            "attach",
        ])
        .finish(T);
    assert_eq!(code, Some(2), "{out:?}");
    assert!(any(&out, "--iova-mode pa differs from the group's IOVA mode (va"), "{out:?}");
    // Same flags: no warning.
    let (code, out) = sb
        .spawn(&["--file-prefix", &p, "-l", "1", "--no-huge", "-m", "16", "--proc-type", "secondary", "--", "attach"])
        .finish(T);
    assert_eq!(code, Some(0), "{out:?}");
    assert!(!any(&out, "WARN"), "{out:?}");
    assert_eq!(pri.finish(T).0, Some(0));
}

#[test]
fn dpdk_launch_script_flags_are_handled() {
    let sb = Sandbox::new("dpdkflags");
    let p = prefix("dpdkflags");
    let (code, out) = sb
        .spawn(&[
            "--file-prefix",
            &p,
            "-l",
            "0",
            "--no-huge",
            "--legacy-mem",
            "--single-file-segments",
            "--no-telemetry",
            "--huge-unlink",
            "--socket-mem",
            "8,8",
            "--socket-limit",
            "64,64",
            "-n",
            "4",
            "--",
            "attach",
        ])
        .finish(T);
    assert_eq!(code, Some(0), "{out:?}");
    assert!(any(&out, "ATTACHED role=Primary"), "{out:?}");
    for (flag, why) in [
        ("--in-memory", "always keeps its shared config"),
        ("--no-shconf", "always keeps its shared config"),
        ("--huge-unlink=always", "secondaries open the heap file by name"),
        ("--bogus-flag", "unknown option '--bogus-flag'"),
    ] {
        let (code, out) = sb.spawn(&["--file-prefix", &p, "-l", "0", "--no-huge", flag, "--", "attach"]).finish(T);
        assert_eq!(code, Some(2), "{flag}: {out:?}");
        assert!(any(&out, why), "{flag}: {out:?}");
    }
    let (code, out) =
        sb.spawn(&["--file-prefix", &p, "-l", "0", "--no-huge", "-m", "999999999999", "--", "attach"]).finish(T);
    assert_eq!(code, Some(2), "{out:?}");
    assert!(any(&out, "more memory than a process can map"), "{out:?}");
    let (code, out) =
        sb.spawn(&["--file-prefix", &p, "-l", "0", "--no-huge", "-m", "60000000", "--", "attach"]).finish(T);
    assert_eq!(code, Some(2), "{out:?}");
    assert!(any(&out, "-m 60000000 MB cannot be mapped") && any(&out, "lower -m"), "{out:?}");
    assert!(!sb.base().join(&p).exists(), "failed starts leave no runtime directory");
    assert!(tests::heap_files(&p).is_empty());
    sb.assert_victims_untouched();
}

/// Starts the worker as uid/gid 65534 without XDG_RUNTIME_DIR, so its base is
/// `$TMPDIR/bypass-65534` with `TMPDIR=tmp`.
fn spawn_as_nobody(tmp: &Path, args: &[&str]) -> Proc {
    let tmpdir = format!("TMPDIR={}", tmp.display());
    let mut a = vec![
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "env",
        "-u",
        "XDG_RUNTIME_DIR",
        "-u",
        "BYPASS_RUNTIME_DIR",
        tmpdir.as_str(),
        W,
    ];
    a.extend_from_slice(args);
    Proc::spawn("setpriv", &a)
}

#[test]
fn non_root_tmp_fallback_is_private_and_checked() {
    need_root!();
    let sb = Sandbox::new("tmpfallback");
    let tmp = sb.outer.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let p = prefix("tmpfb");
    let args = ["--file-prefix", p.as_str(), "-l", "0", "--no-huge", "-m", "16", "--", "hold"];
    // Another user planted the base and a config symlink in the group directory.
    let base = tmp.join(format!("bypass-{NOBODY}"));
    std::fs::create_dir_all(base.join(&p)).unwrap();
    std::os::unix::fs::symlink(sb.outer.join("victim"), base.join(&p).join("config")).unwrap();
    for d in [&base, &base.join(&p)] {
        std::os::unix::fs::chown(d, Some(NOBODY - 1), Some(NOBODY - 1)).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let (code, out) = spawn_as_nobody(&tmp, &args).finish(T);
    assert_eq!(code, Some(2), "{out:?}");
    assert!(
        any(&out, &format!("refusing runtime directory {} (owner uid 65533, mode 0777)", base.display())),
        "{out:?}"
    );
    sb.assert_victims_untouched();
    // Without the plant, the base is made private and the primary runs.
    std::fs::remove_dir_all(&base).unwrap();
    let mut pri = spawn_as_nobody(&tmp, &args);
    pri.expect("READY role=Primary", T);
    let m = std::fs::metadata(&base).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (NOBODY, 0o700));
    let m = std::fs::metadata(base.join(&p)).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (NOBODY, 0o700));
    assert_eq!(pri.finish(T).0, Some(0));
    assert!(!base.join(&p).exists(), "clean exit removes the group directory");
}

/// The worker's output with `--log-level info`, run under `script` (stderr a terminal) or
/// with plain pipes, optionally with `NO_COLOR=1`.
fn log_output(sb: &Sandbox, tag: &str, tty: bool, no_color: bool) -> String {
    let p = prefix(tag);
    let worker = format!("{W} --file-prefix {p} -l 0 --no-huge -m 16 --log-level info -- attach");
    let mut cmd = if tty {
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &worker, "/dev/null"]);
        c
    } else {
        let mut c = std::process::Command::new("sh");
        c.args(["-c", &worker]);
        c
    };
    cmd.env("BYPASS_RUNTIME_DIR", sb.base()).env_remove("NO_COLOR").stdin(std::process::Stdio::null());
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd.output().expect("run the worker");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("EAL initialised"), "{text}");
    text
}

#[test]
fn log_colour_only_on_a_terminal_and_never_with_no_color() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: needs script(1) for a terminal");
        return;
    }
    let sb = Sandbox::new("colour");
    assert!(log_output(&sb, "col_tty", true, false).contains("\u{1b}["), "a terminal gets colour");
    assert!(!log_output(&sb, "col_nocolor", true, true).contains('\u{1b}'), "NO_COLOR is honoured");
    assert!(!log_output(&sb, "col_pipe", false, false).contains('\u{1b}'), "a pipe gets plain text");
}
