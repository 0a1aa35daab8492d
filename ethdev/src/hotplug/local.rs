//! This process's objects of the group's ports: the port handle and, in the primary, its
//! control, one entry per port-table slot, behind one lock that only control calls take
//! (bursts go through handles the application already holds).

use crate::driver::Control;
use crate::port::Port;
use crate::port_table::MAX_PORTS;
use std::sync::{Arc, Mutex, MutexGuard};

/// One port of this process.
pub(crate) struct Entry {
    /// The ethdev layer's own handle.
    pub port: Port,
    /// Control (primary only).
    pub control: Option<Arc<dyn Control>>,
    /// The slot's generation when this process took the port.
    pub generation: u32,
    /// The shared device table entry of its PCI device, if it is a PCI port.
    pub device: Option<u32>,
    /// Handles counted right after the port was taken (the ethdev layer's and the driver's).
    baseline: usize,
    /// Being detached: no new handles are given out.
    pub detaching: bool,
    /// Detaches rolled back so far: a release wait that began before a rollback must not
    /// mark the port afterwards.
    pub rollbacks: u32,
}

impl Entry {
    /// An entry for a port just attached in this process.
    pub fn new(port: Port, control: Option<Arc<dyn Control>>, generation: u32) -> Entry {
        let baseline = port.handles();
        Entry { port, control, generation, device: None, baseline, detaching: false, rollbacks: 0 }
    }

    /// The same entry, for a port of the PCI device of table entry `index`.
    pub fn with_device(mut self, index: u32) -> Entry {
        self.device = Some(index);
        self
    }

    /// Handles of the port the application holds in this process.
    pub fn held(&self) -> usize {
        self.port.handles().saturating_sub(self.baseline)
    }
}

/// The entries, indexed by port id.
pub(crate) struct LocalPorts {
    entries: Mutex<Vec<Option<Entry>>>,
}

impl LocalPorts {
    pub fn new() -> LocalPorts {
        LocalPorts { entries: Mutex::new((0..MAX_PORTS).map(|_| None).collect()) }
    }

    /// The entries, locked.
    pub fn lock(&self) -> MutexGuard<'_, Vec<Option<Entry>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A handle of port `id`, unless it does not exist or is being detached.
    pub fn port(&self, id: u16) -> Option<Port> {
        self.lock().get(usize::from(id))?.as_ref().filter(|e| !e.detaching).map(|e| e.port.clone())
    }

    /// A handle and the control of port `id` (primary), unless it is being detached.
    pub fn control(&self, id: u16) -> Option<(Port, Arc<dyn Control>)> {
        let g = self.lock();
        let e = g.get(usize::from(id))?.as_ref().filter(|e| !e.detaching)?;
        Some((e.port.clone(), e.control.clone()?))
    }

    /// Ids of the ports present (also those being detached).
    pub fn ids(&self) -> Vec<u16> {
        self.lock().iter().enumerate().filter(|(_, e)| e.is_some()).map(|(i, _)| i as u16).collect()
    }

    /// Records port `id`.
    pub fn insert(&self, id: u16, entry: Entry) {
        if let Some(e) = self.lock().get_mut(usize::from(id)) {
            *e = Some(entry);
        }
    }

    /// Removes port `id` of generation `generation` (any generation with None).
    pub fn remove(&self, id: u16, generation: Option<u32>) -> Option<Entry> {
        let mut g = self.lock();
        let e = g.get_mut(usize::from(id))?;
        if generation.is_some_and(|gen| e.as_ref().is_some_and(|x| x.generation != gen)) {
            return None;
        }
        e.take()
    }

    /// The rollback count of port `id` (see [`Entry::rollbacks`]).
    pub fn rollbacks(&self, id: u16) -> u32 {
        self.lock().get(usize::from(id)).and_then(|e| e.as_ref().map(|e| e.rollbacks)).unwrap_or(0)
    }

    /// Marks port `id` of `generation` as being detached if the application holds no handle
    /// of it; returns the handles held otherwise (0 when marked; None when no such port, or
    /// when a rollback came since `rollbacks` was read).
    pub fn try_mark_detaching(&self, id: u16, generation: u32, rollbacks: u32) -> Option<usize> {
        let mut g = self.lock();
        let e = g.get_mut(usize::from(id))?.as_mut().filter(|e| e.generation == generation)?;
        if e.rollbacks != rollbacks {
            return None;
        }
        let held = e.held();
        if held == 0 {
            e.detaching = true;
        }
        Some(held)
    }

    /// Clears the detaching mark of port `id` of `generation` (a rolled-back detach).
    pub fn unmark_detaching(&self, id: u16, generation: u32) {
        if let Some(Some(e)) = self.lock().get_mut(usize::from(id)) {
            if e.generation == generation {
                e.detaching = false;
                e.rollbacks = e.rollbacks.wrapping_add(1);
            }
        }
    }
}
