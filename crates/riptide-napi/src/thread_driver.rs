//! The thread driver: the reactor turns on a Rust thread of its own, and its events reach JS
//! in batches. The reactor thread encodes events into an [`EventLog`] and wakes the JS thread
//! through one Node-API thread-safe function call only when the log goes from empty to
//! non-empty, never once per event (`architecture.md` §2). The JS thread swaps the log out
//! under the lock, copies it into the JS-visible batch and makes one JS call per batch; writes
//! JS staged during the batch are applied under the lock after it returns.
//!
//! It is the driver where the same-thread one cannot run (Windows, where the reactor has no
//! pollable descriptor for libuv), and an opt-in (`driver: 'thread'`) that moves reading,
//! decoding, KCP, FEC and AEAD off the JS thread.
//!
//! This file is the JS side; the reactor thread, its loop and the state the two share are in
//! [`crate::reactor_thread`].

use crate::batch::{Events, Sink, EV_EXECUTE, EV_SHUTDOWN};
use crate::drive::{BoundaryCounters, Discard, JsParts};
use crate::event_log::EventLog;
use crate::js_end::{deliver, JsEnd};
use crate::raw::check;
use crate::reactor_thread::{retain_ahead, run, Core, State, Tsfn};
use crate::warn::warn;
use napi::sys;
use riptide::{ConnId, Reactor};
use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// JS-thread state that exists only while the engine runs.
struct Live {
    js: JsEnd,
    /// The log swapped in for the reactor's while JS reads this one.
    spare: Events<EventLog>,
}

/// One engine's reactor on a thread of its own, delivering to the JS thread that created it.
pub struct ThreadDriver {
    env: sys::napi_env,
    core: Arc<Core>,
    thread: RefCell<Option<JoinHandle<()>>>,
    live: RefCell<Option<Live>>,
    /// JS is running a batch: `stop` is deferred until it returns.
    dispatching: Cell<bool>,
    stop_requested: Cell<bool>,
    /// A graceful stop asked for during a batch starts once the batch returns.
    drain_requested: Cell<Option<Duration>>,
    /// Test hook (`injectPanic`): the next pump panics.
    panic_requested: Cell<bool>,
    stopping: Cell<bool>,
    /// The env cleanup hook is registered (removed by `stop_now`, or run by the teardown).
    hooked: Cell<bool>,
    on_release: Cell<Option<Box<dyn FnOnce()>>>,
    counters: Arc<BoundaryCounters>,
}

