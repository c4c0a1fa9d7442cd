//! The two ways an engine's reactor is driven from Node, behind one interface for the
//! binding: the same-thread driver (`uv_poll` on the JS thread's own loop; Unix) and the
//! thread driver (a reactor thread that hands batches to the JS thread; everywhere).

#[cfg(unix)]
use crate::same_thread_driver::Driver;
use crate::thread_driver::ThreadDriver;
use napi::sys;
use riptide::{ConnId, Conns, EventHandler, Reactor};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The pieces JS hands over when starting an engine.
pub struct JsParts {
    pub dispatch: sys::napi_value,
    pub staged_ops: sys::napi_value,
    pub staged_data: sys::napi_value,
}

/// Counts of a driver's work since the engine started: how many times the JS thread was
/// woken, how many JS calls those wakes made and how many events the calls carried. The
/// ratios (calls per wake, events per call) show how well the boundary batches.
#[derive(Clone, Copy, Default)]
pub struct BoundaryCounts {
    pub wakes: u64,
    pub js_calls: u64,
    pub events: u64,
    /// Nanoseconds spent inside those JS calls (the handlers' time, dispatch included).
    pub handler_nanos: u64,
}

impl BoundaryCounts {
    /// The counts of several drivers added up.
    pub fn total(drivers: impl IntoIterator<Item = BoundaryCounts>) -> BoundaryCounts {
        drivers
            .into_iter()
            .fold(BoundaryCounts::default(), |a, b| BoundaryCounts {
                wakes: a.wakes + b.wakes,
                js_calls: a.js_calls + b.js_calls,
                events: a.events + b.events,
                handler_nanos: a.handler_nanos + b.handler_nanos,
            })
    }
}

/// The live [`BoundaryCounts`] of one reactor's driver, in atomics so the engine's other
/// threads (reactor 0 summing its workers) can read them.
#[derive(Default)]
pub struct BoundaryCounters {
    wakes: AtomicU64,
    js_calls: AtomicU64,
    events: AtomicU64,
    handler_nanos: AtomicU64,
}

impl BoundaryCounters {
    /// Counts a wake of the JS thread.
    pub fn wake(&self) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a JS call carrying `events` events that took `took`.
    pub fn call(&self, events: usize, took: Duration) {
        self.js_calls.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events as u64, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.handler_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> BoundaryCounts {
        BoundaryCounts {
            wakes: self.wakes.load(Ordering::Relaxed),
            js_calls: self.js_calls.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            handler_nanos: self.handler_nanos.load(Ordering::Relaxed),
        }
    }
}

/// Which driver runs a reactor (`driver` in the TS options).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DriverKind {
    /// The reactor's poll descriptor is watched by the JS thread's libuv loop.
    SameThread,
    /// The reactor turns on a thread of its own.
    Thread,
}

impl DriverKind {
    /// Parses the TS option (`'same-thread'` or `'thread'`).
    pub fn parse(name: &str) -> Result<DriverKind, riptide::Error> {
        match name {
            "same-thread" => Ok(DriverKind::SameThread),
            "thread" => Ok(DriverKind::Thread),
            other => Err(riptide::Error::InvalidOption(format!(
                "driver must be 'same-thread' or 'thread', got {other:?}"
            ))),
        }
    }
}

/// A running engine's driver.
pub enum Drive {
    #[cfg(unix)]
    SameThread(Rc<Driver>),
    Thread(Rc<ThreadDriver>),
}

/// Forwards a call to whichever driver runs the engine.
macro_rules! each {
    ($self:expr, $d:ident => $e:expr) => {
        match $self {
            #[cfg(unix)]
            Drive::SameThread($d) => $e,
            Drive::Thread($d) => $e,
        }
    };
}

impl Drive {
    /// Starts `reactor` under the driver `kind`.
    pub fn start(
        kind: DriverKind,
        env: sys::napi_env,
        reactor: Reactor,
        js: JsParts,
        counters: Arc<BoundaryCounters>,
        on_release: Box<dyn FnOnce()>,
    ) -> napi::Result<Drive> {
        match kind {
            #[cfg(unix)]
            DriverKind::SameThread => {
                Driver::start(env, reactor, js, counters, on_release).map(Drive::SameThread)
            }
            #[cfg(not(unix))]
            DriverKind::SameThread => Err(napi::Error::from_reason(
                "the same-thread driver needs epoll or kqueue; use driver: 'thread'",
            )),
            DriverKind::Thread => {
                ThreadDriver::start(env, reactor, js, counters, on_release).map(Drive::Thread)
            }
        }
    }

    /// True until the engine has stopped.
    pub fn running(&self) -> bool {
        each!(self, d => d.running())
    }

    /// Runs `f` on the reactor; `None` once stopped.
    pub fn with_reactor<T>(&self, f: impl FnOnce(&mut Reactor) -> T) -> Option<T> {
        each!(self, d => d.with_reactor(f))
    }

    /// Applies the writes and closes JS staged.
    pub fn flush_staged(&self) {
        each!(self, d => d.flush_staged())
    }

    /// Keeps `data` in front of the connection's next bytes; `None` once stopped.
    pub fn retain(&self, id: ConnId, data: &[u8]) -> Option<Result<(), riptide::Error>> {
        match self {
            #[cfg(unix)]
            Drive::SameThread(d) => d.with_reactor(|r| r.conns().retain(id, data)),
            Drive::Thread(d) => d.retain(id, data),
        }
    }

    /// Keeps the process alive while running, or not.
    pub fn set_ref(&self, keep_alive: bool) {
        each!(self, d => d.set_ref(keep_alive))
    }

    /// Delivers an execute event in the next batch.
    pub fn request_execute(&self) {
        each!(self, d => d.request_execute())
    }

    /// Stops the engine, gracefully with a drain timeout.
    pub fn stop(&self, drain: Option<Duration>) {
        each!(self, d => d.stop(drain))
    }

    /// Arms the `injectPanic` test hook.
    pub fn inject_panic(&self) {
        each!(self, d => d.inject_panic())
    }
}

/// Swallows events nobody can receive (a driver's env teardown, where JS can no longer run).
pub struct Discard;

impl EventHandler for Discard {
    fn on_traffic(&mut self, _: &mut Conns, _: ConnId, _: &[u8]) {}
}
