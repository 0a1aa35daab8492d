//! The eventfds of interrupt vectors that no thread of the primary handles: vectors that
//! whichever process polls a queue sleeps on (RX interrupts). The primary publishes them here
//! when it arms them; a secondary gets a copy of one over IPC (`fd_share`, by device table
//! index and vector) and waits on the very same counter.

use crate::vfio::EventFd;
use std::sync::{Arc, Mutex};

struct Published {
    device: u32,
    vector: u32,
    efd: Arc<EventFd>,
}

static PUBLISHED: Mutex<Vec<Published>> = Mutex::new(Vec::new());

fn table() -> std::sync::MutexGuard<'static, Vec<Published>> {
    PUBLISHED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Publishes `efd` as vector `vector` of device `device` (replacing an older one).
pub(crate) fn publish(device: u32, vector: u32, efd: Arc<EventFd>) {
    let mut t = table();
    t.retain(|p| !(p.device == device && p.vector == vector));
    t.push(Published { device, vector, efd });
}

/// Withdraws the vectors of `device` published with these eventfds (when they are disarmed).
pub(crate) fn withdraw(device: u32, efds: &[Arc<EventFd>]) {
    table().retain(|p| !(p.device == device && efds.iter().any(|e| Arc::ptr_eq(e, &p.efd))));
}

/// The eventfd of vector `vector` of device `device`, if published.
pub(crate) fn lookup(device: u32, vector: u32) -> Option<Arc<EventFd>> {
    table().iter().find(|p| p.device == device && p.vector == vector).map(|p| p.efd.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vectors_are_found_until_withdrawn() {
        let a = Arc::new(EventFd::new().unwrap());
        publish(900, 1, a.clone());
        assert!(lookup(900, 1).is_some_and(|e| Arc::ptr_eq(&e, &a)));
        assert!(lookup(900, 2).is_none() && lookup(901, 1).is_none());
        withdraw(900, std::slice::from_ref(&a));
        assert!(lookup(900, 1).is_none());
    }
}
