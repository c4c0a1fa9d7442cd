//! Listening sockets handed over by another process: systemd socket activation
//! (`LISTEN_FDS`) and riptide's upgrade in place, where the new process gets the old one's
//! listeners. Handed-over sockets wait in a process-wide pool; a listener whose URL names one
//! (by its local address, or by the name it was handed over with) takes it instead of
//! binding, so connections queued on it are served and none is refused. The descriptors
//! themselves are opened by the caller (`riptide-napi` wraps the numbers it was told about).

use crate::address::Address;
use crate::stream::{Listener, PeerAddr};
use socket2::{Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// What a handed-over socket is, from `getsockname` and `SO_TYPE`/`SO_ACCEPTCONN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InheritedKind {
    /// A listening TCP socket bound to the address.
    Tcp(SocketAddr),
    /// A UDP socket bound to the address (a `udp://` or `kcp://` listener's).
    Udp(SocketAddr),
    /// A listening Unix stream socket bound to the path.
    Unix(PathBuf),
}

/// A socket in the pool, as [`inherit`] and [`pending`] describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InheritedSocket {
    /// What it is and where it is bound.
    pub kind: InheritedKind,
    /// The name it was handed over with (`LISTEN_FDNAMES`; riptide's upgrade names each
    /// socket with its listener's URL), possibly empty.
    pub name: String,
}

/// A socket in the pool.
struct Slot {
    socket: Socket,
    about: InheritedSocket,
}

/// The sockets handed over and not yet taken by a listener.
static POOL: Mutex<Vec<Slot>> = Mutex::new(Vec::new());

fn pool() -> MutexGuard<'static, Vec<Slot>> {
    POOL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Puts a handed-over socket in the pool (close-on-exec and non-blocking from now on) and
/// says what it is. Fails, closing `fd`, when it is not a TCP or Unix listening socket or a
/// bound UDP socket.
pub fn inherit(fd: OwnedFd, name: String) -> io::Result<InheritedSocket> {
    let socket = Socket::from(fd);
    socket.set_cloexec(true)?;
    socket.set_nonblocking(true)?;
    let local = socket.local_addr()?;
    let kind = match socket.r#type()? {
        Type::STREAM if !socket.is_listener()? => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a stream socket that is not listening",
            ))
        }
        Type::STREAM => match (local.as_socket(), local.as_pathname()) {
            (Some(addr), _) => InheritedKind::Tcp(addr),
            (None, Some(path)) => InheritedKind::Unix(path.to_path_buf()),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a listening socket that is neither TCP nor a Unix socket with a path",
                ))
            }
        },
        Type::DGRAM => match local.as_socket() {
            Some(addr) if addr.port() != 0 => InheritedKind::Udp(addr),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a datagram socket that is not a bound UDP socket",
                ))
            }
        },
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "neither a stream nor a datagram socket",
            ))
        }
    };
    let about = InheritedSocket { kind, name };
    pool().push(Slot {
        socket,
        about: about.clone(),
    });
    Ok(about)
}

/// The sockets still in the pool, in the order they were handed over.
pub fn pending() -> Vec<InheritedSocket> {
    pool().iter().map(|s| s.about.clone()).collect()
}

/// Closes every socket left in the pool (no listener asked for them); returns how many.
pub fn close_pending() -> usize {
    pool().drain(..).count()
}

/// Takes the pooled socket for listener `url` at `address`: one with `url` as its name and
/// of the same kind, else one bound to the same address (a URL with port 0 matches by name
/// only, as it asks for a new port).
fn take(address: &Address, url: &str) -> Option<Socket> {
    let kind_matches = |kind: &InheritedKind| {
        matches!(
            (address, kind),
            (Address::Tcp(_), InheritedKind::Tcp(_))
                | (Address::Unix(_), InheritedKind::Unix(_))
                | (Address::Udp(_) | Address::Kcp(_), InheritedKind::Udp(_))
        )
    };
    let same_place = |kind: &InheritedKind| match (address, kind) {
        (Address::Tcp(a), InheritedKind::Tcp(b))
        | (Address::Udp(a) | Address::Kcp(a), InheritedKind::Udp(b)) => a.port() != 0 && a == b,
        (Address::Unix(a), InheritedKind::Unix(b)) => a == b,
        _ => false,
    };
    let mut pool = pool();
    let at = pool
        .iter()
        .position(|s| s.about.name == url && kind_matches(&s.about.kind))
        .or_else(|| pool.iter().position(|s| same_place(&s.about.kind)))?;
    Some(pool.remove(at).socket)
}

