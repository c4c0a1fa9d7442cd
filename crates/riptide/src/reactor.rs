//! One reactor: a mio `Poll`, its listeners and connection table, and `turn`, which processes
//! what is ready and dispatches it to an [`EventHandler`]. Drivers decide when to call `turn`:
//! a thread loop ([`crate::Engine`]) or the JS thread's libuv loop (the napi crate).

use crate::address::{Address, Network};
use crate::{Conns, Error, EventHandler};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Tokens at the top of the range belong to the waker and listeners; connection slots
/// (below 2^24) never reach them.
const WAKER: Token = Token(usize::MAX);
const FIRST_LISTENER: usize = usize::MAX - 1;

/// Limits on the work one [`Reactor::turn`] does, so one busy peer cannot starve the others
/// or the JS thread.
#[derive(Clone, Debug)]
pub struct ReactorConfig {
    /// Most readiness events handled per turn; the rest wait for the next turn.
    pub event_budget: usize,
    /// Size of the reactor's read buffer: the most bytes one read delivers.
    pub read_buffer_size: usize,
    /// Once a turn has read this many bytes, further readable connections wait for the next
    /// turn. Bounds what one turn hands a driver to at most this plus one read buffer.
    pub read_budget: usize,
    /// Disable Nagle's algorithm on accepted connections (gnet's default).
    pub no_delay: bool,
    /// Listen backlog.
    pub backlog: i32,
}

impl Default for ReactorConfig {
    fn default() -> Self {
        ReactorConfig {
            event_budget: 1024,
            read_buffer_size: 64 * 1024,
            read_budget: 1024 * 1024,
            no_delay: true,
            backlog: 1024,
        }
    }
}

/// What a turn left undone, so the driver knows whether to come back at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnOutcome {
    /// Everything ready was handled.
    Idle,
    /// Budget ran out with work left; the reactor has woken its own poll so the next turn
    /// starts without waiting.
    MoreReady,
}

/// A reactor: listeners, connections and the poll that watches them.
pub struct Reactor {
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
    listeners: Vec<TcpListener>,
    conns: Conns,
    read_buf: Vec<u8>,
    config: ReactorConfig,
    /// Sockets that may still have input (mio is edge-triggered): connections whose last read
    /// filled the buffer or that a spent budget skipped, and listeners with a backlog left.
    again: Vec<Token>,
    /// Scratch list of this turn's ready sockets: `(token, readable, writable)`.
    ready: Vec<(Token, bool, bool)>,
}

