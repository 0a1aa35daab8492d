//! Which processes hold a VFIO group open, from `/proc/<pid>/fd/*`.
//!
//! Unbinding a device from vfio-pci while a process has its group open blocks in the
//! kernel until that process lets go, so devbind asks before doing it.

use std::fs;
use std::path::Path;

/// A process with `/dev/vfio/<group>` open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupUser {
    /// Its pid.
    pub pid: u32,
    /// Its command name (`comm`), or "?" if unreadable.
    pub comm: String,
}

/// The processes under `proc_root` with `/dev/vfio/<group>` (or `/dev/vfio/noiommu-<group>`)
/// open, by pid. Processes that cannot be inspected (gone, or not ours) are skipped.
pub fn vfio_group_users(proc_root: &Path, group: u32) -> Vec<GroupUser> {
    let targets = [format!("/dev/vfio/{group}"), format!("/dev/vfio/noiommu-{group}")];
    let Ok(entries) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut users = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path()).is_ok_and(|t| targets.iter().any(|want| t.as_os_str() == want.as_str()))
        });
        if holds {
            let comm = fs::read_to_string(entry.path().join("comm"))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".to_string());
            users.push(GroupUser { pid, comm });
        }
    }
    users.sort_by_key(|u| u.pid);
    users
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn finds_processes_holding_the_group() {
        let t = eal::pci::fake::temp_dir("devbind-users").unwrap();
        let p = t.path();
        for (pid, comm, links) in [
            (200, "testpmd", &["/dev/vfio/vfio", "/dev/vfio/7"][..]),
            (100, "l2fwd", &["/dev/vfio/noiommu-7"]),
            (300, "other", &["/dev/vfio/8", "/dev/null"]),
        ] {
            let fd = p.join(pid.to_string()).join("fd");
            fs::create_dir_all(&fd).unwrap();
            fs::write(p.join(pid.to_string()).join("comm"), format!("{comm}\n")).unwrap();
            for (i, l) in links.iter().enumerate() {
                symlink(l, fd.join(i.to_string())).unwrap();
            }
        }
        fs::create_dir_all(p.join("self")).unwrap();
        let users = vfio_group_users(p, 7);
        assert_eq!(
            users,
            [GroupUser { pid: 100, comm: "l2fwd".into() }, GroupUser { pid: 200, comm: "testpmd".into() }]
        );
        assert!(vfio_group_users(p, 9).is_empty());
        assert!(vfio_group_users(&p.join("missing"), 7).is_empty());
    }
}
