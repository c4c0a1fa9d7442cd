//! Line framing on `\n` or `\r\n` (netty's `LineBasedFrameDecoder`).

use crate::split::{Rule, Splitter};
use crate::{Decoded, Decoder, Encoder, FrameError};

/// Options of [`LineCodec`] (netty's defaults where it has them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineConfig {
    /// Longest line, not counting the line break.
    pub max_length: usize,
    /// Deliver lines without their line break (netty's default: true).
    pub strip_delimiter: bool,
    /// Report an overlong line as soon as `max_length` is passed, rather than when its line
    /// break arrives (netty's default: false).
    pub fail_fast: bool,
    /// What the encoder appends: `"\n"` (default) or `"\r\n"`.
    pub crlf: bool,
}

impl Default for LineConfig {
    fn default() -> Self {
        LineConfig {
            max_length: 8192,
            strip_delimiter: true,
            fail_fast: false,
            crlf: false,
        }
    }
}

/// Line codec with netty's discard mode: an overlong line is skipped up to its line break.
#[derive(Clone, Debug)]
pub struct LineCodec {
    config: LineConfig,
    split: Splitter,
}

impl LineCodec {
    /// Validates the options.
    pub fn new(config: LineConfig) -> Result<Self, FrameError> {
        if config.max_length == 0 {
            return Err(FrameError::InvalidConfig(
                "maxLength must be positive".into(),
            ));
        }
        Ok(LineCodec {
            config,
            split: Splitter::default(),
        })
    }
}

/// Index of the first line break and its length (1 for `\n`, 2 for `\r\n`).
fn find_eol(buf: &[u8]) -> Option<(usize, usize)> {
    let i = buf.iter().position(|&b| b == b'\n')?;
    Some(if i > 0 && buf[i - 1] == b'\r' {
        (i - 1, 2)
    } else {
        (i, 1)
    })
}

impl Decoder for LineCodec {
    fn decode(&mut self, buf: &[u8]) -> Decoded {
        let rule = Rule {
            max: self.config.max_length as u64,
            strip_delimiter: self.config.strip_delimiter,
            fail_fast: self.config.fail_fast,
            count_last_piece: true,
        };
        // A trailing '\r' may start the "\r\n" that ends the line: it does not count.
        let content = buf.len() - usize::from(buf.last() == Some(&b'\r'));
        let drop_if_over = (content as u64 > rule.max).then_some(content);
        self.split
            .decide(buf.len(), find_eol(buf), drop_if_over, &rule)
    }
}

impl Encoder for LineCodec {
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        if body.contains(&b'\n') {
            return Err(FrameError::Unencodable(
                "a line may not contain '\\n'".into(),
            ));
        }
        out.extend_from_slice(body);
        out.extend_from_slice(if self.config.crlf { b"\r\n" } else { b"\n" });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_all;

    fn codec(max: usize, strip: bool, fail_fast: bool) -> LineCodec {
        LineCodec::new(LineConfig {
            max_length: max,
            strip_delimiter: strip,
            fail_fast,
            crlf: false,
        })
        .unwrap()
    }

    #[test]
    fn splits_on_lf_and_crlf() {
        let (frames, errors, left) = decode_all(&mut codec(64, true, false), b"a\r\nbc\nd");
        assert_eq!(frames, vec![b"a".to_vec(), b"bc".to_vec()]);
        assert!(errors.is_empty());
        assert_eq!(left, 1);
        let (frames, _, _) = decode_all(&mut codec(64, false, false), b"a\r\nbc\n");
        assert_eq!(frames, vec![b"a\r\n".to_vec(), b"bc\n".to_vec()]);
    }

    #[test]
    fn overlong_line_is_discarded_and_decoding_resumes() {
        // failFast = false: the error comes when the line break arrives.
        let mut c = codec(4, true, false);
        let (frames, errors, _) = decode_all(&mut c, b"0123456789");
        assert!(frames.is_empty() && errors.is_empty());
        let (frames, errors, _) = decode_all(&mut c, b"ab\nok\n");
        assert_eq!(errors, vec![FrameError::TooLong { length: 12, max: 4 }]);
        assert_eq!(frames, vec![b"ok".to_vec()]);
        // failFast = true: the error comes at once.
        let mut c = codec(4, true, true);
        let (_, errors, _) = decode_all(&mut c, b"0123456789");
        assert_eq!(errors, vec![FrameError::TooLong { length: 10, max: 4 }]);
        let (frames, errors, _) = decode_all(&mut c, b"ab\nok\n");
        assert!(errors.is_empty());
        assert_eq!(frames, vec![b"ok".to_vec()]);
    }

    #[test]
    fn crlf_split_across_the_limit_is_not_lost() {
        let mut c = codec(4, true, false);
        let (frames, errors, left) = decode_all(&mut c, b"abcd\r");
        assert!(frames.is_empty() && errors.is_empty());
        assert_eq!(left, 5, "nothing skipped while the line can still end");
        let (frames, _, _) = decode_all(&mut c, b"abcd\r\n");
        assert_eq!(frames, vec![b"abcd".to_vec()]);
    }
}
