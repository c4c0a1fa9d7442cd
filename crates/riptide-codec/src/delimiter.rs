//! Delimiter framing (netty's `DelimiterBasedFrameDecoder`): the delimiter giving the
//! shortest frame wins.

use crate::split::{Rule, Splitter};
use crate::{Decoded, Decoder, Encoder, FrameError};

/// Options of [`DelimiterCodec`] (netty's defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelimiterConfig {
    /// One or more delimiters (none empty). The encoder appends the first.
    pub delimiters: Vec<Vec<u8>>,
    /// Longest frame, not counting the delimiter.
    pub max_frame_length: usize,
    /// Deliver frames without their delimiter (default true).
    pub strip_delimiter: bool,
    /// Report an overlong frame as soon as the limit is passed (default true).
    pub fail_fast: bool,
}

/// Delimiter codec with netty's discard mode.
#[derive(Clone, Debug)]
pub struct DelimiterCodec {
    config: DelimiterConfig,
    split: Splitter,
    /// No delimiter ends within the first `scanned` bytes of the buffer (the buffer grows
    /// between calls, so a long frame arriving in small reads is scanned once).
    scanned: usize,
}

impl DelimiterCodec {
    /// Validates the options.
    pub fn new(config: DelimiterConfig) -> Result<Self, FrameError> {
        if config.delimiters.is_empty() || config.delimiters.iter().any(Vec::is_empty) {
            return Err(FrameError::InvalidConfig(
                "delimiters must be non-empty".into(),
            ));
        }
        if config.max_frame_length == 0 {
            return Err(FrameError::InvalidConfig(
                "maxFrameLength must be positive".into(),
            ));
        }
        Ok(DelimiterCodec {
            config,
            split: Splitter::default(),
            scanned: 0,
        })
    }
}

/// The earliest match of `needle` in `hay` that ends after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(needle.len().saturating_sub(1));
    let at = hay
        .get(start..)?
        .windows(needle.len())
        .position(|w| w == needle)?;
    start.checked_add(at)
}

impl Decoder for DelimiterCodec {
    fn decode(&mut self, buf: &[u8]) -> Decoded {
        let rule = Rule {
            max: self.config.max_frame_length as u64,
            strip_delimiter: self.config.strip_delimiter,
            fail_fast: self.config.fail_fast,
            count_last_piece: false,
        };
        // A shorter buffer than last time is not the same bytes plus more: scan it all.
        let from = if self.scanned <= buf.len() {
            self.scanned
        } else {
            0
        };
        let end = self
            .config
            .delimiters
            .iter()
            .filter_map(|d| find(buf, d, from).map(|i| (i, d.len())))
            .min_by_key(|&(i, _)| i);
        // Keep a tail that may be the start of a delimiter split across reads.
        let longest = self
            .config
            .delimiters
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1);
        let drop_if_over = (buf.len() as u64 > rule.max)
            .then(|| buf.len().saturating_sub(longest.saturating_sub(1)));
        let decided = self.split.decide(buf.len(), end, drop_if_over, &rule);
        self.scanned = crate::split::scanned_after(&decided, end.is_some(), buf.len());
        decided
    }
}

impl Encoder for DelimiterCodec {
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        let Some(delim) = self.config.delimiters.first() else {
            return Err(FrameError::InvalidConfig("no delimiter".into()));
        };
        if find(body, delim, 0).is_some() {
            return Err(FrameError::Unencodable(
                "the message contains the delimiter".into(),
            ));
        }
        out.extend_from_slice(body);
        out.extend_from_slice(delim);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::decode_all;

    #[test]
    fn shortest_frame_wins() {
        let mut c = DelimiterCodec::new(DelimiterConfig {
            delimiters: vec![b"||".to_vec(), b";".to_vec()],
            max_frame_length: 64,
            strip_delimiter: true,
            fail_fast: true,
        })
        .unwrap();
        let (frames, errors, left) = decode_all(&mut c, b"a;b||c||d;e");
        assert_eq!(
            frames,
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        assert!(errors.is_empty());
        assert_eq!(left, 1);
    }

    #[test]
    fn empty_delimiter_is_refused() {
        let err = DelimiterCodec::new(DelimiterConfig {
            delimiters: vec![vec![]],
            max_frame_length: 1,
            strip_delimiter: true,
            fail_fast: true,
        })
        .unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
    }

    // Item 6: a long frame in small reads is scanned once; a delimiter split across reads
    // is still found.
    #[test]
    // Megabytes of input: minutes under Miri, which the other tests cover for these paths.
    #[cfg_attr(miri, ignore)]
    fn a_long_frame_in_small_reads_is_scanned_once() {
        let mut c = DelimiterCodec::new(DelimiterConfig {
            delimiters: vec![b"<END>".to_vec(), b";".to_vec()],
            max_frame_length: 64 << 20,
            strip_delimiter: true,
            fail_fast: true,
        })
        .unwrap();
        let started = std::time::Instant::now();
        let mut input = vec![b'a'; 8 << 20];
        input.extend_from_slice(b"<END>b;");
        let (mut frames, mut held) = (Vec::new(), Vec::new());
        for piece in input.chunks(3) {
            held.extend_from_slice(piece);
            let (f, e, left) = decode_all(&mut c, &held);
            assert!(e.is_empty());
            frames.extend(f);
            held.drain(..held.len() - left);
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].len(), 8 << 20);
        assert_eq!(frames[1], b"b");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
