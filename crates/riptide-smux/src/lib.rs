//! Sans-IO smux: xtaci/smux's stream multiplexing (v1, and v2 with per-stream windows), wire
//! compatible with the Go library and kcptun, plus kcptun's snappy framing. Bytes in, bytes
//! out, time in as `Instant`: the caller owns the transport (a KCP stream, TCP) and the timer.
//!
//! - [`Session`]: streams opened, accepted, read, written and closed by id, keepalive, the
//!   receive buffers and windows of smux's [`Config`], each with an enforced bound.
//! - [`FrameHeader`]: the 8-byte frame header.
//! - [`SnappyEncoder`] / [`SnappyDecoder`]: golang/snappy's streaming format around the
//!   session's bytes, as kcptun applies it unless `-nocomp`.
//!
//! Every byte parsed here comes from a peer: the crate forbids `unsafe` and denies unchecked
//! arithmetic and indexing outside tests.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)
)]

mod config;
mod error;
mod frame;
#[doc(hidden)]
pub mod harness;
mod session;
mod snappy;
mod stream;

pub use config::Config;
pub use error::Error;
pub use frame::{Cmd, FrameHeader, HEADER_LEN, INITIAL_PEER_WINDOW, UPD_LEN};
pub use session::{Role, Session};
pub use snappy::{SnappyDecoder, SnappyEncoder, MAX_CHUNK_LEN};

// The README's example runs as a doctest, so the crates.io page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
