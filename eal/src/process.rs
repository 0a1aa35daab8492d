//! Facts about other processes of the group.

/// True when a process with this pid exists (it may belong to another user).
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
