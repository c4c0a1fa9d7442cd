//! The JS end of a driver, the same for both: the batch arrays JS reads, the staging arrays
//! JS writes, and the dispatcher function, plus the one JS call that delivers a batch.

use crate::batch::Events;
use crate::drive::{BoundaryCounters, JsParts};
use crate::js_batch::Batch;
use crate::raw::Ref;
use crate::staged::Staged;
use napi::sys;
use std::cell::{Cell, RefCell};
use std::ptr;
use std::time::Instant;

/// What a running engine holds of JS.
pub struct JsEnd {
    /// The events for the next JS call.
    pub batch: Events<Batch>,
    /// Writes and closes JS queued during a batch.
    pub staged: Staged,
    /// `dispatch(count, meta, arena)`.
    pub dispatch: Ref,
}

impl JsEnd {
    /// Takes the pieces JS handed over and allocates the batch arrays.
    pub fn new(env: sys::napi_env, js: &JsParts) -> napi::Result<JsEnd> {
        Ok(JsEnd {
            batch: Events(Batch::new(env, 1024, 2 * 1024 * 1024)?),
            staged: Staged::adopt(env, js.staged_ops, js.staged_data)?,
            dispatch: Ref::new(env, js.dispatch)?,
        })
    }

    /// Releases the JS references. Must run on the JS thread while the env lives.
    pub fn delete(self, env: sys::napi_env) {
        self.batch.0.delete();
        self.staged.delete(env);
        self.dispatch.delete(env);
    }
}

/// Calls JS once with the batch of the [`JsEnd`] that `end` finds in `live`, with no borrow
/// of `live` held during the call (JS may call back into the engine); counts the call and
/// its time, marks `dispatching` meanwhile, then clears the batch.
pub fn deliver<L>(
    env: sys::napi_env,
    live: &RefCell<Option<L>>,
    end: fn(&mut L) -> &mut JsEnd,
    counters: &BoundaryCounters,
    dispatching: &Cell<bool>,
) {
    let (func, meta, arena, count) = {
        let mut live = live.borrow_mut();
        let Some(l) = live.as_mut() else { return };
        let e = end(l);
        let (meta, arena) = e.batch.views();
        (e.dispatch.get(env), meta, arena, e.batch.len())
    };
    let was = dispatching.replace(true);
    let started = Instant::now();
    call_dispatch(env, func, meta, arena, count);
    counters.call(count, started.elapsed());
    dispatching.set(was);
    if let Some(l) = live.borrow_mut().as_mut() {
        end(l).batch.clear();
    }
}

/// Calls the JS dispatcher once: `func(count, meta, arena)`. A throw that escapes it (the
/// dispatcher catches user errors itself) is raised as an uncaught exception, never left
/// pending. Must run on the JS thread inside a handle scope that holds the three values, with
/// no Rust borrow of the driver's state held (JS may call back into the engine).
fn call_dispatch(
    env: sys::napi_env,
    func: sys::napi_value,
    meta: sys::napi_value,
    arena: sys::napi_value,
    count: usize,
) {
    // SAFETY: the caller's contract: on the JS thread, with values of the current handle
    // scope; every out-pointer is a valid local.
    unsafe {
        let mut args = [ptr::null_mut(), meta, arena];
        sys::napi_create_int32(env, count as i32, &mut args[0]);
        let mut recv = ptr::null_mut();
        sys::napi_get_undefined(env, &mut recv);
        let mut result = ptr::null_mut();
        let status = sys::napi_call_function(env, recv, func, 3, args.as_ptr(), &mut result);
        if status == sys::Status::napi_pending_exception {
            let mut err = ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut err);
            sys::napi_fatal_exception(env, err);
        }
    }
}