/// The pooled stream listener for `url` (TCP or Unix), if one was handed over.
pub(crate) fn take_stream(address: &Address, url: &str) -> Option<Listener> {
    let socket = take(address, url)?;
    let local = socket.local_addr().ok()?;
    match local.as_pathname() {
        Some(path) => {
            let path = path.to_path_buf();
            let std = std::os::unix::net::UnixListener::from(OwnedFd::from(socket));
            Some(Listener::Unix(mio::net::UnixListener::from_std(std), path))
        }
        None => {
            let std = std::net::TcpListener::from(socket);
            Some(Listener::Tcp(mio::net::TcpListener::from_std(std)))
        }
    }
}

/// The pooled UDP socket for `url`, if one was handed over.
pub(crate) fn take_udp(address: &Address, url: &str) -> Option<mio::net::UdpSocket> {
    let socket = take(address, url)?;
    Some(mio::net::UdpSocket::from_std(socket.into()))
}

/// A duplicate of one of a reactor's listening sockets, to hand to another process
/// ([`crate::Reactor::export_listeners`]).
#[derive(Debug)]
pub struct ExportedListener {
    /// Index of the listener, in the order the reactor's listeners were made.
    pub index: usize,
    /// Its bound address.
    pub local: PeerAddr,
    /// True for a UDP socket (`udp://`, `kcp://`).
    pub datagram: bool,
    /// True for a secure `kcp://` listener's socket in a `SO_REUSEPORT` group: the new process
    /// joins the group instead of reading it, and this process keeps serving its sessions
    /// through it after [`crate::Reactor::release_listeners`] (docs/deploy.md).
    pub routed: bool,
    /// The duplicate descriptor (close-on-exec; the socket is shared with the listener).
    pub fd: OwnedFd,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_sockets_are_taken_by_address_or_name_once() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_addr = tcp.local_addr().unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_addr = udp.local_addr().unwrap();
        let named = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let about = inherit(OwnedFd::from(tcp), String::new()).unwrap();
        assert_eq!(about.kind, InheritedKind::Tcp(tcp_addr));
        inherit(OwnedFd::from(udp), "kcp://x".into()).unwrap();
        inherit(OwnedFd::from(named), "tcp://127.0.0.9:0".into()).unwrap();
        // A stream socket that does not listen is refused.
        let loose = Socket::new(socket2::Domain::IPV4, Type::STREAM, None).unwrap();
        assert!(inherit(OwnedFd::from(loose), String::new()).is_err());
        assert_eq!(pending().len(), 3);
        // Port 0 does not match by address; the wrong kind does not match by name.
        assert!(take(&Address::Udp(tcp_addr), "").is_none());
        let l = take_stream(&Address::Tcp(tcp_addr), "tcp://other").unwrap();
        assert_eq!(l.local_addr().unwrap(), PeerAddr::Inet(tcp_addr));
        assert!(take_stream(&Address::Tcp(tcp_addr), "").is_none());
        let any: SocketAddr = "127.0.0.9:0".parse().unwrap();
        assert!(take_stream(&Address::Tcp(any), "tcp://127.0.0.9:0").is_some());
        let u = take_udp(&Address::Kcp(udp_addr), "kcp://y").unwrap();
        assert_eq!(u.local_addr().unwrap(), udp_addr);
        assert!(pending().is_empty());
        assert_eq!(close_pending(), 0);
    }
}
