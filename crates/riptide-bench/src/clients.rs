//! What every load mode does with its connections: open and register them, drain a readable
//! socket, and notice a connection that stopped making progress (a stall).

use mio::net::TcpStream;
use mio::{Interest, Poll, Token};
use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a connection may go without progress before it counts as stalled.
const STALL: Duration = Duration::from_secs(1);

/// Opens `n` connections to `addr` (TCP_NODELAY, non-blocking), registered with `poll` for
/// reads and writes under tokens `0..n`.
pub fn connect_all(poll: &Poll, addr: SocketAddr, n: usize) -> Result<Vec<TcpStream>, String> {
    (0..n)
        .map(|i| {
            let std =
                std::net::TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
            std.set_nodelay(true).map_err(|e| e.to_string())?;
            std.set_nonblocking(true).map_err(|e| e.to_string())?;
            let mut stream = TcpStream::from_std(std);
            poll.registry()
                .register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| e.to_string())?;
            Ok(stream)
        })
        .collect()
}

/// Reads everything the socket has now into `inbuf` (polling is edge-triggered), through the
/// scratch buffer `buf`. A closed connection is an error: servers under test never close.
pub fn read_available(
    stream: &mut TcpStream,
    buf: &mut [u8],
    inbuf: &mut Vec<u8>,
) -> Result<(), String> {
    match read_until_blocked(stream, buf, inbuf)? {
        ReadEnd::Drained => Ok(()),
        ReadEnd::Closed => Err("server closed a connection".into()),
    }
}

/// What a read saw besides the bytes it appended.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// The socket has nothing more for now.
    Drained,
    /// The server ended the stream (TCP FIN, or TLS close_notify).
    Closed,
}

/// Reads everything the socket has now into `inbuf`, through `buf`, and says whether the
/// server closed the stream.
pub fn read_until_blocked(
    stream: &mut TcpStream,
    buf: &mut [u8],
    inbuf: &mut Vec<u8>,
) -> Result<ReadEnd, String> {
    loop {
        match stream.read(buf) {
            Ok(0) => return Ok(ReadEnd::Closed),
            Ok(n) => inbuf.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ReadEnd::Drained),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// Starts a non-blocking connection to `addr` (TCP_NODELAY) registered with `poll` for reads
/// and writes under `token`; it is writable once connected.
pub fn connect_one(poll: &Poll, addr: SocketAddr, token: Token) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    poll.registry()
        .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// When a connection last made progress, and whether its current stall was counted.
pub struct Progress {
    last: Instant,
    stalled: bool,
}

impl Progress {
    /// Starts the clock at `now`.
    pub fn new(now: Instant) -> Self {
        Progress {
            last: now,
            stalled: false,
        }
    }

    /// The connection moved forward at `now`.
    pub fn made(&mut self, now: Instant) {
        self.last = now;
        self.stalled = false;
    }

    /// True the first time the connection is seen without progress for the stall time.
    pub fn newly_stalled(&mut self, now: Instant) -> bool {
        if !self.stalled && now.duration_since(self.last) >= STALL {
            self.stalled = true;
            return true;
        }
        false
    }
}
