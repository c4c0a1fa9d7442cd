//! A connection's life in the table: added (accepted, dialed, a session), connected, opened
//! once its layers are ready, closed gracefully, half-closed, reset, removed.

use super::connection::{Connection, Framing, Place, State, Transport};
use super::{listener_in, Conns, Notice};
use crate::config::SharedCodec;
use crate::flow::{IdleKind, Timer};
use crate::layer::StreamLayer;
use crate::slab::ConnId;
use crate::stream::{PeerAddr, Stream};
use crate::stream_stack::StreamStack;
use crate::Error;
use mio::{Interest, Token};
use std::io;
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What a new connection is made of.
pub(crate) struct NewConn<'a> {
    pub(crate) transport: Transport,
    pub(crate) peer: PeerAddr,
    pub(crate) place: Place,
    pub(crate) codec: Option<&'a SharedCodec>,
    pub(crate) layers: Vec<Box<dyn StreamLayer>>,
    /// Dialed and not connected yet: it opens when [`Conns::check_connected`] sees the
    /// connect succeed.
    pub(crate) connecting: bool,
    /// The index of the listener that accepted it; `None` for a dialed connection.
    pub(crate) listener: Option<u16>,
}

impl Conns {
    /// Applies the socket options, registers the socket, starts the layers and returns the
    /// id. On an error nothing stays in the table and the caller still owns the admission
    /// place it passed. A connection that is connected and whose layers are ready opens at once (its
    /// `on_open` is queued); otherwise it opens when the connect and the layers complete.
    pub(crate) fn insert(&mut self, new: NewConn<'_>) -> Result<ConnId, Error> {
        let NewConn {
            mut transport,
            peer,
            place,
            codec,
            layers,
            connecting,
            listener,
        } = new;
        let id = self.slab.vacant_id().ok_or(Error::TooManyConnections)?;
        let now = Instant::now();
        let own_socket = !matches!(transport.stream(), Stream::Datagram { .. });
        if own_socket {
            let stream = transport.stream_mut();
            if !connecting {
                self.options.apply(stream)?;
            }
            self.registry.register(
                stream,
                Token(id.slot as usize),
                Interest::READABLE | Interest::WRITABLE,
            )?;
        }
        let mut conn = Connection::new(transport, peer, place, now);
        conn.framing = codec.map(|c| Box::new(Framing::new(c)));
        conn.layers = StreamStack::new(layers);
        conn.listener = listener;
        let kcp = conn.transport.kcp().is_some();
        conn.state = if connecting {
            State::Connecting
        } else {
            State::Negotiating
        };
        let id = self
            .slab
            .insert(conn)
            .map_err(|_| Error::TooManyConnections)?;
        self.load.fetch_add(1, Ordering::Relaxed);
        match listener {
            Some(l) => {
                self.counters.accepted.add(1);
                self.listener_counts(l).accepted.add(1);
                if kcp {
                    self.counters.kcp.passive_opens.add(1);
                }
            }
            None => {
                self.counters.dialed.add(1);
                if kcp {
                    self.counters.kcp.active_opens.add(1);
                }
            }
        }
        if own_socket {
            let idle = self.flow.idle_timeout;
            for (kind, timeout) in [
                (IdleKind::Read, idle.read),
                (IdleKind::Write, idle.write),
                (IdleKind::All, idle.all),
            ] {
                if let Some(t) = timeout {
                    self.timers.insert(now + t, Timer::Idle(id, kind));
                }
            }
        }
        if let Err(e) = self.start_layers(id, now) {
            // Never opened: the caller gives the admission place back, as for any refusal.
            if let Some(conn) = self.slab.get_mut(id) {
                conn.place = Place::None;
            }
            let _ = self.remove(id);
            return Err(e);
        }
        self.settle_layers(id);
        Ok(id)
    }

    /// Lets every stream layer speak first (a TLS client's hello): queued ahead of anything
    /// the application writes.
    fn start_layers(&mut self, id: ConnId, now: Instant) -> Result<(), Error> {
        let Some(stack) = self.slab.get_mut(id).and_then(|c| c.layers.as_mut()) else {
            return Ok(());
        };
        let mut wire = std::mem::take(&mut self.layer_wire);
        wire.clear();
        let started = stack.start(now, &mut wire);
        if started.is_ok() && !wire.is_empty() {
            let _ = self.write_transport(id, &[&wire]);
        }
        self.layer_wire = wire;
        started
    }

