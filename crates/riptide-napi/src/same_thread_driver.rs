//! The same-thread driver: a reactor whose epoll/kqueue fd is watched by one `uv_poll` handle
//! on the JS thread's own libuv loop. When the fd is readable (or the reactor's next deadline,
//! kept in one `uv_timer`, passes), libuv calls us on the JS thread; we run one reactor turn
//! and deliver everything it produced to JS in one call, inside one handle scope and one
//! callback scope. No thread hop, no per-event JS call.
//!
//! Re-entrancy rule: Rust state lives in `RefCell`s that are never borrowed while JS runs, so
//! JS may call back into the engine (write, close, stop) from any callback.

use crate::batch::{Sink, EV_EXECUTE, EV_SHUTDOWN};
use crate::drive::{BoundaryCounters, Discard, JsParts};
use crate::js_end::{deliver, JsEnd};
use crate::raw::{check, Ref};
use crate::staged::retain_now;
use crate::uv::{self, Uv};
use crate::warn::warn;
use napi::sys;
use riptide::{ConnId, Reactor, Waker};
use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rounds of reap → JS → apply per wake before yielding to the rest of the loop.
const MAX_ROUNDS: usize = 4;

/// Everything that exists only while the engine runs.
struct Live {
    reactor: Reactor,
    js: JsEnd,
    resource: Ref,
    async_context: sys::napi_async_context,
}

impl Live {
    /// Applies what JS staged, its kept tails read from the batch it was last given.
    fn apply_staged(&mut self, env: sys::napi_env) {
        let js = &mut self.js;
        js.staged
            .apply(env, self.reactor.conns(), js.batch.arena(), &mut retain_now);
    }
}

/// One engine's reactor bound to the JS thread that created it.
pub struct Driver {
    env: sys::napi_env,
    uv: &'static Uv,
    poll: uv::Handle,
    timer: uv::Handle,
    /// Dropped with the reactor, so its eventfd does not wait for JS to collect the engine.
    waker: RefCell<Option<Arc<Waker>>>,
    live: RefCell<Option<Live>>,
    /// JS is running a batch: writes are staged and `stop` is deferred until it returns.
    dispatching: Cell<bool>,
    stop_requested: Cell<bool>,
    /// JS queued functions for the next batch (`engine.execute`).
    execute_requested: Cell<bool>,
    /// A graceful stop asked for during a batch: it starts once the batch returns (its
    /// closes go into the next batch, not the one JS is reading).
    drain_requested: Cell<Option<Duration>>,
    /// Test hook (`injectPanic`): the next pump panics, to exercise the recovery path.
    panic_requested: Cell<bool>,
    /// `stop_now` has begun; later stops are no-ops.
    stopping: Cell<bool>,
    /// uv handles not yet closed; the env teardown completes when this reaches zero.
    open_handles: Cell<u8>,
    /// The env is being torn down: the last uv close callback releases the cleanup hook.
    tearing_down: Cell<bool>,
    cleanup_hook: Cell<sys::napi_async_cleanup_hook_handle>,
    /// Runs once when the engine is released (unregisters it from the process registry).
    on_release: Cell<Option<Box<dyn FnOnce()>>>,
    /// How the boundary is used: wakes, JS calls and events delivered (benchmark B1).
    counters: Arc<BoundaryCounters>,
    /// The deadline the uv timer is armed for: most wakes leave the reactor's next deadline
    /// where it was (the ticker's), and re-arming the same deadline is a clock read and a
    /// timer-heap update per wake for nothing.
    armed: Cell<Option<Instant>>,
}

