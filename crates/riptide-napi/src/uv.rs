//! The few libuv calls the same-thread driver needs, resolved from the host process.
//!
//! Node exports its libuv; linking our own would give a second, unrelated loop. Symbols are
//! looked up once with `dlsym(RTLD_DEFAULT)`, so a host without libuv (Bun on POSIX) is
//! detected as an error instead of crashing at load. Handles are allocated with
//! `uv_handle_size` and reached through `uv_handle_{get,set}_data`, so nothing here depends on
//! libuv's struct layouts.

use std::ffi::{c_int, c_void, CStr};
use std::sync::OnceLock;

/// `uv_handle_type::UV_POLL`.
const UV_POLL: c_int = 8;
/// `uv_handle_type::UV_TIMER`.
const UV_TIMER: c_int = 13;
/// `uv_poll_event::UV_READABLE`.
pub const UV_READABLE: c_int = 1;

/// Opaque libuv handle (`uv_handle_t*` / `uv_poll_t*`).
pub type Handle = *mut c_void;
/// `uv_poll_cb`.
pub type PollCb = unsafe extern "C" fn(handle: Handle, status: c_int, events: c_int);
/// `uv_timer_cb`.
pub type TimerCb = unsafe extern "C" fn(handle: Handle);
/// `uv_close_cb`.
pub type CloseCb = unsafe extern "C" fn(handle: Handle);

/// Function pointers into the host's libuv.
pub struct Uv {
    handle_size: unsafe extern "C" fn(c_int) -> usize,
    poll_init: unsafe extern "C" fn(*mut c_void, Handle, c_int) -> c_int,
    pub poll_start: unsafe extern "C" fn(Handle, c_int, PollCb) -> c_int,
    pub poll_stop: unsafe extern "C" fn(Handle) -> c_int,
    timer_init: unsafe extern "C" fn(*mut c_void, Handle) -> c_int,
    pub timer_start: unsafe extern "C" fn(Handle, TimerCb, u64, u64) -> c_int,
    pub timer_stop: unsafe extern "C" fn(Handle) -> c_int,
    pub close: unsafe extern "C" fn(Handle, CloseCb),
    pub set_data: unsafe extern "C" fn(Handle, *mut c_void),
    pub get_data: unsafe extern "C" fn(Handle) -> *mut c_void,
    pub ref_: unsafe extern "C" fn(Handle),
    pub unref: unsafe extern "C" fn(Handle),
    strerror: unsafe extern "C" fn(c_int) -> *const std::ffi::c_char,
}

/// The host's function `name` as a `T`.
///
/// # Safety
/// `T` must be a function pointer type with the symbol's real signature.
unsafe fn sym<T: Copy>(name: &CStr) -> Option<T> {
    // SAFETY: RTLD_DEFAULT searches the host process's global symbols; `name` is
    // NUL-terminated.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    // SAFETY: `p` is a non-null function address and the caller asserts that `T` is a
    // pointer to that function's real signature (function pointers are pointer-sized).
    (!p.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) })
}

/// The host's libuv, or `None` when the process exports none.
pub fn uv() -> Option<&'static Uv> {
    static UV: OnceLock<Option<Uv>> = OnceLock::new();
    // SAFETY: each `T` below is the libuv function's signature as declared in uv.h (libuv 1.x,
    // which every supported Node links); handles are opaque pointers and callbacks `extern "C"`.
    UV.get_or_init(|| unsafe {
        Some(Uv {
            handle_size: sym(c"uv_handle_size")?,
            poll_init: sym(c"uv_poll_init")?,
            poll_start: sym(c"uv_poll_start")?,
            poll_stop: sym(c"uv_poll_stop")?,
            timer_init: sym(c"uv_timer_init")?,
            timer_start: sym(c"uv_timer_start")?,
            timer_stop: sym(c"uv_timer_stop")?,
            close: sym(c"uv_close")?,
            set_data: sym(c"uv_handle_set_data")?,
            get_data: sym(c"uv_handle_get_data")?,
            ref_: sym(c"uv_ref")?,
            unref: sym(c"uv_unref")?,
            strerror: sym(c"uv_strerror")?,
        })
    })
    .as_ref()
}

impl Uv {
    /// Allocates and initialises a poll handle for `fd` on `loop_`.
    ///
    /// # Safety
    /// `loop_` must be the live loop of the calling thread and `fd` an open descriptor.
    pub unsafe fn poll_new(&self, loop_: *mut c_void, fd: c_int) -> Result<Handle, String> {
        // SAFETY: `alloc` gives `uv_poll_init` a zeroed handle of `uv_handle_size(UV_POLL)`
        // bytes; the caller guarantees `loop_` and `fd`.
        unsafe { self.alloc(UV_POLL, |h| (self.poll_init)(loop_, h, fd)) }
    }

    /// Allocates and initialises a timer handle on `loop_`.
    ///
    /// # Safety
    /// `loop_` must be the live loop of the calling thread.
    pub unsafe fn timer_new(&self, loop_: *mut c_void) -> Result<Handle, String> {
        // SAFETY: `alloc` gives `uv_timer_init` a zeroed handle of `uv_handle_size(UV_TIMER)`
        // bytes; the caller guarantees `loop_`.
        unsafe { self.alloc(UV_TIMER, |h| (self.timer_init)(loop_, h)) }
    }

    unsafe fn alloc(
        &self,
        kind: c_int,
        init: impl FnOnce(Handle) -> c_int,
    ) -> Result<Handle, String> {
        // SAFETY: `uv_handle_size` takes any handle type and only returns a size.
        let size = unsafe { (self.handle_size)(kind) };
        // SAFETY: plain allocation; a null result is handled below.
        let handle = unsafe { libc::calloc(1, size) };
        if handle.is_null() {
            return Err("out of memory".into());
        }
        let rc = init(handle);
        if rc != 0 {
            // SAFETY: `handle` came from `calloc` above and libuv did not take it (init failed).
            unsafe { libc::free(handle) };
            return Err(self.error(rc));
        }
        Ok(handle)
    }

    /// libuv's message for an error code.
    pub fn error(&self, rc: c_int) -> String {
        // SAFETY: uv_strerror returns a static string for any code.
        unsafe { CStr::from_ptr((self.strerror)(rc)) }
            .to_string_lossy()
            .into_owned()
    }
}
