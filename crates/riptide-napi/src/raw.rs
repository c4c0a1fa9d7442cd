//! Thin checked wrappers over the raw Node-API calls the driver makes on its hot path and at
//! teardown, where napi-rs's typed layer would allocate or cannot reach (callback scopes,
//! shared typed arrays, async cleanup hooks).

use napi::sys;
use std::ptr;

/// Turns a Node-API status into a `Result`, naming the call that failed.
pub fn check(status: sys::napi_status, call: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "{call} failed with status {status}"
        )))
    }
}

/// A strong reference that keeps a JS value alive between calls.
pub struct Ref(sys::napi_ref);

impl Ref {
    /// References `value`.
    pub fn new(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Ref> {
        let mut r = ptr::null_mut();
        check(
            // SAFETY: called on the env's JS thread with a value of the current handle scope; `r`
            // is a valid out-pointer.
            unsafe { sys::napi_create_reference(env, value, 1, &mut r) },
            "napi_create_reference",
        )?;
        Ok(Ref(r))
    }

    /// The referenced value, valid in the current handle scope.
    pub fn get(&self, env: sys::napi_env) -> sys::napi_value {
        let mut v = ptr::null_mut();
        // SAFETY: the reference is live (only `delete`, which consumes `self`, releases it) and
        // we are on its env's JS thread; `v` is a valid out-pointer.
        unsafe { sys::napi_get_reference_value(env, self.0, &mut v) };
        v
    }

    /// Releases the reference. Must run on the JS thread while the env lives.
    pub fn delete(self, env: sys::napi_env) {
        // SAFETY: `self` is consumed, so the reference is deleted exactly once, on its env's
        // JS thread (the caller's contract).
        unsafe { sys::napi_delete_reference(env, self.0) };
    }
}

/// A V8-owned `ArrayBuffer` with a typed-array view over it, whose memory Rust writes while
/// JS holds the view. V8 (not Rust) owns the bytes, so a view JS keeps past a batch never
/// points at freed memory.
pub struct SharedArray {
    view: Ref,
    /// The view's `ArrayBuffer`, held apart so [`SharedArray::attached`] asks V8 one question
    /// (is it detached?) instead of re-reading the view's whole description every wake.
    buffer: Ref,
    data: *mut u8,
    len: usize,
}

impl SharedArray {
    /// Allocates `len` bytes, zeroed, viewed as `kind` (a `TypedarrayType`).
    pub fn new(
        env: sys::napi_env,
        len: usize,
        kind: i32,
        elem: usize,
    ) -> napi::Result<SharedArray> {
        let mut data = ptr::null_mut();
        let mut ab = ptr::null_mut();
        check(
            // SAFETY: on the env's JS thread; `data` and `ab` are valid out-pointers.
            unsafe { sys::napi_create_arraybuffer(env, len, &mut data, &mut ab) },
            "napi_create_arraybuffer",
        )?;
        let mut view = ptr::null_mut();
        check(
            // SAFETY: `ab` was just created with `len` bytes, and `len / elem` elements of `elem`
            // bytes at offset 0 fit in it.
            unsafe { sys::napi_create_typedarray(env, kind, len / elem, ab, 0, &mut view) },
            "napi_create_typedarray",
        )?;
        Ok(SharedArray {
            view: Ref::new(env, view)?,
            buffer: Ref::new(env, ab)?,
            data: data.cast(),
            len,
        })
    }

    /// Takes a typed array JS allocated, keeping it alive and its memory reachable.
    pub fn adopt(env: sys::napi_env, view: sys::napi_value) -> napi::Result<SharedArray> {
        let (mut kind, mut count, mut data, mut ab, mut offset) =
            (0, 0, ptr::null_mut(), ptr::null_mut(), 0);
        check(
            // SAFETY: on the env's JS thread with a value of the current handle scope; every
            // out-pointer is valid (napi-rs typed the argument as a typed array).
            unsafe {
                sys::napi_get_typedarray_info(
                    env,
                    view,
                    &mut kind,
                    &mut count,
                    &mut data,
                    &mut ab,
                    &mut offset,
                )
            },
            "napi_get_typedarray_info",
        )?;
        let elem = match kind {
            sys::TypedarrayType::int32_array => 4,
            _ => 1,
        };
        Ok(SharedArray {
            view: Ref::new(env, view)?,
            buffer: Ref::new(env, ab)?,
            data: data.cast(),
            len: count * elem,
        })
    }

    /// False once JS detached the `ArrayBuffer` (transferred it to a worker or a
    /// `structuredClone`): its memory may then be freed, so Rust must not touch `data`.
    /// The arrays are marked untransferable in JS; this is the check behind that.
    ///
    /// Asking whether the buffer is detached is enough: an attached, fixed-length
    /// `ArrayBuffer` (the driver makes or adopts only those) keeps its backing store, and a
    /// typed array's offset and length never change, so `data` and `len` stay right.
    pub fn attached(&self, env: sys::napi_env) -> bool {
        let mut detached = true;
        // SAFETY: on the env's JS thread; the buffer is live (held by `self.buffer`) and
        // `detached` is a valid out-pointer.
        let ok = unsafe {
            sys::napi_is_detached_arraybuffer(env, self.buffer.get(env), &mut detached)
                == sys::Status::napi_ok
        };
        ok && !detached
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The memory as bytes.
    ///
    /// # Safety
    /// No JS code may run while the slice is alive (JS may write the same memory).
    pub unsafe fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `data` points at `len` bytes of an ArrayBuffer that `self.view` keeps alive
        // (V8 does not move backing stores); the caller guarantees no JS runs, so nothing else
        // touches them while the slice lives, and `&mut self` rules out a second Rust slice.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
    }

    /// The memory as `i32`s (the array was made or adopted as an `Int32Array`).
    ///
    /// # Safety
    /// As for [`SharedArray::bytes`].
    pub unsafe fn ints(&mut self) -> &mut [i32] {
        // SAFETY: as in `bytes`; an `Int32Array`'s data is 4-byte aligned and holds
        // `len / 4` ints.
        unsafe { std::slice::from_raw_parts_mut(self.data.cast(), self.len / 4) }
    }

    /// The typed-array view, valid in the current handle scope.
    pub fn value(&self, env: sys::napi_env) -> sys::napi_value {
        self.view.get(env)
    }

    /// Releases the view and its buffer.
    pub fn delete(self, env: sys::napi_env) {
        self.view.delete(env);
        self.buffer.delete(env);
    }
}
