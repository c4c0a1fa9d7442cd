//! The socket kinds a reactor serves, behind one type each for streams and listeners, so the
//! connection table, the read path and the write path are written once for TCP and Unix sockets.

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UdpSocket};
#[cfg(unix)]
use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::PathBuf;

/// Where a connection comes from or is bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerAddr {
    /// An IPv4 or IPv6 socket address.
    Inet(SocketAddr),
    /// A Unix socket path; empty for an unnamed socket (the usual client side).
    Unix(String),
}

impl PeerAddr {
    /// The IP text (or the socket path) and the port (0 for Unix sockets).
    pub fn host_port(&self) -> (String, u16) {
        match self {
            PeerAddr::Inet(a) => (a.ip().to_string(), a.port()),
            PeerAddr::Unix(p) => (p.clone(), 0),
        }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Inet(a) => write!(f, "{a}"),
            PeerAddr::Unix(p) => write!(f, "unix:{p}"),
        }
    }
}

/// A connected byte stream.
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix stream socket.
    #[cfg(unix)]
    Unix(UnixStream),
    /// A connected UDP socket (a UDP client): each write is one datagram.
    Udp(UdpSocket),
    /// TCP whose TLS records the kernel carries (kernel TLS): plaintext both ways.
    #[cfg(target_os = "linux")]
    KernelTls(crate::ktls::KernelTlsStream),
    /// A UDP session: the virtual connection of one peer over the reactor's UDP socket
    /// `socket`. It has no descriptor of its own; the connection table sends its writes.
    Datagram {
        /// Index of the reactor's UDP socket.
        socket: usize,
        /// The peer.
        peer: SocketAddr,
    },
}

