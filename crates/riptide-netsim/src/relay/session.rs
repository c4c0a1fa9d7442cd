//! One client of the relay: its upstream socket and a link per direction.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use mio::net::UdpSocket;
use riptide_netsim::{Link, LinkConfig};

/// Socket buffer size asked for; the kernel may grant less.
const SOCKET_BUFFER: usize = 4 << 20;

/// A client address with its own upstream socket and simulated links.
pub struct Session {
    /// Where replies go.
    pub client: SocketAddr,
    /// Connected to the upstream server, so the server sees one peer per client.
    pub upstream: UdpSocket,
    /// Client-to-server direction.
    pub to_server: Link,
    /// Server-to-client direction.
    pub to_client: Link,
    /// Last time a datagram arrived from either side.
    pub last_seen: Instant,
}

impl Session {
    /// Opens the upstream socket for `client` and seeds both links from `seed` and `number`
    /// (the session's position in arrival order), so runs are reproducible.
    pub fn open(
        client: SocketAddr,
        upstream: SocketAddr,
        config: &LinkConfig,
        seed: u64,
        number: u64,
        now: Instant,
    ) -> io::Result<Session> {
        let local: SocketAddr = match upstream {
            SocketAddr::V4(_) => (Ipv4Addr::LOCALHOST, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::LOCALHOST, 0).into(),
        };
        let socket = bind_udp(local)?;
        socket.connect(upstream)?;
        Ok(Session {
            client,
            upstream: socket,
            to_server: Link::new(config.clone(), mix(seed, 2 * number)),
            to_client: Link::new(config.clone(), mix(seed, 2 * number + 1)),
            last_seen: now,
        })
    }

    /// Earliest time, in relay milliseconds, at which either link has something due.
    pub fn next_delivery(&self) -> Option<u64> {
        match (
            self.to_server.next_delivery(),
            self.to_client.next_delivery(),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A non-blocking UDP socket with enlarged buffers, so bursts on loopback are not dropped by
/// the kernel before the simulated link gets to decide.
pub fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Best effort: an unprivileged process is capped by net.core.{r,w}mem_max.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(UdpSocket::from_std(socket.into()))
}

/// Derives independent per-link seeds (one SplitMix64 finalizer step).
fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
