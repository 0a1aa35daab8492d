//! Logical cores: worker threads pinned to CPUs, each with an lcore id that indexes per-lcore
//! state (mempool caches). The main lcore is the thread that called `Eal::init`.

mod affinity;
mod registry;

pub(crate) use affinity::set_control_cpus;
pub use affinity::{available_cpus, control_cpus, enter_control_thread, pin_current_thread, pinned_cpu};
pub use registry::{claim_lcores, release_lcores};

use crate::args::LcoreSpec;
use crate::error::EalError;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::JoinHandle;

thread_local! {
    static LCORE_ID: Cell<Option<u32>> = const { Cell::new(None) };
}

/// The lcore id of the calling thread, or `None` for threads the EAL did not start
/// (they use no per-lcore caches).
#[inline]
pub fn lcore_id() -> Option<u32> {
    LCORE_ID.with(|c| c.get())
}

/// Marks the calling thread as lcore `id` (done by the EAL for the main and worker lcores).
pub(crate) fn set_lcore_id(id: Option<u32>) {
    LCORE_ID.with(|c| c.set(id));
    crate::ring::bind_lcore(id);
}

/// Launches and waits for functions on worker lcores.
pub struct Lcores {
    specs: Vec<LcoreSpec>,
    main: u32,
    running: Mutex<HashMap<u32, JoinHandle<i32>>>,
}

impl Lcores {
    pub(crate) fn new(specs: Vec<LcoreSpec>, main: u32) -> Lcores {
        Lcores { specs, main, running: Mutex::new(HashMap::new()) }
    }

    /// All lcores of this process, sorted by id.
    pub fn all(&self) -> &[LcoreSpec] {
        &self.specs
    }

    /// The main lcore's id.
    pub fn main(&self) -> u32 {
        self.main
    }

    /// The worker lcores' ids (all but the main one).
    pub fn workers(&self) -> Vec<u32> {
        self.specs.iter().map(|l| l.id).filter(|&i| i != self.main).collect()
    }

    /// Runs `f` on worker lcore `id`, in a thread pinned to the lcore's CPUs.
    /// Fails if `id` is not a worker lcore of this process or is still busy.
    pub fn remote_launch<F>(&self, id: u32, f: F) -> Result<(), EalError>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        let spec =
            self.specs.iter().find(|l| l.id == id && l.id != self.main).cloned().ok_or_else(|| {
                EalError::InvalidArgument(format!("lcore {id} is not a worker lcore of this process"))
            })?;
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.get(&id).is_some_and(|h| !h.is_finished()) {
            return Err(EalError::InvalidArgument(format!("lcore {id} is busy; wait for it first")));
        }
        if let Some(old) = running.remove(&id) {
            let _ = old.join();
        }
        let handle = std::thread::Builder::new()
            .name(format!("lcore-{id}"))
            .spawn(move || {
                if let Err(e) = pin_current_thread(&spec.cpus) {
                    tracing::warn!(lcore = id, "cannot pin to cpus {:?}: {e}", spec.cpus);
                }
                set_lcore_id(Some(id));
                f()
            })
            .map_err(|e| EalError::io(format!("spawning the thread of lcore {id}"), e))?;
        running.insert(id, handle);
        Ok(())
    }

    /// Waits for lcore `id` and returns its function's result (`None` if nothing ran there
    /// or the function panicked).
    pub fn wait(&self, id: u32) -> Option<i32> {
        let h = self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id)?;
        h.join().ok()
    }

    /// Waits for every worker lcore; returns the results by lcore id.
    pub fn wait_all(&self) -> Vec<(u32, Option<i32>)> {
        let handles: Vec<_> = self.running.lock().unwrap_or_else(|e| e.into_inner()).drain().collect();
        let mut out: Vec<_> = handles.into_iter().map(|(id, h)| (id, h.join().ok())).collect();
        out.sort_by_key(|r| r.0);
        out
    }
}
