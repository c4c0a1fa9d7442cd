//! The reactor's connection table and the operations handlers call on it: write (straight to
//! the socket when nothing is queued), close, socket setters and address look-ups.

use crate::outbound::Outbound;
use crate::slab::Slab;
use crate::socket::{set_keep_alive, KeepAlive, SocketOptions};
use crate::stream::{PeerAddr, Stream};
use crate::{ConnId, Error};
use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};
use std::collections::HashMap;
use std::io::{self, IoSlice, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One accepted connection.
pub(crate) struct Connection {
    pub(crate) stream: Stream,
    pub(crate) outbound: Outbound,
    pub(crate) peer: PeerAddr,
    pub(crate) state: State,
    /// Last datagram from the peer, for UDP sessions (idle expiry); `None` for streams.
    pub(crate) last_active: Option<Instant>,
}

/// Where a connection is in its life. Only `Open` accepts writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    /// [`Conns::close`] was called with bytes still queued: close once they are written.
    Closing,
    /// The close is decided and queued for `on_close`.
    Doomed,
}

/// All live connections of one reactor.
pub struct Conns {
    pub(crate) slab: Slab<Connection>,
    registry: Registry,
    options: SocketOptions,
    write_buffer_cap: usize,
    /// Open connections, shared with the load balancer.
    load: Arc<AtomicUsize>,
    /// Connections whose close is decided, with the reason, waiting for `on_close`.
    pub(crate) doomed: Vec<(ConnId, Option<Error>)>,
    /// The reactor's UDP sockets, by index.
    pub(crate) udp: Vec<UdpSocket>,
    /// UDP sessions by socket and peer.
    sessions: HashMap<(usize, SocketAddr), ConnId>,
}

impl Conns {
    pub(crate) fn new(
        registry: Registry,
        options: SocketOptions,
        write_buffer_cap: usize,
        load: Arc<AtomicUsize>,
    ) -> Self {
        Conns {
            slab: Slab::default(),
            registry,
            options,
            write_buffer_cap,
            load,
            doomed: Vec::new(),
            udp: Vec::new(),
            sessions: HashMap::new(),
        }
    }

    /// Number of open connections.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// True when no connection is open.
    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// True when closes are decided but not yet reported: a driver that changed the table
    /// outside a turn should make the reactor run soon (see [`crate::Reactor::waker`]).
    pub fn has_pending_closes(&self) -> bool {
        !self.doomed.is_empty()
    }

    /// Ids of all open connections.
    pub fn ids(&self) -> Vec<ConnId> {
        self.slab.ids()
    }

    /// Applies the socket options, registers the stream and returns its id.
    pub(crate) fn insert(&mut self, mut stream: Stream, peer: PeerAddr) -> Result<ConnId, Error> {
        let id = self.slab.vacant_id().ok_or(Error::TooManyConnections)?;
        let last_active = match stream {
            Stream::Datagram { .. } => Some(Instant::now()),
            _ => {
                self.options.apply(&stream)?;
                self.registry.register(
                    &mut stream,
                    Token(id.slot as usize),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                None
            }
        };
        let conn = Connection {
            stream,
            outbound: Outbound::default(),
            peer,
            state: State::Open,
            last_active,
        };
        let id = self
            .slab
            .insert(conn)
            .map_err(|_| Error::TooManyConnections)?;
        self.load.fetch_add(1, Ordering::Relaxed);
        Ok(id)
    }

    fn live(&mut self, id: ConnId) -> Result<&mut Connection, Error> {
        match self.slab.get_mut(id) {
            Some(c) if c.state == State::Open => Ok(c),
            _ => Err(Error::ConnClosed),
        }
    }

    fn get(&self, id: ConnId) -> Result<&Connection, Error> {
        self.slab.get(id).ok_or(Error::ConnClosed)
    }

    /// Queues `data` behind anything already queued, writing straight to the socket when the
    /// queue is empty. Accepted bytes are never dropped while the connection lives; a socket
    /// error closes the connection and is reported by `on_close`.
    pub fn write(&mut self, id: ConnId, data: &[u8]) -> Result<(), Error> {
        self.writev(id, &[data])
    }

    /// Writes several buffers in order as one (`writev(2)` when nothing is queued).
    pub fn writev(&mut self, id: ConnId, bufs: &[&[u8]]) -> Result<(), Error> {
        let conn = self.live(id)?;
        if let Stream::Datagram { socket, peer } = conn.stream {
            // One write is one datagram.
            return self.send_to(socket, peer, &bufs.concat());
        }
        let mut written = 0;
        if conn.outbound.is_empty() {
            let total: usize = bufs.iter().map(|b| b.len()).sum();
            while written < total {
                let result = match skip(bufs, written) {
                    (first, []) => conn.stream.write(first),
                    (first, rest) => {
                        let mut v = Vec::with_capacity(rest.len() + 1);
                        v.push(IoSlice::new(first));
                        v.extend(rest.iter().map(|b| IoSlice::new(b)));
                        conn.stream.write_vectored(&v)
                    }
                };
                match result {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.doom(id, Some(e.into()));
                        return Ok(());
                    }
                }
            }
        }
        let mut skipped = 0;
        for b in bufs {
            if skipped + b.len() > written {
                let from = written.saturating_sub(skipped);
                conn.outbound.push(&b[from..]);
            }
            skipped += b.len();
        }
        Ok(())
    }

