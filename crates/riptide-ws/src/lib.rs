//! Sans-IO WebSocket (RFC 6455) with permessage-deflate (RFC 7692). Bytes in, messages and
//! control events out; messages in, bytes out. No sockets, no clock: the engine that embeds it
//! owns I/O, timers (idle pings, the close timeout) and the transport's end.
//!
//! - [`handshake`]: the opening handshake for both sides.
//! - [`Connection`]: a whole connection, handshake included, with its clocks (idle ping,
//!   close timeout) in the layer shape: bytes and `now` in, bytes, events and a deadline out.
//! - [`Session`]: one connection after the handshake: frames, masking, fragmentation,
//!   reassembly, streaming UTF-8 checks, compression, the close handshake, automatic pongs.
//! - [`encode_frame`] / [`encode_message`]: frames as bytes, for a fan-out that encodes a
//!   message once and queues the same bytes on many connections.
//!
//! Every byte parsed here comes from a peer: the crate forbids `unsafe` and denies unchecked
//! arithmetic and indexing outside tests; every buffer has a bound (one header, one control
//! payload, one message of at most `max_message_size`, one inflate chunk).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)
)]

pub mod close;
mod compressor;
mod connection;
mod deflate;
mod error;
mod frame;
pub mod handshake;
#[doc(hidden)]
pub mod harness;
mod mask_source;
mod session;
mod utf8;

pub use close::CloseFrame;
pub use compressor::{Compressor, Decompressor};
pub use connection::{ConnEvent, ConnReceived, Connection, Timeouts};
pub use deflate::{parse_extensions, DeflateConfig, DeflateParams, Extension};
pub use error::{Error, HandshakeError};
pub use frame::{
    apply_mask, encode_frame, encode_message, FrameHeader, HeaderParse, Opcode,
    MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
pub use handshake::{
    accept_key, Accepted, ClientConfig, ClientHandshake, ServerConfig, UpgradeRequest,
};
pub use session::{Event, Received, Role, Session, SessionConfig, State};
pub use utf8::Utf8Validator;

// The README's example runs as a doctest, so the crates.io page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
