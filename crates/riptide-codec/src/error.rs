//! Framing errors, with the stable codes the TypeScript API exposes.

/// Why a frame was rejected. The connection can go on: the bad bytes are skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame longer than the configured maximum (netty's `TooLongFrameException`); `length`
    /// is its declared or observed length.
    #[error("frame of {length} bytes exceeds the maximum of {max}")]
    TooLong {
        /// The frame's length as declared or seen so far.
        length: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A frame that cannot be valid (netty's `CorruptedFrameException`).
    #[error("corrupted frame: {0}")]
    Corrupted(String),
    /// A malformed HTTP request or one over a limit; `code` is `ERR_HTTP_PARSE`,
    /// `ERR_HTTP_HEADER_TOO_LARGE` or `ERR_HTTP_BODY_TOO_LARGE`. The connection cannot resync:
    /// answer (400, 431, 413) and close.
    #[error("{1}")]
    Http(&'static str, String),
    /// A malformed RESP request or one over a limit; `code` is one of `ERR_RESP_*` and the
    /// message redis-server's protocol error text. The connection cannot resync: answer
    /// `-ERR <message>` and close.
    #[error("{1}")]
    Resp(&'static str, String),
    /// A missing or malformed PROXY protocol header.
    #[error("{0}")]
    Proxy(String),
    /// An outbound message the framing cannot express.
    #[error("cannot encode: {0}")]
    Unencodable(String),
    /// A codec configuration that cannot work.
    #[error("invalid codec option: {0}")]
    InvalidConfig(String),
}

impl FrameError {
    /// Every code [`FrameError::code`] can give.
    pub const CODES: &'static [&'static str] = &[
        "ERR_FRAME_TOO_LONG",
        "ERR_FRAME_CORRUPT",
        "ERR_PROXY_PROTOCOL",
        "ERR_HTTP_PARSE",
        "ERR_HTTP_HEADER_TOO_LARGE",
        "ERR_HTTP_BODY_TOO_LARGE",
        "ERR_FRAME_UNENCODABLE",
        "ERR_INVALID_ARG_VALUE",
        "ERR_RESP_PROTOCOL",
        "ERR_RESP_BULK_TOO_LONG",
        "ERR_RESP_TOO_MANY_ELEMENTS",
        "ERR_RESP_INLINE_TOO_LONG",
        "ERR_RESP_REQUEST_TOO_LARGE",
        "ERR_RESP_TOO_DEEP",
    ];

    /// Node-style code (one of [`FrameError::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::TooLong { .. } => "ERR_FRAME_TOO_LONG",
            FrameError::Corrupted(_) => "ERR_FRAME_CORRUPT",
            FrameError::Proxy(_) => "ERR_PROXY_PROTOCOL",
            FrameError::Http(code, _) | FrameError::Resp(code, _) => code,
            FrameError::Unencodable(_) => "ERR_FRAME_UNENCODABLE",
            FrameError::InvalidConfig(_) => "ERR_INVALID_ARG_VALUE",
        }
    }
}