impl ThreadDriver {
    /// Starts `reactor` on a new thread that delivers to the calling JS thread.
    pub fn start(
        env: sys::napi_env,
        reactor: Reactor,
        js: JsParts,
        counters: Arc<BoundaryCounters>,
        on_release: Box<dyn FnOnce()>,
    ) -> napi::Result<Rc<ThreadDriver>> {
        let mut name = ptr::null_mut();
        check(
            // SAFETY: on the env's JS thread; the literal has the 14 bytes given.
            unsafe { sys::napi_create_string_utf8(env, c"riptide.thread".as_ptr(), 14, &mut name) },
            "napi_create_string_utf8",
        )?;
        let live = Live {
            js: JsEnd::new(env, &js)?,
            spare: Events(EventLog::default()),
        };
        // The driver is created before the function (which needs its address), so the core
        // is filled in once the function exists.
        let waker = reactor.waker();
        let mut tsfn = ptr::null_mut();
        let cell: Rc<RefCell<Option<Rc<ThreadDriver>>>> = Rc::new(RefCell::new(None));
        let context = Rc::into_raw(cell.clone()) as *mut c_void;
        check(
            // SAFETY: on the env's JS thread; `context` is a leaked `Rc` taken back once, by
            // `on_finalize`, which Node calls once when the function is destroyed.
            unsafe {
                sys::napi_create_threadsafe_function(
                    env,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    name,
                    0,
                    1,
                    context,
                    Some(on_finalize),
                    context,
                    Some(on_wake),
                    &mut tsfn,
                )
            },
            "napi_create_threadsafe_function",
        )
        .inspect_err(|_| {
            // SAFETY: the function was not created, so `on_finalize` never runs: take the
            // leaked reference back here.
            drop(unsafe { Rc::from_raw(context as *const RefCell<Option<Rc<ThreadDriver>>>) });
        })?;
        let core = Arc::new(Core {
            state: Mutex::new(State {
                reactor: Some(reactor),
                log: Events(EventLog::default()),
                js_woken: false,
                waits_until: None,
                quit: false,
            }),
            taken: Condvar::new(),
            waker,
            tsfn: Tsfn(tsfn),
            #[cfg(windows)]
            js_waiting: std::sync::atomic::AtomicUsize::new(0),
        });
        let driver = Rc::new(ThreadDriver {
            env,
            core: core.clone(),
            thread: RefCell::new(None),
            live: RefCell::new(Some(live)),
            dispatching: Cell::new(false),
            stop_requested: Cell::new(false),
            drain_requested: Cell::new(None),
            panic_requested: Cell::new(false),
            stopping: Cell::new(false),
            hooked: Cell::new(false),
            on_release: Cell::new(Some(on_release)),
            counters,
        });
        *cell.borrow_mut() = Some(driver.clone());
        // Registered after the function, so it runs before Node's own teardown of it (cleanup
        // hooks run in reverse order) and the reactor thread is gone by then.
        check(
            // SAFETY: on the env's JS thread; `arg` is the driver's address, valid while the
            // hook is registered (the cell above holds the driver until the function is
            // finalized, which happens after `stop_now` removed the hook or after teardown).
            unsafe {
                sys::napi_add_env_cleanup_hook(
                    env,
                    Some(on_env_teardown),
                    Rc::as_ptr(&driver) as *mut c_void,
                )
            },
            "napi_add_env_cleanup_hook",
        )?;
        driver.hooked.set(true);
        let thread = std::thread::Builder::new()
            .name("riptide-reactor".into())
            .spawn(move || run(core))
            .map_err(|e| napi::Error::from_reason(format!("spawning the reactor thread: {e}")))?;
        *driver.thread.borrow_mut() = Some(thread);
        Ok(driver)
    }

    /// True until the engine has stopped.
    pub fn running(&self) -> bool {
        self.live.borrow().is_some()
    }

    /// Runs `f` on the reactor (under the lock); `None` once stopped.
    pub fn with_reactor<T>(&self, f: impl FnOnce(&mut Reactor) -> T) -> Option<T> {
        if !self.running() {
            return None;
        }
        self.core.with_reactor(|r, _| f(r))
    }

    /// Applies the writes and closes JS staged (called by JS when its staging arrays fill).
    pub fn flush_staged(&self) {
        if let Some(live) = self.live.borrow_mut().as_mut() {
            let env = self.env;
            self.core.with_reactor(|r, log| {
                let mut tails = Vec::new();
                let js = &mut live.js;
                js.staged
                    .apply(env, r.conns(), js.batch.arena(), &mut |conns, id, bytes| {
                        if conns.retain(id, bytes).is_ok() {
                            tails.push((id, bytes.to_vec()));
                        }
                    });
                retain_ahead(r, log, tails);
            });
        }
    }

    /// Keeps `data` in front of the connection's next bytes (`OP_RETAIN` for a tail too large
    /// to stage); `None` once stopped.
    pub fn retain(&self, id: ConnId, data: &[u8]) -> Option<Result<(), riptide::Error>> {
        if !self.running() {
            return None;
        }
        self.core.with_reactor(|r, log| {
            r.conns().retain(id, data)?;
            retain_ahead(r, log, vec![(id, data.to_vec())]);
            Ok(())
        })
    }

    /// Keeps the process alive while running (`true`, the default) or not.
    pub fn set_ref(&self, keep_alive: bool) {
        if self.running() {
            // SAFETY: while running the function is live (released only by `release`), and we
            // are on its env's JS thread.
            unsafe {
                if keep_alive {
                    sys::napi_ref_threadsafe_function(self.env, self.core.tsfn.0)
                } else {
                    sys::napi_unref_threadsafe_function(self.env, self.core.tsfn.0)
                }
            };
        }
    }