    /// Closes the connection after everything already accepted for it has been written.
    /// Writes after this fail with [`Error::ConnClosed`].
    pub fn close(&mut self, id: ConnId) -> Result<(), Error> {
        let conn = self.live(id)?;
        if conn.outbound.is_empty() {
            self.doom(id, None);
        } else {
            conn.state = State::Closing;
        }
        Ok(())
    }

    /// The peer's address.
    pub fn peer_addr(&self, id: ConnId) -> Result<PeerAddr, Error> {
        Ok(self.get(id)?.peer.clone())
    }

    /// The local address the connection was accepted on.
    pub fn local_addr(&self, id: ConnId) -> Result<PeerAddr, Error> {
        match self.get(id)?.stream {
            Stream::Datagram { socket, .. } => Ok(PeerAddr::Inet(self.udp[socket].local_addr()?)),
            ref s => Ok(s.local_addr()?),
        }
    }

    /// Sends one datagram from the reactor's UDP socket `socket` to `peer` (gnet's `SendTo`).
    /// UDP is lossy: a datagram the kernel cannot take now is dropped, not queued.
    pub fn send_to(&mut self, socket: usize, peer: SocketAddr, data: &[u8]) -> Result<(), Error> {
        let udp = self
            .udp
            .get(socket)
            .ok_or_else(|| Error::InvalidOption(format!("no UDP socket {socket}")))?;
        match udp.send_to(data, peer) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The session of `peer` on UDP socket `socket`, made (with `max` sessions at most) if
    /// new; `(id, true)` when it was just made. `None` when the table is full.
    pub(crate) fn session(
        &mut self,
        socket: usize,
        peer: SocketAddr,
        max: usize,
    ) -> Option<(ConnId, bool)> {
        if let Some(&id) = self.sessions.get(&(socket, peer)) {
            if let Some(conn) = self.slab.get_mut(id) {
                conn.last_active = Some(Instant::now());
                return Some((id, false));
            }
        }
        if self.sessions.len() >= max {
            return None;
        }
        let id = self
            .insert(Stream::Datagram { socket, peer }, PeerAddr::Inet(peer))
            .ok()?;
        self.sessions.insert((socket, peer), id);
        Some((id, true))
    }

    /// The UDP socket index of a UDP session; `None` for streams.
    pub fn udp_socket(&self, id: ConnId) -> Option<usize> {
        match self.slab.get(id)?.stream {
            Stream::Datagram { socket, .. } => Some(socket),
            _ => None,
        }
    }

    /// True while any UDP session is open.
    pub(crate) fn has_sessions(&self) -> bool {
        !self.sessions.is_empty()
    }

    /// Closes UDP sessions idle for `timeout` or longer.
    pub(crate) fn expire_sessions(&mut self, now: Instant, timeout: Duration) {
        let idle: Vec<ConnId> = self
            .sessions
            .values()
            .copied()
            .filter(|&id| {
                self.slab
                    .get(id)
                    .and_then(|c| c.last_active)
                    .is_some_and(|t| now.duration_since(t) >= timeout)
            })
            .collect();
        for id in idle {
            self.doom(id, None);
        }
    }

    /// Bytes accepted for the connection and not yet taken by the kernel.
    pub fn outbound_len(&self, id: ConnId) -> Result<usize, Error> {
        Ok(self.get(id)?.outbound.len())
    }

    /// Sets `TCP_NODELAY` (a no-op on Unix sockets).
    pub fn set_no_delay(&self, id: ConnId, on: bool) -> Result<(), Error> {
        let conn = self.get(id)?;
        if let (true, Some(s)) = (conn.stream.is_tcp(), conn.stream.sock_ref()) {
            s.set_tcp_nodelay(on)?;
        }
        Ok(())
    }

    /// Turns TCP keep-alive on with the given timing, or off with `None`.
    pub fn set_keep_alive(&self, id: ConnId, ka: Option<KeepAlive>) -> Result<(), Error> {
        let conn = self.get(id)?;
        if let (true, Some(s)) = (conn.stream.is_tcp(), conn.stream.sock_ref()) {
            set_keep_alive(&s, ka)?;
        }
        Ok(())
    }

    /// Sets `SO_LINGER`: `Some(0)` makes close send a reset.
    pub fn set_linger(&self, id: ConnId, linger: Option<Duration>) -> Result<(), Error> {
        Ok(self.sock(id)?.set_linger(linger)?)
    }

    /// Sets `SO_RCVBUF`.
    pub fn set_recv_buffer(&self, id: ConnId, bytes: usize) -> Result<(), Error> {
        Ok(self.sock(id)?.set_recv_buffer_size(bytes)?)
    }

    /// Sets `SO_SNDBUF`.
    pub fn set_send_buffer(&self, id: ConnId, bytes: usize) -> Result<(), Error> {
        Ok(self.sock(id)?.set_send_buffer_size(bytes)?)
    }

    /// The connection's own socket, for per-socket options; UDP sessions have none.
    fn sock(&self, id: ConnId) -> Result<socket2::SockRef<'_>, Error> {
        self.get(id)?.stream.sock_ref().ok_or_else(|| {
            Error::InvalidOption("UDP sessions share their listener's socket".into())
        })
    }

