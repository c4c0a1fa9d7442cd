//! permessage-deflate's data path (RFC 7692 §7.2) on flate2's zlib-rs backend: raw deflate
//! with a sync flush per message and the trailing `00 00 ff ff` taken off; inflating with an
//! output bound, so a small compressed message cannot grow past the message limit.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::Error;

/// The tail a sync flush ends with, removed by the sender and put back by the receiver.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How much inflated output one decompress call may produce before it is checked and kept.
const INFLATE_CHUNK: usize = 16 * 1024;

/// Compresses outgoing messages for one connection (or for a fan-out of identical bytes, with
/// `no_context_takeover`, since then each message stands alone).
pub struct Compressor {
    inner: Compress,
    no_context_takeover: bool,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("no_context_takeover", &self.no_context_takeover)
            .finish()
    }
}

impl Compressor {
    /// A compressor at `level` (0-9) with a window of `window_bits` (9-15); values out of
    /// range are clamped into it (zlib has no level over 9 and no raw 8-bit window).
    pub fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Self {
        let level = Compression::new(level.min(9));
        Self {
            inner: Compress::new_with_window_bits(level, false, window_bits.clamp(9, 15)),
            no_context_takeover,
        }
    }

    /// Appends the compressed form of `data` to `out` (without the sync-flush tail).
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        let mut input = data;
        loop {
            out.reserve(input.len().saturating_add(64).max(256));
            let before = self.inner.total_in();
            self.inner
                .compress_vec(input, out, FlushCompress::Sync)
                .map_err(|e| Error::BadDeflate(e.to_string()))?;
            let used =
                usize::try_from(self.inner.total_in().saturating_sub(before)).unwrap_or(usize::MAX);
            input = input.get(used..).unwrap_or_default();
            // zlib's rule for a flush: done once a call left output space unused.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if out.get(start..).is_some_and(|c| c.ends_with(&TAIL)) {
            out.truncate(out.len().saturating_sub(TAIL.len()));
        } else if out.len() == start {
            // An empty message after a flush gives zlib nothing to write. The receiver appends
            // the tail all the same, so the payload must open the stored block the tail ends:
            // a lone 0x00 (RFC 7692 §7.2.3.6), or the peer's inflater is left mid-block.
            out.push(0x00);
        }
        if self.no_context_takeover {
            self.inner.reset();
        }
        Ok(())
    }
}

/// Inflates incoming messages for one connection, piece by piece as payload arrives.
pub struct Decompressor {
    inner: Decompress,
    no_context_takeover: bool,
    scratch: Vec<u8>,
    /// The stream ended (a final deflate block) inside the current message.
    ended: bool,
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor")
            .field("no_context_takeover", &self.no_context_takeover)
            .finish()
    }
}

impl Decompressor {
    /// A decompressor; it always uses a 15-bit window, which inflates any smaller one.
    pub fn new(no_context_takeover: bool) -> Self {
        Self {
            inner: Decompress::new_with_window_bits(false, 15),
            no_context_takeover,
            scratch: vec![0; INFLATE_CHUNK],
            ended: false,
        }
    }

