//! Delivers the outcome of `asyncWrite`/`asyncClose` back to the JS thread that asked, from
//! whichever reactor thread ran it. One thread-safe function per JS thread, called only when
//! its queue goes from empty to non-empty, so a burst of completions costs one wake-up.

use napi::sys;
use riptide::{Completion, Error};
use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex};

/// Completions waiting for one JS thread.
struct Sink {
    state: Mutex<State>,
}

struct State {
    tsfn: sys::napi_threadsafe_function,
    /// Set by the finalizer (env teardown): the tsfn is gone, completions are dropped.
    closed: bool,
    /// `(token, error code)`; `None` is success.
    queue: Vec<(f64, Option<&'static str>)>,
}

// SAFETY: the raw tsfn pointer is only used under the mutex, and Node-API allows calling a
// thread-safe function from any thread.
unsafe impl Send for State {}

thread_local! {
    static SINK: RefCell<Option<Arc<Sink>>> = const { RefCell::new(None) };
}

/// Installs `callback(pairs)` as this JS thread's completion handler: `pairs` is an array of
/// `token, code` (code `''` for success). Later calls replace nothing (one handler per thread).
pub fn install(env: sys::napi_env, callback: sys::napi_value) -> napi::Result<()> {
    if SINK.with(|s| s.borrow().is_some()) {
        return Ok(());
    }
    let sink = Arc::new(Sink {
        state: Mutex::new(State {
            tsfn: ptr::null_mut(),
            closed: false,
            queue: Vec::new(),
        }),
    });
    let mut name = ptr::null_mut();
    let mut tsfn = ptr::null_mut();
    // SAFETY: on the env's JS thread (a `#[napi]` call) with `callback` a function of the
    // current scope. The context is a leaked `Arc<Sink>` reference that `finalize` takes back
    // exactly once; `call_js` only borrows it, and runs before `finalize` by Node-API's rules.
    unsafe {
        sys::napi_create_string_utf8(env, c"riptide.completions".as_ptr(), 19, &mut name);
        let context = Arc::into_raw(sink.clone()) as *mut c_void;
        crate::raw::check(
            sys::napi_create_threadsafe_function(
                env,
                callback,
                ptr::null_mut(),
                name,
                0,
                1,
                context,
                Some(finalize),
                context,
                Some(call_js),
                &mut tsfn,
            ),
            "napi_create_threadsafe_function",
        )?;
        // Only outstanding callbacks keep the thread alive (see `set_ref`).
        sys::napi_unref_threadsafe_function(env, tsfn);
    }
    sink.state.lock().unwrap_or_else(|p| p.into_inner()).tsfn = tsfn;
    SINK.with(|s| *s.borrow_mut() = Some(sink));
    Ok(())
}

/// Keeps this thread's loop alive while callbacks are outstanding (`true`), or lets it end.
pub fn set_ref(env: sys::napi_env, keep_alive: bool) {
    SINK.with(|s| {
        if let Some(sink) = s.borrow().as_ref() {
            let state = sink.state.lock().unwrap_or_else(|p| p.into_inner());
            if !state.closed {
                // SAFETY: the tsfn is live (not `closed`: its finalizer has not run) and we are
                // on the JS thread that created it, as `napi_(un)ref_threadsafe_function` needs.
                unsafe {
                    if keep_alive {
                        sys::napi_ref_threadsafe_function(env, state.tsfn);
                    } else {
                        sys::napi_unref_threadsafe_function(env, state.tsfn);
                    }
                }
            }
        }
    });
}

/// A completion that reports to this JS thread under `token`, or `None` when `token` is 0
/// (no callback wanted) or no handler is installed.
pub fn completion_for(token: f64) -> Option<Completion> {
    if token == 0.0 {
        return None;
    }
    let sink = SINK.with(|s| s.borrow().clone())?;
    Some(Box::new(move |result: Result<(), Error>| {
        let mut state = sink.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.closed {
            return;
        }
        let was_empty = state.queue.is_empty();
        state.queue.push((token, result.err().map(|e| e.code())));
        if was_empty {
            // SAFETY: the tsfn is live (not `closed`, checked under the same lock the
            // finalizer takes), and Node-API allows calling it from any thread.
            unsafe {
                sys::napi_call_threadsafe_function(
                    state.tsfn,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
        }
    }))
}

/// Runs on the JS thread: hands the queued completions to the handler in one call.
unsafe extern "C" fn call_js(
    env: sys::napi_env,
    callback: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        return;
    }
    // SAFETY: `context` is the `Arc<Sink>` leaked in `install`, released only by `finalize`,
    // which Node-API runs after the last `call_js`.
    let sink = unsafe { &*(context as *const Sink) };
    let items = std::mem::take(&mut sink.state.lock().unwrap_or_else(|p| p.into_inner()).queue);
    // SAFETY: Node-API calls this on the JS thread with a live `env` (checked non-null above)
    // inside a handle scope; every out-pointer is a valid local, and each string pointer
    // comes with its length.
    unsafe {
        let mut array = ptr::null_mut();
        sys::napi_create_array_with_length(env, items.len() * 2, &mut array);
        for (i, (token, code)) in items.iter().enumerate() {
            let mut t = ptr::null_mut();
            sys::napi_create_double(env, *token, &mut t);
            sys::napi_set_element(env, array, (2 * i) as u32, t);
            let code = code.unwrap_or("");
            let mut c = ptr::null_mut();
            sys::napi_create_string_utf8(env, code.as_ptr().cast(), code.len() as isize, &mut c);
            sys::napi_set_element(env, array, (2 * i + 1) as u32, c);
        }
        let mut recv = ptr::null_mut();
        sys::napi_get_undefined(env, &mut recv);
        let mut result = ptr::null_mut();
        let status = sys::napi_call_function(env, recv, callback, 1, &array, &mut result);
        if status == sys::Status::napi_pending_exception {
            let mut err = ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut err);
            sys::napi_fatal_exception(env, err);
        }
    }
}

/// The thread-safe function is gone (env teardown): stop using it.
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the reference `install` leaked with `Arc::into_raw`; Node-API runs the
    // finalizer once, so it is taken back exactly once.
    let sink = unsafe { Arc::from_raw(data as *const Sink) };
    sink.state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
    SINK.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = None;
        }
    });
}