/// A stream handed between threads before it joins a reactor (std sockets are `Send`; the
/// receiving reactor makes sure they are non-blocking).
pub enum StdStream {
    /// TCP.
    Tcp(std::net::TcpStream),
    /// A Unix stream socket.
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl StdStream {
    /// Converts into a non-blocking stream for a reactor.
    pub fn into_stream(self) -> io::Result<Stream> {
        Ok(match self {
            StdStream::Tcp(s) => {
                s.set_nonblocking(true)?;
                Stream::Tcp(TcpStream::from_std(s))
            }
            #[cfg(unix)]
            StdStream::Unix(s) => {
                s.set_nonblocking(true)?;
                Stream::Unix(UnixStream::from_std(s))
            }
        })
    }
}

impl Stream {
    /// Converts back to a std stream so it can move to another reactor's thread. `None` for
    /// UDP sessions, which live on the reactor that owns their socket.
    pub fn into_std(self) -> Option<StdStream> {
        Some(match self {
            Stream::Tcp(s) => StdStream::Tcp(s.into()),
            #[cfg(unix)]
            Stream::Unix(s) => StdStream::Unix(s.into()),
            Stream::Datagram { .. } | Stream::Udp(_) => return None,
            // Its records need the kernel TLS reader; it never leaves its reactor.
            #[cfg(target_os = "linux")]
            Stream::KernelTls(_) => return None,
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Stream::Tcp(s) => s.local_addr().map(PeerAddr::Inet),
            #[cfg(unix)]
            Stream::Unix(s) => s.local_addr().map(|a| unix_addr(&a)),
            Stream::Udp(s) => s.local_addr().map(PeerAddr::Inet),
            #[cfg(target_os = "linux")]
            Stream::KernelTls(s) => s.tcp().local_addr().map(PeerAddr::Inet),
            Stream::Datagram { .. } => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Socket-option access for setters (`TCP_NODELAY`, keep-alive, linger, buffer sizes);
    /// `None` for UDP sessions, which share their listener's socket.
    pub fn sock_ref(&self) -> Option<socket2::SockRef<'_>> {
        match self {
            Stream::Tcp(s) => Some(socket2::SockRef::from(s)),
            #[cfg(unix)]
            Stream::Unix(s) => Some(socket2::SockRef::from(s)),
            Stream::Udp(s) => Some(socket2::SockRef::from(s)),
            #[cfg(target_os = "linux")]
            Stream::KernelTls(s) => Some(socket2::SockRef::from(s.tcp())),
            Stream::Datagram { .. } => None,
        }
    }

    /// True for message-oriented sockets (each read is one datagram, each write one).
    pub fn is_datagram(&self) -> bool {
        matches!(self, Stream::Udp(_) | Stream::Datagram { .. })
    }

    /// For a socket still connecting: `Ok(true)` once connected, `Ok(false)` while the
    /// connect is in progress, or the error it failed with.
    pub fn connect_result(&self) -> io::Result<bool> {
        let (err, peer) = match self {
            Stream::Tcp(s) => (s.take_error()?, s.peer_addr().map(drop)),
            #[cfg(unix)]
            Stream::Unix(s) => (s.take_error()?, s.peer_addr().map(drop)),
            Stream::Udp(s) => (s.take_error()?, s.peer_addr().map(drop)),
            #[cfg(target_os = "linux")]
            Stream::KernelTls(s) => (s.tcp().take_error()?, s.tcp().peer_addr().map(drop)),
            Stream::Datagram { .. } => (None, Ok(())),
        };
        if let Some(e) = err {
            return Err(e);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// True where a read shorter than the buffer shows the socket is drained
    /// (`platform::SHORT_READ_DRAINS`), except on kernel TLS: its reads stop at a record of
    /// another type (a `close_notify` after data) with more to read and no new poll edge.
    pub(crate) fn short_read_drains(&self) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            Stream::KernelTls(_) => false,
            _ => crate::platform::SHORT_READ_DRAINS,
        }
    }

    /// True for TCP (options such as `TCP_NODELAY` apply).
    pub fn is_tcp(&self) -> bool {
        match self {
            Stream::Tcp(_) => true,
            #[cfg(target_os = "linux")]
            Stream::KernelTls(_) => true,
            _ => false,
        }
    }
}

#[cfg(unix)]
fn unix_addr(a: &std::os::unix::net::SocketAddr) -> PeerAddr {
    PeerAddr::Unix(
        a.as_pathname()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
            Stream::Udp(s) => s.recv(buf),
            #[cfg(target_os = "linux")]
            Stream::KernelTls(s) => s.read(buf),
            Stream::Datagram { .. } => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
            Stream::Udp(s) => s.send(buf),
            #[cfg(target_os = "linux")]
            Stream::KernelTls(s) => s.write(buf),
            Stream::Datagram { .. } => Err(io::ErrorKind::Unsupported.into()),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            #[cfg(unix)]
            Stream::Unix(s) => s.write_vectored(bufs),
            #[cfg(target_os = "linux")]
            Stream::KernelTls(s) => s.write_vectored(bufs),
            Stream::Udp(s) => s.send(
                &bufs
                    .iter()
                    .flat_map(|b| b.iter().copied())
                    .collect::<Vec<u8>>(),
            ),
            Stream::Datagram { .. } => Err(io::ErrorKind::Unsupported.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            #[cfg(unix)]
            Stream::Unix(s) => s.register(r, t, i),
            Stream::Udp(s) => s.register(r, t, i),
            #[cfg(target_os = "linux")]
            Stream::KernelTls(s) => s.register(r, t, i),
            Stream::Datagram { .. } => Ok(()),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            #[cfg(unix)]
            Stream::Unix(s) => s.reregister(r, t, i),
            Stream::Udp(s) => s.reregister(r, t, i),
            #[cfg(target_os = "linux")]
            Stream::KernelTls(s) => s.reregister(r, t, i),
            Stream::Datagram { .. } => Ok(()),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            #[cfg(unix)]
            Stream::Unix(s) => s.deregister(r),
            Stream::Udp(s) => s.deregister(r),
            #[cfg(target_os = "linux")]
            Stream::KernelTls(s) => s.deregister(r),
            Stream::Datagram { .. } => Ok(()),
        }
    }
}

/// A listening socket.
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix stream socket bound to `path`, removed when the listener is dropped.
    #[cfg(unix)]
    Unix(UnixListener, PathBuf),
    /// The reactor's UDP socket with this index (it lives in the connection table, which
    /// sends on it), bound to the address.
    Datagram(usize, SocketAddr),
    /// A stream listener closed by a graceful stop; it keeps its place so the tokens of the
    /// listeners after it stay valid.
    Closed,
}

impl Listener {
    /// Accepts one connection.
    pub fn accept(&self) -> io::Result<(Stream, PeerAddr)> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, a)| (Stream::Tcp(s), PeerAddr::Inet(a))),
            #[cfg(unix)]
            Listener::Unix(l, _) => l.accept().map(|(s, a)| (Stream::Unix(s), unix_addr(&a))),
            Listener::Datagram(..) | Listener::Closed => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<PeerAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(PeerAddr::Inet),
            #[cfg(unix)]
            Listener::Unix(_, path) => Ok(PeerAddr::Unix(path.to_string_lossy().into_owned())),
            Listener::Datagram(_, addr) => Ok(PeerAddr::Inet(*addr)),
            Listener::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

#[cfg(unix)]
impl Drop for Listener {
    fn drop(&mut self) {
        // An empty path: the socket was handed to another process, which owns the file now.
        if let Listener::Unix(_, path) = self {
            if !path.as_os_str().is_empty() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

impl Source for Listener {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.register(r, t, i),
            #[cfg(unix)]
            Listener::Unix(l, _) => l.register(r, t, i),
            // The UDP socket itself is registered by the reactor.
            Listener::Datagram(..) | Listener::Closed => Ok(()),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.reregister(r, t, i),
            #[cfg(unix)]
            Listener::Unix(l, _) => l.reregister(r, t, i),
            // The UDP socket itself is registered by the reactor.
            Listener::Datagram(..) | Listener::Closed => Ok(()),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.deregister(r),
            #[cfg(unix)]
            Listener::Unix(l, _) => l.deregister(r),
            // The UDP socket itself is registered by the reactor.
            Listener::Datagram(..) | Listener::Closed => Ok(()),
        }
    }
}
