//! The datagram carrier under KCP sessions: what moves a session's datagrams. UDP is the one
//! carrier today; the seam lets others (a user-space relay, a tunnel, a test link) carry the
//! same sessions later without touching the session layer.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;

/// Sends and receives whole datagrams for KCP sessions, without blocking. A datagram the
/// carrier cannot take now may be dropped (`WouldBlock`): KCP retransmits it.
pub trait Carrier {
    /// Sends one datagram to `peer`.
    fn send_datagram(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize>;
    /// Receives one datagram into `buf`, with its sender.
    fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
}

/// UDP: a listener's socket sends to any peer; a client's connected socket to its peer
/// (Linux takes `sendto` with the connected address; BSDs answer `EISCONN`, then `send`).
impl Carrier for mio::net::UdpSocket {
    fn send_datagram(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize> {
        match self.send_to(datagram, peer) {
            Err(e) if crate::platform::is_already_connected(&e) => self.send(datagram),
            other => other,
        }
    }

    fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buf)
    }
}

/// A carrier that counts the datagrams and bytes another sent, for the reactor's metrics.
pub(crate) struct Counted<'a> {
    inner: &'a dyn Carrier,
    datagrams: Cell<u64>,
    bytes: Cell<u64>,
}

impl<'a> Counted<'a> {
    /// Counts what goes through `inner`.
    pub(crate) fn new(inner: &'a dyn Carrier) -> Counted<'a> {
        Counted {
            inner,
            datagrams: Cell::new(0),
            bytes: Cell::new(0),
        }
    }

    /// `(datagrams, bytes)` sent so far.
    pub(crate) fn sent(&self) -> (u64, u64) {
        (self.datagrams.get(), self.bytes.get())
    }
}

impl Carrier for Counted<'_> {
    fn send_datagram(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize> {
        let sent = self.inner.send_datagram(datagram, peer);
        if let Ok(n) = sent {
            self.datagrams.set(self.datagrams.get().wrapping_add(1));
            self.bytes.set(self.bytes.get().wrapping_add(n as u64));
        }
        sent
    }

    fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.recv_datagram(buf)
    }
}
