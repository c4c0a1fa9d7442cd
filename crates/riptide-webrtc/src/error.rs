//! Errors of the endpoint's calls.

use std::net::SocketAddr;
use std::time::Duration;

/// [`EndpointConfig`](crate::EndpointConfig) rejected by [`Endpoint::new`](crate::Endpoint::new).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The public address is unspecified (`0.0.0.0`/`::`) or has port 0.
    #[error("public_addr {0} must be a concrete address and port clients can reach")]
    PublicAddr(SocketAddr),
    /// A numeric field is outside its range.
    #[error("{name} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// The field.
        name: &'static str,
        /// Its value.
        value: usize,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// The handshake timeout is zero or over 10 minutes.
    #[error("handshake_timeout {0:?} must be over zero and at most 600 s")]
    HandshakeTimeout(Duration),
    /// The crypto backend could not make the DTLS certificate.
    #[error("the crypto backend could not generate a DTLS certificate")]
    Certificate,
}

/// A signalling description refused: an offer by
/// [`Endpoint::accept_offer`](crate::Endpoint::accept_offer), an answer by
/// [`Endpoint::accept_answer`](crate::Endpoint::accept_answer), or a server offer
/// [`Endpoint::offer`](crate::Endpoint::offer) could not make.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OfferError {
    /// The offer is larger than [`EndpointConfig::max_offer_size`](crate::EndpointConfig).
    #[error("offer of {len} bytes exceeds {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The request body is not `{"type":"offer","sdp":"…"}`.
    #[error("signalling body is not an RTCSessionDescription offer: {0}")]
    Body(String),
    /// str0m could not parse or accept the SDP.
    #[error("bad SDP offer: {0}")]
    Sdp(String),
    /// The offer has no `m=application` (data channel) section.
    #[error("the offer has no data channel (m=application) section")]
    NoDataChannel,
    /// The offer has audio or video sections; the endpoint carries data channels only.
    #[error("the offer has a {0} section; only data channels are served")]
    Media(String),
    /// `a=max-message-size` is not a number.
    #[error("bad a=max-message-size value {0:?}")]
    MaxMessageSize(String),
    /// [`EndpointConfig::max_peers`](crate::EndpointConfig) peers exist already.
    #[error("the endpoint is full ({0} peers)")]
    Full(usize),
    /// [`Endpoint::accept_answer`](crate::Endpoint::accept_answer) for a peer that does not
    /// exist or is not waiting for an answer.
    #[error("no peer is waiting for this answer")]
    NotAwaitingAnswer,
    /// The channel asked of [`Endpoint::offer`](crate::Endpoint::offer) is invalid.
    #[error("bad channel: {0}")]
    Channel(&'static str),
    /// str0m panicked on this offer (a str0m bug); the endpoint carries on.
    #[error("str0m panicked while accepting the offer")]
    Panicked,
}

/// A send refused by [`Endpoint::send`](crate::Endpoint::send).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// No such peer (never existed, or closed).
    #[error("no such peer")]
    UnknownPeer,
    /// The peer's channels are not both open yet.
    #[error("the peer's channels are not open yet")]
    NotOpen,
    /// The message is larger than the negotiated maximum message size.
    #[error("message of {len} bytes exceeds the negotiated maximum of {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The negotiated maximum.
        max: usize,
    },
    /// The peer has no such channel (a peer made by
    /// [`Endpoint::offer`](crate::Endpoint::offer) has only its one channel).
    #[error("the peer has no such channel")]
    NoSuchChannel,
    /// An empty message (SCTP cannot carry one).
    #[error("empty messages cannot be sent")]
    Empty,
}
