//! Outgoing connections: dialing a URL without blocking, and adopting sockets connected
//! elsewhere.

use super::carriers::dial_kcp;
use super::Reactor;
use crate::address::Address;
use crate::config::DialOptions;
use crate::conns::{NewConn, Place, Transport};
use crate::slab::ConnId;
use crate::stream::{PeerAddr, Stream};
use crate::stream_stack::StreamStack;
use crate::Error;
use std::net::SocketAddr;

impl Reactor {
    /// Dials `url` (`tcp://`, `unix://`, `udp://` for a connected UDP socket, `kcp://`)
    /// without blocking. The connection is in the table at once (writes queue); `on_open`
    /// follows when it connects and its layers are ready, or `on_close` with the error
    /// (`ECONNREFUSED`, `ETIMEDOUT` after `connect_timeout`) and no `on_open` when it does
    /// not. A KCP client picks a random conv; the server learns it from the first segment,
    /// so the client speaks first. With a [`crate::KcpOptions::carrier`] the URL is
    /// `kcp://name`, the carrier's peer.
    pub fn dial(&mut self, url: &str, options: DialOptions) -> Result<ConnId, Error> {
        let carrier = options.kcp.as_ref().and_then(|k| k.carrier.clone());
        let id = match carrier {
            Some(carrier) => self.dial_carried(url, carrier, &options)?,
            None => match Address::parse(url)? {
                Address::Kcp(addr) => {
                    let kcp = dial_kcp(options.kcp.as_ref())?;
                    let udp = connected_udp(addr)?;
                    self.conns
                        .kcp_dial(Stream::Udp(udp), addr, &kcp, options.codec.as_ref())?
                }
                address => {
                    let (stream, peer) = connect(address)?;
                    // Stream layers transform byte streams; a `udp://` dial has none.
                    let layers = if stream.is_datagram() {
                        Vec::new()
                    } else {
                        StreamStack::make(&options.layers)
                    };
                    self.conns.insert(NewConn {
                        transport: Transport::Plain(stream),
                        peer,
                        place: Place::None,
                        codec: options.codec.as_ref(),
                        layers,
                        connecting: true,
                        listener: None,
                    })?
                }
            },
        };
        if let Some(t) = options.connect_timeout {
            self.conns.connect_deadline(id, t);
        }
        // A connected UDP socket (and often a Unix one) is ready at once; report it from the
        // next turn, like any other open.
        self.conns.check_connected(id);
        Ok(id)
    }

    /// Adopts a connected socket made elsewhere (gnet's `Enroll`): it joins this reactor's
    /// table with `options` (codec, layers) and `on_open` follows from the next turn. Sockets
    /// that are not connected stream or datagram sockets are refused.
    #[cfg(unix)]
    pub fn enroll(
        &mut self,
        fd: std::os::fd::OwnedFd,
        options: &crate::config::ListenOptions,
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
        let id = self.conns.insert(NewConn {
            transport: Transport::Plain(stream),
            peer,
            place: Place::None,
            codec: options.codec.as_ref(),
            layers: StreamStack::make(&options.layers),
            connecting: true,
            listener: None,
        })?;
        self.conns.check_connected(id);
        Ok(id)
    }
}

/// Starts a non-blocking connect to a stream address (or connects a UDP socket).
fn connect(address: Address) -> Result<(Stream, PeerAddr), Error> {
    Ok(match address {
        Address::Tcp(addr) => {
            use socket2::{Domain, Socket, Type};
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.set_nonblocking(true)?;
            match socket.connect(&addr.into()) {
                Ok(()) => {}
                Err(e) if crate::platform::is_in_progress(&e) => {}
                Err(e) => return Err(e.into()),
            }
            let std: std::net::TcpStream = socket.into();
            (
                Stream::Tcp(mio::net::TcpStream::from_std(std)),
                PeerAddr::Inet(addr),
            )
        }
        Address::Udp(addr) | Address::Kcp(addr) => {
            (Stream::Udp(connected_udp(addr)?), PeerAddr::Inet(addr))
        }
        #[cfg(unix)]
        Address::Unix(path) => {
            let s = mio::net::UnixStream::connect(&path)?;
            (
                Stream::Unix(s),
                PeerAddr::Unix(path.to_string_lossy().into_owned()),
            )
        }
        Address::WebRtc(_) => {
            return Err(Error::InvalidAddress(
                "webrtc:// is served, not dialed (clients are browsers or WebRTC stacks)".into(),
            ))
        }
        #[cfg(not(unix))]
        Address::Unix(_) => {
            return Err(Error::InvalidAddress(
                "unix:// addresses need a Unix system".into(),
            ))
        }
    })
}

/// A UDP socket on an ephemeral port of the right family, connected to `addr`.
fn connected_udp(addr: SocketAddr) -> Result<mio::net::UdpSocket, Error> {
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let udp = mio::net::UdpSocket::bind(local)?;
    udp.connect(addr)?;
    Ok(udp)
}