    /// Writes queued bytes after the socket became writable; completes a pending close.
    pub(crate) fn flush(&mut self, id: ConnId) {
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        match conn
            .outbound
            .write_to(&mut conn.stream, self.write_buffer_cap)
        {
            Ok(true) if conn.state == State::Closing => self.doom(id, None),
            Ok(_) => {}
            Err(e) => self.doom(id, Some(e.into())),
        }
    }

    /// Decides the close of `id`; the reactor reports it through `on_close` once.
    pub(crate) fn doom(&mut self, id: ConnId, err: Option<Error>) {
        if let Some(conn) = self.slab.get_mut(id) {
            if conn.state != State::Doomed {
                conn.state = State::Doomed;
                self.doomed.push((id, err));
            }
        }
    }

    /// Removes a doomed connection from the table and deregisters its socket, which closes it.
    pub(crate) fn remove(&mut self, id: ConnId) {
        if let Some(mut conn) = self.slab.remove(id) {
            match conn.stream {
                Stream::Datagram { socket, peer } => {
                    self.sessions.remove(&(socket, peer));
                }
                _ => {
                    let _ = self.registry.deregister(&mut conn.stream);
                }
            }
            self.load.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The part of `bufs` after the first `written` bytes: the tail of the first unfinished buffer
/// and the whole buffers after it.
fn skip<'a>(bufs: &'a [&'a [u8]], written: usize) -> (&'a [u8], &'a [&'a [u8]]) {
    let mut at = 0;
    for (i, b) in bufs.iter().enumerate() {
        if at + b.len() > written {
            return (&b[written - at..], &bufs[i + 1..]);
        }
        at += b.len();
    }
    (&[], &[])
}
