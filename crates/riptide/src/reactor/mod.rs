//! One reactor: a mio `Poll`, its listeners, connection table and inbox, and `turn`, which
//! processes what is ready and dispatches it to an [`EventHandler`]. Drivers decide when to
//! call `turn`: a thread loop ([`crate::Engine`]) or the JS thread's libuv loop (the napi crate).
//!
//! The reactor's methods are spread over files by concern: `accept` (listeners, accepting,
//! admission), `dial` (outgoing connections, adopted sockets), `inbound` (reads, datagrams,
//! delivery through the codec), `timers` and `commands` (the inbox).

mod accept;
mod carriers;
mod commands;
mod dial;
mod handover;
mod inbound;
mod notices;
mod timers;
mod webrtc;

use crate::balance::{Balancer, LoadBalancing};
use crate::carried::Outbox;
use crate::carrier::Inbound;
use crate::carrier::MAX_DATAGRAM;
use crate::config::{ListenOptions, ReactorConfig};
use crate::conns::Conns;
use crate::flow::Timer;
use crate::handler::EventHandler;
use crate::remote::{self, Command, Inbox, Remote};
use crate::stats::{Counters, ReactorStats};
use crate::stream::{Listener, PeerAddr};
use crate::udp_batch::RecvBatch;
use crate::webrtc_signal::Signalling;
use crate::Error;
use mio::{Events, Poll, Token, Waker};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tokens at the top of the range belong to the waker and listeners; connection slots
/// (below 2^24) never reach them.
const WAKER: Token = Token(usize::MAX);
const FIRST_LISTENER: usize = usize::MAX - 1;

/// What a turn left undone, so the driver knows whether to come back at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnOutcome {
    /// Everything ready was handled.
    Idle,
    /// Budget ran out with work left; the reactor has woken its own poll so the next turn
    /// starts without waiting.
    MoreReady,
}

/// A graceful stop in progress ([`Reactor::drain`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrainStatus {
    /// When the connections still open are reset.
    pub deadline: Instant,
    /// Connections that closed cleanly after their queued bytes were written (a WebSocket
    /// close handshake included).
    pub drained: usize,
    /// Connections reset (at the deadline or by an error).
    pub reset: usize,
    /// Listeners of a reuseport group, steered away from, keep accepting until then the
    /// connections whose handshakes were under way ([`HANDSHAKE_GRACE`]); `None` once closed.
    pub accepting_until: Option<Instant>,
}

/// How long a listener steered out of its reuseport group keeps accepting during a drain:
/// handshakes the kernel began on it before the steer complete within a round trip, and
/// closing it resets those still queued (unless `net.ipv4.tcp_migrate_req` is 1).
pub const HANDSHAKE_GRACE: Duration = Duration::from_secs(1);

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
    /// Datagrams of one receive on a UDP socket (a fixed pool, allocated at the first).
    recv_batch: RecvBatch,
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
    /// Operator counters, shared with this reactor's remotes.
    counters: Arc<Counters>,
    draining: Option<DrainStatus>,
    /// Scratch list of fired timers.
    fired: Vec<Timer>,
    stop_requested: bool,
    /// Scratch buffer KCP messages are received into.
    kcp_buf: Vec<u8>,
    /// Inside [`Reactor::turn`]: KCP sessions are flushed once at its end, not at each reap.
    in_turn: bool,
    /// This reactor's serial among the engine's pub/sub reactors.
    serial: u64,
    /// Scratch queue of datagrams taken from a carrier.
    carried_in: VecDeque<Inbound>,
    /// Scratch list of datagrams carried sessions sent, for the handler.
    carried_out: Outbox,
    /// The signalling connections of `webrtc://` listeners.
    signals: Signalling,
}