    /// After the stream layers ran: drops a stack whose layers all finished, arms the
    /// earliest layer deadline, and opens a connected connection whose layers are all ready
    /// (a connection admitted before its real peer was known takes that peer's place now).
    pub(super) fn settle_layers(&mut self, id: ConnId) {
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        let pending = match conn.layers.as_mut() {
            Some(stack) if stack.is_empty() => {
                conn.layers = None;
                false
            }
            Some(stack) => {
                if let Some(at) = stack.arm() {
                    self.timers.insert(at, Timer::Layer(id));
                }
                stack.pending()
            }
            None => false,
        };
        if pending || conn.state != State::Negotiating {
            return;
        }
        if conn.place == Place::Deferred {
            // The layers named no other peer (a PROXY `LOCAL` header): the peer itself counts.
            let ip = match &conn.peer {
                PeerAddr::Inet(a) => Some(a.ip()),
                PeerAddr::Unix(_) => None,
            };
            if let Some(ip) = ip {
                if !self.admission.rehome(None, ip) {
                    let _ = self.destroy(id, Some(Error::TooManyConnections));
                    return;
                }
            }
            conn.place = Place::Held(ip);
        }
        conn.state = State::Open;
        if let Some(l) = listener_in(&self.listener_counts, conn.listener) {
            l.opened.add(1);
        }
        self.notices.push_back(Notice::Opened(id));
        self.flush(id);
    }

    /// For a connecting connection, looks whether the connect finished: on success it opens
    /// (`on_open` follows, once its layers are ready) and queued writes go out; on failure it
    /// closes with the error. Returns true while the connection is still connecting.
    pub(crate) fn check_connected(&mut self, id: ConnId) -> bool {
        let Some(conn) = self.slab.get_mut(id) else {
            return false;
        };
        if conn.state != State::Connecting {
            return false;
        }
        match conn.stream().connect_result() {
            Ok(false) => true,
            Ok(true) => {
                conn.state = State::Negotiating;
                let _ = self.options.apply(conn.stream());
                // Opened (and flushed) first, so on_open comes before any write completion.
                self.settle_layers(id);
                self.flush(id);
                false
            }
            Err(e) => {
                self.doom(id, Some(e.into()));
                false
            }
        }
    }

    /// True while the connection is still connecting.
    pub(crate) fn is_connecting(&self, id: ConnId) -> bool {
        self.slab
            .get(id)
            .is_some_and(|c| c.state == State::Connecting)
    }

    /// Closes the connection after everything already accepted for it has been written
    /// (within the close timeout, after which it is reset). Its stream layers say their last
    /// words first (a TLS `close_notify`). Writes after this fail with
    /// [`Error::ConnClosed`].
    pub fn close(&mut self, id: ConnId) -> Result<(), Error> {
        // What was published before the close still goes out first.
        self.settle();
        let timeout = self.flow.close_timeout;
        match self.slab.get(id) {
            Some(c) if matches!(c.state, State::Open | State::Negotiating) => {}
            _ => return Err(Error::ConnClosed),
        }
        self.close_layers(id);
        self.kernel_tls_goodbye(id);
        let Some(conn) = self.slab.get_mut(id) else {
            return Err(Error::ConnClosed);
        };
        if conn.state == State::Doomed {
            return Ok(());
        }
        if conn.busy() {
            conn.state = State::Closing;
            if let Some(t) = timeout {
                self.timers.insert(Instant::now() + t, Timer::Close(id));
            }
        } else {
            self.doom(id, None);
        }
        Ok(())
    }

    /// The stream layers' last bytes, written ahead of the close.
    fn close_layers(&mut self, id: ConnId) {
        let Some(stack) = self.slab.get_mut(id).and_then(|c| c.layers.as_mut()) else {
            return;
        };
        let mut wire = std::mem::take(&mut self.layer_wire);
        wire.clear();
        stack.close(Instant::now(), &mut wire);
        if !wire.is_empty() {
            let _ = self.write_transport(id, &[&wire]);
        }
        self.layer_wire = wire;
        self.settle_layers(id);
    }

    /// Half-closes: sends FIN once the queued bytes are written, keeps reading. The
    /// connection closes when the peer's FIN has arrived too. Writes after this fail.
    /// KCP has no half-close: `end` closes a KCP connection (after its queue is acknowledged).
    pub fn end(&mut self, id: ConnId) -> Result<(), Error> {
        self.settle();
        let conn = self.live(id)?;
        if conn.transport.kcp().is_some() || conn.transport.rtc().is_some() {
            return self.close(id);
        }
        self.close_layers(id);
        self.kernel_tls_goodbye(id);
        let conn = self.live(id)?;
        conn.end_requested = true;
        if !conn.busy() {
            self.shut_write(id);
        }
        Ok(())
    }

    /// Ends a connection at a drain's deadline: closes it with FIN when its queued bytes (and
    /// its layers' last words) go out at once, else resets it with `err`.
    pub(crate) fn close_or_reset(&mut self, id: ConnId, err: Error) {
        let idle = self
            .slab
            .get(id)
            .is_some_and(|c| matches!(c.state, State::Open | State::Negotiating) && !c.busy());
        if idle
            && self.close(id).is_ok()
            && self.slab.get(id).is_some_and(|c| c.state == State::Doomed)
        {
            return;
        }
        let _ = self.destroy(id, Some(err));
    }

