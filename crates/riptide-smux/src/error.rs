//! The crate's errors: protocol violations by the peer (the session is dead after one) and
//! misuse by the caller.

/// Everything that can go wrong in a session or in the snappy adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A configuration value out of smux's ranges.
    #[error("invalid smux config: {0}")]
    Config(&'static str),
    /// A frame of another protocol version than the session's.
    #[error("frame version {got}, session speaks {expected}")]
    InvalidVersion {
        /// The frame's version byte.
        got: u8,
        /// The session's version.
        expected: u8,
    },
    /// An unknown command byte (or UPD in a v1 session).
    #[error("invalid command {0}")]
    InvalidCommand(u8),
    /// A payload length the command does not allow.
    #[error("command {cmd} with payload length {len}")]
    InvalidLength {
        /// The command byte.
        cmd: u8,
        /// The header's length.
        len: u16,
    },
    /// A v2 peer sent more on a stream than the window this side advertised.
    #[error("stream {0}: peer sent past the receive window")]
    WindowExceeded(u32),
    /// A v2 update claims more consumed than was ever sent (smux's `ErrConsumed`).
    #[error("stream {0}: peer consumed more than was written")]
    ConsumedBeyondWritten(u32),
    /// Data on a stream after the peer's FIN.
    #[error("stream {0}: data after FIN")]
    DataAfterFin(u32),
    /// The peer opened more streams than `max_streams`.
    #[error("peer opened more than the stream limit")]
    TooManyStreams,
    /// No input for `keep_alive_timeout`.
    #[error("keepalive timeout")]
    KeepAliveTimeout,
    /// The stream id space is used up (smux's `ErrGoAway`).
    #[error("stream ids exhausted")]
    GoAway,
    /// No such stream (never opened, or closed).
    #[error("unknown stream {0}")]
    UnknownStream(u32),
    /// A write on a stream after `close_write`.
    #[error("stream {0}: write after close")]
    WriteClosed(u32),
    /// The session died earlier (on the error it returned then) or was closed.
    #[error("session closed")]
    SessionClosed,
    /// A snappy framing-format violation (bad chunk, bad checksum, oversized chunk).
    #[error("snappy: {0}")]
    Snappy(String),
}