    /// Delivers an execute event in the next batch (`engine.execute`).
    pub fn request_execute(&self) {
        if self.running() {
            self.core.with_reactor(|_, log| {
                let none = ConnId {
                    slot: 0,
                    generation: 0,
                };
                log.push(EV_EXECUTE, none, &[], 0);
            });
        }
    }

    /// Stops the engine, as the same-thread driver's `stop` does (see there).
    pub fn stop(&self, drain: Option<Duration>) {
        if drain.is_some() && self.dispatching.get() {
            self.drain_requested.set(drain);
            return;
        }
        if let Some(timeout) = drain {
            self.start_drain(timeout);
            return;
        }
        if self.dispatching.get() {
            self.stop_requested.set(true);
        } else {
            self.stop_now();
        }
    }

    /// Begins a graceful stop; the pump that delivers its last close finishes it.
    fn start_drain(&self, timeout: Duration) {
        self.core.with_reactor(|r, log| {
            r.drain(Instant::now() + timeout, log);
        });
        // A drain with nothing open produced no event: wake JS anyway to finish it.
        let mut s = self.core.lock_from_js();
        self.core.notify_js(&mut s);
    }

    /// Arms the `injectPanic` test hook: the next pump panics in the middle of its batch.
    pub fn inject_panic(&self) {
        self.panic_requested.set(true);
        let mut s = self.core.lock_from_js();
        self.core.notify_js(&mut s);
    }

    /// Called on the JS thread by the thread-safe function: delivers what the reactor
    /// thread collected. Panics are caught here (a riptide bug): the engine goes on.
    fn on_ready(&self) {
        self.counters.wake();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.pump())) {
            let err = riptide::Error::from_panic(&*panic);
            warn(format_args!(
                "{err} in the reactor driver; the engine goes on"
            ));
            self.dispatching.set(false);
            // The panicking pump may not have taken the log: queue a wake that will.
            let mut s = self.core.lock();
            s.js_woken = false;
            self.core.notify_js(&mut s);
        }
    }

    /// Takes the reactor thread's events into the JS batch; returns how many there are.
    fn take(&self) -> usize {
        let mut live = self.live.borrow_mut();
        let Some(live) = live.as_mut() else { return 0 };
        {
            let mut s = self.core.lock_from_js();
            std::mem::swap(&mut s.log, &mut live.spare);
            s.js_woken = false;
        }
        self.core.taken.notify_one();
        let (meta, arena) = live.spare.parts();
        live.js.batch.extend(meta, arena, live.spare.len());
        live.spare.clear();
        live.js.batch.len()
    }

    /// Delivers one batch and applies what JS staged during it. One batch per wake, as on
    /// the same-thread driver: Node drains microtasks after each wake, so code after an
    /// `await` that a batch resolved runs before the next batch (a stream attached right
    /// after `await dial()` sees the bytes that came with the open). Events that arrived
    /// meanwhile queued the next wake already (`take` re-armed it).
    fn pump(&self) {
        self.dispatching.set(true);
        if self.panic_requested.replace(false) {
            panic!("injected by the injectPanic test hook");
        }
        if self.take() > 0 {
            self.deliver();
            self.flush_staged();
            if let Some(timeout) = self.drain_requested.take() {
                self.start_drain(timeout);
            }
        }
        self.dispatching.set(false);
        let drained = self
            .core
            .lock_from_js()
            .reactor
            .as_ref()
            .and_then(|r| r.drain_status())
            .is_some_and(|(_, open)| open == 0);
        if self.stop_requested.get() || drained {
            self.stop_now();
        }
    }

    /// Calls JS once with the batch, then clears it.
    fn deliver(&self) {
        deliver(
            self.env,
            &self.live,
            |l| &mut l.js,
            &self.counters,
            &self.dispatching,
        );
    }

    /// Ends the reactor thread and takes the reactor back from it.
    fn join(&self) -> Option<Reactor> {
        self.core.lock_from_js().quit = true;
        self.core.taken.notify_one();
        let _ = self.core.waker.wake();
        if let Some(thread) = self.thread.borrow_mut().take() {
            let _ = thread.join();
        }
        self.core.lock().reactor.take()
    }

    /// Closes every connection, tells JS (closes, then shutdown), and releases everything.
    fn stop_now(&self) {
        if self.stopping.replace(true) {
            return;
        }
        let Some(mut reactor) = self.join() else {
            return;
        };
        {
            let mut s = self.core.lock();
            let open = reactor.conns().len();
            let (drained, reset) = reactor
                .drain_status()
                .map_or((0, 0), |(d, _)| (d.drained, d.reset));
            reactor.shutdown(&mut s.log);
            // Whatever is still open now closes without a drain: count it as reset.
            let counts = ConnId {
                slot: 0,
                generation: drained as u32,
            };
            s.log.push(EV_SHUTDOWN, counts, &[], (reset + open) as i32);
        }
        drop(reactor);
        self.take();
        self.deliver();
        self.release();
        if self.hooked.replace(false) {
            // SAFETY: the hook was registered with exactly this function and argument, and
            // is removed once (`hooked` was set).
            unsafe {
                sys::napi_remove_env_cleanup_hook(
                    self.env,
                    Some(on_env_teardown),
                    self as *const ThreadDriver as *mut c_void,
                )
            };
        }
    }

    /// Drops the JS references and releases the thread-safe function (whose finalizer drops
    /// the last reference to this driver).
    fn release(&self) {
        let Some(live) = self.live.borrow_mut().take() else {
            return;
        };
        if let Some(f) = self.on_release.take() {
            f();
        }
        live.js.delete(self.env);
        // SAFETY: `live` was just taken, so this runs once, on the JS thread, after the
        // reactor thread (the function's only other user) was joined.
        unsafe {
            sys::napi_release_threadsafe_function(
                self.core.tsfn.0,
                sys::ThreadsafeFunctionReleaseMode::release,
            )
        };
    }
}

