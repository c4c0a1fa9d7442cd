//! Node-API binding of riptide. The only crate that knows about JavaScript: it owns the
//! same-thread driver and the boundary format (event batch out, staged writes in). The public
//! TypeScript API in `index.ts` is built over the `NativeEngine` class exported here.

#![cfg(unix)]

mod batch;
mod raw;
mod same_thread_driver;
mod staged;
mod uv;

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use riptide::{ConnId, Reactor, ReactorConfig};
use same_thread_driver::{Driver, JsParts};
use std::rc::Rc;

/// Reactor limits, all given by the TypeScript layer (which owns the defaults).
#[napi(object)]
pub struct NativeOptions {
    pub event_budget: u32,
    pub read_buffer_size: u32,
    pub read_budget: u32,
    pub no_delay: bool,
    pub backlog: i32,
}

/// A bound listener address.
#[napi(object)]
pub struct NativeListener {
    pub address: String,
    pub port: u32,
}

/// Throws `err` as a JS `Error` whose `code` is the engine's stable code.
fn throw(env: &Env, err: riptide::Error) -> Error {
    let code = std::ffi::CString::new(err.code()).unwrap_or_default();
    let msg = std::ffi::CString::new(err.to_string()).unwrap_or_default();
    unsafe { sys::napi_throw_error(env.raw(), code.as_ptr(), msg.as_ptr()) };
    Error::new(Status::PendingException, "")
}

/// One engine: listeners and connections on a reactor driven from this JS thread's loop.
#[napi]
pub struct NativeEngine {
    driver: Rc<Driver>,
}

#[napi]
impl NativeEngine {
    /// Binds `urls` and starts serving. `dispatch(count, meta, arena)` receives each batch of
    /// events; `stagedOps`/`stagedData` are where JS queues writes during a batch.
    #[napi(factory)]
    pub fn listen(
        env: Env,
        urls: Vec<String>,
        options: NativeOptions,
        #[napi(ts_arg_type = "(count: number, meta: Int32Array, arena: Uint8Array) => void")]
        dispatch: Unknown<'_>,
        staged_ops: Int32ArraySlice<'_>,
        staged_data: Uint8ArraySlice<'_>,
    ) -> Result<NativeEngine> {
        let config = ReactorConfig {
            event_budget: options.event_budget.max(1) as usize,
            read_buffer_size: options.read_buffer_size.max(1) as usize,
            read_budget: options.read_budget as usize,
            no_delay: options.no_delay,
            backlog: options.backlog,
        };
        let mut reactor = Reactor::new(config).map_err(|e| throw(&env, e))?;
        for url in &urls {
            reactor.listen(url).map_err(|e| throw(&env, e))?;
        }
        let js = JsParts {
            dispatch: dispatch.raw(),
            staged_ops: staged_ops.raw(),
            staged_data: staged_data.raw(),
        };
        let driver = Driver::start(env.raw(), reactor, js)?;
        Ok(NativeEngine { driver })
    }

    /// The bound listener addresses, in the order given.
    #[napi]
    pub fn listeners(&self) -> Vec<NativeListener> {
        self.driver
            .with_reactor(|r| {
                r.local_addrs()
                    .into_iter()
                    .map(|a| NativeListener {
                        address: a.ip().to_string(),
                        port: u32::from(a.port()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Number of open connections.
    #[napi]
    pub fn count_connections(&self) -> u32 {
        self.driver
            .with_reactor(|r| r.conns().len() as u32)
            .unwrap_or(0)
    }

    /// Applies the writes and closes JS has staged.
    #[napi]
    pub fn flush(&self) {
        self.driver.flush_staged();
    }

    /// Writes now (writing straight to the socket when nothing is queued).
    #[napi]
    pub fn write(&self, env: Env, slot: u32, generation: u32, data: &[u8]) -> Result<()> {
        let id = ConnId { slot, generation };
        match self.driver.with_reactor(|r| r.conns().write(id, data)) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(throw(&env, e)),
            None => Err(throw(&env, riptide::Error::ConnClosed)),
        }
    }

    /// Closes after pending writes; `onClose` follows from the loop.
    #[napi]
    pub fn close(&self, env: Env, slot: u32, generation: u32) -> Result<()> {
        let id = ConnId { slot, generation };
        match self.driver.with_reactor(|r| r.conns().close(id)) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(throw(&env, e)),
            None => Err(throw(&env, riptide::Error::ConnClosed)),
        }
    }

    /// Stops: closes every connection and listener; JS receives the closes, then shutdown.
    #[napi]
    pub fn stop(&self) {
        self.driver.stop();
    }

    /// Whether the engine keeps the process alive (like `net.Server#ref/unref`).
    #[napi]
    pub fn set_ref(&self, keep_alive: bool) {
        self.driver.set_ref(keep_alive);
    }

    /// True until the engine has stopped.
    #[napi(getter)]
    pub fn running(&self) -> bool {
        self.driver.running()
    }
}