impl Reactor {
    /// Creates a reactor with no listeners.
    pub fn new(config: ReactorConfig) -> Result<Reactor, Error> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let conns = Conns::new(poll.registry().try_clone()?);
        Ok(Reactor {
            events: Events::with_capacity(config.event_budget),
            read_buf: vec![0; config.read_buffer_size],
            poll,
            waker,
            listeners: Vec::new(),
            conns,
            config,
            again: Vec::new(),
            ready: Vec::new(),
        })
    }

    /// Binds and starts listening on `url` (`tcp://host:port`). Returns the bound address,
    /// which tells the port when the URL asked for port 0.
    pub fn listen(&mut self, url: &str) -> Result<SocketAddr, Error> {
        let address = Address::parse(url)?;
        let Network::Tcp = address.network;
        let mut listener = bind_tcp(address.addr, self.config.backlog)?;
        let token = Token(FIRST_LISTENER - self.listeners.len());
        self.poll
            .registry()
            .register(&mut listener, token, Interest::READABLE)?;
        let local = listener.local_addr()?;
        self.listeners.push(listener);
        Ok(local)
    }

    /// Addresses of all listeners, in the order they were added.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The connection table, for writes and closes from outside a callback.
    pub fn conns(&mut self) -> &mut Conns {
        &mut self.conns
    }

    /// Wakes this reactor's poll from any thread.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Runs the close callbacks of connections whose close was decided outside a turn (by a
    /// driver calling [`Conns::close`] or [`Conns::write`] directly).
    pub fn reap<H: EventHandler>(&mut self, handler: &mut H) {
        while let Some((id, err)) = self.conns.doomed.pop() {
            self.conns.remove(id);
            handler.on_close(&mut self.conns, id, err.as_ref());
        }
    }

    /// Waits up to `timeout` for readiness (`None` waits forever, zero only polls), then
    /// handles what is ready within the configured budgets.
    pub fn turn<H: EventHandler>(
        &mut self,
        handler: &mut H,
        timeout: Option<Duration>,
    ) -> Result<TurnOutcome, Error> {
        let timeout = if self.again.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        let mut budget = self.config.event_budget;
        let mut read_total = 0;
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        ready.extend(self.again.drain(..).map(|t| (t, true, false)));
        ready.extend(self.events.iter().map(|e| {
            let readable = e.is_readable() || e.is_read_closed() || e.is_error();
            (e.token(), readable, e.is_writable())
        }));
        let mut deferred = Vec::new();
        for &(token, readable, writable) in &ready {
            if token == WAKER {
                continue;
            }
            if budget == 0 || (readable && read_total >= self.config.read_budget) {
                if readable {
                    deferred.push(token);
                }
                if writable {
                    self.flush_slot(token, handler);
                }
                continue;
            }
            budget -= 1;
            if token.0 > FIRST_LISTENER - self.listeners.len() {
                let index = FIRST_LISTENER - token.0;
                self.accept(index, handler, budget);
                continue;
            }
            if writable {
                self.flush_slot(token, handler);
            }
            if readable {
                read_total += self.read(token, handler);
            }
        }
        self.ready = ready;
        self.again.extend(deferred);
        self.again.sort_unstable();
        self.again.dedup();
        if self.again.is_empty() {
            Ok(TurnOutcome::Idle)
        } else {
            self.waker.wake()?;
            Ok(TurnOutcome::MoreReady)
        }
    }

    /// Closes every connection (reporting each through `on_close`) and every listener.
    pub fn shutdown<H: EventHandler>(&mut self, handler: &mut H) {
        for id in self.conns.ids() {
            self.conns.doom(id, None);
        }
        self.reap(handler);
        for mut l in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(&mut l);
        }
        self.again.clear();
    }

    fn flush_slot<H: EventHandler>(&mut self, token: Token, handler: &mut H) {
        if let Some((id, _)) = self.conns.slab.get_by_slot_mut(token.0 as u32) {
            self.conns.flush(id);
            self.reap(handler);
        }
    }

    /// Accepts up to `budget` connections from listener `index`.
    fn accept<H: EventHandler>(&mut self, index: usize, handler: &mut H, budget: usize) {
        let token = Token(FIRST_LISTENER - index);
        for _ in 0..budget.max(1) {
            let (stream, peer) = match self.listeners[index].accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Per-connection failures (ECONNABORTED) and resource limits (EMFILE) must
                // not kill the listener: try again next turn.
                Err(_) => break,
            };
            let _ = stream.set_nodelay(self.config.no_delay);
            match self.conns.insert(stream, peer) {
                Ok(id) => {
                    handler.on_open(&mut self.conns, id);
                    self.reap(handler);
                }
                // Table full: dropping the stream refuses the connection.
                Err(_) => break,
            }
        }
        self.again.push(token);
    }

    /// One read from the connection in `token`'s slot; returns the bytes read.
    fn read<H: EventHandler>(&mut self, token: Token, handler: &mut H) -> usize {
        let Some((id, conn)) = self.conns.slab.get_by_slot_mut(token.0 as u32) else {
            return 0;
        };
        let result = loop {
            match conn.stream.read(&mut self.read_buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = match result {
            Ok(0) => {
                // Orderly end from the peer: flush what we accepted, then close.
                let _ = self.conns.close(id);
                self.reap(handler);
                0
            }
            Ok(n) => {
                handler.on_traffic(&mut self.conns, id, &self.read_buf[..n]);
                if n == self.read_buf.len() {
                    self.again.push(token);
                }
                n
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => {
                self.conns.doom(id, Some(e.into()));
                0
            }
        };
        self.reap(handler);
        n
    }
}

/// A non-blocking listener with `SO_REUSEADDR` (so a restarted server can rebind at once).
fn bind_tcp(addr: SocketAddr, backlog: i32) -> Result<TcpListener, Error> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(false).ok();
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into()).map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => Error::AddressInUse(addr),
        _ => e.into(),
    })?;
    socket.listen(backlog)?;
    Ok(TcpListener::from_std(socket.into()))
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for Reactor {
    /// The poll's epoll/kqueue descriptor: readable whenever a turn has work, so another event
    /// loop (libuv's, in Node) can watch it and call [`Reactor::turn`].
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.poll)
    }
}
