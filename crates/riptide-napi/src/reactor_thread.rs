//! The reactor thread of the thread driver and what it shares with the JS thread: the
//! reactor and the event log behind one lock, the thread-safe function that wakes JS, and the
//! loop that turns the reactor and waits for readiness. The JS side is
//! [`crate::thread_driver`].
//!
//! Locking: the reactor thread holds the lock while it turns, never while it waits. On Unix it
//! waits with `poll(2)` on the reactor's epoll/kqueue descriptor outside the lock, so the JS
//! thread's calls find the lock free unless a turn is running. Windows has no such
//! descriptor: the reactor thread blocks inside the turn, and the JS thread wakes it and takes
//! the lock before it turns again.

use crate::batch::Events;
use crate::event_log::EventLog;
use napi::sys;
use riptide::{ConnId, Reactor, Waker};
use std::ptr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(unix)]
use std::time::Duration;
use std::time::Instant;

/// Events (or payload bytes) the reactor thread lets wait for JS before it stops turning until
/// JS takes them. This is the thread driver's backpressure: a JS thread slower than the
/// network makes the reactor stop reading, so sockets fill and peers' windows close, as with
/// the same-thread driver, instead of the log growing without bound. One turn may pass the
/// mark by at most its own budgets (`eventBudget`, `readBudget`).
const LOG_EVENTS_MAX: usize = 64 * 1024;
/// See [`LOG_EVENTS_MAX`].
const LOG_BYTES_MAX: usize = 4 * 1024 * 1024;

/// A Node-API thread-safe function: the one way the reactor thread reaches the JS thread.
pub struct Tsfn(pub sys::napi_threadsafe_function);

// SAFETY: Node-API documents `napi_call_threadsafe_function` as callable from any thread; the
// other calls on it (ref, unref, release) are made on the JS thread only.
unsafe impl Send for Tsfn {}
// SAFETY: as above; the handle itself is an immutable pointer.
unsafe impl Sync for Tsfn {}

impl Tsfn {
    /// Queues one call of `call_js` on the JS thread. Fails only once Node is tearing the
    /// function down, when nobody is left to deliver to.
    pub fn call(&self) {
        // SAFETY: the function lives until `release` (JS thread, after the reactor thread was
        // joined) or the env teardown (which joins the reactor thread first).
        unsafe {
            sys::napi_call_threadsafe_function(
                self.0,
                ptr::null_mut(),
                sys::ThreadsafeFunctionCallMode::nonblocking,
            )
        };
    }
}

/// What the reactor thread and the JS thread share.
pub struct Core {
    pub state: Mutex<State>,
    /// Signalled when JS takes the log (the reactor thread may wait for it, see
    /// [`LOG_BYTES_MAX`]) and when the thread is asked to quit.
    pub taken: Condvar,
    /// Interrupts the reactor thread's wait (the reactor's own waker).
    pub waker: Arc<Waker>,
    pub tsfn: Tsfn,
    /// The JS thread waits for the lock (Windows: the reactor thread lets it in between turns).
    #[cfg(windows)]
    pub js_waiting: std::sync::atomic::AtomicUsize,
}

/// The state behind the lock.
pub struct State {
    /// `None` once the engine stopped.
    pub reactor: Option<Reactor>,
    /// Events for JS not yet taken.
    pub log: Events<EventLog>,
    /// A JS wake is queued and has not yet taken the log: later events ride on it.
    pub js_woken: bool,
    /// The reactor thread leaves its loop.
    pub quit: bool,
    /// The deadline the reactor thread waits for (`None`: readiness only). A JS call that
    /// arms an earlier timer wakes the thread, which then waits for the new one.
    pub waits_until: Option<Instant>,
}