    /// Resets the connection now (`SO_LINGER` 0, then close): queued bytes are dropped and
    /// pending write completions fail with [`Error::ConnClosed`]. `on_close` gets `err`.
    pub fn destroy(&mut self, id: ConnId, err: Option<Error>) -> Result<(), Error> {
        let conn = match self.slab.get_mut(id) {
            Some(c) if c.state != State::Doomed => c,
            _ => return Err(Error::ConnClosed),
        };
        if let Some(s) = conn.stream().sock_ref() {
            let _ = s.set_linger(Some(Duration::ZERO));
        }
        self.doom(id, err);
        Ok(())
    }

    /// Sends FIN; a connection whose peer already sent FIN is then done.
    pub(super) fn shut_write(&mut self, id: ConnId) {
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        if conn.write_closed {
            return;
        }
        conn.write_closed = true;
        if let Some(s) = conn.stream().sock_ref() {
            let _ = s.shutdown(Shutdown::Write);
        }
        if conn.read_closed {
            self.doom(id, None);
        }
    }

    /// The peer sent FIN. Half-open connections stay writable (`on_end`); others close after
    /// flushing what was accepted.
    pub(super) fn peer_ended(&mut self, id: ConnId) {
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        conn.read_closed = true;
        if conn.state == State::Negotiating {
            // Gone before its layers were ready (a client that gave up mid-handshake): that
            // is an error, as in node:tls, never an orderly close.
            let gone = io::Error::new(
                io::ErrorKind::ConnectionReset,
                "the peer closed the connection before it was ready",
            );
            self.doom(id, Some(gone.into()));
        } else if !self.flow.allow_half_open {
            let _ = self.close(id);
        } else if conn.write_closed {
            self.doom(id, None);
        } else {
            self.notices.push_back(Notice::End(id));
        }
    }

    /// Counts a connection that failed before it opened on its listener (the reactor counts
    /// it in [`crate::ReactorStats`]).
    pub(crate) fn count_handshake_error(&self, id: ConnId) {
        let listener = self.slab.get(id).and_then(|c| c.listener);
        if let Some(l) = listener_in(&self.listener_counts, listener) {
            l.handshake_errors.add(1);
        }
    }

    /// Decides the close of `id`; the reactor reports it through `on_close` once (after
    /// `on_handshake_error` for an accepted connection an error closed before it opened).
    pub(crate) fn doom(&mut self, id: ConnId, err: Option<Error>) {
        if let Some(conn) = self.slab.get_mut(id) {
            if conn.state != State::Doomed {
                let refused =
                    conn.state == State::Negotiating && conn.place != Place::None && err.is_some();
                conn.state = State::Doomed;
                // A layer that ended its protocol says why, unless something else went wrong.
                let err = err.or_else(|| conn.layers.as_mut().and_then(|s| s.outcome()));
                self.notices.push_back(Notice::Close(id, err, refused));
            }
        }
    }

    /// Removes a doomed connection from the table and deregisters its socket, which closes
    /// it. Returns the tokens of write markers that will now never complete.
    pub(crate) fn remove(&mut self, id: ConnId) -> Vec<u64> {
        let Some(mut conn) = self.slab.remove(id) else {
            return Vec::new();
        };
        self.leave_topics(id);
        self.counters.closed.add(1);
        self.counters.queued_bytes.sub(conn.outbound.len() as u64);
        if let Some(l) = listener_in(&self.listener_counts, conn.listener) {
            l.closed.add(1);
        }
        if conn.transport.kcp().is_some() {
            self.counters.kcp.closed.add(1);
        }
        match &mut conn.transport {
            Transport::Plain(Stream::Datagram { socket, peer }) => {
                self.udp_sessions.remove(*socket, *peer, id);
            }
            Transport::Kcp(stream, session) => {
                if let Some(a) = session.admitted.take() {
                    self.kcp_forget(id, a);
                }
                match stream {
                    // A carried dial's carrier is free for the next dial (a reconnect).
                    Stream::Datagram { socket, .. } => self.release_carried(*socket, true),
                    stream => {
                        let _ = self.registry.deregister(stream);
                    }
                }
            }
            Transport::Rtc(Stream::Datagram { socket, .. }, peer) => {
                self.rtc_forget(*socket, peer.peer);
            }
            Transport::Plain(stream) | Transport::Rtc(stream, _) => {
                let _ = self.registry.deregister(stream);
            }
        }
        match conn.place {
            Place::Held(ip) => self.admission.release(ip),
            Place::Deferred => self.admission.release(None),
            Place::None => {}
        }
        self.load.fetch_sub(1, Ordering::Relaxed);
        conn.markers
            .map_or_else(Vec::new, |m| m.into_iter().map(|(_, t)| t).collect())
    }
}
