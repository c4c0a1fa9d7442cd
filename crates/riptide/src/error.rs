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
    /// A message is larger than its transport carries (a KCP message past 127 fragments of
    /// one MSS, a datagram handed to a [`crate::DatagramCarrier`] past [`crate::MAX_DATAGRAM`]);
    /// nothing was queued.
    #[error("message of {size} bytes exceeds the maximum of {max}")]
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
    /// A secure KCP session's handshake failed or timed out, or its keys are unusable.
    #[error("secure handshake failed: {0}")]
    Handshake(String),
    /// A TLS handshake failed (the peer's certificate was not trusted, no common protocol
    /// version or cipher suite, garbage instead of a hello...) or did not complete in time;
    /// the text says why.
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// TLS failed after the handshake (a record that does not decrypt, a fatal alert from the
    /// peer, a message out of place); the text is rustls' reason. The alert rustls chose was
    /// sent to the peer before the close.
    #[error("TLS error: {0}")]
    TlsAlert(String),
    /// A bug inside riptide (a panic) while handling this connection: it was destroyed so the
    /// reactor, and every other connection, could go on.
    #[error("internal error: {0}")]
    Internal(String),
    /// A framing error from the connection's codec (too long, corrupt, unencodable).
    #[error(transparent)]
    Frame(#[from] riptide_codec::FrameError),
    /// The WebSocket peer sent a close frame (or answered this side's): its code (1005 when
    /// it gave none) and reason.
    #[error("WebSocket closed: {code} {reason}")]
    WebSocketClose {
        /// The peer's close code.
        code: u16,
        /// The peer's reason.
        reason: String,
    },
    /// The WebSocket connection failed: the peer broke the protocol (this side sent the close
    /// code the error names), the handshake failed or was refused, or a timeout passed.
    #[error("WebSocket: {0}")]
    WebSocket(riptide_ws::Error),
    /// Any other operating-system error.
    #[error(transparent)]
    Io(io::Error),
}

/// A TLS failure found below an `io::Read` (a kernel TLS socket's alert or out-of-place
/// record), carried inside an `io::Error` so that it becomes [`Error::TlsAlert`], the same
/// error a user-space TLS connection reports, rather than [`Error::Io`].
#[derive(Debug)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // kernel TLS is Linux only
pub(crate) struct TlsRecordError(pub String);

impl std::fmt::Display for TlsRecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsRecordError {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<TlsRecordError>())
        {
            Some(tls) => Error::TlsAlert(tls.0.clone()),
            None => Error::Io(e),
        }
    }
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

    /// Every `ERR_*` code an [`Error`] can have, codec errors ([`riptide_codec::FrameError`])
    /// included; [`Error::code`] gives one of these or, for an OS error, its errno name
    /// (`ECONNRESET`, `EPIPE`...). The TypeScript API has an error class for each.
    pub const CODES: &'static [&'static str] = &[
        "ERR_INVALID_ADDRESS",
        "ERR_ADDRESS_IN_USE",
        "ERR_CONN_CLOSED",
        "ERR_ENGINE_STOPPED",
        "ERR_INVALID_ARG_VALUE",
        "ERR_OUTBOUND_FULL",
        "ERR_TOO_MANY_CONNECTIONS",
        "ERR_MESSAGE_TOO_LARGE",
        "ERR_KCP_DEAD_LINK",
        "ERR_HANDSHAKE_FAILED",
        "ERR_TLS_HANDSHAKE",
        "ERR_TLS",
        "ERR_INTERNAL",
        "ERR_FRAME_TOO_LONG",
        "ERR_FRAME_CORRUPT",
        "ERR_PROXY_PROTOCOL",
        "ERR_HTTP_PARSE",
        "ERR_HTTP_HEADER_TOO_LARGE",
        "ERR_HTTP_BODY_TOO_LARGE",
        "ERR_FRAME_UNENCODABLE",
        "ERR_RESP_PROTOCOL",
        "ERR_RESP_BULK_TOO_LONG",
        "ERR_RESP_TOO_MANY_ELEMENTS",
        "ERR_RESP_INLINE_TOO_LONG",
        "ERR_RESP_REQUEST_TOO_LARGE",
        "ERR_RESP_TOO_DEEP",
        "ERR_WS_CLOSE",
        "ERR_WS_MESSAGE_TOO_BIG",
        "ERR_WS_INVALID_UTF8",
        "ERR_WS_BAD_DEFLATE",
        "ERR_WS_CLOSED",
        "ERR_WS_BAD_CLOSE",
        "ERR_WS_RANDOM",
        "ERR_WS_TIMEOUT",
        "ERR_WS_PROTOCOL",
        "ERR_WS_UPGRADE_REFUSED",
        "ERR_WS_BAD_HEADER",
        "ERR_WS_HANDSHAKE",
        "ERR_IO",
    ];

    /// The OS error number of an I/O error (`EPIPE`'s value on this platform...), if the OS
    /// gave one; `None` for riptide's own errors and for I/O errors riptide made itself.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// The stable, Node-style code of this error (one of [`Error::CODES`], or the errno name
    /// for OS errors).
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
            Error::Handshake(_) => "ERR_HANDSHAKE_FAILED",
            Error::Tls(_) => "ERR_TLS_HANDSHAKE",
            Error::TlsAlert(_) => "ERR_TLS",
            Error::Internal(_) => "ERR_INTERNAL",
            Error::Frame(e) => e.code(),
            Error::WebSocketClose { .. } => "ERR_WS_CLOSE",
            Error::WebSocket(e) => e.code(),
            Error::Io(e) => io_code(e),
        }
    }
}

