//! Sans-IO forward error correction for KCP datagrams, byte-compatible with kcp-go v5.7
//! (`fec.go`, `autotune.go`), the FEC kcptun users run with `-datashard 10 -parityshard 3`.
//! No sockets, no clock: datagrams and a millisecond timestamp go in, packets come out
//! through a callback.
//!
//! **Why.** KCP repairs loss by retransmission, which costs at least one RTO. Sending
//! `ps` Reed-Solomon parity shards after every `ds` datagrams lets the receiver rebuild up
//! to `ps` lost datagrams of each set at once, for `ps/ds` more bandwidth. Data shards are
//! the KCP datagrams themselves, so FEC adds no latency when nothing is lost.
//!
//! **Feature `simd`** (off by default): parity on `reed-solomon-erasure`'s C SIMD kernels,
//! the same bytes, several times faster. On x86_64 they need AVX2 at run time unless built
//! with a lower `-march`: see the README's "SIMD" section before shipping a binary with it.
//!
//! **Pipeline.** KCP output → [`Encoder::encode`] → (crypto) → socket; socket → (crypto) →
//! [`is_fec_packet`] → [`Decoder::decode`] → KCP input. Datagrams marked
//! [`Recovered::Yes`] go to KCP as FEC input (no RTT sample, no window update).
//!
//! # Wire format
//!
//! Every packet starts with an 8-byte header ([`HEADER_SIZE`]), all fields little-endian:
//!
//! ```text
//! seqid u32 | type u16 | size u16 | body
//!   type 0xF1 data:   size = body length + 2 (it counts itself); body = one KCP datagram
//!   type 0xF2 parity: size and body are Reed-Solomon bytes (see below)
//!   type 0xF3 OOB:    seqid = 0xFFFFFFFF; size = body length + 2; body = conv u32 | payload
//! ```
//!
//! - `seqid` counts shards, data and parity alike, modulo
//!   `paws = ⌊0xFFFFFFFF / (ds+ps)⌋ · (ds+ps)`, so that a set never straddles the wrap. The
//!   set of a shard is `seqid / (ds+ps)`; positions `0..ds` are data, `ds..ds+ps` parity.
//! - Parity is the systematic Reed-Solomon code of klauspost/reedsolomon `New(ds, ps)`:
//!   GF(2⁸), polynomial 0x11D, Vandermonde matrix times the inverse of its top square
//!   (`reed-solomon-erasure` ports it). It is computed over each data shard's
//!   `[size u16 | datagram]`, zero-padded to the longest of the set; so a parity packet is
//!   as long as the set's longest data packet, and a rebuilt shard's `size` says where its
//!   padding starts.
//! - Parity for a set is skipped when its last data shard was sent
//!   [`MAX_ENCODE_LATENCY_MS`] or more after the one before it; its seqids are skipped too.
//! - A receiver tells FEC packets from bare KCP datagrams by the type field at offset 4
//!   ([`is_fec_packet`]): KCP's `cmd` (81–84) and `frg` there can never read 0xF1–0xF3.
//!
//! # Auto-tune
//!
//! The receiver need not know `ds`/`ps`: when a shard's type disagrees with its position
//! under the current counts, the [`Decoder`] stops collecting and looks at the types and
//! seqids of the last 258 shards for a run of data shards and a run of parity shards, each
//! bounded on both sides by consecutive seqids of the other type; their widths are the
//! sender's counts. It then drops its sets and carries on with those (kcp-go v5.7's
//! algorithm, reproduced). Unlike kcp-go, it adopts new counts only once they give every
//! one of those samples its type: right after a sender changes its counts, old and new
//! samples mix, and kcp-go may adopt counts that are neither and decode sets with them into
//! datagrams nobody sent. And it adopts sets of at most
//! [`DEFAULT_AUTO_TUNE_LIMIT`] (64) shards unless told otherwise
//! ([`Decoder::set_auto_tune_limit`]): wider sets let a peer make each packet cost a lot of
//! CPU (below).
//!
//! # Bounds: what one peer can cost
//!
//! The peer chooses `ds`/`ps` within the auto-tune limit (64 shards per set by default; 256
//! if raised to kcp-go's), so the bounds are stated in `ds`/`ps`, then for kcptun's 10/3 and
//! for the worst case. Packets longer than [`MAX_PACKET`] (1500, kcp-go's limit) are refused.
//!
//! - **Memory** of a [`Decoder`], between calls: at most [`MAX_LIVE_SETS`] (4) sets, each
//!   holding fewer than `ds` shard bodies of at most `MAX_PACKET − 6` bytes (a set is
//!   decoded and emptied the moment it holds `ds`), i.e. `4 × (ds − 1) × 1494` bytes
//!   ([`Decoder::buffered_bytes`]): 54 KB at 10/3, 370 KB at 63/1 (the default limit's
//!   worst), 1.52 MB at 255/1. On top: the Reed-Solomon codec's cache of inverted
//!   matrices, kept under 256 KiB + `ds²` by rebuilding the codec; the codec's own matrix
//!   (`(ds+ps) × ds` bytes, ≤ 64 KiB); 4 KiB of auto-tune samples; 256 bytes of handed-out
//!   seqids; and while one set is decoded, a copy of it (`(ds+ps) × 1494` bytes). An
//!   [`Encoder`] holds `(ds+ps) × 1494` bytes at most, allocated once.
//! - **CPU** per received packet: O(1) to file it; while the counts are being re-learned,
//!   two sorts of 258 samples; and once per set, rebuilding `m ≤ min(ds, ps)` lost shards,
//!   `m × ds × L` GF(2⁸) multiply-adds for shards of `L` bytes, plus a `ds × ds` matrix
//!   inversion (O(ds³)) when that loss pattern is not cached; and on each change of counts,
//!   a new codec (O(ds³) too). Amortised over the `ds` packets a set needs, that is
//!   `m × L + ds²` operations per packet: ≈ 4.5 k at 10/3 with 3 losses of 1494 bytes,
//!   ≈ 5.5 k at 63/1, ≈ 50 k at 32/32 with 32 losses. Measured in release builds, a codec
//!   costs 30 µs at 10/3, 2 ms at 64/64, 17 ms at 128/128 and 150 ms at 255/1: why
//!   auto-tune stops at 64.
//!
//! # Deliberate differences from kcp-go
//!
//! None shows on the wire.
//!
//! - The [`Decoder`] hands out no data seqid twice within the last 2048 seqids: kcp-go passes
//!   a data shard to KCP again when its rebuilt copy came first or when it arrives twice,
//!   and decodes a set again when parity keeps arriving after it was decoded (KCP then
//!   drops the copies). A sender that restarts its seqids is a new session: give it a new
//!   decoder, as kcp-go does.
//! - It refuses data and OOB packets whose `size` is not `len − 6` (kcp-go ignores `size` on
//!   arrival; its senders always write `len − 6`), and seqid 0xFFFFFFFF outside OOB.
//! - Auto-tune adopts counts only when they explain all recent samples, and at most
//!   [`DEFAULT_AUTO_TUNE_LIMIT`] shards per set by default (see above).
//! - A fresh decoder measures "old sets" from the first set it files, not from set 0 (kcp-go
//!   drops every set of a sender whose seqids are past 2³¹ until they wrap).
//!
//! As in kcp-go, a decoder configured with other counts than the sender's decodes sets with
//! its own counts until a shard's type contradicts them; such a set can yield a datagram
//! nobody sent (KCP's own checks then reject it). Configure the sender's counts when known.
//!
//! # Example
//!
//! ```
//! use riptide_fec::{Decoder, Encoder, Recovered};
//!
//! let mut enc = Encoder::new(3, 2).unwrap();
//! let mut wire = Vec::new();
//! let datagrams: [&[u8]; 3] = [b"kcp datagram one", b"two", b"and three"];
//! for d in datagrams {
//!     enc.encode(0, d, &mut |packet| wire.push(packet.to_vec())).unwrap();
//! }
//! assert_eq!(wire.len(), 5); // 3 data shards + 2 parity shards
//!
//! // Lose two of the five: any two.
//! wire.remove(2);
//! wire.remove(0);
//! let mut dec = Decoder::new(3, 2).unwrap();
//! let mut got = Vec::new();
//! for packet in &wire {
//!     dec.decode(0, packet, &mut |d, how| got.push((d.to_vec(), how))).unwrap();
//! }
//! assert_eq!(got[0], (b"two".to_vec(), Recovered::No));
//! assert_eq!(got[1], (b"kcp datagram one".to_vec(), Recovered::Yes));
//! assert_eq!(got[2], (b"and three".to_vec(), Recovered::Yes));
//! assert_eq!(dec.stats().recovered, 2);
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]
// Everything here handles numbers a peer chose: no silent overflow, no peer-steered index.
// Seqid arithmetic wraps on purpose and says so (`wrapping_*`).
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::arithmetic_side_effects, clippy::indexing_slicing))]

