//! One reactor: a mio `Poll`, its listeners, connection table and inbox, and `turn`, which
//! processes what is ready and dispatches it to an [`EventHandler`]. Drivers decide when to
//! call `turn`: a thread loop ([`crate::Engine`]) or the JS thread's libuv loop (the napi crate).

use crate::address::Address;
use crate::admission::Admission;
use crate::balance::{Balancer, LoadBalancing};
use crate::conns::Notice;
use crate::flow::{FlowConfig, IdleKind, Timer};
use crate::remote::{self, Command, Inbox, Remote};
use crate::socket::SocketOptions;
use crate::stream::{Listener, PeerAddr, Stream};
use crate::{ConnId, Conns, Error, EventHandler, KcpOptions, ListenOptions, SharedCodec};
use mio::{Events, Interest, Poll, Token, Waker};
use riptide_codec::Decoded;
use std::io::{self, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tokens at the top of the range belong to the waker and listeners; connection slots
/// (below 2^24) never reach them.
const WAKER: Token = Token(usize::MAX);
const FIRST_LISTENER: usize = usize::MAX - 1;

/// Bytes that hold any UDP payload (65,507 over IPv4, 65,527 over IPv6 without jumbograms).
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// Limits on the work one [`Reactor::turn`] does, so one busy peer cannot starve the others
/// or the JS thread, and the socket options of its listeners and connections.
#[derive(Clone, Debug)]
pub struct ReactorConfig {
    /// Most readiness events (and inbox commands) handled per turn; the rest wait.
    pub event_budget: usize,
    /// The most bytes one stream read delivers (gnet's `ReadBufferCap`). Datagrams are read
    /// whole whatever this says (into a buffer of at least [`MAX_DATAGRAM`] bytes): a UDP read
    /// into a smaller buffer would cut the datagram silently.
    pub read_buffer_size: usize,
    /// Once a turn has read this many bytes, further readable connections wait for the next
    /// turn. Bounds what one turn hands a driver to at most this plus one read buffer.
    pub read_budget: usize,
    /// Bytes of capacity a connection's drained outbound queue keeps for reuse (gnet's
    /// `WriteBufferCap`); beyond it the memory goes back, so idle connections stay small.
    pub write_buffer_cap: usize,
    /// Options of listening and accepted sockets.
    pub socket: SocketOptions,
    /// UDP sessions: with `Some(idle)`, each UDP peer becomes a connection (`on_open`,
    /// `on_traffic`, `on_close` after `idle` without datagrams). With `None` (gnet's model)
    /// each datagram goes to [`EventHandler::on_datagram`].
    pub udp_session_timeout: Option<Duration>,
    /// Most UDP sessions per reactor; datagrams from further new peers are dropped, so spoofed
    /// sources cannot grow the table without bound.
    pub max_udp_sessions: usize,
    /// Water marks, close timeout, half-open connections and idle detection.
    pub flow: FlowConfig,
    /// Caps on open connections, shared by every reactor whose config is cloned from this one.
    pub admission: Arc<Admission>,
}

impl Default for ReactorConfig {
    fn default() -> Self {
        ReactorConfig {
            event_budget: 1024,
            read_buffer_size: 64 * 1024,
            read_budget: 1024 * 1024,
            write_buffer_cap: 64 * 1024,
            socket: SocketOptions::default(),
            udp_session_timeout: None,
            max_udp_sessions: 65_536,
            flow: FlowConfig::default(),
            admission: Arc::new(Admission::default()),
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

/// Counters a reactor keeps for operators.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReactorStats {
    /// Accept failures from resource limits (EMFILE, ENFILE, ENOBUFS, ENOMEM).
    pub accept_errors: u64,
    /// Connections refused by the admission caps (engine-wide).
    pub rejected: u64,
}

/// A graceful stop in progress ([`Reactor::drain`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrainStatus {
    /// When the connections still open are reset.
    pub deadline: Instant,
    /// Connections that closed cleanly after their queued bytes were written.
    pub drained: usize,
    /// Connections reset (at the deadline or by an error).
    pub reset: usize,
}

/// A reactor: listeners, connections and the poll that watches them.
pub struct Reactor {
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
    remote: Remote,
    inbox: Inbox,
    listeners: Vec<Listener>,
    /// What each listener does to its connections (same index as `listeners`).
    codecs: Vec<Arc<ListenOptions>>,
    conns: Conns,
    read_buf: Vec<u8>,
    config: ReactorConfig,
    /// Reactors new connections are spread over (this one included), and how.
    peers: Vec<Remote>,
    balancer: Balancer,
    /// Sockets that may still have input (mio is edge-triggered): connections whose last read
    /// filled the buffer or that a spent budget skipped, and listeners with a backlog left.
    again: Vec<Token>,
    /// Scratch list of this turn's ready sockets: `(token, readable, writable, read_closed)`.
    ready: Vec<(Token, bool, bool, bool)>,
    /// Scratch list of this turn's inbox commands.
    commands: Vec<Command>,
    /// When `on_tick` is next due.
    tick_at: Option<Instant>,
    /// When idle UDP sessions are next looked for.
    sweep_at: Option<Instant>,
    /// Accepting is paused after a resource error (EMFILE) until then; the pause doubles.
    accept_paused_until: Option<Instant>,
    accept_backoff: Duration,
    last_accept_report: Option<Instant>,
    stats: ReactorStats,
    draining: Option<DrainStatus>,
    /// Scratch list of fired timers.
    fired: Vec<Timer>,
    stop_requested: bool,
    /// Scratch buffer KCP messages are received into.
    kcp_buf: Vec<u8>,
    /// Inside [`Reactor::turn`]: KCP sessions are flushed once at its end, not at each reap.
    in_turn: bool,
}

impl Reactor {
    /// Creates reactor 0 of its engine, with no listeners.
    pub fn new(config: ReactorConfig) -> Result<Reactor, Error> {
        Reactor::with_index(config, 0)
    }

    /// Creates the reactor with index `index` of its engine.
    pub fn with_index(config: ReactorConfig, index: usize) -> Result<Reactor, Error> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let load = Arc::new(AtomicUsize::new(0));
        let (remote, inbox) = remote::channel(index, waker.clone(), load.clone());
        let conns = Conns::new(poll.registry().try_clone()?, &config, load);
        Ok(Reactor {
            events: Events::with_capacity(config.event_budget),
            read_buf: vec![0; config.read_buffer_size.max(MAX_DATAGRAM)],
            peers: vec![remote.clone()],
            balancer: Balancer::new(LoadBalancing::RoundRobin),
            poll,
            waker,
            remote,
            inbox,
            listeners: Vec::new(),
            codecs: Vec::new(),
            conns,
            config,
            again: Vec::new(),
            ready: Vec::new(),
            commands: Vec::new(),
            tick_at: None,
            sweep_at: None,
            accept_paused_until: None,
            accept_backoff: MIN_ACCEPT_BACKOFF,
            last_accept_report: None,
            stats: ReactorStats::default(),
            draining: None,
            fired: Vec::new(),
            stop_requested: false,
            kcp_buf: Vec::new(),
            in_turn: false,
        })
    }

    /// Binds and starts listening on `url` (`tcp://host:port`, `unix://path`). Returns the
    /// bound address, which tells the port when the URL asked for port 0.
    pub fn listen(&mut self, url: &str) -> Result<PeerAddr, Error> {
        self.listen_with(url, ListenOptions::default())
    }

    /// Like [`Reactor::listen`], with a codec framing every connection of the listener
    /// (`on_traffic` then gets whole frames and writes are framed) and optionally a PROXY
    /// protocol header expected first. Both are ignored for UDP.
    pub fn listen_with(
        &mut self,
        url: &str,
        mut options: ListenOptions,
    ) -> Result<PeerAddr, Error> {
        let address = Address::parse(url)?;
        let token = Token(FIRST_LISTENER - self.listeners.len());
        if let Address::Kcp(_) = address {
            options
                .kcp
                .get_or_insert_with(KcpOptions::default)
                .validate()?;
        } else {
            options.kcp = None;
        }
        let listener = if let Address::Udp(addr) | Address::Kcp(addr) = address {
            let mut udp = self.config.socket.bind_udp(addr)?;
            self.poll
                .registry()
                .register(&mut udp, token, Interest::READABLE)?;
            let local = udp.local_addr()?;
            self.conns.udp.push(udp);
            Listener::Datagram(self.conns.udp.len() - 1, local)
        } else {
            let mut listener = self.config.socket.bind(&address)?;
            self.poll
                .registry()
                .register(&mut listener, token, Interest::READABLE)?;
            listener
        };
        let local = listener.local_addr()?;
        self.listeners.push(listener);
        self.codecs.push(Arc::new(options));
        Ok(local)
    }

    /// Dials `url` (`tcp://`, `unix://`, `udp://` for a connected UDP socket) without
    /// blocking. The connection is in the table at once (writes queue); `on_open` follows when
    /// it connects, or `on_close` with the error (`ECONNREFUSED`, `ETIMEDOUT` after
    /// `timeout`) and no `on_open` when it does not.
    pub fn connect(
        &mut self,
        url: &str,
        codec: Option<SharedCodec>,
        timeout: Option<Duration>,
    ) -> Result<ConnId, Error> {
        self.connect_with(url, codec, timeout, None)
    }

    /// [`Reactor::connect`], with the KCP parameters of a `kcp://` dial (`None`:
    /// [`KcpOptions::default`]). A KCP client picks a random conv; the server learns it from
    /// the first segment, so the client speaks first.
    pub fn connect_with(
        &mut self,
        url: &str,
        codec: Option<SharedCodec>,
        timeout: Option<Duration>,
        kcp: Option<KcpOptions>,
    ) -> Result<ConnId, Error> {
        let address = Address::parse(url)?;
        let kcp = match address {
            Address::Kcp(_) => {
                let kcp = kcp.unwrap_or_default();
                kcp.validate()?;
                Some(kcp)
            }
            _ => None,
        };
        let (stream, peer) = match address {
            Address::Tcp(addr) => {
                use socket2::{Domain, Socket, Type};
                let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
                socket.set_nonblocking(true)?;
                match socket.connect(&addr.into()) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e.into()),
                }
                let std: std::net::TcpStream = socket.into();
                (
                    Stream::Tcp(mio::net::TcpStream::from_std(std)),
                    PeerAddr::Inet(addr),
                )
            }
            Address::Udp(addr) | Address::Kcp(addr) => {
                let local: std::net::SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let udp = mio::net::UdpSocket::bind(local)?;
                udp.connect(addr)?;
                (Stream::Udp(udp), PeerAddr::Inet(addr))
            }
            #[cfg(unix)]
            Address::Unix(path) => {
                let s = mio::net::UnixStream::connect(&path)?;
                (
                    Stream::Unix(s),
                    PeerAddr::Unix(path.to_string_lossy().into_owned()),
                )
            }
            #[cfg(not(unix))]
            Address::Unix(_) => {
                return Err(Error::InvalidAddress(format!(
                    "{url:?}: no Unix sockets here"
                )))
            }
        };
        let id = self.conns.insert_dialed(stream, peer, codec.as_ref())?;
        if let Some(kcp) = kcp {
            if let Err(e) = self.conns.attach_kcp(id, random_conv(), &kcp) {
                self.conns.doom(id, None);
                self.conns.remove(id);
                return Err(e);
            }
        }
        if let Some(t) = timeout {
            self.conns
                .timers
                .insert(Instant::now() + t, Timer::Connect(id));
        }
        // A connected UDP socket (and often a Unix one) is ready at once; report it from the
        // next turn, like any other open.
        self.conns.check_connected(id);
        Ok(id)
    }

    /// Adopts a connected socket made elsewhere (gnet's `Enroll`): it joins this reactor's
    /// table with `options` (codec, PROXY) and `on_open` follows from the next turn. Sockets
    /// that are not connected stream or datagram sockets are refused.
    #[cfg(unix)]
    pub fn enroll(
        &mut self,
        fd: std::os::fd::OwnedFd,
        options: &ListenOptions,
    ) -> Result<ConnId, Error> {
        let socket = socket2::Socket::from(fd);
        let refuse = |_| {
            Error::InvalidOption("enroll takes a connected TCP, Unix-stream or UDP socket".into())
        };
        let kind = socket.r#type().map_err(refuse)?;
        let peer = socket.peer_addr().map_err(refuse)?;
        socket.set_nonblocking(true)?;
        let (stream, peer) = match (kind, peer.as_socket()) {
            (socket2::Type::STREAM, Some(addr)) => {
                let std: std::net::TcpStream = socket.into();
                (
                    Stream::Tcp(mio::net::TcpStream::from_std(std)),
                    PeerAddr::Inet(addr),
                )
            }
            (socket2::Type::STREAM, None) => {
                let std: std::os::unix::net::UnixStream = socket.into();
                let path = std
                    .peer_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(|p| p.to_string_lossy().into_owned()))
                    .unwrap_or_default();
                (
                    Stream::Unix(mio::net::UnixStream::from_std(std)),
                    PeerAddr::Unix(path),
                )
            }
            (socket2::Type::DGRAM, Some(addr)) => {
                let std: std::net::UdpSocket = socket.into();
                (
                    Stream::Udp(mio::net::UdpSocket::from_std(std)),
                    PeerAddr::Inet(addr),
                )
            }
            _ => {
                return Err(Error::InvalidOption(
                    "enroll takes a connected TCP, Unix-stream or UDP socket".into(),
                ))
            }
        };
        let id = self
            .conns
            .insert_dialed(stream, peer, options.codec.as_ref())?;
        self.conns.check_connected(id);
        Ok(id)
    }

    /// Addresses of all listeners, in the order they were added.
    pub fn local_addrs(&self) -> Vec<PeerAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Spreads connections accepted by this reactor's listeners over `peers` (which should
    /// include this reactor's own [`Reactor::remote`]) by `policy`.
    pub fn set_balancer(&mut self, peers: Vec<Remote>, policy: LoadBalancing) {
        self.peers = peers;
        self.balancer = Balancer::new(policy);
    }

    /// The connection table, for writes and closes from outside a callback.
    pub fn conns(&mut self) -> &mut Conns {
        &mut self.conns
    }

    /// The sending side of this reactor's inbox: post work to it from any thread.
    pub fn remote(&self) -> Remote {
        self.remote.clone()
    }

    /// Wakes this reactor's poll from any thread.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Schedules the next `on_tick` after `delay` (zero: at the next turn), or cancels the
    /// ticker with `None`. `on_tick`'s return value reschedules it the same way.
    pub fn schedule_tick(&mut self, delay: Option<Duration>) {
        self.tick_at = delay.map(|d| Instant::now() + d);
    }

    /// When the reactor next needs a turn without any socket becoming ready (the ticker, UDP
    /// session expiry). Drivers that do not block in [`Reactor::turn`] must arrange a turn by
    /// then.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.tick_at,
            self.sweep_at,
            self.accept_paused_until,
            self.draining.map(|d| d.deadline),
            self.conns.timers.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Operator counters.
    pub fn stats(&self) -> ReactorStats {
        ReactorStats {
            rejected: self.conns.admission().rejected(),
            ..self.stats
        }
    }

    /// Starts a graceful stop: listeners close at once, every connection is closed after its
    /// queued bytes are written, and at `deadline` the rest are reset. Keep turning until
    /// [`Reactor::drain_status`] shows no connection left, then call [`Reactor::shutdown`].
    pub fn drain<H: EventHandler>(&mut self, deadline: Instant, handler: &mut H) {
        // Stream listeners close now. UDP sockets stay open (no new session opens) so KCP
        // sessions still get the acks their close waits for; `shutdown` closes them.
        for l in self.listeners.iter_mut().filter(|l| !l.is_datagram()) {
            let _ = self.poll.registry().deregister(l);
            *l = Listener::Closed;
        }
        if let Some(d) = self.draining.as_mut() {
            d.deadline = d.deadline.min(deadline);
        } else {
            self.draining = Some(DrainStatus {
                deadline,
                drained: 0,
                reset: 0,
            });
        }
        for id in self.conns.ids() {
            if self.conns.close(id).is_err() {
                continue;
            }
        }
        self.reap(handler);
    }

    /// Progress of a graceful stop, and whether connections remain.
    pub fn drain_status(&self) -> Option<(DrainStatus, usize)> {
        self.draining.map(|d| (d, self.conns.len()))
    }

    /// True once a [`Command::Stop`] arrived; the thread driver leaves its loop.
    pub fn stop_requested(&self) -> bool {
        self.stop_requested
    }

    /// Delivers what the connection table queued (writability changes, completed writes,
    /// half-closes, closes), in order. Drivers call it after changing the table outside a
    /// turn; turns call it after every callback.
    pub fn reap<H: EventHandler>(&mut self, handler: &mut H) {
        if !self.in_turn {
            self.conns.kcp_flush_dirty();
        }
        while let Some(notice) = self.conns.notices.pop_front() {
            match notice {
                Notice::Writability(id, writable) => {
                    if self.conns.slab.get(id).is_some() {
                        handler.on_writability(&mut self.conns, id, writable);
                    }
                }
                Notice::Connected(id) => {
                    if self.conns.slab.get(id).is_some() {
                        handler.on_open(&mut self.conns, id);
                    }
                }
                Notice::Written(id, token) => {
                    handler.on_write_done(&mut self.conns, id, token, None)
                }
                Notice::Error(id, err) => {
                    if self.conns.slab.get(id).is_some() {
                        handler.on_error(&mut self.conns, id, &err);
                    }
                }
                Notice::End(id) => {
                    if self.conns.slab.get(id).is_some() {
                        handler.on_end(&mut self.conns, id);
                    }
                }
                Notice::Close(id, err) => {
                    for token in self.conns.remove(id) {
                        handler.on_write_done(&mut self.conns, id, token, Some(&Error::ConnClosed));
                    }
                    if let Some(d) = self.draining.as_mut() {
                        if err.is_none() {
                            d.drained += 1;
                        } else {
                            d.reset += 1;
                        }
                    }
                    handler.on_close(&mut self.conns, id, err.as_ref());
                }
            }
        }
    }

    /// Waits up to `timeout` for readiness (`None` waits forever, zero only polls), then
    /// handles what is ready within the configured budgets, and the ticker when due.
    pub fn turn<H: EventHandler>(
        &mut self,
        handler: &mut H,
        timeout: Option<Duration>,
    ) -> Result<TurnOutcome, Error> {
        let timeout = if self.again.is_empty() {
            match self.next_deadline() {
                Some(at) => {
                    let until = at.saturating_duration_since(Instant::now());
                    Some(timeout.map_or(until, |t| t.min(until)))
                }
                None => timeout,
            }
        } else {
            Some(Duration::ZERO)
        };
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        self.in_turn = true;
        let outcome = self.dispatch(handler);
        self.in_turn = false;
        self.reap(handler);
        outcome
    }

    /// The body of a turn, after the poll: ready sockets, timers, the ticker, expiry.
    fn dispatch<H: EventHandler>(&mut self, handler: &mut H) -> Result<TurnOutcome, Error> {
        let mut budget = self.config.event_budget;
        let mut read_total = 0;
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        let resumed = std::mem::take(&mut self.conns.resumed);
        ready.extend(
            resumed
                .iter()
                .map(|id| (Token(id.slot as usize), true, false, false)),
        );
        ready.extend(self.again.drain(..).map(|t| (t, true, false, false)));
        ready.extend(self.events.iter().map(|e| {
            let closed = e.is_read_closed() || e.is_error();
            (
                e.token(),
                e.is_readable() || closed,
                e.is_writable(),
                closed,
            )
        }));
        let mut deferred = Vec::new();
        for &(token, readable, writable, read_closed) in &ready {
            if token == WAKER {
                budget = budget.saturating_sub(self.run_commands(handler, budget));
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
                match self.listeners[index] {
                    Listener::Datagram(socket, _) => self.receive(socket, token, handler, budget),
                    Listener::Closed => {}
                    _ => self.accept(index, handler, budget),
                }
                continue;
            }
            if writable {
                self.flush_slot(token, handler);
            }
            if readable {
                read_total += self.read(token, read_closed, handler);
            }
        }
        self.ready = ready;
        self.again.extend(deferred);
        self.again.sort_unstable();
        self.again.dedup();
        let now = Instant::now();
        self.run_timers(now, handler);
        if self.accept_paused_until.is_some_and(|at| at <= now) {
            self.accept_paused_until = None;
            let listeners = self.listeners.len();
            self.again
                .extend((0..listeners).map(|i| Token(FIRST_LISTENER - i)));
        }
        if let Some(d) = self.draining {
            if d.deadline <= now {
                for id in self.conns.ids() {
                    let timed_out =
                        io::Error::new(io::ErrorKind::TimedOut, "drain deadline passed");
                    let _ = self.conns.destroy(id, Some(timed_out.into()));
                }
                self.reap(handler);
            }
        }
        if let Some(at) = self.tick_at {
            if at <= now {
                self.tick_at = handler.on_tick(&mut self.conns).map(|d| now + d);
                self.reap(handler);
            }
        }
        if let (Some(at), Some(idle)) = (self.sweep_at, self.config.udp_session_timeout) {
            if at <= now {
                self.conns.expire_sessions(now, idle);
                self.reap(handler);
                self.sweep_at = self.conns.has_sessions().then(|| now + sweep_period(idle));
            }
        }
        let resumed = std::mem::take(&mut self.conns.resumed);
        self.again
            .extend(resumed.iter().map(|id| Token(id.slot as usize)));
        if self.again.is_empty() && !self.inbox.has_more() {
            Ok(TurnOutcome::Idle)
        } else {
            self.waker.wake()?;
            Ok(TurnOutcome::MoreReady)
        }
    }

    /// Closes every connection (reporting each through `on_close`) and every listener, and
    /// answers queued commands with [`Error::EngineStopped`].
    pub fn shutdown<H: EventHandler>(&mut self, handler: &mut H) {
        for id in self.conns.ids() {
            self.conns.doom(id, None);
        }
        self.reap(handler);
        for mut l in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(&mut l);
        }
        self.codecs.clear();
        self.again.clear();
        self.tick_at = None;
        self.sweep_at = None;
        self.accept_paused_until = None;
        let mut commands = Vec::new();
        self.inbox.drain(usize::MAX, &mut commands);
        for cmd in commands {
            match cmd {
                Command::Write(_, _, Some(done))
                | Command::Writev(_, _, Some(done))
                | Command::Close(_, Some(done)) => done(Err(Error::EngineStopped)),
                _ => {}
            }
        }
    }

    /// Runs the connection timers due by `now`: user timers, idle checks, close deadlines.
    fn run_timers<H: EventHandler>(&mut self, now: Instant, handler: &mut H) {
        let mut fired = std::mem::take(&mut self.fired);
        self.conns.timers.advance(now, &mut fired);
        for timer in fired.drain(..) {
            match timer {
                Timer::User(id, token) => {
                    if self.conns.slab.get(id).is_some() {
                        handler.on_timer(&mut self.conns, id, token);
                    }
                }
                Timer::Idle(id, kind) => self.check_idle(id, kind, now, handler),
                Timer::Frame(id) => {
                    let timeout = self.conns.flow.frame_timeout.unwrap_or_default();
                    match self.conns.slab.get(id).and_then(|c| c.partial_since) {
                        Some(since) if now.duration_since(since) >= timeout => {
                            let timed_out =
                                io::Error::new(io::ErrorKind::TimedOut, "partial frame timed out");
                            let _ = self.conns.destroy(id, Some(timed_out.into()));
                        }
                        Some(since) => self.conns.timers.insert(since + timeout, Timer::Frame(id)),
                        None => {}
                    }
                }
                Timer::Kcp(id) => self.conns.kcp_timeout(id),
                Timer::KcpExpire(id) => self.conns.kcp_expire(id, now),
                Timer::Connect(id) => {
                    if self.conns.is_connecting(id) {
                        let timed_out =
                            io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
                        let _ = self.conns.destroy(id, Some(timed_out.into()));
                    }
                }
                Timer::Close(id) => {
                    if self
                        .conns
                        .slab
                        .get(id)
                        .is_some_and(|c| c.state == crate::conns::State::Closing)
                    {
                        let timed_out = io::Error::new(io::ErrorKind::TimedOut, "close timed out");
                        let _ = self.conns.destroy(id, Some(timed_out.into()));
                    }
                }
            }
            self.reap(handler);
        }
        self.fired = fired;
    }

    /// Fires `on_idle` when the connection has been idle for the configured time, and sets
    /// the next check (netty's `IdleStateHandler`: no timer churn on each read or write).
    fn check_idle<H: EventHandler>(
        &mut self,
        id: ConnId,
        kind: IdleKind,
        now: Instant,
        handler: &mut H,
    ) {
        let idle = self.conns.flow.idle;
        let Some(conn) = self.conns.slab.get(id) else {
            return;
        };
        let (last, timeout) = match kind {
            IdleKind::Read => (conn.last_read, idle.read),
            IdleKind::Write => (conn.last_write, idle.write),
            IdleKind::All => (conn.last_read.max(conn.last_write), idle.all),
        };
        let Some(timeout) = timeout else { return };
        let next = if now.duration_since(last) >= timeout {
            handler.on_idle(&mut self.conns, id, kind);
            now + timeout
        } else {
            last + timeout
        };
        if self.conns.slab.get(id).is_some() {
            self.conns.timers.insert(next, Timer::Idle(id, kind));
        }
    }

    /// Runs up to `budget` inbox commands; returns how many ran.
    fn run_commands<H: EventHandler>(&mut self, handler: &mut H, budget: usize) -> usize {
        let mut commands = std::mem::take(&mut self.commands);
        self.inbox.drain(budget.max(1), &mut commands);
        let n = commands.len();
        for cmd in commands.drain(..) {
            match cmd {
                Command::Adopt(std, peer, options) => {
                    if let Ok(stream) = std.into_stream() {
                        self.open(stream, peer, &options, handler);
                    }
                }
                Command::Write(id, data, done) => {
                    let r = self.conns.write(id, &data);
                    if let Some(done) = done {
                        done(r);
                    }
                }
                Command::Writev(id, bufs, done) => {
                    let slices: Vec<&[u8]> = bufs.iter().map(Vec::as_slice).collect();
                    let r = self.conns.writev(id, &slices);
                    if let Some(done) = done {
                        done(r);
                    }
                }
                Command::Close(id, done) => {
                    let r = self.conns.close(id);
                    if let Some(done) = done {
                        done(r);
                    }
                }
                Command::Wake(id) => {
                    if self.conns.slab.get(id).is_some() {
                        handler.on_traffic(&mut self.conns, id, &[]);
                    }
                }
                Command::Execute(task) => task(&mut self.conns),
                Command::Stop => self.stop_requested = true,
                Command::Drain(deadline) => self.drain(deadline, handler),
            }
            self.reap(handler);
        }
        self.commands = commands;
        n
    }

    fn flush_slot<H: EventHandler>(&mut self, token: Token, handler: &mut H) {
        if let Some((id, _)) = self.conns.slab.get_by_slot_mut(token.0 as u32) {
            if !self.conns.check_connected(id) {
                self.conns.flush(id);
            }
            self.reap(handler);
        }
    }

    /// Adds an admitted connection to this reactor's table and announces it.
    fn open<H: EventHandler>(
        &mut self,
        stream: Stream,
        peer: PeerAddr,
        options: &ListenOptions,
        handler: &mut H,
    ) {
        let ip = match peer {
            PeerAddr::Inet(a) => Some(a.ip()),
            PeerAddr::Unix(_) => None,
        };
        if options.proxy.is_some() {
            // Opened (on_open) once its PROXY header has been read.
            if self
                .conns
                .insert_awaiting_proxy(stream, peer, options)
                .is_err()
            {
                self.conns.admission().release(ip);
            }
            return;
        }
        match self
            .conns
            .insert(stream, peer, true, options.codec.as_ref())
        {
            Ok(id) => {
                handler.on_open(&mut self.conns, id);
                self.reap(handler);
            }
            // Table full or socket gone: dropping the stream refuses the connection.
            Err(_) => self.conns.admission().release(ip),
        }
    }

    /// Stops accepting for a while after a resource error; reports at most once a second.
    fn pause_accepting<H: EventHandler>(&mut self, err: io::Error, handler: &mut H) {
        let now = Instant::now();
        self.stats.accept_errors += 1;
        self.accept_paused_until = Some(now + self.accept_backoff);
        self.accept_backoff = (self.accept_backoff * 2).min(MAX_ACCEPT_BACKOFF);
        if self
            .last_accept_report
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.last_accept_report = Some(now);
            handler.on_accept_error(&err.into(), self.stats.accept_errors);
        }
    }

    /// Accepts up to `budget` connections from listener `index`, keeping each or handing it
    /// to the reactor the balancer picks.
    fn accept<H: EventHandler>(&mut self, index: usize, handler: &mut H, budget: usize) {
        let token = Token(FIRST_LISTENER - index);
        for _ in 0..budget.max(1) {
            let (stream, peer) = match self.listeners[index].accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_resource_limit(&e) => {
                    self.pause_accepting(e, handler);
                    return;
                }
                // A connection that failed before we took it (ECONNABORTED): skip it.
                Err(_) => continue,
            };
            self.accept_backoff = MIN_ACCEPT_BACKOFF;
            let ip = match peer {
                PeerAddr::Inet(a) => Some(a.ip()),
                PeerAddr::Unix(_) => None,
            };
            // A PROXY listener's peer is the balancer: its per-IP place is taken against the
            // client the header names (`Conns::proxy_parsed`).
            let counted = if self.codecs[index].proxy.is_some() {
                None
            } else {
                ip
            };
            if !self.conns.admission().admit(counted) {
                // Over a cap: dropping the stream refuses the connection.
                continue;
            }
            let target = if self.peers.len() > 1 {
                self.balancer.pick(&self.peers, &peer)
            } else {
                self.remote.index
            };
            let options = self.codecs[index].clone();
            if target == self.remote.index {
                self.open(stream, peer, &options, handler);
            } else if let Some(std) = stream.into_std() {
                if let Err(Command::Adopt(std, peer, options)) =
                    self.peers[target].try_send(Command::Adopt(std, peer, options))
                {
                    // The chosen reactor stopped: serve the connection here instead.
                    if let Ok(stream) = std.into_stream() {
                        self.open(stream, peer, &options, handler);
                    }
                }
            }
        }
        self.again.push(token);
    }

    /// Receives up to `budget` datagrams on UDP socket `socket`: to the peer's session when
    /// sessions are on, to `on_datagram` otherwise.
    fn receive<H: EventHandler>(
        &mut self,
        socket: usize,
        token: Token,
        handler: &mut H,
        budget: usize,
    ) {
        for _ in 0..budget.max(1) {
            let (n, peer) = match self.conns.udp[socket].recv_from(&mut self.read_buf) {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors surface here (ECONNREFUSED from an earlier send): not fatal.
                Err(_) => continue,
            };
            let data = &self.read_buf[..n];
            let index = FIRST_LISTENER - token.0;
            // A graceful stop serves the sessions it has and opens no new one.
            let max_sessions = if self.draining.is_some() {
                0
            } else {
                self.config.max_udp_sessions
            };
            if let Some(kcp) = &self.codecs[index].kcp {
                let Some((id, new)) = self.conns.kcp_session(
                    socket,
                    peer,
                    data,
                    kcp,
                    self.codecs[index].codec.as_ref(),
                    max_sessions,
                ) else {
                    continue;
                };
                let accepted = self.conns.kcp_input(id, &self.read_buf[..n]);
                if new {
                    if !accepted {
                        // A malformed first datagram opens nothing.
                        self.conns.remove(id);
                        continue;
                    }
                    handler.on_open(&mut self.conns, id);
                    self.reap(handler);
                }
                self.kcp_deliver(id, handler);
                continue;
            }
            match self.config.udp_session_timeout {
                None => handler.on_datagram(&mut self.conns, socket, peer, data),
                Some(idle) => {
                    let Some((id, new)) = self.conns.session(socket, peer, max_sessions) else {
                        continue;
                    };
                    if new {
                        handler.on_open(&mut self.conns, id);
                        self.sweep_at
                            .get_or_insert_with(|| Instant::now() + sweep_period(idle));
                    }
                    if self.conns.slab.get(id).is_some() {
                        handler.on_traffic(&mut self.conns, id, &self.read_buf[..n]);
                    }
                }
            }
            self.reap(handler);
        }
        self.again.push(token);
    }

    /// One read from the connection in `token`'s slot; returns the bytes read. `read_closed`
    /// (the peer's FIN or an error came with the event) keeps the connection on the read list
    /// until the read that reports it: mio is edge-triggered and no second edge will come.
    fn read<H: EventHandler>(&mut self, token: Token, read_closed: bool, handler: &mut H) -> usize {
        let track_idle = self.conns.flow.idle.read.is_some() || self.conns.flow.idle.all.is_some();
        let Some((id, _)) = self.conns.slab.get_by_slot_mut(token.0 as u32) else {
            return 0;
        };
        if self.conns.check_connected(id) {
            return 0;
        }
        self.reap(handler);
        let Some(conn) = self.conns.slab.get_mut(id) else {
            return 0;
        };
        if conn.paused || conn.read_closed {
            // Left in the kernel: the peer's window closes until `resume`.
            return 0;
        }
        if conn.kcp.is_some() {
            return self.kcp_read(id, token, handler);
        }
        conn.hup_seen |= read_closed;
        // Datagram sockets are read until empty: each read takes one datagram.
        let again = conn.hup_seen || conn.stream.is_datagram();
        // Streams read at most `read_buffer_size`; a datagram is read whole.
        let cap = if conn.stream.is_datagram() {
            self.read_buf.len()
        } else {
            self.config.read_buffer_size.clamp(1, self.read_buf.len())
        };
        let result = loop {
            match conn.stream.read(&mut self.read_buf[..cap]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = match result {
            Ok(0) => {
                self.conns.peer_ended(id);
                0
            }
            Ok(n) => {
                if track_idle {
                    conn.last_read = Instant::now();
                }
                if self.conns.awaiting_proxy(id) {
                    if let Some(rest) = self.conns.proxy_parsed(id, &self.read_buf[..n]) {
                        // on_open (with the original client's address) before any traffic.
                        self.reap(handler);
                        if !rest.is_empty() {
                            deliver(&mut self.conns, handler, id, &rest);
                        }
                    }
                } else {
                    deliver(&mut self.conns, handler, id, &self.read_buf[..n]);
                }
                if n == cap || again {
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

impl Reactor {
    /// Reads a KCP client's datagrams into its session (a listener's sessions get theirs in
    /// [`Reactor::receive`]), then delivers what KCP completed. Returns the bytes read.
    fn kcp_read<H: EventHandler>(&mut self, id: ConnId, token: Token, handler: &mut H) -> usize {
        let mut total = 0;
        for _ in 0..self.config.event_budget.max(1) {
            let Some(conn) = self.conns.slab.get_mut(id) else {
                break;
            };
            let n = match conn.stream.read(&mut self.read_buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // ICMP errors (ECONNREFUSED from an earlier send) are not fatal for KCP: the
                // dead-link check decides when a silent peer is gone.
                Err(_) => continue,
            };
            total += n;
            self.conns.kcp_input(id, &self.read_buf[..n]);
            if total >= self.config.read_budget {
                self.again.push(token);
                break;
            }
        }
        self.kcp_deliver(id, handler);
        total
    }

    /// Hands a KCP session's received messages (or stream bytes) to the handler, through its
    /// codec if it has one.
    fn kcp_deliver<H: EventHandler>(&mut self, id: ConnId, handler: &mut H) {
        let mut buf = std::mem::take(&mut self.kcp_buf);
        while self.conns.kcp_recv(id, &mut buf) {
            deliver(&mut self.conns, handler, id, &buf);
            self.reap(handler);
        }
        self.kcp_buf = buf;
    }
}

/// A random KCP conv for a client (the server learns it from the first segment).
fn random_conv() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() as u32).max(1)
}

/// Hands freshly read bytes to the handler: whole frames through the connection's codec
/// (straight from the read buffer when nothing was held), or the bytes themselves after any
/// the handler retained. What is left (a partial frame) is kept for the next read.
fn deliver<H: EventHandler>(conns: &mut Conns, handler: &mut H, id: ConnId, fresh: &[u8]) {
    let Some(conn) = conns.slab.get_mut(id) else {
        return;
    };
    let mut held = std::mem::take(&mut conn.inbound);
    let Some(mut codec) = conn.decoder.take() else {
        if held.is_empty() {
            handler.on_traffic(conns, id, fresh);
        } else {
            held.extend_from_slice(fresh);
            handler.on_traffic(conns, id, &held);
        }
        conns.note_partial(id);
        return;
    };
    // Held bytes grow in place (amortised), so a large frame arriving in many reads costs
    // linear time; fresh bytes are decoded straight from the read buffer.
    let from_held = !held.is_empty();
    if from_held {
        held.extend_from_slice(fresh);
    }
    let src: &[u8] = if from_held { &held } else { fresh };
    let open = |conns: &Conns| {
        conns
            .slab
            .get(id)
            .is_some_and(|c| c.state == crate::conns::State::Open)
    };
    let mut used = 0;
    while open(conns) {
        let rest = src.get(used..).unwrap_or_default();
        // A codec bug (a panic on some input) costs this connection, not the process.
        let decoded = match catch_unwind(AssertUnwindSafe(|| codec.decode(rest))) {
            Ok(d) => d,
            Err(panic) => {
                let _ = conns.destroy(id, Some(Error::from_panic(&*panic)));
                used = src.len();
                break;
            }
        };
        // A codec never claims more than it was given; clamping keeps a faulty one in range.
        let advance = |used: usize, consumed: usize| used.saturating_add(consumed).min(src.len());
        match decoded {
            Decoded::Frame {
                consumed,
                start,
                end,
            } => {
                if let Some(frame) = rest.get(start..end) {
                    handler.on_traffic(conns, id, frame);
                }
                used = advance(used, consumed);
            }
            Decoded::Owned { consumed, frame } => {
                handler.on_traffic(conns, id, &frame);
                used = advance(used, consumed);
            }
            Decoded::Reply { bytes } => {
                let _ = conns.write_unframed(id, bytes);
            }
            Decoded::Skip { consumed } => used = advance(used, consumed),
            Decoded::Error { consumed, error } => {
                used = advance(used, consumed);
                handler.on_error(conns, id, &Error::Frame(error));
            }
            Decoded::NeedMore => break,
        }
    }
    let rest = if from_held {
        // Only consumed frames move the rest down; a partial frame keeps its buffer.
        held.drain(..used);
        held
    } else {
        fresh[used..].to_vec()
    };
    if let Some(conn) = conns.slab.get_mut(id) {
        conn.decoder = Some(codec);
        conn.inbound = rest;
        conns.note_partial(id);
    }
}

/// `EINPROGRESS`: a non-blocking connect has started (Linux 115, BSD/macOS 36).
#[cfg(any(target_os = "linux", target_os = "android"))]
const EINPROGRESS: i32 = 115;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const EINPROGRESS: i32 = 36;

/// First pause of accepting after a resource error; it doubles up to [`MAX_ACCEPT_BACKOFF`].
const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Longest pause of accepting: new connections resume within this after fds free.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_millis(500);

/// Accept errors that mean "out of descriptors or memory", which pausing can outlast.
fn is_resource_limit(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            e.raw_os_error(),
            Some(
                libc_errno::EMFILE | libc_errno::ENFILE | libc_errno::ENOBUFS | libc_errno::ENOMEM
            )
        )
    }
    #[cfg(not(unix))]
    {
        e.kind() == io::ErrorKind::OutOfMemory
    }
}

/// The errno values [`is_resource_limit`] looks for (Linux and BSD/macOS agree on these).
#[cfg(unix)]
mod libc_errno {
    pub const ENOMEM: i32 = 12;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub const ENOBUFS: i32 = 105;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub const ENOBUFS: i32 = 55;
}

/// How often idle UDP sessions are looked for: a quarter of the timeout, so a session closes
/// within 1.25 × the timeout.
fn sweep_period(idle: Duration) -> Duration {
    (idle / 4).max(Duration::from_millis(1))
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for Reactor {
    /// The poll's epoll/kqueue descriptor: readable whenever a turn has work, so another event
    /// loop (libuv's, in Node) can watch it and call [`Reactor::turn`].
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.poll)
    }
}