/// The driver a thread-safe function's context points at, while it has one.
///
/// # Safety
/// `context` is the `Rc` leaked in [`ThreadDriver::start`], not yet finalized.
unsafe fn driver_of(context: *mut c_void) -> Option<Rc<ThreadDriver>> {
    // SAFETY: the caller's contract; the cell lives until `on_finalize`.
    let cell = unsafe { &*(context as *const RefCell<Option<Rc<ThreadDriver>>>) };
    cell.borrow().clone()
}

/// The thread-safe function's JS-thread callback: one wake of the JS thread.
unsafe extern "C" fn on_wake(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        // The function is being torn down with calls still queued: nothing to deliver to.
        return;
    }
    // SAFETY: Node passes the context given at creation, finalized only after this returns.
    let Some(driver) = (unsafe { driver_of(context) }) else {
        return;
    };
    let mut scope = ptr::null_mut();
    // SAFETY: Node calls us on the env's JS thread; the scope is closed below.
    unsafe { sys::napi_open_handle_scope(env, &mut scope) };
    if catch_unwind(AssertUnwindSafe(|| driver.on_ready())).is_err() {
        warn(format_args!(
            "internal panic in the reactor driver; the engine keeps running"
        ));
    }
    // SAFETY: the scope opened above, closed once.
    unsafe { sys::napi_close_handle_scope(env, scope) };
}

/// The thread-safe function is destroyed: drop its reference to the driver.
unsafe extern "C" fn on_finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Rc` leaked in `start`; Node finalizes once.
    let cell = unsafe { Rc::from_raw(data as *const RefCell<Option<Rc<ThreadDriver>>>) };
    cell.borrow_mut().take();
}

/// The env (main thread exit or worker termination) is going away: end the reactor thread
/// and close the sockets without calling JS. Node then finalizes the thread-safe function.
unsafe extern "C" fn on_env_teardown(arg: *mut c_void) {
    // SAFETY: `arg` is the driver, kept alive by the function's context until it is
    // finalized, which Node does after this hook (registered later, so run earlier).
    let driver = unsafe { &*(arg as *const ThreadDriver) };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        driver.hooked.set(false);
        driver.stopping.set(true);
        if let Some(mut reactor) = driver.join() {
            reactor.shutdown(&mut Discard);
        }
        if let Some(f) = driver.on_release.take() {
            f();
        }
    }));
}