impl Driver {
    /// Starts watching `reactor` on the calling JS thread's loop.
    pub fn start(
        env: sys::napi_env,
        reactor: Reactor,
        js: JsParts,
        counters: Arc<BoundaryCounters>,
        on_release: Box<dyn FnOnce()>,
    ) -> napi::Result<Rc<Driver>> {
        let uv = uv::uv().ok_or_else(|| {
            napi::Error::from_reason(
                "this runtime exports no libuv; the same-thread driver cannot run",
            )
        })?;
        let mut loop_ = ptr::null_mut();
        check(
            // SAFETY: `env` is the calling JS thread's live env; `loop_` is a valid out-pointer.
            unsafe { sys::napi_get_uv_event_loop(env, &mut loop_) },
            "napi_get_uv_event_loop",
        )?;
        let mut resource = ptr::null_mut();
        check(
            // SAFETY: as above, on the env's JS thread with a valid out-pointer.
            unsafe { sys::napi_create_object(env, &mut resource) },
            "napi_create_object",
        )?;
        let mut name = ptr::null_mut();
        check(
            // SAFETY: as above; the literal has the 7 bytes given.
            unsafe { sys::napi_create_string_utf8(env, c"riptide".as_ptr(), 7, &mut name) },
            "napi_create_string_utf8",
        )?;
        let mut async_context = ptr::null_mut();
        check(
            // SAFETY: as above; `resource` and `name` are values of the current handle scope.
            unsafe { sys::napi_async_init(env, resource, name, &mut async_context) },
            "napi_async_init",
        )?;
        let live = Live {
            js: JsEnd::new(env, &js)?,
            resource: Ref::new(env, resource)?,
            async_context,
            reactor,
        };
        let fd = live.reactor.as_raw_fd();
        // SAFETY: `loop_` is this thread's live loop (from Node-API above) and `fd` the
        // reactor's open poll descriptor, which `live` keeps open until `release`.
        let poll = unsafe { uv.poll_new(loop_.cast(), fd) }.map_err(napi::Error::from_reason)?;
        // SAFETY: `loop_` is this thread's live loop.
        let timer = match unsafe { uv.timer_new(loop_.cast()) } {
            Ok(t) => t,
            Err(e) => {
                // SAFETY: `poll` is an initialised handle no one else knows; `free_only` frees
                // it once libuv is done with it.
                unsafe { (uv.close)(poll, free_only) };
                return Err(napi::Error::from_reason(e));
            }
        };
        let driver = Rc::new(Driver {
            env,
            uv,
            poll,
            timer,
            waker: RefCell::new(Some(live.reactor.waker())),
            live: RefCell::new(Some(live)),
            dispatching: Cell::new(false),
            stop_requested: Cell::new(false),
            execute_requested: Cell::new(false),
            drain_requested: Cell::new(None),
            panic_requested: Cell::new(false),
            stopping: Cell::new(false),
            open_handles: Cell::new(2),
            tearing_down: Cell::new(false),
            cleanup_hook: Cell::new(ptr::null_mut()),
            on_release: Cell::new(Some(on_release)),
            counters,
            armed: Cell::new(None),
        });
        // Each handle holds a reference to the driver until its close callback.
        for h in [poll, timer] {
            // SAFETY: `h` is an initialised handle of this thread's loop; the leaked `Rc` is
            // taken back exactly once, by `on_closed`.
            unsafe { (uv.set_data)(h, Rc::into_raw(driver.clone()) as *mut c_void) };
        }
        // The poll handle decides whether the engine keeps the process alive; the timer never does.
        // SAFETY: `timer` is an initialised handle of this thread's loop.
        unsafe { (uv.unref)(timer) };
        // SAFETY: `poll` is initialised and its data points at the driver `on_poll` expects.
        let rc = unsafe { (uv.poll_start)(poll, uv::UV_READABLE, on_poll) };
        if rc != 0 {
            let err = uv.error(rc);
            driver.release();
            return Err(napi::Error::from_reason(err));
        }
        let mut hook = ptr::null_mut();
        let arg = Rc::into_raw(driver.clone()) as *mut c_void;
        check(
            // SAFETY: on the env's JS thread; `arg` is a leaked `Rc<Driver>` that is taken back
            // once: by `stop_now` or `on_closed`, whichever removes the hook.
            unsafe { sys::napi_add_async_cleanup_hook(env, Some(on_env_teardown), arg, &mut hook) },
            "napi_add_async_cleanup_hook",
        )?;
        driver.cleanup_hook.set(hook);
        Ok(driver)
    }

    /// Makes the reactor's poll readable so libuv calls us soon.
    fn wake(&self) {
        if let Some(w) = self.waker.borrow().as_ref() {
            let _ = w.wake();
        }
    }

    /// True until the engine has stopped.
    pub fn running(&self) -> bool {
        self.live.borrow().is_some()
    }