    /// Inflates `input` (the next piece of a compressed message), appending to `out`; fails
    /// with [`Error::MessageTooBig`] before `out` would pass `limit`.
    pub fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        let mut input = input;
        while !input.is_empty() {
            if self.ended {
                return Err(Error::BadDeflate("data after the final block".into()));
            }
            let (in_before, out_before) = (self.inner.total_in(), self.inner.total_out());
            let status = self
                .inner
                .decompress(input, &mut self.scratch, FlushDecompress::Sync)
                .map_err(|e| Error::BadDeflate(e.to_string()))?;
            let used = usize::try_from(self.inner.total_in().saturating_sub(in_before))
                .unwrap_or(usize::MAX);
            let made = usize::try_from(self.inner.total_out().saturating_sub(out_before))
                .unwrap_or(usize::MAX);
            if out.len().saturating_add(made) > limit {
                return Err(Error::MessageTooBig(limit));
            }
            out.extend_from_slice(self.scratch.get(..made).unwrap_or_default());
            input = input.get(used..).unwrap_or_default();
            if status == Status::StreamEnd {
                self.ended = true;
            } else if used == 0 && made == 0 {
                return Err(Error::BadDeflate("inflate made no progress".into()));
            }
        }
        // Output held back by a full scratch buffer with all input taken.
        self.drain(out, limit)
    }

    /// Ends a message: inflates the sync-flush tail and resets the stream when the peer does
    /// not keep its context (or ended its stream with a final block).
    pub fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        if !self.ended {
            self.inflate(&TAIL, out, limit)?;
        }
        if self.no_context_takeover || self.ended {
            self.inner.reset(false);
            self.ended = false;
        }
        Ok(())
    }

    /// Takes whatever output zlib still holds after its input ran out.
    fn drain(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        loop {
            let out_before = self.inner.total_out();
            let status = self
                .inner
                .decompress(&[], &mut self.scratch, FlushDecompress::Sync)
                .map_err(|e| Error::BadDeflate(e.to_string()))?;
            let made = usize::try_from(self.inner.total_out().saturating_sub(out_before))
                .unwrap_or(usize::MAX);
            if out.len().saturating_add(made) > limit {
                return Err(Error::MessageTooBig(limit));
            }
            out.extend_from_slice(self.scratch.get(..made).unwrap_or_default());
            if status == Status::StreamEnd {
                self.ended = true;
            }
            if made < self.scratch.len() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8], window: u8, reset: bool, pieces: usize) -> Vec<u8> {
        let mut c = Compressor::new(6, window, reset);
        let mut d = Decompressor::new(reset);
        let mut wire = Vec::new();
        c.compress(data, &mut wire).unwrap();
        let mut out = Vec::new();
        for piece in wire.chunks(pieces.max(1)) {
            d.inflate(piece, &mut out, usize::MAX).unwrap();
        }
        d.finish(&mut out, usize::MAX).unwrap();
        out
    }

    #[test]
    fn rfc7692_hello() {
        // RFC 7692 §7.2.3.1: "Hello" compressed is c1 07 f2 48 cd c9 c9 07 00 after the header.
        let mut d = Decompressor::new(false);
        let mut out = Vec::new();
        d.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 100)
            .unwrap();
        d.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        // §7.2.3.2: the same message again with context takeover is shorter.
        d.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], &mut out, 100)
            .unwrap();
        d.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"HelloHello");
    }

    #[test]
    fn round_trips_in_pieces_at_every_window() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for window in 9..=15 {
            for reset in [false, true] {
                assert_eq!(round_trip(&data, window, reset, 1000), data);
            }
        }
        assert_eq!(round_trip(b"", 15, false, 1), b"");
    }

    #[test]
    fn an_empty_message_between_others_keeps_both_streams_in_step() {
        // A fuzzer finding: with context takeover, an empty message used to be sent as an
        // empty payload, which left the receiver waiting inside a stored block.
        let mut c = Compressor::new(6, 15, false);
        let mut d = Decompressor::new(false);
        for data in [&b"ab"[..], b"", b"", b"ab", b"", b"cd"] {
            let mut wire = Vec::new();
            c.compress(data, &mut wire).unwrap();
            let mut out = Vec::new();
            d.inflate(&wire, &mut out, 100).unwrap();
            d.finish(&mut out, 100).unwrap();
            assert_eq!(out, data);
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 10 << 20];
        let mut wire = Vec::new();
        Compressor::new(9, 15, true)
            .compress(&zeros, &mut wire)
            .unwrap();
        assert!(wire.len() < 20_000);
        let mut out = Vec::new();
        let err = Decompressor::new(true)
            .inflate(&wire, &mut out, 1 << 20)
            .unwrap_err();
        assert_eq!(err, Error::MessageTooBig(1 << 20));
        assert!(out.len() <= 1 << 20);
    }

    #[test]
    fn garbage_is_refused() {
        let mut out = Vec::new();
        assert!(matches!(
            Decompressor::new(false).inflate(&[0xff; 32], &mut out, 1000),
            Err(Error::BadDeflate(_))
        ));
    }
}
