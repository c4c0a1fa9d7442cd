//! Sans-IO framing codecs: bytes in, frames and errors out; frames in, bytes out. No sockets,
//! no clock. One implementation of each framing serves servers, clients, every transport,
//! Rust and TypeScript. Semantics follow netty's `codec-base` decoders exactly (limits,
//! discard mode, fail-fast), so a netty peer and a riptide peer agree on every byte.
//!
//! A [`Decoder`] looks at the bytes not yet consumed and says what they hold
//! ([`Decoded`]); the caller keeps the buffer (so whole frames already in a read buffer are
//! delivered without a copy, and nothing is allocated from a length an attacker declared).
//!
//! Every byte decoded here comes from a peer: the crate forbids `unsafe`, and denies unchecked
//! arithmetic and indexing outside tests, so a hostile length or offset can neither overflow
//! nor index out of range (each remaining exception says why it cannot).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

mod delimiter;
mod error;
mod fixed;
#[doc(hidden)]
pub mod harness;
mod http1;
mod length_field;
mod line;
mod ltv;
mod proxy;
mod resp;
mod spec;
mod split;

pub use delimiter::{DelimiterCodec, DelimiterConfig};
pub use error::FrameError;
pub use fixed::{FixedLengthCodec, FixedLengthConfig};
pub use http1::{parse_request, Http1Codec, Http1Config, HttpRequest};
pub use length_field::{ByteOrder, LengthFieldCodec, LengthFieldConfig};
pub use line::{LineCodec, LineConfig};
pub use ltv::{LtvCodec, LtvConfig};
pub use proxy::{parse_proxy, ProxyHeader, ProxyMode, ProxyParse};
pub use resp::{encode_command, parse_command, parse_commands, RespCodec, RespConfig};
pub use spec::CodecSpec;

/// What the bytes at the front of a buffer hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A frame at `start..end` of the buffer; the first `consumed` bytes are done with.
    Frame {
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
        /// Start of the frame's payload.
        start: usize,
        /// End of the frame's payload.
        end: usize,
    },
    /// `consumed` bytes were discarded (an oversized frame being skipped); call again.
    Skip {
        /// Bytes to drop.
        consumed: usize,
    },
    /// A bad frame: drop `consumed` bytes and report `error`; decoding may go on after it
    /// (as in netty, where the decoder resynchronises).
    Error {
        /// Bytes to drop.
        consumed: usize,
        /// What was wrong.
        error: FrameError,
    },
    /// A frame the codec assembled itself (for example an HTTP request descriptor with a
    /// de-chunked body); the first `consumed` bytes are done with.
    Owned {
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
        /// The frame.
        frame: Vec<u8>,
    },
    /// Send `bytes` to the peer as they are (an interim reply such as `100 Continue`), then
    /// call again; nothing is consumed.
    Reply {
        /// What to send.
        bytes: &'static [u8],
    },
    /// No complete frame yet: keep the bytes and call again when more arrive.
    NeedMore,
}

/// Splits a byte stream into frames. Implementations keep only small state (discard mode, how
/// far they scanned or parsed); the caller owns the bytes.
pub trait Decoder: Send {
    /// Decodes from the unconsumed bytes `buf`.
    ///
    /// After [`Decoded::NeedMore`] or [`Decoded::Reply`], the next call's `buf` must start with
    /// the same bytes (more may follow): decoders remember how far they scanned, so a frame
    /// arriving in many reads costs time linear in its size. A `buf` shorter than the last one
    /// makes them start over.
    fn decode(&mut self, buf: &[u8]) -> Decoded;
}

/// Frames outbound messages.
pub trait Encoder: Send {
    /// Appends `body`, framed, to `out`. A body the framing cannot express (too long for the
    /// length field, the wrong size for a fixed-length codec) is an error, never truncated.
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError>;

    /// Which shared encoding of its factory this connection takes for a published message
    /// ([`CodecFactory::encode_shared`]): connections of one factory with the same variant
    /// are sent the very same bytes. `0` unless the framing was negotiated per connection
    /// (a WebSocket that agreed on compression, say, returns another variant than one that
    /// did not).
    fn shared_variant(&self) -> u32 {
        0
    }
}

/// A decoder and an encoder for one connection.
pub trait Codec: Decoder + Encoder {}

impl<T: Decoder + Encoder> Codec for T {}

/// Makes a fresh codec per connection (each keeps its own decoding state). Implement it to
/// plug your own framing into the engine.
pub trait CodecFactory: Send + Sync + std::fmt::Debug {
    /// A codec for a new connection.
    fn new_codec(&self) -> Box<dyn Codec>;

    /// Appends `body` framed once for every connection whose encoder reports `variant`
    /// ([`Encoder::shared_variant`]), so a message published to many subscribers is encoded
    /// (and compressed) once and the same bytes are queued to all of them. The default frames
    /// with a fresh codec, which is right for every framing that keeps no per-connection
    /// encoder state; a framing that does (a compression context kept across messages)
    /// overrides it with an encoding any peer of that variant accepts.
    fn encode_shared(
        &self,
        variant: u32,
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), FrameError> {
        let _ = variant;
        self.new_codec().encode(body, out)
    }

    /// Appends several frames from [`CodecFactory::encode_shared`] of one `variant`, in
    /// order, as the bytes of one write: the messages published to a subscriber during one
    /// reactor turn leave together. The default concatenates them, which is the byte stream
    /// writing them one after another makes; a framing whose frames a stream layer passes
    /// below itself as records (a WebSocket's) joins them into one such record.
    fn join_shared(&self, variant: u32, frames: &[&[u8]], out: &mut Vec<u8>) {
        let _ = variant;
        frames.iter().for_each(|f| out.extend_from_slice(f));
    }
}

/// Feeds `input` through `decoder` in one go and collects the frames and errors, in order.
/// Convenient for tests and for callers that own whole buffers.
pub fn decode_all(
    decoder: &mut dyn Decoder,
    input: &[u8],
) -> (Vec<Vec<u8>>, Vec<FrameError>, usize) {
    let mut frames = Vec::new();
    let mut errors = Vec::new();
    let mut at: usize = 0;
    // A decoder reporting more bytes than it was given is clamped rather than trusted.
    let advance = |at: usize, n: usize| at.saturating_add(n).min(input.len());
    loop {
        let rest = input.get(at..).unwrap_or_default();
        match decoder.decode(rest) {
            Decoded::Frame {
                consumed,
                start,
                end,
            } => {
                frames.push(rest.get(start..end).unwrap_or_default().to_vec());
                at = advance(at, consumed);
            }
            Decoded::Owned { consumed, frame } => {
                frames.push(frame);
                at = advance(at, consumed);
            }
            Decoded::Reply { .. } => {}
            Decoded::Skip { consumed } => at = advance(at, consumed),
            Decoded::Error { consumed, error } => {
                errors.push(error);
                at = advance(at, consumed);
            }
            Decoded::NeedMore => return (frames, errors, input.len().saturating_sub(at)),
        }
    }
}

// The README's example runs as a doctest, so the crates.io page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
