//! Sans-IO KCP: the reliable-ARQ protocol of `ikcp.c` as a state machine with no sockets
//! and no clock, in the shape of quinn-proto. Time (`u32` milliseconds, wrapping) and
//! received datagrams go in ([`Kcp::input`], [`Kcp::handle_timeout`]); datagrams to send and
//! the next deadline come out ([`Kcp::poll_transmit`], [`Kcp::poll_timeout`]).
//!
//! Given the same calls at the same times, a [`Kcp`] emits the same bytes as `ikcp.c` tag
//! 1.7.1 (with `IKCP_FASTACK_CONSERVE`, `IKCP_PROBE_INIT` = 7000 ms); the differential tests
//! check this against the C code. Two deliberate, wire-invisible differences: an idle
//! session asks for no timer at all ([`Kcp::poll_timeout`] returns `None`), and
//! [`Kcp::send`] reports a full send window as [`SendError::WouldBlock`]. One deliberate
//! difference a peer can see: a segment longer than our MSS is refused
//! ([`InputError::Oversize`]) where ikcp would accept it if it fits the datagram; no peer with
//! the same MTU sends one, and accepting them let a peer park ~64 KiB per out-of-order segment.
//!
//! Memory: the send and receive buffers are rings indexed by sequence number (visiting them
//! in order is visiting ikcp's sorted lists, so flush order stays byte-exact while an ACK
//! finds its segment in O(1)); payload buffers come from a per-session pool bounded by the
//! two windows; flushed datagrams wait in one reused byte buffer for
//! [`Kcp::poll_transmit`]. A session in steady state allocates nothing per packet (tested),
//! and [`Kcp::trim`] hands the pooled memory back when a session goes quiet.
//!
//! Whatever a peer sends, the receive side holds at most `2 × rcv_wnd` segments (`rcv_wnd` out
//! of order, `rcv_wnd` in order and unread) of at most one MSS each, and the pool at most
//! `snd_wnd + rcv_wnd` spare MSS-sized buffers; [`Kcp::buffered_bytes`] reports what is held.
//!
//! # Example
//!
//! Two sessions exchanging a message in memory:
//!
//! ```
//! use riptide_kcp::{Config, Kcp};
//!
//! let config = Config { nodelay: 1, interval: 10, resend: 2, nc: true, ..Config::default() };
//! let mut a = Kcp::new(7, &config).unwrap();
//! let mut b = Kcp::new(7, &config).unwrap();
//! a.send(b"hello, kcp").unwrap();
//!
//! // The "network": hand every datagram `from` has to `to`.
//! fn deliver(from: &mut Kcp, to: &mut Kcp, now: u32) {
//!     let mut datagram = [0u8; 1400];
//!     while let Some(n) = from.poll_transmit(now, &mut datagram) {
//!         to.input(now, &datagram[..n]).unwrap();
//!     }
//! }
//!
//! let mut message = [0u8; 64];
//! let mut now = 0;
//! let received = loop {
//!     a.handle_timeout(now);
//!     deliver(&mut a, &mut b, now);
//!     b.handle_timeout(now);
//!     deliver(&mut b, &mut a, now);
//!     if let Ok(n) = b.recv(&mut message) {
//!         break &message[..n];
//!     }
//!     now += 10;
//! };
//! assert_eq!(received, b"hello, kcp");
//! assert_eq!(a.wait_snd(), 0, "acknowledged");
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]
// Everything here handles numbers a peer chose: no silent overflow, no peer-steered index.
// Sequence-number and clock arithmetic wraps on purpose and says so (`wrapping_*`).
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::arithmetic_side_effects, clippy::indexing_slicing))]

mod config;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod kcp;
mod outbox;
mod pool;
mod segment;
mod stats;

pub use config::Config;
pub use error::{ConfigError, InputError, RecvError, SendError};
pub use kcp::Kcp;
pub use stats::Stats;

/// Size of a KCP segment header: the smallest valid datagram.
pub const OVERHEAD: usize = segment::OVERHEAD;

/// The conversation id of a datagram (its first 4 bytes, little-endian) without parsing the
/// rest, to pick the session it belongs to. `None` when the datagram is shorter than one
/// segment header (24 bytes), which no session would accept anyway.
pub fn conv_of(datagram: &[u8]) -> Option<u32> {
    segment::Header::decode(datagram).map(|h| h.conv)
}

#[cfg(test)]
mod tests;

// The README's example runs as a doctest, so the crates.io page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
