//! The process-wide table of engines, so any JS thread (the main thread or a worker) holding a
//! connection handle `{ engine, reactor, slot, generation }` can reach the reactor that owns
//! it, and worker reactors can join an engine started on another thread. Rust statics are
//! shared by all workers of a process, which is exactly what this needs.

use crate::drive::{BoundaryCounters, BoundaryCounts};
use riptide::{ListenOptions, LoadBalancing, ReactorConfig, ReactorMetrics, ReactorStats, Remote};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// What every reactor of one engine shares.
pub struct Shared {
    /// Limits and socket options of every reactor.
    pub config: ReactorConfig,
    /// How reactor 0 spreads connections (unless `reuse_port`).
    pub policy: LoadBalancing,
    /// Listener URLs with ports resolved, and their codecs, for reactors that bind their own
    /// (`reuse_port`).
    pub listeners: Vec<(String, ListenOptions)>,
    /// The TLS contexts of the `tls://` listeners, shared by every reactor's copy.
    pub tls: Vec<riptide::TlsServerContext>,
    /// The client keys the secure `kcp://` listeners allow, one set shared by all of them and
    /// by every reactor's copy; `None` without `secure.allowedClients`.
    pub allowed_clients: Option<riptide::secure::AllowedClients>,
    /// Inboxes by reactor index; `None` until that reactor joins or after it stops.
    remotes: Mutex<Vec<Option<Remote>>>,
    /// The boundary counters of each reactor's driver, by index.
    boundary: Vec<Arc<BoundaryCounters>>,
}

impl Shared {
    /// Creates the shared state of an engine with `reactors` reactors.
    pub fn new(
        config: ReactorConfig,
        policy: LoadBalancing,
        listeners: Vec<(String, ListenOptions)>,
        tls: Vec<riptide::TlsServerContext>,
        allowed_clients: Option<riptide::secure::AllowedClients>,
        reactors: usize,
    ) -> Shared {
        Shared {
            config,
            policy,
            listeners,
            tls,
            allowed_clients,
            remotes: Mutex::new(vec![None; reactors]),
            boundary: (0..reactors).map(|_| Arc::default()).collect(),
        }
    }

    /// Records (or, with `None`, forgets) the inbox of reactor `index`.
    pub fn set_remote(&self, index: usize, remote: Option<Remote>) -> bool {
        let mut remotes = self.remotes.lock().unwrap_or_else(|p| p.into_inner());
        match remotes.get_mut(index) {
            Some(slot) => {
                *slot = remote;
                true
            }
            None => false,
        }
    }

    /// The inbox of reactor `index`, if it runs.
    pub fn remote(&self, index: usize) -> Option<Remote> {
        let remotes = self.remotes.lock().unwrap_or_else(|p| p.into_inner());
        remotes.get(index).cloned().flatten()
    }

    /// The boundary counters for the driver of reactor `index` (unshared ones when out of range).
    pub fn boundary(&self, index: usize) -> Arc<BoundaryCounters> {
        self.boundary.get(index).cloned().unwrap_or_default()
    }

    /// The operator counters of the whole engine: every running reactor's summed, and every
    /// driver's boundary counts summed.
    pub fn stats(&self) -> (ReactorStats, BoundaryCounts) {
        (
            ReactorStats::total(self.running().iter().map(Remote::stats)),
            BoundaryCounts::total(self.boundary.iter().map(|b| b.snapshot())),
        )
    }

    /// Every running reactor's metrics with its driver's boundary counts, in index order.
    pub fn metrics(&self) -> Vec<(ReactorMetrics, BoundaryCounts)> {
        self.running()
            .iter()
            .map(|r| (r.metrics(), self.boundary(r.index()).snapshot()))
            .collect()
    }

    /// Inboxes of every running reactor, in index order.
    pub fn running(&self) -> Vec<Remote> {
        let remotes = self.remotes.lock().unwrap_or_else(|p| p.into_inner());
        remotes.iter().flatten().cloned().collect()
    }
}

fn table() -> &'static Mutex<HashMap<u32, Arc<Shared>>> {
    static TABLE: OnceLock<Mutex<HashMap<u32, Arc<Shared>>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// Registers an engine; returns its id.
pub fn register(shared: Arc<Shared>) -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    table()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, shared);
    id
}

/// The engine with id `id`, while it runs.
pub fn get(id: u32) -> Option<Arc<Shared>> {
    table()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned()
}

/// Forgets an engine (its reactor 0 stopped).
pub fn unregister(id: u32) {
    table()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
}
