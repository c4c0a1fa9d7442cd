//! The datagram carrier under KCP sessions: what moves a session's datagrams. UDP is the one
//! carrier today; the seam lets others (a user-space relay, a tunnel, a test link) carry the
//! same sessions later without touching the session layer.

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
