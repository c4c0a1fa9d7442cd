//! The thread driver: runs one reactor in a loop on the calling thread until stopped. This is
//! how Rust programs use riptide without Node.

use crate::{Conns, Error, EventHandler, Reactor, ReactorConfig};
use mio::Waker;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A server: listeners plus the reactor that serves them, run by [`Engine::run`].
pub struct Engine {
    reactor: Reactor,
    stop: Arc<AtomicBool>,
}

/// Stops a running [`Engine`] from any thread.
#[derive(Clone)]
pub struct StopHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl StopHandle {
    /// Asks the engine to close every connection, return from [`Engine::run`] and release its
    /// listeners. Safe to call more than once.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }
}

impl Engine {
    /// Binds every URL (`tcp://host:port`) with default limits.
    pub fn bind<I, S>(urls: I) -> Result<Engine, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Engine::bind_with(urls, ReactorConfig::default())
    }

    /// Binds every URL with the given reactor limits.
    pub fn bind_with<I, S>(urls: I, config: ReactorConfig) -> Result<Engine, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut reactor = Reactor::new(config)?;
        for url in urls {
            reactor.listen(url.as_ref())?;
        }
        Ok(Engine {
            reactor,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The bound addresses, in the order the URLs were given (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.reactor.local_addrs()
    }

    /// A handle that stops [`Engine::run`] from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            stop: self.stop.clone(),
            waker: self.reactor.waker(),
        }
    }

    /// Serves connections with `handler` on this thread until [`StopHandle::stop`]; then
    /// closes every connection (each gets `on_close`) and returns the handler.
    pub fn run<H: EventHandler>(mut self, mut handler: H) -> Result<H, Error> {
        while !self.stop.load(Ordering::Acquire) {
            self.reactor.turn(&mut handler, None)?;
        }
        self.reactor.shutdown(&mut handler);
        Ok(handler)
    }
}

/// Lets closures serve as handlers in small programs and tests: `on_traffic` only.
impl<F> EventHandler for F
where
    F: FnMut(&mut Conns, crate::ConnId, &[u8]),
{
    fn on_traffic(&mut self, conns: &mut Conns, id: crate::ConnId, data: &[u8]) {
        self(conns, id, data)
    }
}