/// The errno name Node would give an I/O error (`ECONNRESET`, `EPIPE`, `ENETUNREACH`...): the
/// name of its OS error number when it has one, else the name its [`io::ErrorKind`] stands
/// for (errors riptide makes itself, such as a connect timeout), else `ERR_IO`.
pub fn io_code(e: &io::Error) -> &'static str {
    use io::ErrorKind as K;
    if let Some(name) = e.raw_os_error().and_then(crate::platform::errno_name) {
        return name;
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
        K::HostUnreachable => "EHOSTUNREACH",
        K::NetworkUnreachable => "ENETUNREACH",
        K::NetworkDown => "ENETDOWN",
        K::InvalidInput => "EINVAL",
        K::NotFound => "ENOENT",
        K::WouldBlock => "EAGAIN",
        K::Interrupted => "EINTR",
        _ => "ERR_IO",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riptide_codec::FrameError;

    /// One error of every variant (and every code a variant can carry).
    fn one_of_each() -> Vec<Error> {
        let mut all = vec![
            Error::InvalidAddress("x".into()),
            Error::AddressInUse("x".into()),
            Error::ConnClosed,
            Error::EngineStopped,
            Error::InvalidOption("x".into()),
            Error::OutboundFull,
            Error::TooManyConnections,
            Error::MessageTooLarge { size: 2, max: 1 },
            Error::KcpDeadLink,
            Error::Handshake("x".into()),
            Error::Tls("x".into()),
            Error::TlsAlert("x".into()),
            Error::Internal("x".into()),
            Error::Io(io::Error::other("x")),
            Error::WebSocketClose {
                code: 1000,
                reason: "x".into(),
            },
        ];
        use riptide_ws::{Error as Ws, HandshakeError as Hs};
        all.extend(
            [
                Ws::MessageTooBig(1),
                Ws::InvalidUtf8,
                Ws::BadDeflate("x".into()),
                Ws::Closed,
                Ws::BadCloseCode(1),
                Ws::Random("x".into()),
                Ws::IdleTimeout,
                Ws::UnmaskedFrame,
                Ws::Handshake(Hs::Refused(403)),
                Ws::Handshake(Hs::BadHeader("x".into())),
                Ws::Handshake(Hs::BadKey),
            ]
            .map(Error::WebSocket),
        );
        all.extend(FrameError::CODES.iter().map(|&code| {
            Error::Frame(match code {
                "ERR_FRAME_TOO_LONG" => FrameError::TooLong { length: 2, max: 1 },
                "ERR_FRAME_CORRUPT" => FrameError::Corrupted("x".into()),
                "ERR_PROXY_PROTOCOL" => FrameError::Proxy("x".into()),
                "ERR_FRAME_UNENCODABLE" => FrameError::Unencodable("x".into()),
                "ERR_INVALID_ARG_VALUE" => FrameError::InvalidConfig("x".into()),
                resp if resp.starts_with("ERR_RESP_") => FrameError::Resp(resp, "x".into()),
                http => FrameError::Http(http, "x".into()),
            })
        }));
        all
    }

    #[test]
    fn codes_lists_every_code_an_error_can_have() {
        let produced: std::collections::BTreeSet<_> =
            one_of_each().iter().map(Error::code).collect();
        let listed: std::collections::BTreeSet<_> = Error::CODES.iter().copied().collect();
        assert_eq!(produced, listed);
        assert_eq!(listed.len(), Error::CODES.len(), "a code is listed twice");
        for e in one_of_each() {
            assert_eq!(e.raw_os_error(), None, "{e}");
        }
    }

    #[test]
    fn os_errors_keep_their_errno_name() {
        let os = |n| Error::Io(io::Error::from_raw_os_error(n));
        assert_eq!(os(libc::EPIPE).code(), "EPIPE");
        assert_eq!(os(libc::ENETUNREACH).code(), "ENETUNREACH");
        assert_eq!(os(libc::EHOSTUNREACH).code(), "EHOSTUNREACH");
        assert_eq!(os(libc::EMFILE).code(), "EMFILE");
        assert_eq!(os(libc::EMSGSIZE).code(), "EMSGSIZE");
        assert_eq!(
            os(libc::ENETUNREACH).raw_os_error(),
            Some(libc::ENETUNREACH)
        );
        // Made by riptide, without an OS number: named by kind.
        let timeout = Error::Io(io::Error::new(io::ErrorKind::TimedOut, "connect timeout"));
        assert_eq!(timeout.code(), "ETIMEDOUT");
        assert_eq!(timeout.raw_os_error(), None);
        assert_eq!(Error::Io(io::Error::other("?")).code(), "ERR_IO");
        assert_eq!(os(100_000).code(), "ERR_IO");
    }
}
