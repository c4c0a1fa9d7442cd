//! The reactor's connection table and the operations handlers call on it: write (straight to
//! the socket when nothing is queued), close, and address look-ups.

use crate::outbound::Outbound;
use crate::slab::Slab;
use crate::{ConnId, Error};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::io::{self, Write};
use std::net::SocketAddr;

/// One accepted connection.
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    pub(crate) outbound: Outbound,
    pub(crate) peer: SocketAddr,
    pub(crate) state: State,
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
    /// Connections whose close is decided, with the reason, waiting for `on_close`.
    pub(crate) doomed: Vec<(ConnId, Option<Error>)>,
}

impl Conns {
    pub(crate) fn new(registry: Registry) -> Self {
        Conns {
            slab: Slab::default(),
            registry,
            doomed: Vec::new(),
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

    /// Registers an accepted stream and returns its id.
    pub(crate) fn insert(
        &mut self,
        mut stream: TcpStream,
        peer: SocketAddr,
    ) -> Result<ConnId, Error> {
        let id = self.slab.vacant_id().ok_or(Error::TooManyConnections)?;
        self.registry.register(
            &mut stream,
            Token(id.slot as usize),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let conn = Connection {
            stream,
            outbound: Outbound::default(),
            peer,
            state: State::Open,
        };
        self.slab
            .insert(conn)
            .map_err(|_| Error::TooManyConnections)
    }

    fn live(&mut self, id: ConnId) -> Result<&mut Connection, Error> {
        match self.slab.get_mut(id) {
            Some(c) if c.state == State::Open => Ok(c),
            _ => Err(Error::ConnClosed),
        }
    }

    /// Queues `data` behind anything already queued, writing straight to the socket when the
    /// queue is empty. Accepted bytes are never dropped while the connection lives; a socket
    /// error closes the connection and is reported by `on_close`.
    pub fn write(&mut self, id: ConnId, data: &[u8]) -> Result<(), Error> {
        let conn = self.live(id)?;
        if !conn.outbound.is_empty() {
            conn.outbound.push(data);
            return Ok(());
        }
        let mut rest = data;
        while !rest.is_empty() {
            match conn.stream.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.doom(id, Some(e.into()));
                    return Ok(());
                }
            }
        }
        if !rest.is_empty() {
            conn.outbound.push(rest);
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
    pub fn peer_addr(&self, id: ConnId) -> Result<SocketAddr, Error> {
        self.slab.get(id).map(|c| c.peer).ok_or(Error::ConnClosed)
    }

    /// The local address the connection was accepted on.
    pub fn local_addr(&self, id: ConnId) -> Result<SocketAddr, Error> {
        let conn = self.slab.get(id).ok_or(Error::ConnClosed)?;
        Ok(conn.stream.local_addr()?)
    }

    /// Bytes accepted for the connection and not yet taken by the kernel.
    pub fn outbound_len(&self, id: ConnId) -> Result<usize, Error> {
        self.slab
            .get(id)
            .map(|c| c.outbound.len())
            .ok_or(Error::ConnClosed)
    }

    /// Writes queued bytes after the socket became writable; completes a pending close.
    pub(crate) fn flush(&mut self, id: ConnId) {
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        match conn.outbound.write_to(&mut conn.stream) {
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
            let _ = self.registry.deregister(&mut conn.stream);
        }
    }
}
