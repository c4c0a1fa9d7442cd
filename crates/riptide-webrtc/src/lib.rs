//! Sans-IO WebRTC data-channel endpoint on [`str0m`]: every peer of one UDP socket behind a
//! single [`Endpoint`].
//!
//! The endpoint is an ICE-lite server. A client (a browser, pion, …) offers SDP, the endpoint
//! answers in one round trip ([`Endpoint::accept_offer`], or [`signal::answer_json`] for the
//! `{type, sdp}` JSON a browser's `RTCSessionDescription` serializes to), and the client then
//! runs ICE, DTLS and SCTP towards the endpoint's one UDP address.
//!
//! Each peer has two data channels, both pre-negotiated (no DCEP round trip), with the stream
//! ids and options the client must use too ([`ChannelKind`]):
//!
//! | channel | stream id | label | options |
//! |---|---|---|---|
//! | [`ChannelKind::Unreliable`] | 0 | `u` | `ordered: false, maxRetransmits: 0` |
//! | [`ChannelKind::Reliable`] | 1 | `r` | reliable, ordered |
//!
//! The caller owns the socket and the clock:
//!
//! - a datagram from the socket goes to [`Endpoint::handle_datagram`], which routes it to its
//!   peer by source address, or, for STUN from an address not yet known, by the USERNAME's
//!   local ufrag (each peer gets its own): one hash lookup, never a scan of the peers;
//! - [`Endpoint::poll_transmit`] yields the datagrams to send, [`Endpoint::poll_event`] what
//!   happened (opened, a message and its channel, writable again, closed);
//! - datagrams and sends are taken in without polling str0m: each poll first drives the peers
//!   that took any since (every one of its outputs, at once). Feed all the datagrams of one
//!   socket wake and make the sends they cause, then poll: one drive per peer answers them,
//!   and the sends share SCTP packets (str0m's SCTP walks its in-flight queue on every drive);
//! - [`Endpoint::poll_timer`] reports each peer whose deadline changed, so a timing wheel can
//!   hold one entry per peer; when that entry fires, call [`Endpoint::handle_timeout`].
//!
//! The endpoint can also offer ([`Endpoint::offer`], then [`Endpoint::accept_answer`]): a
//! peer with one data channel announced in-band, which is how geckos.io's client connects
//! ([`geckos`]: its routes, message framing and `reliable` repeats).
//!
//! Peers that never finish ICE/DTLS/SCTP within [`EndpointConfig::handshake_timeout`] expire.
//! A panic inside str0m is caught and costs only its peer ([`CloseReason::Panicked`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod endpoint;
mod error;
pub mod geckos;
mod sdp;
pub mod signal;

#[cfg(test)]
mod tests;

pub use config::EndpointConfig;
pub use endpoint::{
    ChannelKind, CloseReason, DatagramOutcome, DropReason, Endpoint, Event, OfferedChannel, PeerId,
    SendOutcome, TimerUpdate, Transmit, MAX_LABEL_LEN,
};
pub use error::{ConfigError, OfferError, SendError};
pub use sdp::{DEFAULT_REMOTE_MAX_MESSAGE_SIZE, LOCAL_MAX_MESSAGE_SIZE};