    /// Runs `f` on the reactor; `None` once stopped. Wakes the reactor if `f` decided a close,
    /// so `onClose` is delivered from the loop rather than inside the caller's JS call.
    pub fn with_reactor<T>(&self, f: impl FnOnce(&mut Reactor) -> T) -> Option<T> {
        let out = {
            let mut live = self.live.borrow_mut();
            let reactor = &mut live.as_mut()?.reactor;
            let out = f(reactor);
            if reactor.conns().needs_turn() && !self.dispatching.get() {
                self.wake();
            }
            out
        };
        self.arm_timer();
        Some(out)
    }

    /// Applies the writes and closes JS staged (called by JS when its staging arrays fill).
    pub fn flush_staged(&self) {
        if let Some(live) = self.live.borrow_mut().as_mut() {
            live.apply_staged(self.env);
        }
    }

    /// Keeps the process alive while running (`true`, the default) or not, like `net.Server`.
    pub fn set_ref(&self, keep_alive: bool) {
        if self.running() {
            // SAFETY: while running, `poll` is an open handle of this thread's loop (`release`
            // closes it only after `live` is taken), and we are on that thread.
            unsafe {
                if keep_alive {
                    (self.uv.ref_)(self.poll)
                } else {
                    (self.uv.unref)(self.poll)
                }
            }
        }
    }

    /// Makes the next reactor turn deliver an execute event, so the functions JS queued run
    /// inside a batch on this reactor.
    pub fn request_execute(&self) {
        if self.running() && !self.execute_requested.replace(true) {
            self.wake();
        }
    }

    /// Stops the engine: every connection gets `onClose`, then JS gets the shutdown event.
    /// From inside a batch the stop happens right after the batch returns. With a drain
    /// timeout the listeners close at once and connections close after their queued bytes
    /// are written, or are reset at the deadline; the shutdown event follows.
    pub fn stop(&self, drain: Option<Duration>) {
        if drain.is_some() && self.dispatching.get() {
            self.drain_requested.set(drain);
            return;
        }
        if let Some(timeout) = drain {
            let mut live = self.live.borrow_mut();
            if let Some(live) = live.as_mut() {
                live.reactor
                    .drain(Instant::now() + timeout, &mut live.js.batch);
            }
            drop(live);
            // Closes decided here are delivered (and the drain completed) from the loop.
            self.wake();
            return;
        }
        if self.dispatching.get() {
            self.stop_requested.set(true);
        } else {
            self.stop_now();
        }
    }

