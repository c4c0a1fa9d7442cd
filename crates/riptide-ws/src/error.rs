//! The two ways a WebSocket can go wrong: a frame-level violation (answered with a close code)
//! and a refused handshake (answered with an HTTP status, or a client giving up).

use crate::close;

/// A protocol violation by the peer, or a send this side cannot make. Each violation maps to
/// the close code the session sends before giving up ([`Error::close_code`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A client sent a frame without a masking key (§5.1).
    #[error("a client frame is not masked")]
    UnmaskedFrame,
    /// A server sent a masked frame (§5.1).
    #[error("a server frame is masked")]
    MaskedFrame,
    /// RSV bits that no negotiated extension defines (§5.2).
    #[error("reserved bits set without an extension that defines them")]
    ReservedBits,
    /// A reserved opcode (§5.2).
    #[error("reserved opcode {0}")]
    BadOpcode(u8),
    /// A control frame with more than 125 bytes of payload (§5.5).
    #[error("control frame payload over 125 bytes")]
    ControlTooLong,
    /// A control frame without FIN (§5.5).
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A 64-bit payload length with its most significant bit set (§5.2).
    #[error("payload length with the most significant bit set")]
    LengthOverflow,
    /// A continuation frame with no message to continue (§5.4).
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished (§5.4).
    #[error("new message before the fragmented one finished")]
    ExpectedContinuation,
    /// A message (as received, after inflating) over the configured maximum.
    #[error("message over the maximum of {0} bytes")]
    MessageTooBig(usize),
    /// A text message, or a close reason, that is not UTF-8 (§8.1).
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// A close frame with a 1-byte payload (§5.5.1).
    #[error("close frame payload of one byte")]
    ClosePayloadTooShort,
    /// A close code that may not be sent on the wire (§7.4).
    #[error("invalid close code {0}")]
    BadCloseCode(u16),
    /// A compressed message that does not inflate (RFC 7692 §6.2).
    #[error("compressed message does not inflate: {0}")]
    BadDeflate(String),
    /// A send after this side's close frame went out or the session failed.
    #[error("the WebSocket is closed")]
    Closed,
    /// A close reason over 123 bytes (the close payload is a control frame: 125 bytes).
    #[error("close reason over 123 bytes")]
    ReasonTooLong,
    /// The system's random source failed (masking keys need it).
    #[error("no randomness for a masking key: {0}")]
    Random(String),
    /// The opening handshake failed (on a server, the refusal is queued).
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// Nothing arrived for an idle period, nor after the ping sent at its end.
    #[error("no traffic within the idle timeout")]
    IdleTimeout,
    /// The peer did not answer this side's close frame in time.
    #[error("no close frame from the peer within the close timeout")]
    CloseTimeout,
}

impl Error {
    /// The close code this side sends when the peer caused this error (RFC 6455 §7.4.1):
    /// 1002 for protocol errors, 1007 for bad payload data, 1009 for oversize messages, 1011
    /// for failures on this side; 1006 (reported, never sent) for timeouts.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::MessageTooBig(_) => close::MESSAGE_TOO_BIG,
            Self::InvalidUtf8 | Self::BadDeflate(_) => close::INVALID_PAYLOAD,
            Self::Random(_) => close::INTERNAL_ERROR,
            Self::IdleTimeout | Self::CloseTimeout => close::ABNORMAL,
            _ => close::PROTOCOL_ERROR,
        }
    }

    /// A stable code for the TypeScript error classes.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MessageTooBig(_) => "ERR_WS_MESSAGE_TOO_BIG",
            Self::InvalidUtf8 => "ERR_WS_INVALID_UTF8",
            Self::BadDeflate(_) => "ERR_WS_BAD_DEFLATE",
            Self::Closed => "ERR_WS_CLOSED",
            Self::ReasonTooLong | Self::BadCloseCode(_) => "ERR_WS_BAD_CLOSE",
            Self::Random(_) => "ERR_WS_RANDOM",
            Self::Handshake(e) => e.code(),
            Self::IdleTimeout | Self::CloseTimeout => "ERR_WS_TIMEOUT",
            _ => "ERR_WS_PROTOCOL",
        }
    }
}

/// Why an opening handshake failed. On a server, [`HandshakeError::status`] is the HTTP status
/// of the refusal; on a client, the connection is dropped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The request or response head is over the configured maximum.
    #[error("handshake head over {0} bytes")]
    HeadTooLarge(usize),
    /// The head is not valid HTTP/1.1.
    #[error("malformed handshake: {0}")]
    Malformed(String),
    /// Not a GET request.
    #[error("the upgrade request is not a GET")]
    NotGet,
    /// Not a WebSocket upgrade: `Upgrade: websocket` or `Connection: upgrade` missing.
    #[error("not a WebSocket upgrade: {0}")]
    NotUpgrade(&'static str),
    /// `Sec-WebSocket-Version` is missing or not 13.
    #[error("unsupported Sec-WebSocket-Version")]
    BadVersion,
    /// `Sec-WebSocket-Key` is missing or not 16 bytes in base64.
    #[error("missing or malformed Sec-WebSocket-Key")]
    BadKey,
    /// A header given to send that cannot be sent (bad name, CR or LF in a value).
    #[error("invalid header to send: {0}")]
    BadHeader(String),
    /// The server answered with a status other than 101.
    #[error("server answered {0} instead of 101")]
    Status(u16),
    /// The server's `Sec-WebSocket-Accept` does not match the key sent.
    #[error("Sec-WebSocket-Accept does not match the key")]
    BadAccept,
    /// The server chose a subprotocol the client did not offer.
    #[error("server chose subprotocol {0:?}, which was not offered")]
    UnofferedProtocol(String),
    /// The server chose an extension, or extension parameters, the client did not offer.
    #[error("server chose an extension that was not offered: {0}")]
    UnofferedExtension(String),
    /// The application refused the upgrade with this status.
    #[error("upgrade refused with status {0}")]
    Refused(u16),
}

impl HandshakeError {
    /// The HTTP status a server answers this failure with.
    pub fn status(&self) -> u16 {
        match self {
            Self::HeadTooLarge(_) => 431,
            Self::NotGet => 405,
            Self::BadVersion => 426,
            Self::Refused(status) => *status,
            _ => 400,
        }
    }

    /// A stable code for the TypeScript error classes.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(_) | Self::Status(_) => "ERR_WS_UPGRADE_REFUSED",
            Self::BadHeader(_) => "ERR_WS_BAD_HEADER",
            _ => "ERR_WS_HANDSHAKE",
        }
    }
}
