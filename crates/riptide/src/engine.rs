//! The thread driver: an engine of one or more reactors, each looping on its own thread (the
//! first on the caller's), with new connections spread by a load-balancing policy or by
//! `SO_REUSEPORT`. This is how Rust programs use riptide without Node.

use crate::balance::LoadBalancing;
use crate::config::{ListenOptions, ReactorConfig};
use crate::conns::Conns;
use crate::handler::EventHandler;
use crate::pubsub::PubSub;
use crate::reactor::Reactor;
use crate::remote::{Command, Remote};
use crate::slab::ConnId;
use crate::stream::PeerAddr;
use crate::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Engine-wide options (gnet's `Options`): reactors, balancing, ticker, per-reactor limits.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Number of reactors (threads). gnet's `NumEventLoop`; at least 1.
    pub reactors: usize,
    /// How connections accepted by reactor 0 are spread (ignored with `reuse_port`).
    pub load_balancing: LoadBalancing,
    /// Call [`EventHandler::on_tick`] on reactor 0.
    pub ticker: bool,
    /// Budgets and socket options of every reactor.
    pub reactor: ReactorConfig,
    /// What every listener does to its connections: codec, PROXY protocol.
    pub listen: ListenOptions,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            reactors: 1,
            load_balancing: LoadBalancing::RoundRobin,
            ticker: false,
            reactor: ReactorConfig::default(),
            listen: ListenOptions::default(),
        }
    }
}

/// A server: listeners plus the reactors that serve them, run by [`Engine::run`].
pub struct Engine {
    reactors: Vec<Reactor>,
    addrs: Vec<PeerAddr>,
    pubsub: Arc<PubSub>,
    ticker: bool,
    stop: Arc<AtomicBool>,
}

/// Stops a running [`Engine`] from any thread.
#[derive(Clone)]
pub struct StopHandle {
    stop: Arc<AtomicBool>,
    remotes: Vec<Remote>,
}

impl StopHandle {
    /// Stops gracefully ([`Reactor::drain`] on every reactor): the listeners stop taking new
    /// connections after accepting those already queued (steered away first in a reuseport
    /// group), each connection gets [`EventHandler::on_drain`], and whatever is still open
    /// after `timeout` closes (with FIN once its bytes are written). [`Engine::run`] returns
    /// when every reactor has no connection left.
    pub fn drain(&self, timeout: std::time::Duration) {
        let deadline = std::time::Instant::now() + timeout;
        for r in &self.remotes {
            let _ = r.send(Command::Drain(deadline));
        }
    }

    /// Asks the engine to close every connection, return from [`Engine::run`] and release its
    /// listeners. Safe to call more than once.
    pub fn stop(&self) {
        if !self.stop.swap(true, Ordering::AcqRel) {
            for r in &self.remotes {
                let _ = r.send(Command::Stop);
            }
        }
    }
}

