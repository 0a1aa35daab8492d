//! Discovery of hugetlbfs mounts and free huge pages.

use crate::error::EalError;
use std::path::{Path, PathBuf};

/// A mounted hugetlbfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HugeMount {
    /// Mount point.
    pub dir: PathBuf,
    /// Page size in bytes.
    pub page_size: u64,
}

/// The system's default huge page size from `/proc/meminfo` (2 MB if unreadable).
pub fn default_page_size() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("Hugepagesize:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(2 << 20)
}

fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

/// Parses `/proc/mounts` text into its hugetlbfs mounts.
pub fn parse_mounts(mounts: &str, default_page: u64) -> Vec<HugeMount> {
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 || f[2] != "hugetlbfs" {
                return None;
            }
            let page_size =
                f[3].split(',').find_map(|o| o.strip_prefix("pagesize=")).and_then(parse_size).unwrap_or(default_page);
            Some(HugeMount { dir: PathBuf::from(f[1].replace("\\040", " ")), page_size })
        })
        .collect()
}

/// Finds the hugetlbfs to use: `--huge-dir` if given (it must be a hugetlbfs mount), else
/// the first mount of the default page size, else the first mount.
pub fn find_mount(huge_dir: Option<&Path>) -> Result<HugeMount, EalError> {
    let mounts = std::fs::read_to_string("/proc/mounts").map_err(|e| EalError::io("reading /proc/mounts", e))?;
    let def = default_page_size();
    let all = parse_mounts(&mounts, def);
    if let Some(dir) = huge_dir {
        let canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        return all.into_iter().find(|m| m.dir == canon).ok_or_else(|| EalError::NotHugetlbfs(dir.to_path_buf()));
    }
    all.iter().find(|m| m.page_size == def).or_else(|| all.first()).cloned().ok_or(EalError::NoHugetlbfs)
}

/// Free huge pages of `page_size` (system-wide).
pub fn free_pages(page_size: u64) -> u64 {
    let p = format!("/sys/kernel/mm/hugepages/hugepages-{}kB/free_hugepages", page_size / 1024);
    std::fs::read_to_string(p).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mounts() {
        let m = "sysfs /sys sysfs rw 0 0\n\
                 nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n\
                 none /mnt/huge1g hugetlbfs rw,pagesize=1024M 0 0\n\
                 none /mnt/plain hugetlbfs rw 0 0\n";
        let v = parse_mounts(m, 4 << 20);
        assert_eq!(
            v,
            vec![
                HugeMount { dir: "/dev/hugepages".into(), page_size: 2 << 20 },
                HugeMount { dir: "/mnt/huge1g".into(), page_size: 1 << 30 },
                HugeMount { dir: "/mnt/plain".into(), page_size: 4 << 20 },
            ]
        );
        assert!(parse_mounts("proc /proc proc rw 0 0\n", 2 << 20).is_empty());
    }
}
