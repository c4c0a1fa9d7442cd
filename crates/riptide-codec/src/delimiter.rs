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
        })
    }
}

/// The earliest match of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Decoder for DelimiterCodec {
    fn decode(&mut self, buf: &[u8]) -> Decoded {
        let rule = Rule {
            max: self.config.max_frame_length as u64,
            strip_delimiter: self.config.strip_delimiter,
            fail_fast: self.config.fail_fast,
            count_last_piece: false,
        };
        let end = self
            .config
            .delimiters
            .iter()
            .filter_map(|d| find(buf, d).map(|i| (i, d.len())))
            .min_by_key(|&(i, _)| i);
        // Keep a tail that may be the start of a delimiter split across reads.
        let longest = self
            .config
            .delimiters
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1);
        let drop_if_over =
            (buf.len() as u64 > rule.max).then(|| buf.len() - (longest - 1).min(buf.len()));
        self.split.decide(buf.len(), end, drop_if_over, &rule)
    }
}

impl Encoder for DelimiterCodec {
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        let delim = &self.config.delimiters[0];
        if find(body, delim).is_some() {
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
}