    /// Called by libuv when the reactor's fd is readable or its deadline passed.
    fn on_ready(&self) {
        let env = self.env;
        self.counters.wake();
        let mut handle_scope = ptr::null_mut();
        // SAFETY: libuv calls us on the env's JS thread, outside any JS frame; the scope is
        // closed below on every path (panics are caught in between).
        unsafe { sys::napi_open_handle_scope(env, &mut handle_scope) };
        let scope_parts = self
            .live
            .borrow()
            .as_ref()
            .map(|l| (l.resource.get(env), l.async_context));
        if let Some((resource, async_context)) = scope_parts {
            let mut callback_scope = ptr::null_mut();
            // SAFETY: inside the handle scope just opened; `resource` and `async_context` are
            // live until `release`, which cannot run before this scope closes (a stop inside
            // the batch is deferred), and the scope is closed below on every path.
            unsafe {
                sys::napi_open_callback_scope(env, resource, async_context, &mut callback_scope)
            };
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.pump())) {
                self.recover(&*panic);
            }
            // Closing the callback scope runs queued microtasks and nextTicks, as after any
            // Node callback.
            // SAFETY: the callback scope opened above, closed once, innermost first.
            unsafe { sys::napi_close_callback_scope(env, callback_scope) };
        }
        // SAFETY: the handle scope opened above, closed once, after the callback scope.
        unsafe { sys::napi_close_handle_scope(env, handle_scope) };
    }

    /// After a panic in a turn (a riptide bug): the state JS sees stays consistent. The
    /// scopes opened in `on_ready` are closed as usual (so microtasks and `nextTick` keep
    /// running), the flags a batch sets are reset, events already collected are delivered by
    /// the next wake, and the engine goes on. A panic inside one connection's decoding is
    /// caught closer (the reactor destroys that connection with `ERR_INTERNAL`).
    fn recover(&self, panic: &(dyn std::any::Any + Send)) {
        let err = riptide::Error::from_panic(panic);
        warn(format_args!(
            "{err} in the reactor driver; the engine goes on"
        ));
        self.dispatching.set(false);
        self.wake();
        self.arm_timer();
    }

    /// Arms the `injectPanic` test hook: the next wake panics in the middle of its batch.
    pub fn inject_panic(&self) {
        self.panic_requested.set(true);
        self.wake();
    }

    /// Turns the reactor and delivers what it produced, then anything JS's own ops caused.
    fn pump(&self) {
        self.dispatching.set(true);
        if self.panic_requested.replace(false) {
            panic!("injected by the injectPanic test hook");
        }
        for round in 0..MAX_ROUNDS {
            let events = {
                let mut live = self.live.borrow_mut();
                let Some(live) = live.as_mut() else { break };
                live.reactor.reap(&mut live.js.batch);
                if round == 0 {
                    // An epoll error here is not actionable per turn; the next wake retries.
                    let _ = live.reactor.turn(&mut live.js.batch, Some(Duration::ZERO));
                    if self.execute_requested.replace(false) {
                        live.js.batch.push(
                            EV_EXECUTE,
                            ConnId {
                                slot: 0,
                                generation: 0,
                            },
                            &[],
                            0,
                        );
                    }
                }
                live.js.batch.len()
            };
            if events == 0 {
                break;
            }
            self.deliver();
            if let Some(live) = self.live.borrow_mut().as_mut() {
                live.apply_staged(self.env);
                if let Some(timeout) = self.drain_requested.take() {
                    live.reactor
                        .drain(Instant::now() + timeout, &mut live.js.batch);
                }
            }
            if self.stop_requested.get() {
                break;
            }
        }
        self.dispatching.set(false);
        let drained = self
            .live
            .borrow()
            .as_ref()
            .and_then(|l| l.reactor.drain_status())
            .is_some_and(|(_, open)| open == 0);
        if self.stop_requested.get() || drained {
            self.stop_now();
            return;
        }
        if let Some(live) = self.live.borrow_mut().as_mut() {
            if live.reactor.conns().needs_turn() {
                self.wake();
            }
        }
        self.arm_timer();
    }

    /// Points the uv timer at the reactor's next deadline (the ticker), or stops it.
    fn arm_timer(&self) {
        let deadline = match self.live.borrow().as_ref() {
            Some(live) => live.reactor.next_deadline(),
            None => return,
        };
        if self.armed.replace(deadline) == deadline {
            return;
        }
        // SAFETY: `live` is set, so `timer` is an open handle of this thread's loop, and its
        // data points at the driver `on_timer` expects.
        unsafe {
            match deadline {
                Some(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    // Round up: a timer that fires early finds nothing due.
                    let ms = wait.as_nanos().div_ceil(1_000_000) as u64;
                    (self.uv.timer_start)(self.timer, on_timer, ms, 0);
                }
                None => {
                    (self.uv.timer_stop)(self.timer);
                }
            }
        }
    }

    /// Calls JS once with the batch.
    fn deliver(&self) {
        deliver(
            self.env,
            &self.live,
            |l| &mut l.js,
            &self.counters,
            &self.dispatching,
        );
    }

    /// Closes every connection, tells JS (closes, then shutdown), and releases everything.
    fn stop_now(&self) {
        if self.stopping.replace(true) {
            return;
        }
        {
            let mut live = self.live.borrow_mut();
            let Some(live) = live.as_mut() else { return };
            let open = live.reactor.conns().len();
            let (drained, reset) = live
                .reactor
                .drain_status()
                .map_or((0, 0), |(d, _)| (d.drained, d.reset));
            live.reactor.shutdown(&mut live.js.batch);
            // Whatever is still open now closes without a drain: count it as reset.
            let counts = ConnId {
                slot: 0,
                generation: drained as u32,
            };
            live.js
                .batch
                .push(EV_SHUTDOWN, counts, &[], (reset + open) as i32);
        }
        self.deliver();
        self.release();
        let hook = self.cleanup_hook.replace(ptr::null_mut());
        if !hook.is_null() {
            // SAFETY: `hook` is the live cleanup hook (taken out of the cell, so removed once);
            // its `Rc` reference, leaked in `start`, is released here and nowhere else, and the
            // caller holds another, so the driver outlives this call.
            unsafe {
                sys::napi_remove_async_cleanup_hook(hook);
                // The hook's own reference to this driver.
                Rc::decrement_strong_count(self as *const Driver);
            }
        }
    }

    /// Drops the reactor (closing its sockets), the JS references and the uv handles.
    fn release(&self) {
        let Some(live) = self.live.borrow_mut().take() else {
            return;
        };
        let env = self.env;
        if let Some(f) = self.on_release.take() {
            f();
        }
        self.waker.borrow_mut().take();
        drop(live.reactor);
        live.js.delete(env);
        live.resource.delete(env);
        // SAFETY: `live` was just taken, so this runs once: the async context is destroyed
        // once, and both handles are stopped and closed once; `on_closed` frees them.
        unsafe {
            sys::napi_async_destroy(env, live.async_context);
            (self.uv.poll_stop)(self.poll);
            (self.uv.timer_stop)(self.timer);
            (self.uv.close)(self.poll, on_closed);
            (self.uv.close)(self.timer, on_closed);
        }
    }
}