impl Drop for Reactor {
    /// Publishes stop coming to a reactor that is gone.
    fn drop(&mut self) {
        self.config.pubsub.leave(self.serial);
    }
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
        let counters = Arc::new(Counters::new(config.admission.clone()));
        let (remote, inbox) = remote::channel(index, waker.clone(), load.clone(), counters.clone());
        let serial = config.pubsub.join(Box::new(remote.clone()));
        let conns = Conns::new(
            poll.registry().try_clone()?,
            &config,
            load,
            serial,
            counters.clone(),
        );
        Ok(Reactor {
            events: Events::with_capacity(config.event_budget),
            read_buf: vec![0; config.read_buffer_cap.max(MAX_DATAGRAM)],
            recv_batch: RecvBatch::default(),
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
            accept_backoff: accept::MIN_ACCEPT_BACKOFF,
            last_accept_report: None,
            counters,
            draining: None,
            fired: Vec::new(),
            stop_requested: false,
            kcp_buf: Vec::new(),
            in_turn: false,
            serial,
            carried_in: VecDeque::new(),
            carried_out: Outbox::default(),
            signals: Signalling::default(),
        })
    }

    /// The bound listener addresses, one per URL (a `webrtc://` listener's TCP side shares
    /// its UDP side's address and is not listed again).
    pub fn local_addrs(&self) -> Vec<PeerAddr> {
        self.listeners
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.signals.serves(*i))
            .filter_map(|(_, l)| l.local_addr().ok())
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
            self.draining.and_then(|d| d.accepting_until),
            self.conns.next_deadline(),
            self.signals.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Operator counters.
    pub fn stats(&self) -> ReactorStats {
        self.counters.snapshot()
    }

    /// Starts a graceful stop. Each stream listener accepts what is already queued on it, then
    /// closes; one in a `SO_REUSEPORT` group first steers the group's new connections to the
    /// next process's sockets ([`crate::SocketOptions::reuse_port_listeners`]) and keeps
    /// accepting handshakes already under way for [`HANDSHAKE_GRACE`], so no queued
    /// connection is reset. Every open connection (and each that opens later) gets
    /// [`EventHandler::on_drain`]; at `deadline` those left close with FIN, or are reset when
    /// their queued bytes could not be written. Keep turning until [`Reactor::drain_status`]
    /// shows nothing left, then call [`Reactor::shutdown`]. Calling it again only brings the
    /// deadline forward.
    pub fn drain<H: EventHandler>(&mut self, deadline: Instant, handler: &mut H) {
        if let Some(d) = self.draining.as_mut() {
            d.deadline = d.deadline.min(deadline);
            d.accepting_until = d.accepting_until.map(|at| at.min(deadline));
            return;
        }
        // `on_open`s still queued come first: `on_drain` only follows an `on_open`.
        self.reap(handler);
        let steered = self.steer_listeners();
        self.draining = Some(DrainStatus {
            deadline,
            drained: 0,
            reset: 0,
            accepting_until: steered.then(|| deadline.min(Instant::now() + HANDSHAKE_GRACE)),
        });
        for id in self.conns.ids() {
            if self.conns.is_open(id) {
                handler.on_drain(&mut self.conns, id);
            }
        }
        self.reap(handler);
        if !steered {
            self.close_listeners(handler);
        }
    }

    /// Steers new connections away from this reactor's reuseport listeners (see
    /// [`Reactor::drain`]); true when there were any and the kernel took the program.
    fn steer_listeners(&mut self) -> bool {
        if !self.config.socket.reuse_port {
            return false;
        }
        let index = self.config.socket.reuse_port_listeners;
        let mut steered = false;
        for l in &self.listeners {
            if let Listener::Tcp(tcp) = l {
                steered |= crate::reuseport::steer(tcp, index).is_ok();
            }
        }
        steered
    }

    /// Accepts what is queued on each stream listener, then closes it. UDP sockets stay open
    /// (no new session opens) so KCP sessions still get the acks their close waits for;
    /// `shutdown` closes them.
    fn close_listeners<H: EventHandler>(&mut self, handler: &mut H) {
        for index in 0..self.listeners.len() {
            if matches!(
                self.listeners[index],
                Listener::Datagram(..) | Listener::Closed
            ) {
                continue;
            }
            self.accept(index, handler, usize::MAX);
            let l = &mut self.listeners[index];
            let _ = self.poll.registry().deregister(l);
            *l = Listener::Closed;
        }
        if let Some(d) = self.draining.as_mut() {
            d.accepting_until = None;
        }
    }

    /// Progress of a graceful stop, and how many connections (plus listeners still accepting)
    /// remain.
    pub fn drain_status(&self) -> Option<(DrainStatus, usize)> {
        self.draining.map(|d| {
            let listening = usize::from(d.accepting_until.is_some());
            (d, self.conns.len() + listening)
        })
    }

    /// True once a [`Command::Stop`] arrived; the thread driver leaves its loop.
    pub fn stop_requested(&self) -> bool {
        self.stop_requested
    }

    /// Delivers what the connection table queued (writability changes, completed writes,
    /// half-closes, closes), in order. Drivers call it after changing the table outside a
    /// turn; turns call it after every callback. Outside a turn (at its end, too) it first
    /// flushes the KCP sessions and settles the WebRTC endpoints the turn touched, and settles
    /// again after the handler wrote.
    pub fn reap<H: EventHandler>(&mut self, handler: &mut H) {
        if !self.in_turn {
            self.conns.kcp_flush_dirty();
        }
        loop {
            for decision in self.conns.take_rtc_decisions() {
                let registry = self.poll.registry();
                self.signals.decide(decision, &mut self.conns, registry);
            }
            if !self.in_turn {
                self.conns.rtc_settle_marked();
            }
            self.deliver_notices(handler);
            if !self.in_turn {
                // Closes wait for the messages settled with them, then go out in this loop.
                let closed = self.conns.rtc_apply_closes();
                if closed || self.conns.rtc_unsettled() {
                    continue;
                }
            }
            // Carried sessions' datagrams go out last: a callback may have sent more.
            if !self.conns.carried_output_pending() {
                break;
            }
            self.send_carried(handler);
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
        self.conns.write_held();
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
        let resumed = self.conns.take_resumed();
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
            if let Some(slot) = Signalling::slot_of(token) {
                let registry = self.poll.registry();
                if let Some(offer) = self.signals.ready(slot, &mut self.conns, registry) {
                    handler.on_webrtc_offer(&mut self.conns, &offer);
                    self.reap(handler);
                }
                continue;
            }
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
        self.signals.expire(now, self.poll.registry());
        if self.accept_paused_until.is_some_and(|at| at <= now) {
            self.accept_paused_until = None;
            let listeners = self.listeners.len();
            self.again
                .extend((0..listeners).map(|i| Token(FIRST_LISTENER - i)));
        }
        if let Some(d) = self.draining {
            if d.accepting_until.is_some_and(|at| at <= now) {
                self.close_listeners(handler);
            }
            if d.deadline <= now {
                for id in self.conns.ids() {
                    let timed_out =
                        io::Error::new(io::ErrorKind::TimedOut, "drain deadline passed");
                    self.conns.close_or_reset(id, timed_out.into());
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
                self.conns.expire_udp_sessions(now, idle);
                self.reap(handler);
                self.sweep_at = self
                    .conns
                    .has_udp_sessions()
                    .then(|| now + sweep_period(idle));
            }
        }
        let resumed = self.conns.take_resumed();
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
        // Carriers are free for another engine.
        self.conns.release_all_carried();
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
    /// The socket in `token`'s slot turned writable: finish a connect or write what waits.
    fn flush_slot<H: EventHandler>(&mut self, token: Token, handler: &mut H) {
        if let Some(id) = self.conns.id_of_slot(token.0 as u32) {
            if !self.conns.check_connected(id) {
                self.conns.flush(id);
            }
            self.reap(handler);
        }
    }
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
