//! The engine's error type, with the stable `code` strings the TypeScript layer exposes.

use std::io;

/// Everything the engine reports. Each variant maps to one Node-style `code`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address string is malformed, names an unsupported scheme, or does not resolve.
    #[error("invalid address {0}")]
    InvalidAddress(String),
    /// Another socket already holds the address.
    #[error("address in use: {0}")]
    AddressInUse(String),
    /// The connection id is stale: its connection has closed.
    #[error("connection is closed")]
    ConnClosed,
    /// The engine (or the reactor a command was sent to) has stopped.
    #[error("engine is stopped")]
    EngineStopped,
    /// An option is out of range or does not apply.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A write would queue more than the connection's `max_outbound`; it was closed.
    #[error("outbound queue is full")]
    OutboundFull,
    /// The reactor's connection table is full.
    #[error("too many connections")]
    TooManyConnections,
    /// A KCP message is larger than KCP can carry (127 fragments of one MSS); nothing was
    /// queued.
    #[error("message of {size} bytes exceeds the KCP maximum of {max}")]
    MessageTooLarge {
        /// The message's size.
        size: usize,
        /// The largest message the session takes.
        max: usize,
    },
    /// A KCP segment went unacknowledged through the configured number of retransmissions:
    /// the peer is gone or the path is dead.
    #[error("KCP dead link: a segment was retransmitted too often without an ack")]
    KcpDeadLink,
    /// A bug inside riptide (a panic) while handling this connection: it was destroyed so the
    /// reactor, and every other connection, could go on.
    #[error("internal error: {0}")]
    Internal(String),
    /// A framing error from the connection's codec (too long, corrupt, unencodable).
    #[error(transparent)]
    Frame(#[from] riptide_codec::FrameError),
    /// Any other operating-system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// [`Error::Internal`] from a caught panic's payload (its message when it has one).
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Error {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        Error::Internal(text)
    }

    /// The stable, Node-style code of this error (`ERR_*`, or the errno name for OS errors).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidAddress(_) => "ERR_INVALID_ADDRESS",
            Error::AddressInUse(_) => "ERR_ADDRESS_IN_USE",
            Error::ConnClosed => "ERR_CONN_CLOSED",
            Error::EngineStopped => "ERR_ENGINE_STOPPED",
            Error::InvalidOption(_) => "ERR_INVALID_ARG_VALUE",
            Error::TooManyConnections => "ERR_TOO_MANY_CONNECTIONS",
            Error::OutboundFull => "ERR_OUTBOUND_FULL",
            Error::MessageTooLarge { .. } => "ERR_MESSAGE_TOO_LARGE",
            Error::KcpDeadLink => "ERR_KCP_DEAD_LINK",
            Error::Internal(_) => "ERR_INTERNAL",
            Error::Frame(e) => e.code(),
            Error::Io(e) => io_code(e),
        }
    }
}

/// The errno name Node would give an I/O error (`ECONNRESET`, `EPIPE`, ...).
pub fn io_code(e: &io::Error) -> &'static str {
    use io::ErrorKind as K;
    match e.raw_os_error() {
        Some(24) => return "EMFILE",
        Some(23) => return "ENFILE",
        _ => {}
    }
    match e.kind() {
        K::ConnectionReset => "ECONNRESET",
        K::BrokenPipe => "EPIPE",
        K::ConnectionRefused => "ECONNREFUSED",
        K::ConnectionAborted => "ECONNABORTED",
        K::TimedOut => "ETIMEDOUT",
        K::AddrInUse => "EADDRINUSE",
        K::AddrNotAvailable => "EADDRNOTAVAIL",
        K::PermissionDenied => "EACCES",
        K::NotConnected => "ENOTCONN",
        K::OutOfMemory => "ENOMEM",
        _ => "ERR_IO",
    }
}
