//! Socket options with gnet's meanings, applied when listeners are bound and connections are
//! accepted, and the binding of listeners from parsed addresses.

use crate::address::Address;
use crate::stream::{Listener, Stream};
use crate::Error;
use socket2::{Domain, Socket, TcpKeepalive, Type};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// TCP keep-alive probing (gnet `WithTCPKeepAlive`/`Interval`/`Count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    /// Idle time before the first probe (`TCP_KEEPIDLE`).
    pub idle: Duration,
    /// Time between probes (`TCP_KEEPINTVL`).
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped (`TCP_KEEPCNT`).
    pub count: u32,
}

/// Options for listening sockets and the connections they accept.
#[derive(Clone, Debug)]
pub struct SocketOptions {
    /// `TCP_NODELAY` on accepted TCP connections (gnet's default: on).
    pub no_delay: bool,
    /// Listen backlog.
    pub backlog: i32,
    /// `SO_REUSEADDR` on listeners. On by default, as in Node, so a restarted server rebinds
    /// at once (gnet defaults to off).
    pub reuse_addr: bool,
    /// `SO_REUSEPORT` on listeners: with several reactors, each binds its own listener.
    pub reuse_port: bool,
    /// Listeners this process binds to each `reuse_port` address: one per reactor (the engine
    /// sets it). Bound into an empty group (or one whose older members have all left), they
    /// are the group's first sockets, so a drain steers new connections to index
    /// `reuse_port_listeners`: the first socket the next process bound.
    pub reuse_port_listeners: u32,
    /// TCP keep-alive on accepted connections; `None` leaves the OS default (off).
    pub keep_alive: Option<KeepAlive>,
    /// `SO_RCVBUF` for accepted connections; `None` keeps the OS default.
    pub recv_buffer: Option<usize>,
    /// `SO_SNDBUF` for accepted connections; `None` keeps the OS default.
    pub send_buffer: Option<usize>,
    /// `SO_BINDTODEVICE` (Linux only): bind listeners to a network interface.
    pub bind_to_device: Option<String>,
    /// IPv4 interface address on which UDP listeners join multicast groups (any when `None`).
    pub multicast_interface: Option<std::net::Ipv4Addr>,
    /// IPv6 interface index on which UDP listeners join multicast groups (0: any).
    pub multicast_interface_index: u32,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            no_delay: true,
            backlog: 1024,
            reuse_addr: true,
            reuse_port: false,
            reuse_port_listeners: 1,
            keep_alive: None,
            recv_buffer: None,
            send_buffer: None,
            bind_to_device: None,
            multicast_interface: None,
            multicast_interface_index: 0,
        }
    }
}

impl SocketOptions {
    /// Applies the per-connection options to an accepted or adopted stream.
    pub(crate) fn apply(&self, stream: &Stream) -> io::Result<()> {
        let Some(s) = stream.sock_ref() else {
            return Ok(());
        };
        if stream.is_tcp() {
            s.set_tcp_nodelay(self.no_delay)?;
            if let Some(ka) = self.keep_alive {
                set_keep_alive(&s, Some(ka))?;
            }
        }
        if let Some(n) = self.recv_buffer {
            s.set_recv_buffer_size(n)?;
        }
        if let Some(n) = self.send_buffer {
            s.set_send_buffer_size(n)?;
        }
        Ok(())
    }

    /// Binds a listener for `address` (TCP or Unix).
    pub(crate) fn bind(&self, address: &Address) -> Result<Listener, Error> {
        match address {
            Address::Tcp(addr) => self.bind_tcp(*addr),
            #[cfg(unix)]
            Address::Unix(path) => {
                let l = mio::net::UnixListener::bind(path).map_err(|e| match e.kind() {
                    io::ErrorKind::AddrInUse => Error::AddressInUse(path.display().to_string()),
                    _ => e.into(),
                })?;
                Ok(Listener::Unix(l, path.clone()))
            }
            _ => Err(Error::InvalidAddress(format!(
                "{address:?}: not a stream address"
            ))),
        }
    }

    /// Binds a UDP socket, joining the multicast group when `addr` is one.
    pub(crate) fn bind_udp(&self, addr: SocketAddr) -> Result<mio::net::UdpSocket, Error> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
        let bind_at = match addr.ip() {
            // A multicast group is joined, and the socket bound to the group's port on any
            // address, so datagrams sent to the group arrive.
            std::net::IpAddr::V4(g) if g.is_multicast() => {
                SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, addr.port()))
            }
            std::net::IpAddr::V6(g) if g.is_multicast() => {
                SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, addr.port()))
            }
            _ => addr,
        };
        self.prepare(&socket, bind_at)?;
        match addr.ip() {
            std::net::IpAddr::V4(g) if g.is_multicast() => {
                let iface = self
                    .multicast_interface
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
                socket.join_multicast_v4(&g, &iface)?;
                socket.set_multicast_loop_v4(true)?;
            }
            std::net::IpAddr::V6(g) if g.is_multicast() => {
                socket.join_multicast_v6(&g, self.multicast_interface_index)?;
                socket.set_multicast_loop_v6(true)?;
            }
            _ => {}
        }
        if let Some(n) = self.recv_buffer {
            socket.set_recv_buffer_size(n)?;
        }
        if let Some(n) = self.send_buffer {
            socket.set_send_buffer_size(n)?;
        }
        Ok(mio::net::UdpSocket::from_std(socket.into()))
    }

    fn bind_tcp(&self, addr: SocketAddr) -> Result<Listener, Error> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        self.prepare(&socket, addr)?;
        socket.listen(self.backlog)?;
        Ok(Listener::Tcp(mio::net::TcpListener::from_std(
            socket.into(),
        )))
    }

    /// Sets the listener-level options and binds.
    pub(crate) fn prepare(&self, socket: &Socket, addr: SocketAddr) -> Result<(), Error> {
        socket.set_reuse_address(self.reuse_addr)?;
        #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(dev) = &self.bind_to_device {
            socket.bind_device(Some(dev.as_bytes()))?;
        }
        if addr.is_ipv6() {
            socket.set_only_v6(false).ok();
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into()).map_err(|e| match e.kind() {
            io::ErrorKind::AddrInUse => Error::AddressInUse(addr.to_string()),
            _ => e.into(),
        })
    }
}

/// Turns keep-alive on with the given timing, or off.
pub(crate) fn set_keep_alive(s: &socket2::SockRef<'_>, ka: Option<KeepAlive>) -> io::Result<()> {
    match ka {
        None => s.set_keepalive(false),
        Some(ka) => {
            let params = TcpKeepalive::new().with_time(ka.idle);
            #[cfg(not(any(target_os = "openbsd", target_os = "haiku", windows)))]
            let params = params.with_interval(ka.interval);
            #[cfg(not(any(
                target_os = "openbsd",
                target_os = "redox",
                target_os = "solaris",
                windows
            )))]
            let params = params.with_retries(ka.count);
            s.set_tcp_keepalive(&params)
        }
    }
}
