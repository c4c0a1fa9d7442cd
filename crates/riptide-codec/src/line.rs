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
    /// The first `scanned` bytes of the buffer hold no `\n` (the buffer grows between calls,
    /// so a long line arriving in small reads is scanned once, not once per read).
    scanned: usize,
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
            scanned: 0,
        })
    }
}

/// Index of the first line break at or after `from` and its length (1 for `\n`, 2 for
/// `\r\n`; the `\r` may sit before `from`).
fn find_eol(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let i = from.checked_add(memchr::memchr(b'\n', buf.get(from..)?)?)?;
    Some(match i.checked_sub(1) {
        Some(cr) if buf.get(cr) == Some(&b'\r') => (cr, 2),
        _ => (i, 1),
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
        // A shorter buffer than last time is not the same bytes plus more: scan it all.
        let from = if self.scanned <= buf.len() {
            self.scanned
        } else {
            0
        };
        let eol = find_eol(buf, from);
        // A trailing '\r' may start the "\r\n" that ends the line: it does not count.
        let content = buf
            .len()
            .saturating_sub(usize::from(buf.last() == Some(&b'\r')));
        let drop_if_over = (content as u64 > rule.max).then_some(content);
        let decided = self.split.decide(buf.len(), eol, drop_if_over, &rule);
        self.scanned = crate::split::scanned_after(&decided, eol.is_some(), buf.len());
        decided
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
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
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

    // Item 6: a long line in small reads is scanned once.
    #[test]
    // Megabytes of input: minutes under Miri, which the other tests cover for these paths.
    #[cfg_attr(miri, ignore)]
    fn a_long_line_in_small_reads_is_scanned_once() {
        let mut c = codec(64 << 20, true, false);
        let mut held: Vec<u8> = Vec::new();
        let started = std::time::Instant::now();
        let line = vec![b'a'; 8 << 20];
        let mut frames = Vec::new();
        for piece in line.chunks(64).chain([&b"\r\n"[..]]) {
            held.extend_from_slice(piece);
            let (f, _, left) = decode_all(&mut c, &held);
            frames.extend(f);
            held.drain(..held.len() - left);
        }
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].len(), 8 << 20);
        // Rescanning costs 2^39 byte steps; scanning once, 2^23.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn crlf_split_between_reads_is_stripped() {
        let mut c = codec(64, true, false);
        assert_eq!(c.decode(b"ab\r"), Decoded::NeedMore);
        assert_eq!(
            c.decode(b"ab\r\n"),
            Decoded::Frame {
                consumed: 4,
                start: 0,
                end: 2
            }
        );
    }
}