mod autotune;
mod decoder;
mod encoder;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod header;
mod stats;
mod window;

pub use decoder::{Decoder, Recovered, DEFAULT_AUTO_TUNE_LIMIT, MAX_LIVE_SETS, MAX_SETS_BEHIND};
pub use encoder::Encoder;
pub use error::FecError;
pub use header::{OOB_SEQID, TYPE_DATA, TYPE_OOB, TYPE_PARITY};
pub use stats::FecStats;

/// Bytes of the FEC header on every packet: `seqid u32 | type u16 | size u16`.
pub const HEADER_SIZE: usize = 8;

/// The longest FEC packet accepted or produced: kcp-go's `mtuLimit` (its receive buffers).
pub const MAX_PACKET: usize = 1500;

/// kcp-go's `maxFECEncodeLatency`: a set whose last data shard comes this long or longer
/// after the previous one gets no parity.
pub const MAX_ENCODE_LATENCY_MS: u64 = 500;

/// Whether a received packet is for the FEC layer: its type field (the `u16` LE at offset 4)
/// is 0xF1, 0xF2 or 0xF3. A bare KCP datagram has `cmd` and `frg` there and never matches.
/// Nothing else is checked; [`Decoder::decode`] does.
pub fn is_fec_packet(packet: &[u8]) -> bool {
    match packet.get(4..6) {
        Some(&[lo, hi]) => (TYPE_DATA..=TYPE_OOB).contains(&u16::from_le_bytes([lo, hi])),
        _ => false,
    }
}

#[cfg(test)]
mod tests;

// The README's example runs as a doctest, so the crates.io page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