impl Engine {
    /// Binds every URL (`tcp://host:port`, `unix://path`) with one reactor and default limits.
    pub fn bind<I, S>(urls: I) -> Result<Engine, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Engine::bind_with(urls, EngineConfig::default())
    }

    /// Binds every URL with the given configuration. With `reuse_port` every reactor binds its
    /// own listener per URL (port 0 resolves once, on reactor 0); otherwise reactor 0 accepts
    /// and balances.
    pub fn bind_with<I, S>(urls: I, config: EngineConfig) -> Result<Engine, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if config.reactors == 0 {
            return Err(Error::InvalidOption("reactors must be at least 1".into()));
        }
        let mut config = config;
        config.reactor.socket.reuse_port_listeners = if config.reactor.socket.reuse_port {
            u32::try_from(config.reactors)
                .map_err(|_| Error::InvalidOption("too many reactors".into()))?
        } else {
            1
        };
        let mut reactors = (0..config.reactors)
            .map(|i| Reactor::with_index(config.reactor.clone(), i))
            .collect::<Result<Vec<_>, _>>()?;
        let urls: Vec<String> = urls.into_iter().map(|u| u.as_ref().to_owned()).collect();
        let mut addrs = Vec::with_capacity(urls.len());
        for url in &urls {
            let options = config.listen.clone();
            let bound = reactors[0].listen_with(url, options.clone())?;
            // A carrier serves one listener: only reactor 0 has it.
            let carried = options.kcp.as_ref().is_some_and(|k| k.carrier.is_some());
            // A `webrtc://` listener's peers all live in one endpoint: only reactor 0 has it.
            let single =
                carried || matches!(crate::Address::parse(url), Ok(crate::Address::WebRtc(_)));
            if config.reactor.socket.reuse_port && !single {
                let again = rebind_url(url, &bound);
                for r in &mut reactors[1..] {
                    r.listen_with(&again, options.clone())?;
                }
            }
            addrs.push(bound);
        }
        if !config.reactor.socket.reuse_port && config.reactors > 1 {
            let remotes: Vec<Remote> = reactors.iter().map(Reactor::remote).collect();
            reactors[0].set_balancer(remotes, config.load_balancing);
        }
        Ok(Engine {
            reactors,
            addrs,
            pubsub: config.reactor.pubsub.clone(),
            ticker: config.ticker,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The bound addresses, in the order the URLs were given (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<PeerAddr> {
        self.addrs.clone()
    }

    /// Inboxes of every reactor: write, close, wake or run closures from any thread.
    pub fn remotes(&self) -> Vec<Remote> {
        self.reactors.iter().map(Reactor::remote).collect()
    }

    /// The engine's topics, to publish from any thread ([`PubSub::publish`]) and count
    /// subscribers; handlers publish with [`Conns::publish`].
    pub fn pubsub(&self) -> Arc<PubSub> {
        self.pubsub.clone()
    }

    /// A handle that stops [`Engine::run`] from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            stop: self.stop.clone(),
            remotes: self.remotes(),
        }
    }

    /// Serves connections until [`StopHandle::stop`]: reactor 0 on this thread with `handler`,
    /// every other reactor on its own thread with a clone. Then closes every connection (each
    /// gets `on_close`), calls `on_shutdown` and returns reactor 0's handler.
    pub fn run<H: EventHandler + Clone + Send + 'static>(self, mut handler: H) -> Result<H, Error> {
        let remotes: Vec<Remote> = self.reactors.iter().map(Reactor::remote).collect();
        let mut reactors = self.reactors.into_iter();
        let mut first = reactors.next().expect("at least one reactor");
        let workers: Vec<_> = reactors
            .map(|reactor| {
                let h = handler.clone();
                let stop = self.stop.clone();
                thread::Builder::new()
                    .name(format!("riptide-reactor-{}", reactor.remote().index()))
                    .spawn(move || serve(reactor, h, &stop))
            })
            .collect::<Result<_, _>>()?;
        handler.on_boot(&self.addrs);
        if self.ticker {
            first.schedule_tick(Some(Duration::ZERO));
        }
        let result = serve(first, handler, &self.stop);
        if result.is_err() {
            // Reactor 0 failed: make the others stop too. (After a stop or a drain they end
            // on their own.)
            self.stop.store(true, Ordering::Release);
            for r in &remotes {
                let _ = r.send(Command::Stop);
            }
        }
        let mut handler = result?;
        for w in workers {
            w.join().map_err(|_| Error::EngineStopped)??;
        }
        handler.on_shutdown();
        Ok(handler)
    }
}

/// One reactor's loop.
fn serve<H: EventHandler>(
    mut reactor: Reactor,
    mut handler: H,
    stop: &AtomicBool,
) -> Result<H, Error> {
    let drained = |r: &Reactor| r.drain_status().is_some_and(|(_, open)| open == 0);
    while !stop.load(Ordering::Acquire) && !reactor.stop_requested() && !drained(&reactor) {
        if let Err(e) = reactor.turn(&mut handler, None) {
            reactor.shutdown(&mut handler);
            return Err(e);
        }
    }
    reactor.shutdown(&mut handler);
    Ok(handler)
}

/// The URL that binds another listener to the address `bound` resolved to (port 0 resolved).
fn rebind_url(url: &str, bound: &PeerAddr) -> String {
    match bound {
        PeerAddr::Inet(a) => {
            let scheme = url.split("://").next().unwrap_or("tcp");
            format!("{scheme}://{a}")
        }
        PeerAddr::Unix(_) => url.to_owned(),
    }
}

/// Lets closures serve as handlers in small programs and tests: `on_traffic` only.
impl<F> EventHandler for F
where
    F: FnMut(&mut Conns, ConnId, &[u8]),
{
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        self(conns, id, data)
    }
}