impl Core {
    /// Locks the state. A panic that poisoned the lock left the state consistent (reactor
    /// panics are caught inside the reactor), so the lock is taken anyway.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Locks the state from the JS thread (on Windows, first waking the reactor thread out
    /// of its blocking turn).
    pub fn lock_from_js(&self) -> MutexGuard<'_, State> {
        #[cfg(windows)]
        {
            use std::sync::atomic::Ordering;
            self.js_waiting.fetch_add(1, Ordering::AcqRel);
            let _ = self.waker.wake();
            let guard = self.lock();
            self.js_waiting.fetch_sub(1, Ordering::AcqRel);
            guard
        }
        #[cfg(not(windows))]
        self.lock()
    }

    /// Makes sure a JS wake is queued for the events in `s.log` (one per empty → non-empty).
    pub fn notify_js(&self, s: &mut State) {
        if !s.js_woken {
            s.js_woken = true;
            self.tsfn.call();
        }
    }

    /// Runs `f` on the reactor from the JS thread, then wakes the reactor thread when `f`
    /// left it work (a notice to deliver, an earlier deadline) its current wait would miss.
    pub fn with_reactor<T>(
        &self,
        f: impl FnOnce(&mut Reactor, &mut Events<EventLog>) -> T,
    ) -> Option<T> {
        let mut s = self.lock_from_js();
        let State {
            reactor,
            log,
            waits_until,
            ..
        } = &mut *s;
        let reactor = reactor.as_mut()?;
        let out = f(reactor, log);
        // What JS published is queued now, as the reactor thread may not turn before JS
        // publishes more (a burst would then reach each subscriber at once, past its limits).
        reactor.conns().settle();
        let next = reactor.next_deadline();
        let earlier = next.is_some_and(|a| waits_until.is_none_or(|w| a < w));
        if earlier {
            *waits_until = next;
        }
        if reactor.conns().needs_turn() || earlier {
            let _ = self.waker.wake();
        }
        if s.log.len() > 0 {
            self.notify_js(&mut s);
        }
        Some(out)
    }
}

/// The reactor thread: turn, hand events to JS, wait for readiness or the next deadline.
pub fn run(core: Arc<Core>) {
    #[cfg(unix)]
    let fd = match core.lock().reactor.as_ref() {
        Some(r) => std::os::fd::AsRawFd::as_raw_fd(r),
        None => return,
    };
    loop {
        let deadline = {
            let mut s = core.lock();
            while !s.quit && (s.log.len() >= LOG_EVENTS_MAX || s.log.bytes() >= LOG_BYTES_MAX) {
                s = core.taken.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.quit {
                return;
            }
            let State { reactor, log, .. } = &mut *s;
            let Some(reactor) = reactor.as_mut() else {
                return;
            };
            // Unix: poll only (the wait is below, outside the lock). Windows: block here.
            #[cfg(unix)]
            let timeout = Some(Duration::ZERO);
            #[cfg(windows)]
            let timeout = None;
            // An epoll error is not actionable per turn; the next one retries.
            let _ = reactor.turn(log, timeout);
            let deadline = reactor.next_deadline();
            // A drain can end with no event: its listeners' handshake grace ran out after
            // the last connection closed. JS finishes the stop when it sees it.
            let drained = reactor.drain_status().is_some_and(|(_, open)| open == 0);
            s.waits_until = deadline;
            if s.log.len() > 0 || drained {
                core.notify_js(&mut s);
            }
            deadline
        };
        #[cfg(unix)]
        wait_readable(fd, deadline);
        #[cfg(windows)]
        {
            let _ = deadline;
            while core.js_waiting.load(std::sync::atomic::Ordering::Acquire) > 0 {
                std::thread::yield_now();
            }
        }
    }
}

/// Waits until the reactor's descriptor is readable or `deadline` passes.
#[cfg(unix)]
fn wait_readable(fd: std::os::fd::RawFd, deadline: Option<Instant>) {
    let ms = deadline.map_or(-1, |at| {
        let wait = at.saturating_duration_since(Instant::now());
        // Round up: a wait that ends early finds nothing due.
        wait.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
    });
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd; `fd` stays open while this thread runs (the reactor
    // is dropped only after the thread is joined). EINTR just ends this wait early.
    unsafe { libc::poll(&mut p, 1, ms) };
}

/// Tails the connection table accepted (`Conns::retain`) that belong in front of data the
/// reactor thread read ahead: moved from the table into the log, so they arrive before it.
pub fn retain_ahead(r: &mut Reactor, log: &mut Events<EventLog>, tails: Vec<(ConnId, Vec<u8>)>) {
    if tails.is_empty() {
        return;
    }
    for id in log.prepend(tails) {
        // Emptied: the bytes now travel in the log (this also stops the partial-frame clock,
        // which starts again if JS hands a tail back once more).
        let _ = r.conns().retain(id, &[]);
    }
}