/// The driver a handle's data points at.
///
/// # Safety
/// `handle` is one of a live driver's handles (its data holds an `Rc` until `on_closed`).
unsafe fn driver_of<'a>(handle: uv::Handle) -> &'a Driver {
    let uv = uv::uv().expect("libuv resolved at start");
    // SAFETY: the caller guarantees a live handle, whose data is the `Rc<Driver>` leaked in
    // `start`; it is dropped only in `on_closed`, which libuv runs after this callback.
    unsafe { &*((uv.get_data)(handle) as *const Driver) }
}

/// libuv's poll callback. Panics must not unwind into C.
unsafe extern "C" fn on_poll(handle: uv::Handle, _status: c_int, _events: c_int) {
    // SAFETY: libuv passes one of the handles `start` set up, open until `on_closed`.
    let driver = unsafe { driver_of(handle) };
    if catch_unwind(AssertUnwindSafe(|| driver.on_ready())).is_err() {
        warn(format_args!(
            "internal panic in the reactor driver; the engine keeps running"
        ));
    }
}

/// libuv's timer callback: the reactor's deadline passed.
unsafe extern "C" fn on_timer(handle: uv::Handle) {
    // SAFETY: the timer handle carries the same driver data as the poll handle.
    unsafe {
        // It fired, so it is no longer armed (it does not repeat), whatever the deadline.
        driver_of(handle).armed.set(None);
        on_poll(handle, 0, 0)
    }
}

/// Frees a handle that never got a driver.
unsafe extern "C" fn free_only(handle: uv::Handle) {
    // SAFETY: the handle came from `calloc` (`Uv::alloc`) and libuv is done with it.
    unsafe { libc::free(handle) };
}

/// A handle is closed: free it, drop its driver reference, and finish an env teardown once
/// both handles are gone.
unsafe extern "C" fn on_closed(handle: uv::Handle) {
    let uv = uv::uv().expect("libuv resolved at start");
    // SAFETY: the handle's data is the `Rc` leaked for it in `start`; libuv calls this once
    // per handle, so it is taken back once.
    let driver = unsafe { Rc::from_raw((uv.get_data)(handle) as *const Driver) };
    // SAFETY: the handle came from `calloc` (`Uv::alloc`) and libuv is done with it.
    unsafe { libc::free(handle) };
    let left = driver.open_handles.get() - 1;
    driver.open_handles.set(left);
    if left == 0 && driver.tearing_down.get() {
        let hook = driver.cleanup_hook.replace(ptr::null_mut());
        // SAFETY: during teardown the hook is still registered (`stop_now` did not run, else
        // it would have taken it); removing it completes the teardown, and the hook's `Rc`
        // reference is released once here while `driver` still holds one.
        unsafe {
            sys::napi_remove_async_cleanup_hook(hook);
            Rc::decrement_strong_count(Rc::as_ptr(&driver));
        }
    }
}

/// The env (main thread exit or worker termination) is going away: stop without calling JS,
/// and let Node wait until libuv has closed the handles.
unsafe extern "C" fn on_env_teardown(_hook: sys::napi_async_cleanup_hook_handle, arg: *mut c_void) {
    // SAFETY: `arg` is the `Rc<Driver>` leaked for the hook in `start`, released only after
    // the hook is removed, which happens at the end of this teardown at the earliest.
    let driver = unsafe { &*(arg as *const Driver) };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        driver.tearing_down.set(true);
        if let Some(live) = driver.live.borrow_mut().as_mut() {
            live.reactor.shutdown(&mut Discard);
        }
        driver.release();
    }));
}
