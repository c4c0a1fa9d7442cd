//! Addresses, datagrams sent without a session, and per-socket options of the table's
//! connections.

use super::Conns;
use crate::slab::ConnId;
use crate::socket::{set_keep_alive, KeepAlive};
use crate::stream::{PeerAddr, Stream};
use crate::Error;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

impl Conns {
    /// The peer's address (the original client's, after a PROXY header).
    pub fn peer_addr(&self, id: ConnId) -> Result<PeerAddr, Error> {
        Ok(self.get(id)?.peer.clone())
    }

    /// The local address the connection was accepted on.
    pub fn local_addr(&self, id: ConnId) -> Result<PeerAddr, Error> {
        match self.get(id)?.stream() {
            Stream::Datagram { socket, .. } => {
                let socket = self.sockets.get(*socket).ok_or(Error::ConnClosed)?;
                Ok(PeerAddr::Inet(socket.local_addr()?))
            }
            s => Ok(s.local_addr()?),
        }
    }

    /// Sends one datagram from the reactor's UDP socket `socket` to `peer` (gnet's `SendTo`).
    /// UDP is lossy: a datagram the kernel cannot take now is dropped, not queued.
    pub fn send_to(&mut self, socket: usize, peer: SocketAddr, data: &[u8]) -> Result<(), Error> {
        let udp = self
            .sockets
            .get(socket)
            .and_then(|s| s.udp())
            .ok_or_else(|| Error::InvalidOption(format!("no UDP socket {socket}")))?;
        match udp.send_to(data, peer) {
            Ok(n) => {
                self.count_socket(socket, n, false);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The UDP socket index of a UDP session; `None` for streams and KCP sessions.
    pub fn udp_socket(&self, id: ConnId) -> Option<usize> {
        let conn = self.slab.get(id)?;
        match (&conn.transport, conn.stream()) {
            (super::connection::Transport::Plain(_), Stream::Datagram { socket, .. }) => {
                Some(*socket)
            }
            _ => None,
        }
    }

    /// Sets `TCP_NODELAY` (a no-op on Unix sockets).
    pub fn set_no_delay(&self, id: ConnId, on: bool) -> Result<(), Error> {
        let stream = self.get(id)?.stream();
        if let (true, Some(s)) = (stream.is_tcp(), stream.sock_ref()) {
            s.set_tcp_nodelay(on)?;
        }
        Ok(())
    }

    /// Turns TCP keep-alive on with the given timing, or off with `None`.
    pub fn set_keep_alive(&self, id: ConnId, ka: Option<KeepAlive>) -> Result<(), Error> {
        let stream = self.get(id)?.stream();
        if let (true, Some(s)) = (stream.is_tcp(), stream.sock_ref()) {
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
        self.get(id)?.stream().sock_ref().ok_or_else(|| {
            Error::InvalidOption("UDP sessions share their listener's socket".into())
        })
    }
}
